"""layerwise.sklearn in scikit-learn's world: check_estimator with nothing skipped, Pipeline,
GridSearchCV, clone, pickle, data frames, string labels, ONNX export, the import guard, the
stopping rule and its warnings, refused hyperparameters."""

import json
import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

import layerwise
from layerwise.sklearn import NeuralNetClassifier, NeuralNetRegressor


def iris():
    x, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(x), y


def quiet_fit(est, x, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(x, y, **kwargs)


# ------------------------------------------------------------- scikit-learn's own checks
CHECK_SCRIPT = """
import json, warnings
warnings.simplefilter("ignore")
from sklearn.utils.estimator_checks import check_estimator
from layerwise.sklearn import NeuralNetClassifier, NeuralNetRegressor
out = {}
for cls in (NeuralNetClassifier, NeuralNetRegressor):
    out[cls.__name__] = [(r["check_name"], r["status"], repr(r["exception"])[:300])
                         for r in check_estimator(cls(), on_fail=None, on_skip=None)]
print(json.dumps(out))
"""


def test_check_estimator_runs_every_check_and_all_pass():
    # SCIPY_ARRAY_API=1 (set before SciPy loads, hence the subprocess) lets the array-API check
    # run instead of skipping itself; pandas is a dev dependency, so no check skips for it.
    env = {**os.environ, "SCIPY_ARRAY_API": "1", "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", CHECK_SCRIPT], capture_output=True,
                            text=True, env=env, check=True)
    reports = json.loads(result.stdout.strip().splitlines()[-1])
    for name, checks in reports.items():
        not_passed = [c for c in checks if c[1] != "passed"]
        assert not_passed == [], name
        assert len(checks) >= 60, name


def test_import_without_scikit_learn_names_the_extra_to_install():
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "try:\n    import layerwise.sklearn\nexcept ImportError as e:\n    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert 'pip install "layerwise[sklearn]"' in result.stdout, result.stderr


def test_import_layerwise_does_not_import_sklearn():
    code = "import sys, layerwise; print('sklearn' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


# ------------------------------------------------------------- in scikit-learn's tools
def test_grid_search_in_a_pipeline_scores_as_mlpclassifier_on_iris():
    x, y = load_iris(return_X_y=True)
    grid = {"net__alpha": [1e-4, 1e-1], "net__hidden_layer_sizes": [(20,), (50,)]}
    scores = []
    for cls in (NeuralNetClassifier, MLPClassifier):
        from sklearn.pipeline import Pipeline

        pipe = Pipeline([("scale", StandardScaler()), ("net", cls(max_iter=300, random_state=0))])
        search = quiet_fit(GridSearchCV(pipe, grid, cv=3), x, y)
        scores.append((search.best_score_, search.best_params_))
    assert scores[0][0] > 0.85
    assert scores[0][0] == pytest.approx(scores[1][0], abs=1e-12)
    assert scores[0][1] == scores[1][1]


def test_clone_keeps_parameters_and_drops_the_fitted_state():
    x, y = iris()
    est = quiet_fit(NeuralNetClassifier((7,), alpha=0.1, dropout=0.2, max_iter=5), x, y)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert not hasattr(copy, "coefs_")
    with pytest.raises(NotFittedError):
        copy.predict(x)
    with pytest.raises(NotFittedError):
        _ = copy.model_


@pytest.mark.parametrize("cls", [NeuralNetClassifier, NeuralNetRegressor])
def test_pickled_estimator_predicts_identically_and_keeps_training(cls):
    x, y = iris()
    est = quiet_fit(cls(max_iter=5, random_state=0), x, y)
    assert isinstance(est.model_, layerwise.Model)  # a cached model must not break pickling
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(x), est.predict(x))
    again.partial_fit(x, y)
    est.partial_fit(x, y)
    np.testing.assert_array_equal(again.coefs_[0], est.coefs_[0])


def test_data_frames_keep_feature_names_and_string_labels_round_trip():
    pandas = pytest.importorskip("pandas")
    data = load_iris(as_frame=True)
    x = data.data
    labels = data.target_names[data.target]
    est = quiet_fit(NeuralNetClassifier(max_iter=30, random_state=0), x, labels)
    np.testing.assert_array_equal(est.feature_names_in_, x.columns)
    assert set(est.predict(x)) <= set(data.target_names)
    assert est.classes_.tolist() == sorted(data.target_names)
    with pytest.warns(UserWarning, match="feature names"):
        est.predict(x.to_numpy())
    frame_y = pandas.DataFrame({"a": x.iloc[:, 0] * 2, "b": x.iloc[:, 1] - x.iloc[:, 2]})
    reg = quiet_fit(NeuralNetRegressor(max_iter=20, random_state=0), x, frame_y)
    assert reg.predict(x).shape == (len(x), 2)


