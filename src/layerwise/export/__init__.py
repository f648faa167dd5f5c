"""Exporters of trained models to other formats.

Each exporter imports its third-party package only when it runs, so importing this package (or
``layerwise``) never pulls in ``onnx``:

- :func:`layerwise.export.onnx.export_onnx` (also ``layerwise.export_onnx``): a standard ONNX
  graph, with the optional extra ``pip install "layerwise[onnx]"``.
"""

from __future__ import annotations

__all__ = ["export_onnx"]


def __getattr__(name: str):
    # Lazy, so that `import layerwise.export` stays as light as `import layerwise`.
    if name == "export_onnx":
        from .onnx import export_onnx

        return export_onnx
    raise AttributeError(f"module 'layerwise.export' has no attribute {name!r}")
