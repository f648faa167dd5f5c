"""Run scikit-learn's own MLP tests against layerwise's estimators, class names changed only.

Copies ``sklearn/neural_network/tests/test_mlp.py`` of the installed scikit-learn to a temporary
folder, renames ``MLPClassifier`` / ``MLPRegressor`` to ``NeuralNetClassifier`` /
``NeuralNetRegressor`` and imports those from ``layerwise.sklearn`` (nothing else changes), runs
pytest on the copy with scikit-learn's own ``sklearn.conftest`` plugin (its ``global_random_seed``
fixture, as in scikit-learn's test runs) and prints how many tests pass, then each failure with
its reason.

    .venv/bin/python benchmarks/sklearn_mlp_tests.py            # about a minute
    .venv/bin/python benchmarks/sklearn_mlp_tests.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import sklearn

IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"


def rewritten_source() -> str:
    """The installed test_mlp.py with only the two class names (and their import) changed."""
    path = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
    source = path.read_text(encoding="utf-8")
    if IMPORT not in source:
        raise SystemExit(f"{path} no longer has the line {IMPORT!r}; update this script.")
    source = source.replace(
        IMPORT, "from layerwise.sklearn import NeuralNetClassifier, NeuralNetRegressor"
    )
    source = re.sub(r"\bMLPClassifier\b", "NeuralNetClassifier", source)
    return re.sub(r"\bMLPRegressor\b", "NeuralNetRegressor", source)


def run(json_path: str | None = None) -> dict:
    """Run the rewritten tests; return ``{'passed': n, 'failed': n, 'skipped': n, 'failures':
    {test_id: reason}}``."""
    with tempfile.TemporaryDirectory() as folder:
        test_file = Path(folder) / "test_mlp_layerwise.py"
        test_file.write_text(rewritten_source(), encoding="utf-8")
        report = Path(folder) / "report.xml"
        env = {**os.environ, "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "-p", "sklearn.conftest", "-o", "addopts=", "-o", "filterwarnings=",
             f"--junitxml={report}", str(test_file)],
            cwd=folder, env=env, check=False,
        )
        tree = ElementTree.parse(report)
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failures = {}
    for case in tree.iter("testcase"):
        name = case.get("name")
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            counts["failed"] += 1
            failures[name] = (problem.get("message") or "").splitlines()[0][:300]
        elif case.find("skipped") is not None:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    result = {**counts, "sklearn": sklearn.__version__, "failures": failures}
    print(f"\nscikit-learn {sklearn.__version__} test_mlp.py against layerwise.sklearn: "
          f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    for name, reason in failures.items():
        print(f"  FAILED {name}: {reason}")
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the counts and failures to this file")
    run(parser.parse_args().json)
