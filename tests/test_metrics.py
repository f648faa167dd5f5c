"""Streaming metrics against scikit-learn and hand-computed confusion matrices."""

import json

import numpy as np
import pytest
from sklearn import metrics as skm

import layerwise
from layerwise import Dense, Input, Loss, Model, losses
from layerwise import metrics as lm
from layerwise.registry import deserialize, serialize

ONE_HOT_3 = np.eye(3)


def bound(identifier, loss_name, width):
    """A metric bound as ``compile`` binds it."""
    metric = lm.get(identifier)
    metric.bind(losses.get(loss_name), (width,))
    return metric


def run(metric, y_true, y_pred, cuts=()):
    """Reset, feed the batches cut at ``cuts``, return the epoch result."""
    metric.reset()
    edges = [0, *cuts, len(y_pred)]
    for start, stop in zip(edges[:-1], edges[1:]):
        metric.update(y_true[start:stop], y_pred[start:stop])
    return metric.result()


# ------------------------------------------------------------------ problems and references
LOSS_OF = {
    "sparse": "sparse_categorical_crossentropy",
    "onehot": "categorical_crossentropy",
    "binary": "binary_crossentropy",
    "multilabel": "binary_crossentropy",
    "regression": "mse",
}


def problem(kind, n=53, seed=0):
    """``(y_true, y_pred, width)``: labels as the loss prepares them, probabilities as float32."""
    rng = np.random.default_rng(seed)
    if kind in ("sparse", "onehot"):
        labels = rng.integers(0, 4, n)
        p = rng.dirichlet(np.ones(4), n)
        p[np.arange(n), labels] += rng.uniform(0, 0.6, n)  # better than chance, not perfect
        p /= p.sum(1, keepdims=True)
        y = labels if kind == "sparse" else np.eye(4, dtype=np.float32)[labels]
        return y, p.astype(np.float32), 4
    if kind in ("binary", "multilabel"):
        width = 1 if kind == "binary" else 3
        y = rng.integers(0, 2, (n, width)).astype(np.float32)
        p = np.clip(0.35 * y + rng.uniform(0, 0.75, (n, width)), 0, 1)
        return y, p.astype(np.float32), width
    y = rng.normal(size=(n, 2)) * [1.0, 3.0] + [0.5, -2.0]
    return y, (y + rng.normal(scale=0.7, size=(n, 2))).astype(np.float32), 2


def decoded(kind, y, p):
    """True and predicted labels as scikit-learn reads them."""
    if kind == "sparse":
        return y, p.argmax(1)
    if kind == "onehot":
        return y.argmax(1), p.argmax(1)
    if kind == "binary":
        return (y[:, 0] > 0.5).astype(int), (p[:, 0] > 0.5).astype(int)
    return (y > 0.5).astype(int), (p > 0.5).astype(int)


DEFAULT_AVERAGE = {"sparse": "macro", "onehot": "macro", "binary": "binary", "multilabel": "micro"}
SKLEARN_SCORE = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}


def reference(name, kind, y, p):
    """The metric computed independently, by scikit-learn or NumPy on the whole data."""
    if kind == "regression":
        return {
            "mae": skm.mean_absolute_error,
            "mse": skm.mean_squared_error,
            "r2": skm.r2_score,
        }[name](y, p.astype(np.float64))
    true, predicted = decoded(kind, y, p)
    if name == "accuracy":
        return float(np.mean(true == predicted))  # element-wise for multi-label, as Keras
    return SKLEARN_SCORE[name](true, predicted, average=DEFAULT_AVERAGE[kind], zero_division=0)


CASES = [
    (name, kind)
    for kind in ("sparse", "onehot", "binary", "multilabel")
    for name in ("accuracy", "precision", "recall", "f1")
] + [(name, "regression") for name in ("mae", "mse", "r2")]


