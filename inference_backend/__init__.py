"""ReMoGen inference backend: body model, data pipeline, models, runtime and server."""

__version__ = "0.1.0"