# ------------------------------------------------------------- model_ and ONNX
def test_model_is_the_same_network_as_a_layerwise_model():
    x, y = iris()
    est = quiet_fit(NeuralNetClassifier((9, 5), activation="tanh", max_iter=10), x, y)
    model = est.model_
    assert isinstance(model, layerwise.Model)
    np.testing.assert_allclose(model.predict(x), est.predict_proba(x), rtol=1e-12, atol=1e-14)
    weights = model.get_weights()
    for i, (coef, intercept) in enumerate(zip(est.coefs_, est.intercepts_)):
        np.testing.assert_array_equal(weights[2 * i], coef)
        np.testing.assert_array_equal(weights[2 * i + 1], intercept)
    est.partial_fit(x, y)
    assert est.model_ is not model  # rebuilt after training
    np.testing.assert_allclose(est.model_.predict(x), est.predict_proba(x), rtol=1e-12)


@pytest.mark.parametrize("target", ["est", "model_"])
@pytest.mark.parametrize("kind", ["multiclass", "binary", "regression", "poisson"])
def test_export_onnx_of_the_estimator_and_of_its_model(tmp_path, target, kind):
    onnxruntime = pytest.importorskip("onnxruntime")
    x, y = iris()
    if kind == "multiclass":
        est, expected = NeuralNetClassifier(max_iter=10), lambda e: e.predict_proba(x)
    elif kind == "binary":
        est, expected = NeuralNetClassifier(max_iter=10), lambda e: e.predict_proba(x)[:, 1:]
        y = y == 1
    else:
        est = NeuralNetRegressor(loss="squared_error" if kind == "regression" else "poisson",
                                 max_iter=10)
        expected = lambda e: e.predict(x)[:, None]  # noqa: E731
    quiet_fit(est, x, y)
    path = str(tmp_path / "net.onnx")
    layerwise.export_onnx(est if target == "est" else est.model_, path)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {"input": x})
    np.testing.assert_allclose(output, expected(est), rtol=1e-10, atol=1e-12)


def test_export_onnx_of_an_unfitted_estimator_says_so(tmp_path):
    pytest.importorskip("onnx")
    with pytest.raises(NotFittedError, match="fit"):
        layerwise.export_onnx(NeuralNetClassifier(), str(tmp_path / "x.onnx"))
    assert not (tmp_path / "x.onnx").exists()