# ------------------------------------------------------------------ accuracy of each kind
P4 = np.array([[0.4, 0.3, 0.3], [0.2, 0.3, 0.5], [0.1, 0.4, 0.5], [0.3, 0.45, 0.25]])
ACCURACY_CASES = [
    # arg-max [0, 2, 2, 1] against classes [0, 1, 2, 1]: 3 of 4 (a per-output 0.5 threshold
    # would read the same data as 8 of 12)
    ("categorical_crossentropy", 3, ONE_HOT_3[[0, 1, 2, 1]], P4, 3 / 4),
    ("sparse_categorical_crossentropy", 3, np.array([0, 1, 2, 1]), P4, 3 / 4),
    ("mse", 3, ONE_HOT_3[[0, 1, 2, 1]], P4, 3 / 4),  # several outputs: arg-max, as Keras
    # one output: threshold 0.5; hits 1, 0, 0, 1, 1
    (
        "binary_crossentropy",
        1,
        np.array([[1], [0], [1], [1], [0.0]]),
        np.array([[0.9], [0.6], [0.4], [0.7], [0.2]]),
        3 / 5,
    ),
    (
        "mse",
        1,
        np.array([[1], [0], [1], [1], [0.0]]),
        np.array([[0.9], [0.6], [0.4], [0.7], [0.2]]),
        3 / 5,
    ),
    # several sigmoid outputs: every output counts (hits 1,0,0 and 1,1,1), not the arg-max (2/2)
    (
        "binary_crossentropy",
        3,
        np.array([[1, 0, 1], [0, 1, 0.0]]),
        np.array([[0.8, 0.6, 0.4], [0.1, 0.9, 0.2]]),
        4 / 6,
    ),
]


@pytest.mark.parametrize("loss_name, width, y, p, expected", ACCURACY_CASES)
def test_accuracy_reads_labels_the_way_the_loss_encodes_them(loss_name, width, y, p, expected):
    assert run(bound("accuracy", loss_name, width), y, p) == pytest.approx(expected)


def test_accuracy_follows_a_from_logits_loss_object_by_its_name():
    metric = lm.get("accuracy")
    metric.bind(Loss("sparse_categorical_crossentropy", from_logits=True), (3,))
    assert run(metric, np.array([0, 1, 2, 1]), P4) == pytest.approx(3 / 4)


@pytest.mark.parametrize(
    "y, p, expected",
    [
        (np.array([1, 0, 1, 1, 0]), np.array([[0.9], [0.6], [0.4], [0.7], [0.2]]), 3 / 5),
        (np.array([0, 1, 2, 1]), P4, 3 / 4),  # integer labels: sparse
        (ONE_HOT_3[[0, 1, 2, 1]], P4, 3 / 4),  # as many label columns as outputs: one-hot
    ],
)
def test_unbound_accuracy_infers_the_label_kind_from_shapes(y, p, expected):
    assert run(lm.Accuracy(), y, p) == pytest.approx(expected)


def test_explicit_accuracies_compute_their_own_kind():
    y = np.array([[1, 0, 1], [0, 1, 0.0]])
    p = np.array([[0.8, 0.6, 0.4], [0.1, 0.9, 0.2]])
    # threshold 0.7: predicted [1,0,0], [0,1,0] -> hits 1,1,0 and 1,1,1
    assert run(lm.BinaryAccuracy(threshold=0.7), y, p) == pytest.approx(5 / 6)
    assert run(lm.CategoricalAccuracy(), ONE_HOT_3[[0, 1, 2, 1]], P4) == pytest.approx(3 / 4)
    assert run(lm.SparseCategoricalAccuracy(), np.array([0, 1, 2, 1]), P4) == pytest.approx(3 / 4)


# ------------------------------------------------------------------ precision, recall, f1
def from_confusion(confusion):
    """Labels and one-hot-like probabilities that produce ``confusion`` (rows: true class)."""
    true, predicted = [], []
    for i, row in enumerate(confusion):
        for j, count in enumerate(row):
            true += [i] * count
            predicted += [j] * count
    classes = len(confusion)
    p = np.full((len(true), classes), 0.1 / classes)
    p[np.arange(len(true)), predicted] += 0.9
    return np.array(true), p


CONFUSION_3 = [[5, 1, 0], [2, 3, 1], [0, 2, 4]]  # predicted totals 7, 6, 5; true totals 6, 6, 6


@pytest.mark.parametrize(
    "name, average, expected",
    [
        ("precision", "macro", (5 / 7 + 3 / 6 + 4 / 5) / 3),
        ("recall", "macro", (5 / 6 + 3 / 6 + 4 / 6) / 3),
        ("f1", "macro", (10 / 13 + 6 / 12 + 8 / 11) / 3),
        ("precision", "micro", 12 / 18),
        ("recall", "micro", 12 / 18),
        ("f1", "micro", 12 / 18),
        ("precision", "weighted", (6 * 5 / 7 + 6 * 3 / 6 + 6 * 4 / 5) / 18),
    ],
)
def test_multiclass_scores_match_a_hand_computed_confusion_matrix(name, average, expected):
    y, p = from_confusion(CONFUSION_3)
    metric = type(lm.get(name))(average=average)
    metric.bind(losses.get("sparse_categorical_crossentropy"), (3,))
    assert run(metric, y, p, cuts=(4, 5)) == pytest.approx(expected)


