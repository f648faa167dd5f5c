"""The installed layerwise's version (its own module, so any module can import it)."""

__version__ = "0.1.0"