# ------------------------------------------------------------- stopping rule and warnings
def test_convergence_warning_when_max_iter_is_reached_and_none_after_converging():
    x, y = iris()
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        NeuralNetClassifier(max_iter=3).fit(x, y)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        NeuralNetClassifier(solver="lbfgs", max_iter=2).fit(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = NeuralNetClassifier(tol=0.5, n_iter_no_change=3, random_state=0).fit(x, y)
    # tol=0.5 is never met: epoch 1 sets best_loss_, epochs 2-5 count 1-4 epochs without
    # improvement, and training stops once the count exceeds n_iter_no_change = 3.
    assert est.n_iter_ == 5 and len(est.loss_curve_) == 5
    assert est.best_loss_ == min(est.loss_curve_)


def test_early_stopping_holds_out_a_stratified_fraction_and_restores_the_best_epoch():
    x, y = iris()
    est = NeuralNetClassifier(early_stopping=True, validation_fraction=0.2, random_state=0,
                              n_iter_no_change=5, max_iter=500).fit(x, y)
    scores = est.validation_scores_
    assert len(scores) == est.n_iter_ and est.best_loss_ is None
    assert est.best_validation_score_ == max(scores)
    # 30 held-out samples, 10 of each class: accuracies are multiples of 1/30.
    assert np.allclose(np.array(scores) * 30, np.round(np.array(scores) * 30))
    best = int(np.argmax(scores))
    assert est.n_iter_ - 1 - best >= 5  # stopped after 5 epochs without improvement


def test_adaptive_rate_is_divided_by_five_instead_of_stopping():
    x, y = iris()
    est = quiet_fit(NeuralNetClassifier(solver="sgd", learning_rate="adaptive", tol=10.0,
                                        n_iter_no_change=2, max_iter=40), x, y)
    # tol=10 is never met: the rate drops 5x every 3 epochs until it is at most 1e-6.
    assert est._optimizer.learning_rate <= 1e-6
    assert est.n_iter_ < 40


# ------------------------------------------------------------- extras
def test_dropout_trains_differently_but_predicts_deterministically():
    x, y = iris()
    plain = quiet_fit(NeuralNetClassifier(max_iter=20, random_state=0), x, y)
    dropped = quiet_fit(NeuralNetClassifier(max_iter=20, random_state=0, dropout=0.5), x, y)
    again = quiet_fit(NeuralNetClassifier(max_iter=20, random_state=0, dropout=0.5), x, y)
    assert not np.allclose(plain.coefs_[0], dropped.coefs_[0])
    np.testing.assert_array_equal(dropped.coefs_[0], again.coefs_[0])
    np.testing.assert_array_equal(dropped.predict_proba(x), dropped.predict_proba(x))
    assert [layer.name for layer in dropped.model_.layers].count("dropout_1") == 1
    np.testing.assert_allclose(dropped.model_.predict(x), dropped.predict_proba(x), rtol=1e-12)


def test_dtype_float32_converts_float64_data():
    x, y = iris()
    est = quiet_fit(NeuralNetRegressor(dtype="float32", max_iter=5), x, y.astype(float))
    assert est.coefs_[0].dtype == np.float32 and est.predict(x).dtype == np.float32
    assert est.model_.dtype == np.float32


def test_layerwise_activations_train_and_predict_through_model():
    x, y = iris()
    est = quiet_fit(NeuralNetClassifier((16,), activation="gelu", max_iter=200,
                                        learning_rate_init=0.01, random_state=0), x, y)
    assert est.score(x, y) > 0.9
    np.testing.assert_allclose(est.model_.predict(x), est.predict_proba(x), rtol=1e-10)


# ------------------------------------------------------------- refused hyperparameters
@pytest.mark.parametrize(
    "argument, value",
    [("hidden_layer_sizes", (10, 0)), ("activation", "softmax"), ("solver", "rmsprop"),
     ("alpha", -1.0), ("batch_size", 0), ("learning_rate", "cosine"),
     ("learning_rate_init", 0.0), ("power_t", -0.5), ("max_iter", 0), ("shuffle", "yes"),
     ("random_state", "seed"), ("tol", -1e-4), ("verbose", -1), ("warm_start", 1),
     ("momentum", 1.5), ("nesterovs_momentum", None), ("early_stopping", "no"),
     ("validation_fraction", 1.0), ("beta_1", 1.0), ("beta_2", -0.1), ("epsilon", 0.0),
     ("n_iter_no_change", 0), ("max_fun", 0), ("dtype", "float16"), ("dropout", 1.0)],
)
def test_invalid_hyperparameter_raises_naming_it_and_changes_nothing(argument, value):
    x, y = iris()
    est = quiet_fit(NeuralNetClassifier(max_iter=2, random_state=0), x, y)
    before = [c.copy() for c in est.coefs_]
    est.set_params(**{argument: value})
    with pytest.raises(ValueError, match=f"'{argument}'.*{value!r}"[:40].replace("(", "\\(")
                       .replace(")", "\\)").replace("[", "\\[")):
        est.fit(x, y)
    for old, new in zip(before, est.coefs_):
        np.testing.assert_array_equal(old, new)


def test_dropout_is_refused_with_lbfgs():
    x, y = iris()
    with pytest.raises(ValueError, match="'dropout' must be 0 with solver='lbfgs'; received 0.2"):
        NeuralNetClassifier(solver="lbfgs", dropout=0.2).fit(x, y)


def test_regressor_loss_must_be_squared_error_or_poisson():
    x, y = make_regression(30, 3, random_state=0)
    with pytest.raises(ValueError, match="'loss'.*'absolute_error'"):
        NeuralNetRegressor(loss="absolute_error").fit(x, y)
    assert MLPRegressor().loss == NeuralNetRegressor().loss


def test_the_readme_scikit_learn_example_runs_as_written(capsys):
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S)
              if "NeuralNetClassifier as MLPClassifier" in b]
    assert len(blocks) == 1
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        exec(blocks[0], namespace)
    assert isinstance(namespace["mlp"], NeuralNetClassifier)
    assert namespace["search"].best_score_ > 0.9
    assert "hidden_1" in capsys.readouterr().out  # the summary was printed


