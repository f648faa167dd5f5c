"""Write the API reference pages (docs/api/*.md) from the package's modules.

Run ``python docs/gen_api.py`` after adding a public module; tests/test_docs.py checks that
every public name is rendered somewhere, so a forgotten module fails the tests.
Each page renders a package's public face (the names in its ``__all__``) and then each of its
modules that defines public names the face does not re-export.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PAGES = {
    "layers": ("Layers", "layerwise.layers", []),
    "model": ("Model and training", None, [
        "layerwise.model", "layerwise.models", "layerwise.model_weights", "layerwise.compiling",
        "layerwise.sequential",
        "layerwise.training", "layerwise.stepping", "layerwise.history",
        "layerwise.evaluation", "layerwise.feeding",
        "layerwise.graph",
        "layerwise.weighting", "layerwise.predicting", "layerwise.inference", "layerwise.progress",
        "layerwise.summary",
    ]),
    "activations": ("Activations", "layerwise.activations", ["layerwise.special"]),
    "losses": ("Losses", "layerwise.losses", []),
    "metrics": ("Metrics", "layerwise.metrics", []),
    "optimizers": ("Optimizers", "layerwise.optimizers", []),
    "schedules": ("Learning-rate schedules", "layerwise.schedules", []),
    "initializers": ("Initializers", "layerwise.initializers", []),
    "regularizers": ("Regularizers", "layerwise.regularizers", []),
    "callbacks": ("Callbacks", "layerwise.callbacks", []),
    "saving": ("Saving and checkpoints", None, [
        "layerwise.saving", "layerwise.checkpoints", "layerwise.model_file",
        "layerwise.atomic_files",
    ]),
    "export": ("Export", "layerwise.export", []),
    "sklearn": ("scikit-learn estimators", "layerwise.sklearn", []),
    "ops": ("Numerical kernels", "layerwise.ops", []),
    "utilities": ("Utilities", None, [
        "layerwise.seeding", "layerwise.registry", "layerwise.exceptions", "layerwise.data",
        "layerwise.packing", "layerwise.snapshot", "layerwise.plotting", "layerwise.utils",
    ]),
}


# Modules whose classes are documented with what they inherit: Model's fit, evaluate and
# train_on_batch come from Trainer, Sequential's from Model, Layer's get_weights and trainable
# from LayerWeights.
INHERITED = {"layerwise.model", "layerwise.sequential", "layerwise.layers.base"}


def submodules(package: str) -> list[str]:
    module = importlib.import_module(package)
    if not hasattr(module, "__path__"):
        return []
    import pkgutil

    return [
        info.name
        for info in pkgutil.walk_packages(module.__path__, package + ".")
        if not any(part.startswith("_") for part in info.name.split("."))
    ]


def defined_names(module_name: str) -> set[str]:
    """Names of ``__all__`` defined in the module, or in a private module it re-exports from
    (such objects have no public page of their own)."""
    module = importlib.import_module(module_name)
    names = set()
    for name in getattr(module, "__all__", []):
        value = getattr(module, name)
        home = getattr(value, "__module__", None) or ""
        private = any(part.startswith("_") for part in home.split("."))
        if not inspect.ismodule(value) and (home == module_name or private):
            names.add(name)
    return names


def page(title: str, package: str | None, extra: list[str]) -> str:
    lines = [f"# {title}", ""]
    shown: set[str] = set()
    if package is not None:
        lines += [f"::: {package}", ""]
        face = importlib.import_module(package)
        shown = {id(getattr(face, n)) for n in getattr(face, "__all__", [])}
        extra = submodules(package) + extra
    for module_name in extra:
        module = importlib.import_module(module_name)
        own = [n for n in sorted(defined_names(module_name)) if id(getattr(module, n)) not in shown]
        if module_name in INHERITED:
            lines += [f"::: {module_name}", "    options:", "      inherited_members: true", ""]
        elif package is None:
            lines += [f"::: {module_name}", ""]
        elif own:
            lines += [f"::: {module_name}", "    options:", "      members:"]
            lines += [f"        - {n}" for n in own] + [""]
    return "\n".join(lines)


def public_modules() -> list[str]:
    import pkgutil

    import layerwise

    return [
        info.name
        for info in pkgutil.walk_packages(layerwise.__path__, "layerwise.")
        if not any(part.startswith("_") for part in info.name.split("."))
    ]


def other_modules() -> list[str]:
    """Public modules no page above covers (new ones land here until given a page)."""
    covered = set()
    for _, package, extra in PAGES.values():
        covered |= set(extra)
        if package is not None:
            covered |= {package, *submodules(package)}
    return [m for m in public_modules() if m not in covered]


if __name__ == "__main__":
    for name, (title, package, extra) in PAGES.items():
        (ROOT / "docs" / "api" / f"{name}.md").write_text(page(title, package, extra))
    others = other_modules()
    text = page("Other modules", None, others) if others else "# Other modules\n\nNone yet.\n"
    (ROOT / "docs" / "api" / "other.md").write_text(text)
    print("written:", ", ".join(PAGES), "and other:", ", ".join(others) or "none")