@pytest.mark.parametrize(
    "name, expected", [("precision", 3 / 4), ("recall", 3 / 5), ("f1", 2 * 3 / (4 + 5))]
)
def test_binary_scores_match_hand_counts(name, expected):
    # tp 3, fp 1, fn 2, tn 4: precision 3/4, recall 3/5
    y = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0.0])[:, None]
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1, 0.3, 0.4, 0.0, 0.5])[:, None]  # 0.5 is negative
    assert run(bound(name, "binary_crossentropy", 1), y, p) == pytest.approx(expected)


@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
@pytest.mark.parametrize("name", ["precision", "recall", "f1"])
@pytest.mark.parametrize("kind", ["sparse", "onehot", "binary", "multilabel"])
def test_scores_match_sklearn_for_every_average(kind, name, average):
    y, p, width = problem(kind, seed=3)
    metric = type(lm.get(name))(average=average)
    metric.bind(losses.get(LOSS_OF[kind]), (width,))
    true, predicted = decoded(kind, y, p)
    expected = SKLEARN_SCORE[name](true, predicted, average=average, zero_division=0)
    assert run(metric, y, p, cuts=(10, 11, 40)) == pytest.approx(expected)


def test_macro_average_skips_classes_absent_from_labels_and_predictions():
    # 3 outputs, only classes 0 and 1 occur: precision 1/1 and 2/3, averaged over 2 classes
    y = np.array([0, 0, 1, 1])
    p = ONE_HOT_3[[0, 1, 1, 1]] * 0.8 + 0.05
    assert run(bound("precision", "sparse_categorical_crossentropy", 3), y, p) == pytest.approx(
        (1 + 2 / 3) / 2
    )


@pytest.mark.parametrize("name", ["precision", "recall", "f1"])
def test_a_class_never_predicted_or_never_true_scores_zero_like_sklearn(name):
    # class 2 is true but never predicted; class 3 is predicted but never true
    y = np.array([0, 1, 2, 2, 1, 0, 1, 2])
    predicted = np.array([0, 1, 0, 3, 1, 3, 1, 1])
    p = np.eye(4)[predicted] * 0.7 + 0.075
    expected = SKLEARN_SCORE[name](y, predicted, average="macro", zero_division=0)
    assert run(bound(name, "sparse_categorical_crossentropy", 4), y, p) == pytest.approx(expected)


def test_binary_precision_without_predicted_positives_is_zero():
    y = np.array([[1], [0], [1.0]])
    p = np.array([[0.1], [0.2], [0.3]])
    assert run(bound("precision", "binary_crossentropy", 1), y, p) == 0.0
    assert run(bound("f1", "binary_crossentropy", 1), y, p) == 0.0


# ------------------------------------------------------------------ streaming over an epoch
@pytest.mark.parametrize("name, kind", CASES)
def test_uneven_batches_give_the_whole_epoch_value(name, kind):
    y, p, width = problem(kind)
    metric = bound(name, LOSS_OF[kind], width)
    expected = reference(name, kind, y, p)
    assert run(metric, y, p, cuts=(1, 8, 9, 30)) == pytest.approx(expected, rel=1e-6)


def test_precision_is_a_ratio_of_epoch_counts_not_a_mean_of_batch_ratios():
    # batch 1: one positive prediction, correct (1/1); batch 2: three, all wrong (0/3).
    # Epoch precision 1/4; the mean of the batch ratios would be 1/2.
    y = np.array([1, 0, 0, 0, 0, 0.0])[:, None]
    p = np.array([0.9, 0.1, 0.8, 0.8, 0.8, 0.1])[:, None]
    assert run(bound("precision", "binary_crossentropy", 1), y, p, cuts=(2,)) == pytest.approx(
        1 / 4
    )


def test_r2_matches_sklearn_per_output_mean_with_a_constant_column():
    rng = np.random.default_rng(1)
    y = np.column_stack([rng.normal(size=20), np.full(20, 2.0), np.full(20, 3.0)])
    p = y.copy()
    p[:, 0] += rng.normal(scale=0.5, size=20)
    p[:, 2] += 0.25  # constant labels predicted wrongly: 0.0; predicted exactly: 1.0
    expected = skm.r2_score(y, p, multioutput="uniform_average")
    assert run(lm.R2Score(), y, p, cuts=(3, 11)) == pytest.approx(expected)


def test_r2_stays_accurate_when_labels_have_a_large_offset():
    rng = np.random.default_rng(2)
    y = 1e8 + rng.normal(size=(400, 1))
    p = y + rng.normal(scale=0.5, size=(400, 1))
    cuts = tuple(range(17, 400, 17))
    assert run(lm.R2Score(), y, p, cuts=cuts) == pytest.approx(skm.r2_score(y, p), rel=1e-6)


