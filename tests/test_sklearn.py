"""scikit-learn estimators: sklearn's own conformance checks, pipelines and grid search, labels,
probabilities against a NumPy forward pass, pickling, cloning and reproducibility."""

import math
import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris, make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

import layerwise
from layerwise.optimizers import Adam
from layerwise.sklearn import NeuralNetClassifier, NeuralNetRegressor

# Checks that skip themselves when an optional package of the test environment is missing
# (pandas, array-api-strict); they are not about the estimator.
ENVIRONMENT_SKIPS = {
    "check_array_api_input",
    "check_classifier_data_not_an_array",
    "check_regressor_data_not_an_array",
    "check_dataframe_column_names_consistency",
}


def small(cls, **params):
    """A fast configuration: one small hidden layer, a few epochs."""
    defaults = dict(hidden_layer_sizes=(8,), learning_rate=0.05, epochs=20, batch_size=32)
    return cls(**{**defaults, **params})


def blobs(n=120, classes=3, seed=0):
    x, y = make_blobs(n_samples=n, centers=classes, n_features=4, random_state=seed)
    return StandardScaler().fit_transform(x), y


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def numpy_forward(estimator, x, hidden=lambda z: np.maximum(z, 0)):
    """The network's output recomputed in float64 from its weights: [W1, b1, ..., Wk, bk]."""
    weights = estimator.model_.get_weights()
    a = np.asarray(x, dtype=np.float64)
    for i in range(0, len(weights), 2):
        a = a @ weights[i].astype(np.float64) + weights[i + 1]
        if i + 2 < len(weights):
            a = hidden(a)
    return a


# ------------------------------------------------------------- scikit-learn's own checks
@pytest.mark.parametrize("cls", [NeuralNetClassifier, NeuralNetRegressor])
def test_check_estimator_passes_every_check(cls):
    results = check_estimator(small(cls), on_fail=None, on_skip=None)
    failed = {r["check_name"]: repr(r["exception"]) for r in results if r["status"] == "failed"}
    assert failed == {}
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= ENVIRONMENT_SKIPS
    assert not [r for r in results if r["status"] == "xfail"]
    assert sum(r["status"] == "passed" for r in results) >= 45


def test_import_layerwise_does_not_import_sklearn():
    code = "import sys, layerwise; print('sklearn' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


# ------------------------------------------------------------- classifier
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_classifier_probabilities_equal_numpy_forward_pass(dropout):
    x, y = blobs()
    clf = small(NeuralNetClassifier, dropout=dropout, random_state=0).fit(x, y)
    expected = softmax(numpy_forward(clf, x))  # dropout is the identity when predicting
    proba = clf.predict_proba(x)
    np.testing.assert_allclose(proba, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), np.ones(len(x)), atol=1e-12)
    np.testing.assert_array_equal(clf.predict(x), clf.classes_[np.argmax(expected, axis=1)])
    # near log(1) = 0 one ulp of a probability is a large relative error: absolute tolerance
    np.testing.assert_allclose(clf.predict_log_proba(x), np.log(expected), rtol=1e-9, atol=1e-14)
    assert clf.score(x, y) == accuracy_score(y, clf.predict(x)) > 0.95


def test_empty_hidden_layer_sizes_is_multinomial_logistic_regression():
    x, y = blobs()
    clf = small(NeuralNetClassifier, hidden_layer_sizes=(), random_state=0).fit(x, y)
    kernel, bias = clf.model_.get_weights()
    assert kernel.shape == (4, 3) and bias.shape == (3,)
    np.testing.assert_allclose(clf.predict_proba(x), softmax(x @ kernel + bias), rtol=1e-10)


def test_string_labels_train_the_same_network_as_their_integer_codes():
    x, codes = blobs()
    names = np.array(["ant", "bee", "cat"])  # sorted, so their codes are 0, 1, 2
    by_name = small(NeuralNetClassifier, random_state=0).fit(x, names[codes])
    by_code = small(NeuralNetClassifier, random_state=0).fit(x, codes)
    np.testing.assert_array_equal(by_name.classes_, names)
    np.testing.assert_array_equal(by_name.predict_proba(x), by_code.predict_proba(x))
    np.testing.assert_array_equal(by_name.predict(x), names[by_code.predict(x)])
    assert by_name.score(x, names[codes]) == accuracy_score(codes, by_code.predict(x))


def test_non_contiguous_integer_labels_round_trip():
    x, codes = blobs()
    labels = np.array([-3, 7, 40])[codes]
    clf = small(NeuralNetClassifier, random_state=0).fit(x, labels)
    np.testing.assert_array_equal(clf.classes_, [-3, 7, 40])
    predicted = clf.predict(x)
    assert set(np.unique(predicted)) <= {-3, 7, 40}
    assert accuracy_score(labels, predicted) > 0.95