def test_refused_calls_change_nothing():
    x, y = iris()
    est = quiet_fit(NeuralNetClassifier(max_iter=3, random_state=0), x, y)
    state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(est).items()
             if k in ("n_iter_", "t_", "loss_", "n_features_in_")}
    weights = [c.copy() for c in est.coefs_ + est.intercepts_]
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.fit(bad, y)
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(x[:, :2], y)
    est.set_params(warm_start=True, hidden_layer_sizes=(5,))
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        est.fit(x, y)
    for old, new in zip(weights, est.coefs_ + est.intercepts_):
        np.testing.assert_array_equal(old, new)
    assert {k: getattr(est, k) for k in state} == state


def test_partial_fit_needs_classes_first_and_is_absent_for_lbfgs():
    x, y = iris()
    with pytest.raises(ValueError, match="classes must be passed"):
        NeuralNetClassifier().partial_fit(x, y)
    assert not hasattr(NeuralNetClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(NeuralNetRegressor(solver="lbfgs"), "partial_fit")
    est = NeuralNetClassifier(random_state=0).partial_fit(x[:10], y[:10], classes=[0, 1, 2])
    assert est.classes_.tolist() == [0, 1, 2] and est.n_iter_ == 1 and est.t_ == 10
    with pytest.raises(ValueError, match="classes not in"):
        est.partial_fit(x[:5], np.array([0, 1, 5, 1, 0]))


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_model_saves_to_a_safe_file_and_loads_back(tmp_path, loss):
    x, y = iris()
    est = quiet_fit(NeuralNetRegressor(loss=loss, max_iter=5, random_state=0), x, y + 0.5)
    path = tmp_path / "net.safetensors"
    est.model_.save(path)
    loaded = layerwise.load_model(path)
    np.testing.assert_allclose(loaded.predict(x)[:, 0], est.predict(x), rtol=1e-12)


@pytest.mark.parametrize("cls, name, expected", [(NeuralNetClassifier, "clf", 0.967),
                                                 (NeuralNetRegressor, "reg", 0.97)])
def test_docstring_examples_run_and_score_as_they_say(cls, name, expected):
    import textwrap

    code = textwrap.dedent(cls.__doc__.split("Example::")[1])
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        exec(code, namespace)
        x, y = namespace["x"], namespace["y"]
        assert namespace[name].score(x, y) == pytest.approx(expected, abs=0.005)


@pytest.mark.parametrize("argument", ["batch_size", "dtype", "alpha", "hidden_layer_sizes",
                                      "verbose", "solver", "n_iter_no_change", "activation"])
def test_array_valued_hyperparameters_are_refused_by_name(argument):
    x, y = iris()
    with pytest.raises(ValueError, match=f"Argument '{argument}'"):
        NeuralNetClassifier(**{argument: np.array([[1, 2], [3, 4]])}).fit(x, y)
    with pytest.raises(ValueError, match="Argument 'loss'"):
        NeuralNetRegressor(loss=np.array(["squared_error"])).fit(x, y)


def test_zero_dimensional_array_is_one_hidden_layer():
    x, y = iris()
    est = quiet_fit(NeuralNetClassifier(hidden_layer_sizes=np.array(7), max_iter=2), x, y)
    assert [c.shape for c in est.coefs_] == [(4, 7), (7, 3)]


def test_small_products_train_on_one_blas_thread_and_the_setting_comes_back(monkeypatch):
    from threadpoolctl import threadpool_limits

    from layerwise.sklearn._engine import Network
    from layerwise.sklearn._threads import blas_threads

    seen = []
    original = Network.loss_and_gradient

    def spy(self, *args, **kwargs):
        seen.append(blas_threads())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Network, "loss_and_gradient", spy)
    x, y = iris()
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        quiet_fit(NeuralNetClassifier(max_iter=3), x, y)
        assert blas_threads() == before
        assert set(seen) == {1}
        seen.clear()
        # 150 x 4 x 20,000 = 12M multiply-adds per batch: the user's threads are kept.
        quiet_fit(NeuralNetClassifier((20000,), max_iter=1), x, y)
        assert set(seen) == {before}
        with pytest.raises(ValueError):
            NeuralNetClassifier(max_iter=3).fit(x, np.full(len(x), np.nan))
        assert blas_threads() == before


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fits_in_parallel_python_threads_leave_the_blas_threads_as_they_were():
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    from layerwise.sklearn._threads import blas_threads

    x, y = iris()
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        with ThreadPoolExecutor(4) as pool:
            fits = list(pool.map(lambda seed: NeuralNetClassifier(
                max_iter=20, random_state=seed).fit(x, y), range(8)))
        assert blas_threads() == before
    assert all(f.n_iter_ == 20 for f in fits)