def test_state_is_counts_per_class_not_copies_of_predictions():
    y, p, classes = problem("sparse", n=2000)
    metric = bound("f1", "sparse_categorical_crossentropy", classes)
    run(metric, y, p, cuts=(500, 1000))
    y, p, outputs = problem("regression", n=2000)
    r2 = lm.R2Score()
    run(r2, y, p, cuts=(500, 1000))
    for m, limit in ((metric, 3 * classes), (r2, 3 * outputs)):
        held = sum(np.size(v) for v in vars(m).values() if isinstance(v, np.ndarray))
        assert held <= limit


# ------------------------------------------------------------------ reset, clone, config
@pytest.mark.parametrize("name, kind", CASES)
def test_reset_forgets_earlier_batches(name, kind):
    y, p, width = problem(kind)
    metric = bound(name, LOSS_OF[kind], width)
    metric.update(y[:20], p[:20])
    metric.reset()
    assert metric.result() == 0.0
    metric.update(y[20:], p[20:])
    assert metric.result() == pytest.approx(reference(name, kind, y[20:], p[20:]), rel=1e-6)


@pytest.mark.parametrize("name, kind", CASES)
def test_clone_keeps_its_own_totals(name, kind):
    y, p, width = problem(kind)
    loss = losses.get(LOSS_OF[kind])
    original = bound(name, LOSS_OF[kind], width)
    original.update(y[:25], p[:25])
    copy = lm.clone(original, loss, (width,))
    assert copy is not original and copy.result() == 0.0
    copy.update(y[25:], p[25:])
    assert original.result() == pytest.approx(reference(name, kind, y[:25], p[:25]), rel=1e-6)
    assert copy.result() == pytest.approx(reference(name, kind, y[25:], p[25:]), rel=1e-6)


CONFIGS = [
    (lm.Accuracy(name="acc"), {"name": "acc"}),
    (lm.BinaryAccuracy(threshold=0.3), {"threshold": 0.3, "name": "binary_accuracy"}),
    (lm.CategoricalAccuracy(), {"name": "categorical_accuracy"}),
    (lm.SparseCategoricalAccuracy(), {"name": "sparse_categorical_accuracy"}),
    (
        lm.Precision(threshold=0.7, average="micro"),
        {"threshold": 0.7, "average": "micro", "name": "precision"},
    ),
    (
        lm.Recall(average="weighted", name="rec"),
        {"threshold": 0.5, "average": "weighted", "name": "rec"},
    ),
    (lm.F1Score(), {"threshold": 0.5, "average": None, "name": "f1"}),
    (lm.MeanAbsoluteError(), {"name": "mae"}),
    (lm.MeanSquaredError(), {"name": "mse"}),
    (lm.R2Score(), {"name": "r2"}),
]


@pytest.mark.parametrize("metric, config", CONFIGS, ids=lambda v: type(v).__name__)
def test_config_round_trips_through_the_registry_and_json(metric, config):
    saved = json.loads(json.dumps(serialize(metric)))
    assert saved["class_name"] == type(metric).__name__ and saved["config"] == config
    rebuilt = deserialize(saved)
    assert type(rebuilt) is type(metric) and rebuilt.get_config() == config


def test_rebuilt_precision_keeps_its_threshold_and_average():
    y, p, _ = problem("multilabel", seed=4)
    rebuilt = deserialize(serialize(lm.Precision(threshold=0.7, average="macro")))
    rebuilt.bind(losses.get("binary_crossentropy"), (3,))
    expected = skm.precision_score(y > 0.5, p > 0.7, average="macro", zero_division=0)
    assert run(rebuilt, y, p) == pytest.approx(expected)


# ------------------------------------------------------------------ names and errors
@pytest.mark.parametrize(
    "identifier, cls, name",
    [
        ("accuracy", lm.Accuracy, "accuracy"),
        ("acc", lm.Accuracy, "acc"),
        (" ACC ", lm.Accuracy, "acc"),
        ("binary_accuracy", lm.BinaryAccuracy, "binary_accuracy"),
        ("categorical_accuracy", lm.CategoricalAccuracy, "categorical_accuracy"),
        (
            "sparse_categorical_accuracy",
            lm.SparseCategoricalAccuracy,
            "sparse_categorical_accuracy",
        ),
        ("precision", lm.Precision, "precision"),
        ("Precision", lm.Precision, "precision"),
        ("recall", lm.Recall, "recall"),
        ("f1", lm.F1Score, "f1"),
        ("f1_score", lm.F1Score, "f1_score"),
        ("F1Score", lm.F1Score, "f1"),
        ("mae", lm.MeanAbsoluteError, "mae"),
        ("mean_absolute_error", lm.MeanAbsoluteError, "mean_absolute_error"),
        ("mse", lm.MeanSquaredError, "mse"),
        ("mean_squared_error", lm.MeanSquaredError, "mean_squared_error"),
        ("r2", lm.R2Score, "r2"),
        ("r2_score", lm.R2Score, "r2_score"),
    ],
)
def test_names_and_aliases_build_the_metric_reported_under_the_given_name(identifier, cls, name):
    (metric,) = lm.get_list([identifier], losses.get("mse"), (1,))
    assert type(metric) is cls and metric.name == name


