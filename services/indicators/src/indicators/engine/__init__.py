"""The computation engine: definitions + sources -> results; no HTTP, no database."""
