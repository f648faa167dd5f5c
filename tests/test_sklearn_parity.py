"""layerwise.sklearn against scikit-learn's MLPClassifier / MLPRegressor, an independent
implementation: the same parameters, and, seeded alike, the same weights after training with
every solver, schedule and option (to rounding), the same fitted attributes and predictions."""

import inspect
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from layerwise.sklearn import NeuralNetClassifier, NeuralNetRegressor

EXTRAS = {"dtype": None, "dropout": 0.0}
PAIRS = [(NeuralNetClassifier, MLPClassifier), (NeuralNetRegressor, MLPRegressor)]


def digits(n=400):
    x, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(x[:n]), y[:n]


def regression(n=300, targets=1, seed=0):
    x, y = make_regression(n, 8, n_targets=targets, noise=5.0, random_state=seed)
    return StandardScaler().fit_transform(x), y / np.std(y)


def fit_both(ours_cls, theirs_cls, x, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = ours_cls(random_state=0, **params).fit(x, y)
        theirs = theirs_cls(random_state=0, **params).fit(x, y)
    return ours, theirs


def assert_same_network(ours, theirs, atol=1e-10, rtol=1e-9):
    assert len(ours.coefs_) == len(theirs.coefs_)
    for mine, reference in zip(ours.coefs_ + ours.intercepts_,
                               theirs.coefs_ + theirs.intercepts_):
        assert mine.shape == reference.shape and mine.dtype == reference.dtype
        np.testing.assert_allclose(mine, reference, rtol=0, atol=atol)
    for name in ("n_iter_", "n_layers_", "n_outputs_", "out_activation_", "t_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=rtol)


# ------------------------------------------------------------- parameters
@pytest.mark.parametrize("ours, theirs", PAIRS)
def test_parameters_are_mlps_in_order_with_the_same_defaults_then_the_extras(ours, theirs):
    mine = inspect.signature(ours).parameters
    reference = inspect.signature(theirs).parameters
    assert list(mine)[: len(reference)] == list(reference)
    assert list(mine)[len(reference):] == list(EXTRAS)
    for name, parameter in reference.items():
        assert mine[name].default == parameter.default, name
        assert mine[name].kind == parameter.kind, name
    for name, default in EXTRAS.items():
        assert mine[name].kind is inspect.Parameter.KEYWORD_ONLY and mine[name].default == default
    assert set(ours().get_params()) == set(theirs().get_params()) | set(EXTRAS)


# ------------------------------------------------------------- same weights after training
@pytest.mark.parametrize(
    "params",
    [
        {"max_iter": 8},
        {"solver": "sgd", "max_iter": 8},
        {"solver": "sgd", "nesterovs_momentum": False, "momentum": 0.5, "max_iter": 6},
        {"solver": "sgd", "learning_rate": "invscaling", "power_t": 0.3, "max_iter": 6},
        {"solver": "sgd", "learning_rate": "adaptive", "n_iter_no_change": 1, "max_iter": 30},
        {"solver": "lbfgs", "max_iter": 30},
        {"solver": "lbfgs", "max_fun": 12},
        {"early_stopping": True, "validation_fraction": 0.2, "max_iter": 30},
        {"activation": "tanh", "batch_size": 64, "alpha": 0.01, "max_iter": 5},
        {"activation": "logistic", "hidden_layer_sizes": (20, 10), "max_iter": 5},
        {"activation": "identity", "hidden_layer_sizes": (), "max_iter": 5},
        {"shuffle": False, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6, "max_iter": 5},
        {"tol": 0.05, "n_iter_no_change": 2, "max_iter": 200},
        {"n_iter_no_change": np.inf, "max_iter": 5},
    ],
)
def test_classifier_trains_the_same_network_as_mlpclassifier(params):
    x, y = digits()
    ours, theirs = fit_both(NeuralNetClassifier, MLPClassifier, x, y, **params)
    assert_same_network(ours, theirs, atol=1e-9)
    np.testing.assert_allclose(ours.predict_proba(x), theirs.predict_proba(x), atol=1e-9)
    np.testing.assert_array_equal(ours.predict(x), theirs.predict(x))
    if params.get("solver") != "lbfgs":
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
        if theirs.best_loss_ is None:
            assert ours.best_loss_ is None
        else:
            assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9, abs=0)
        assert ours._optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate)
    if params.get("early_stopping"):
        assert ours.validation_scores_ == theirs.validation_scores_
        assert ours.best_validation_score_ == theirs.best_validation_score_


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_binary_and_string_labels_match_mlpclassifier(solver):
    x, y = digits()
    labels = np.where(y > 4, "big", "small")
    ours, theirs = fit_both(NeuralNetClassifier, MLPClassifier, x, labels, solver=solver,
                            max_iter=10)
    assert ours.out_activation_ == "logistic" and ours.n_outputs_ == 1
    assert_same_network(ours, theirs)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    np.testing.assert_array_equal(ours.predict(x), theirs.predict(x))
    np.testing.assert_allclose(ours.predict_log_proba(x), theirs.predict_log_proba(x),
                               atol=1e-9)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_multilabel_targets_match_mlpclassifier(solver):
    x, y = make_multilabel_classification(200, 10, n_classes=4, random_state=0)
    ours, theirs = fit_both(NeuralNetClassifier, MLPClassifier, x, y, solver=solver,
                            max_iter=15)
    assert ours.out_activation_ == "logistic" and ours.n_outputs_ == 4
    assert_same_network(ours, theirs)
    np.testing.assert_array_equal(ours.predict(x), theirs.predict(x))
    np.testing.assert_allclose(ours.predict_proba(x), theirs.predict_proba(x), atol=1e-10)