def test_binary_problem_uses_two_softmax_columns():
    x, y = blobs(n=100, classes=2, seed=1)
    clf = small(NeuralNetClassifier, random_state=0).fit(x, np.where(y == 1, "yes", "no"))
    proba = clf.predict_proba(x)
    assert proba.shape == (100, 2)
    np.testing.assert_allclose(proba, softmax(numpy_forward(clf, x)), rtol=1e-10, atol=1e-12)
    assert accuracy_score(np.where(y == 1, "yes", "no"), clf.predict(x)) > 0.95


def test_single_class_is_refused_with_a_message_about_classes():
    x, _ = blobs(n=10)
    with pytest.raises(ValueError, match="at least 2 classes in 'y'"):
        small(NeuralNetClassifier).fit(x, np.zeros(10))


def test_pipeline_in_grid_search_reaches_high_accuracy_on_iris():
    x, y = load_iris(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.3, stratify=y, random_state=0
    )
    pipeline = make_pipeline(
        StandardScaler(),
        NeuralNetClassifier((16,), epochs=60, batch_size=16, random_state=0),
    )
    search = GridSearchCV(
        pipeline, {"neuralnetclassifier__learning_rate": [0.001, 0.02]}, cv=3
    ).fit(x_train, y_train)
    # 60 epochs at 0.001 leave Adam far from converged; the search must notice.
    assert search.best_params_ == {"neuralnetclassifier__learning_rate": 0.02}
    predicted = search.predict(x_test)
    assert search.score(x_test, y_test) == accuracy_score(y_test, predicted) >= 0.9


# ------------------------------------------------------------- regressor
def test_regressor_with_1d_target_predicts_1d_values_of_the_network():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(150, 3))
    y = x @ np.array([1.5, -2.0, 0.5]) + 0.3
    reg = small(NeuralNetRegressor, hidden_layer_sizes=(16,), epochs=60, random_state=0)
    reg.fit(x, y)
    predicted = reg.predict(x)
    assert predicted.shape == (150,)
    np.testing.assert_allclose(predicted, numpy_forward(reg, x)[:, 0], rtol=1e-10, atol=1e-12)
    assert reg.n_outputs_ == 1
    assert reg.score(x, y) == pytest.approx(r2_score(y, numpy_forward(reg, x)[:, 0]))
    assert reg.score(x, y) > 0.95


def test_regressor_with_2d_target_predicts_every_column():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, size=(150, 2))
    y = np.column_stack([x[:, 0] - x[:, 1], 2 * x[:, 0] + x[:, 1]])
    reg = small(NeuralNetRegressor, hidden_layer_sizes=(16,), epochs=60, random_state=0)
    predicted = reg.fit(x, y).predict(x)
    assert predicted.shape == (150, 2) and reg.n_outputs_ == 2
    np.testing.assert_allclose(predicted, numpy_forward(reg, x), rtol=1e-10, atol=1e-12)
    assert r2_score(y, predicted) > 0.95


def test_tanh_activation_is_used_in_the_hidden_layers():
    x, y = blobs()
    reg = small(NeuralNetRegressor, activation="tanh", random_state=0).fit(x, y.astype(float))
    np.testing.assert_allclose(
        reg.predict(x), numpy_forward(reg, x, hidden=np.tanh)[:, 0], rtol=1e-10, atol=1e-12
    )


# ------------------------------------------------------------- pickling, cloning, seeds
@pytest.mark.parametrize("cls", [NeuralNetClassifier, NeuralNetRegressor])
def test_pickled_estimator_predicts_identically(cls):
    x, y = blobs()
    estimator = small(cls, random_state=0).fit(x, y)
    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(restored.predict(x), estimator.predict(x))
    for a, b in zip(restored.model_.get_weights(), estimator.model_.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert restored.loss_curve_ == estimator.loss_curve_


def test_clone_keeps_parameters_and_drops_the_fitted_network():
    x, y = blobs()
    fitted = small(NeuralNetClassifier, dropout=0.1, random_state=3).fit(x, y)
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "model_")
    with pytest.raises(NotFittedError, match="not fitted"):
        copy.predict(x)


def test_same_random_state_gives_bit_identical_fits_and_another_differs():
    x, y = blobs()
    params = dict(dropout=0.2, validation_split=0.2, random_state=7)
    first = small(NeuralNetClassifier, **params).fit(x, y)
    second = small(NeuralNetClassifier, **params).fit(x, y)
    other = small(NeuralNetClassifier, **{**params, "random_state": 8}).fit(x, y)
    for a, b, c in zip(
        first.model_.get_weights(), second.model_.get_weights(), other.model_.get_weights()
    ):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c) or not a.any()
    assert first.history_ == second.history_


