"""Indicator definitions: how each indicator is computed, versioned."""