@pytest.mark.parametrize(
    "params",
    [{"max_iter": 10}, {"solver": "sgd", "learning_rate_init": 0.01, "max_iter": 10},
     {"solver": "lbfgs", "max_iter": 25}, {"early_stopping": True, "max_iter": 20},
     {"loss": "poisson", "max_iter": 10}],
)
@pytest.mark.parametrize("targets", [1, 3])
def test_regressor_trains_the_same_network_as_mlpregressor(params, targets):
    x, y = regression(targets=targets)
    if params.get("loss") == "poisson":
        y = np.exp(y / 3)
    ours, theirs = fit_both(NeuralNetRegressor, MLPRegressor, x, y, **params)
    assert_same_network(ours, theirs)
    prediction = ours.predict(x)
    assert prediction.shape == y.shape
    np.testing.assert_allclose(prediction, theirs.predict(x), atol=1e-9)
    assert ours.score(x, y) == pytest.approx(theirs.score(x, y), abs=1e-9)


def test_sample_weights_train_the_same_network():
    x, y = digits(300)
    weights = np.random.default_rng(0).uniform(0.1, 2.0, len(y))
    for solver in ("adam", "lbfgs"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ours = NeuralNetClassifier(solver=solver, max_iter=6, random_state=1)
            theirs = MLPClassifier(solver=solver, max_iter=6, random_state=1)
            ours.fit(x, y, sample_weight=weights)
            theirs.fit(x, y, sample_weight=weights)
        assert_same_network(ours, theirs)


def test_partial_fit_and_warm_start_continue_as_scikit_learn_does():
    x, y = load_iris(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    ours = NeuralNetClassifier(solver="sgd", random_state=3)
    theirs = MLPClassifier(solver="sgd", random_state=3)
    for _ in range(4):
        ours.partial_fit(x, y, classes=[0, 1, 2])
        theirs.partial_fit(x, y, classes=[0, 1, 2])
    assert_same_network(ours, theirs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = NeuralNetRegressor(warm_start=True, max_iter=3, random_state=2)
        theirs = MLPRegressor(warm_start=True, max_iter=3, random_state=2)
        xr, yr = regression()
        for _ in range(3):
            ours.fit(xr, yr)
            theirs.fit(xr, yr)
    assert_same_network(ours, theirs)
    assert len(ours.loss_curve_) == 9


def test_float32_data_trains_in_float32_as_scikit_learn():
    x, y = digits()
    ours, theirs = fit_both(NeuralNetClassifier, MLPClassifier, x.astype(np.float32), y,
                            max_iter=3)
    assert ours.coefs_[0].dtype == np.float32 == theirs.coefs_[0].dtype
    assert_same_network(ours, theirs, atol=1e-5, rtol=1e-5)
    assert ours.predict_proba(x.astype(np.float32)).dtype == np.float32


def test_sparse_input_trains_the_same_network():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    x, y = digits()
    x = np.where(np.abs(x) > 1, x, 0.0)
    ours, theirs = fit_both(NeuralNetClassifier, MLPClassifier, scipy_sparse.csr_matrix(x), y,
                            max_iter=4)
    assert_same_network(ours, theirs)
    dense, _ = fit_both(NeuralNetClassifier, MLPClassifier, x, y, max_iter=4)
    np.testing.assert_allclose(ours.predict_proba(scipy_sparse.csr_matrix(x)),
                               dense.predict_proba(x), atol=1e-10)
