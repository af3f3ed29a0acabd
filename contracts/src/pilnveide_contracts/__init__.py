"""The typed contracts between Pilnveide services: plain pydantic models, no logic.

Both sides import the same models (the provider as its request/response models, the consumer
to build its questions and read the answers, its test doubles to answer them), so the shapes
cannot drift. This package may import only pydantic and the standard library.
"""