def test_random_state_none_follows_layerwise_set_seed():
    x, y = blobs()
    fits = []
    for _ in range(2):
        layerwise.set_seed(11)
        fits.append(small(NeuralNetClassifier, dropout=0.2).fit(x, y).predict_proba(x))
    np.testing.assert_array_equal(fits[0], fits[1])


def test_optimizer_object_is_copied_and_keeps_its_rate_when_learning_rate_is_none():
    x, y = blobs()
    adam = Adam(learning_rate=0.02)
    clf = small(NeuralNetClassifier, optimizer=adam, learning_rate=None, random_state=0)
    clf.fit(x, y)
    assert adam.iterations == 0 and adam.slots == {}  # the hyperparameter is left untouched
    assert clf.model_.optimizer is not adam
    assert clf.model_.optimizer.learning_rate == 0.02
    assert clf.model_.optimizer.iterations == clf.n_iter_ * math.ceil(len(x) / 32)


# ------------------------------------------------------------- training options
@pytest.mark.parametrize(("batch_size", "steps_per_epoch"), [("auto", 2), (32, 8), (250, 1)])
def test_batch_size_sets_the_number_of_updates(batch_size, steps_per_epoch):
    x, y = blobs(n=250)
    clf = small(NeuralNetClassifier, batch_size=batch_size, epochs=3, random_state=0).fit(x, y)
    # 'auto' is min(200, n): 250 samples make batches of 200 and 50.
    assert clf.model_.optimizer.iterations == 3 * steps_per_epoch


def test_l2_penalty_adds_the_squared_kernels_to_the_loss():
    x, y = blobs()
    clf = small(NeuralNetClassifier, l2=0.01, random_state=0).fit(x, y)
    weights = clf.model_.get_weights()
    probabilities = softmax(numpy_forward(clf, x))
    cross_entropy = -np.mean(np.log(probabilities[np.arange(len(y)), y]))
    penalty = 0.01 * (np.sum(weights[0] ** 2) + np.sum(weights[2] ** 2))  # kernels, not biases
    assert clf.model_.evaluate(x, y)["loss"] == pytest.approx(cross_entropy + penalty, rel=1e-9)


def test_validation_split_holds_out_the_requested_fraction():
    x, y = blobs(n=50)
    clf = small(NeuralNetClassifier, validation_split=0.2, epochs=5, random_state=0).fit(x, y)
    assert set(clf.history_) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 5 for values in clf.history_.values())
    # 10 held-out samples: every validation accuracy is a multiple of 1/10.
    scaled = np.array(clf.history_["val_accuracy"]) * 10
    np.testing.assert_allclose(scaled, np.round(scaled), atol=1e-9)
    # 40 training samples in batches of 32: two updates per epoch.
    assert clf.model_.optimizer.iterations == 5 * 2


def test_early_stopping_ends_patience_epochs_after_the_best_validation_loss():
    x, y = blobs(n=80)
    clf = small(
        NeuralNetClassifier,
        learning_rate=0.1,
        epochs=500,
        validation_split=0.25,
        early_stopping=True,
        patience=3,
        tol=0.0,
        random_state=0,
    ).fit(x, y)
    val_loss = clf.history_["val_loss"]
    assert clf.n_iter_ == len(val_loss) < 500
    assert clf.n_iter_ == int(np.argmin(val_loss)) + 1 + 3
    assert clf.loss_curve_ == clf.history_["loss"] and clf.loss_ == clf.loss_curve_[-1]


def test_float32_dtype_predicts_float32_probabilities():
    x, y = blobs()
    clf = small(NeuralNetClassifier, dtype="float32", random_state=0).fit(x, y)
    proba = clf.predict_proba(x)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba, softmax(numpy_forward(clf, x)), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("hidden_layer_sizes", (8, 0)),
        ("hidden_layer_sizes", "8"),
        ("epochs", 0),
        ("batch_size", "big"),
        ("validation_split", 1.0),
        ("dropout", -0.1),
        ("l2", -1.0),
        ("tol", -1e-3),
        ("patience", 1.5),
        ("verbose", 3),
        ("early_stopping", "yes"),
        ("dtype", "float16"),
        ("activation", "nonsense"),
        ("optimizer", "nonsense"),
        ("learning_rate", -0.1),
        ("random_state", "seed"),
    ],
)
def test_invalid_hyperparameter_raises_naming_the_argument(argument, value):
    x, y = blobs(n=20)
    with pytest.raises(ValueError, match=f"'{argument}'"):
        small(NeuralNetClassifier, **{argument: value}).fit(x, y)
