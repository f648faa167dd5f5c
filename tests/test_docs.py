"""The documentation's code runs as written, and the API reference covers every public name.

Each page's ```python blocks run in order in one namespace (a fresh one per page), in a
temporary folder, so an example that drifts from the library fails here. ``make docs`` builds
the site itself in strict mode (broken references and missing docstrings fail it)."""

from __future__ import annotations

import importlib
import inspect
import pathlib
import pkgutil
import re

import pytest

import layerwise

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(DOCS.rglob("*.md"))


def python_blocks(page: pathlib.Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


@pytest.mark.parametrize(
    "page", [p for p in PAGES if python_blocks(p)], ids=lambda p: str(p.relative_to(DOCS))
)
def test_the_code_of_each_page_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for number, block in enumerate(python_blocks(page), 1):
        code = compile(block, f"{page.name} block {number}", "exec")
        exec(code, namespace)  # noqa: S102 - the documentation's own examples


def test_the_guides_cover_what_the_site_promises():
    nav = (DOCS.parent / "mkdocs.yml").read_text()
    for path in re.findall(r":\s*([\w/-]+\.md)", nav):
        assert (DOCS / path).exists(), path
    readme = (DOCS.parent / "README.md").read_text()
    for link in re.findall(r"\]\((docs/[^)]+)\)", readme):
        assert (DOCS.parent / link).exists(), link
    assert "](docs/index.md)" in readme and "](docs/api/index.md)" in readme


def _rendered_objects() -> set[int]:
    """ids of the objects the API pages render with ``::: module`` (all of its ``__all__``)
    or ``::: module`` with a ``members:`` list."""
    covered = set()
    for page in (DOCS / "api").glob("*.md"):
        text = page.read_text()
        for match in re.finditer(r"^::: ([\w.]+)\n((?:    .*\n|\s*\n)*)", text, flags=re.M):
            module = importlib.import_module(match.group(1))
            options = match.group(2)
            if "members: false" in options:
                continue
            listed = re.findall(r"^\s+- (\w+)$", options, flags=re.M)
            names = listed or getattr(module, "__all__", [])
            covered |= {id(getattr(module, name)) for name in names}
    return covered


def test_the_api_reference_renders_every_public_name():
    covered = _rendered_objects()
    modules = [layerwise] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(layerwise.__path__, "layerwise.")
        if not any(part.startswith("_") for part in info.name.split("."))
    ]
    missing = [
        f"{module.__name__}.{name}"
        for module in modules
        for name in getattr(module, "__all__", [])
        if not inspect.ismodule(getattr(module, name)) and id(getattr(module, name)) not in covered
        and (inspect.isclass(getattr(module, name)) or inspect.isfunction(getattr(module, name)))
    ]
    assert not missing, f"not in docs/api (run python docs/gen_api.py): {missing}"


def test_every_public_name_has_a_docstring():
    import sys

    sys.path.insert(0, str(DOCS))
    try:
        hooks = importlib.import_module("hooks")
    finally:
        sys.path.remove(str(DOCS))
    assert hooks.missing_docstrings() == []
