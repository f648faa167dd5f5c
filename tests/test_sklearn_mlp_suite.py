"""scikit-learn's own MLP test file, run against layerwise.sklearn with the class names changed
(benchmarks/sklearn_mlp_tests.py does the copying and counting): every test passes."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "sklearn_mlp_tests.py"


def test_scikit_learns_test_mlp_passes_against_our_estimators(capsys):
    spec = importlib.util.spec_from_file_location("sklearn_mlp_tests", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    source = module.rewritten_source()
    assert "MLPClassifier" not in source and "MLPRegressor" not in source
    assert "from layerwise.sklearn import NeuralNetClassifier, NeuralNetRegressor" in source
    result = module.run()
    assert result["failures"] == {}
    assert result["failed"] == 0 and result["skipped"] == 0
    assert result["passed"] >= 50
