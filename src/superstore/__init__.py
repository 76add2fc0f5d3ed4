"""superstore: a real-time retail sales pipeline, correct by construction."""

__version__ = "0.1.0"
__all__ = ["__version__"]
