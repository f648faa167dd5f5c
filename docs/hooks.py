"""MkDocs hook: the build fails when a public name has no docstring, so the API reference
cannot silently show an empty entry (``mkdocs build --strict`` turns broken references and
every other warning into errors too)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def public_objects():
    """``(qualified name, object)`` for every public module, the names in its ``__all__`` and
    the public methods and properties of those classes."""
    import layerwise

    modules = [layerwise] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(layerwise.__path__, "layerwise.")
        if not any(part.startswith("_") for part in info.name.split("."))
    ]
    for module in modules:
        yield module.__name__, module
        for name in getattr(module, "__all__", []):
            value = getattr(module, name)
            if inspect.ismodule(value) or getattr(value, "__module__", None) != module.__name__:
                continue  # documented where it is defined
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            yield f"{module.__name__}.{name}", value
            if inspect.isclass(value):
                for attribute, member in vars(value).items():
                    if attribute.startswith("_"):
                        continue
                    if isinstance(member, (staticmethod, classmethod)):
                        member = member.__func__
                    if isinstance(member, property) or inspect.isfunction(member):
                        yield f"{module.__name__}.{name}.{attribute}", member


def missing_docstrings() -> list[str]:
    """Public names without a docstring (a method overriding a documented one inherits it,
    as ``inspect.getdoc`` finds)."""
    return [name for name, value in public_objects() if not inspect.getdoc(value)]


def on_pre_build(config, **kwargs) -> None:
    """Stop the build when a public name has no docstring."""
    # Imported here: tests/test_docs.py imports this file where MkDocs is not installed.
    from mkdocs.exceptions import PluginError

    missing = missing_docstrings()
    if missing:
        raise PluginError(
            f"{len(missing)} public names have no docstring: " + ", ".join(missing[:30])
        )
