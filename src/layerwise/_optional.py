"""Optional dependencies: import one on first use, or say which extra installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["install_hint", "require"]


def install_hint(extra: str) -> str:
    """The install command for an extra, quoted so that it pastes into any shell (zsh expands
    unquoted square brackets)."""
    return f'pip install "layerwise[{extra}]"'


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module``, or raise an ``ImportError`` naming ``feature`` and the extra.

    Example::

        onnx = require("onnx", "onnx", "Exporting to ONNX")
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        package = module.split(".")[0]
        raise ImportError(
            f"{feature} needs the optional package {package!r}, which is not installed: "
            f"{install_hint(extra)}"
        ) from error