def test_get_list_keeps_instances_and_their_names():
    metrics = lm.get_list(
        [lm.Precision(name="p1"), lm.Precision(name="p2"), "recall"],
        losses.get("binary_crossentropy"),
        (1,),
    )
    assert [m.name for m in metrics] == ["p1", "p2", "recall"]
    assert [m.kind for m in metrics] == ["binary"] * 3


@pytest.mark.parametrize(
    "identifiers", [["accuracy", "accuracy"], ["precision", lm.Precision()], ["f1", "F1Score"]]
)
def test_duplicate_metric_names_raise(identifiers):
    with pytest.raises(ValueError, match=r"'metrics' names \['(accuracy|precision|f1)'\]"):
        lm.get_list(identifiers, losses.get("mse"), (1,))


def test_unknown_metric_name_lists_the_valid_ones():
    with pytest.raises(
        ValueError,
        match=r"'accuracyy' for argument 'metrics'.*Valid names: acc, accuracy, .*f1, .*r2, .*",
    ):
        lm.get_list(["accuracyy"], losses.get("mse"), (1,))


def test_a_metric_of_the_wrong_type_raises():
    with pytest.raises(TypeError, match="'metrics'.*received 3"):
        lm.get_list([3], losses.get("mse"), (1,))


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: lm.Precision(average="samples"), ValueError, "'average'.*'samples'"),
        (lambda: lm.Recall(threshold="high"), TypeError, "'threshold'.*'high'"),
        (lambda: lm.BinaryAccuracy(threshold=float("nan")), ValueError, "'threshold'.*nan"),
        (lambda: lm.Accuracy(name=""), ValueError, "'name'"),
        (
            lambda: lm.F1Score(average="binary").bind(
                losses.get("sparse_categorical_crossentropy"), (4,)
            ),
            ValueError,
            "'average' is 'binary'.*'sparse'",
        ),
    ],
)
def test_bad_metric_arguments_raise_a_named_error(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_labels_beyond_the_outputs_raise_a_named_error():
    metric = bound("recall", "sparse_categorical_crossentropy", 3)
    with pytest.raises(ValueError, match="'y_true' holds class labels up to 5"):
        metric.update(np.array([0, 5]), P4[:2])


# ------------------------------------------------------------------ through the model
def test_evaluate_on_logits_matches_sklearn_on_the_predictions():
    layerwise.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(45, 4))
    labels = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int) + (x[:, 2] > 0.8)
    inputs = Input(shape=(4,))
    model = Model(inputs, Dense(3)(inputs))
    model.compile(Loss("sparse_categorical_crossentropy", from_logits=True), metrics=["acc", "f1"])
    result = model.evaluate(x, labels, batch_size=7)
    predicted = model.predict(x).argmax(1)  # arg-max of logits is arg-max of probabilities
    assert result["acc"] == pytest.approx(skm.accuracy_score(labels, predicted))
    assert result["f1"] == pytest.approx(
        skm.f1_score(labels, predicted, average="macro", zero_division=0)
    )


def test_evaluate_with_a_sigmoid_logit_thresholds_at_zero():
    layerwise.set_seed(1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(38, 3))
    y = (x[:, 0] - x[:, 2] > 0).astype(float)
    inputs = Input(shape=(3,))
    model = Model(inputs, Dense(1)(inputs))
    model.compile(
        Loss("binary_crossentropy", from_logits=True),
        metrics=["accuracy", "precision", "recall"],
    )
    result = model.evaluate(x, y, batch_size=5)
    predicted = (model.predict(x)[:, 0] > 0).astype(int)  # probability 0.5 is logit 0
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted))
    assert result["precision"] == pytest.approx(skm.precision_score(y, predicted, zero_division=0))
    assert result["recall"] == pytest.approx(skm.recall_score(y, predicted, zero_division=0))
