"""fit, evaluate, train_on_batch: bad input, validation, history, data sources, reproducibility."""

import io

import numpy as np
import pytest

import layerwise
from layerwise import Dense, Dropout, Input, Model
from layerwise.exceptions import ShapeMismatchError


def classifier(seed=0, dropout=0.0, optimizer="sgd", metrics=None, dtype="float32"):
    layerwise.set_seed(seed)
    inputs = Input(shape=(4,))
    x = Dense(8, activation="relu", weights_initializer="he_normal")(inputs)
    if dropout:
        x = Dropout(dropout)(x)
    model = Model(inputs, Dense(3, activation="softmax")(x))
    model.compile(loss_fn="categorical_crossentropy", optimizer=optimizer, metrics=metrics,
                  dtype=dtype)
    return model


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 4)) + labels[:, None]
    return x, np.eye(3)[labels]


# ------------------------------------------------------------------ bad input changes nothing
BAD_FITS = [
    (dict(x_train=None), TypeError, "x_train"),
    (dict(x_train="text"), TypeError, "x_train"),
    (dict(x_train=np.zeros((40, 5))), ShapeMismatchError, "x_train"),
    (dict(y_train=np.zeros((40, 2))), ShapeMismatchError, "y_train|'y'"),
    (dict(y_train=np.zeros((39, 3))), ValueError, "same number of samples"),
    (dict(epochs=0), ValueError, "epochs"),
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(epochs=1.5), TypeError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(learning_rate=0.0), ValueError, "learning_rate"),
    (dict(learning_rate=-0.1), ValueError, "learning_rate"),
    (dict(learning_rate=float("nan")), ValueError, "learning_rate"),
    (dict(x_train=np.array([[np.nan, 0, 0, 0]] * 40)), ValueError, "x_train.*NaN"),
    (dict(x_train=np.array([[np.inf, 0, 0, 0]] * 40)), ValueError, "x_train.*NaN or infinite"),
    (dict(y_train=np.full((40, 3), np.nan)), ValueError, "y_train.*NaN"),
    (dict(validation_split=1.0), ValueError, "validation_split"),
    (dict(verbose=3), ValueError, "verbose"),
]


@pytest.mark.parametrize("change, error, message", BAD_FITS)
def test_bad_fit_arguments_raise_a_named_error_and_change_nothing(change, error, message):
    model = classifier()
    x, y = data()
    arguments = dict(x_train=x, y_train=y, epochs=1, print_loss=False)
    arguments.update(change)
    before = model.get_weights()
    with pytest.raises(error, match=message):
        model.fit(**arguments)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 0


def test_predict_rejects_none_strings_and_wrong_shapes():
    model = classifier()
    with pytest.raises(TypeError, match="'x'.*None"):
        model.predict(None)
    with pytest.raises(TypeError, match="'x'"):
        model.predict("1, 2, 3, 4")
    with pytest.raises(ShapeMismatchError, match=r"\(n, 4\)"):
        model.predict(np.zeros((2, 3)))
    with pytest.raises(ShapeMismatchError, match="batch axis"):
        model.predict(np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        model.predict([[0, 0, 0, np.nan]])


def test_fit_before_compile_is_explained():
    inputs = Input(shape=(2,))
    model = Model(inputs, Dense(1)(inputs))
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((2, 2)), np.zeros(2))


def test_plain_lists_and_1d_labels_are_accepted():
    inputs = Input(shape=(2,))
    model = Model(inputs, Dense(1)(inputs))
    model.compile(loss_fn="mse")
    loss = model.fit([[0, 1], [1, 0], [1, 1]], [1, 2, 3], epochs=2, print_loss=False)
    assert isinstance(loss, float) and np.isfinite(loss)


# -------------------------------------------------------------------------- output and logs
def test_print_loss_prints_one_line_per_epoch(capsys):
    model = classifier()
    x, y = data()
    loss = model.fit(x, y, epochs=3)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert f"loss: {loss:.4f}" in lines[-1]
    model.fit(x, y, epochs=2, print_loss=False)
    model.fit(x, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_progress_bar_shows_epochs_and_loss(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stdout", stream)
    model = classifier()
    x, y = data()
    model.fit(x, y, epochs=2, verbose=1, batch_size=8)
    text = stream.getvalue()
    assert "Epoch 1/2" in text and "Epoch 2/2" in text
    assert "5/5" in text and "loss:" in text  # 40 samples in batches of 8


def test_history_and_evaluate_use_metric_names():
    model = classifier(metrics=["accuracy", "precision"])
    x, y = data(60)
    xv, yv = data(30, seed=1)
    model.fit(x, y, epochs=3, validation_data=(xv, yv), print_loss=False)
    assert set(model.history) == {"loss", "accuracy", "precision", "val_loss", "val_accuracy",
                                  "val_precision"}
    assert all(len(v) == 3 for v in model.history.values())
    assert model.history.history is model.history and model.history.epoch == [0, 1, 2]
    result = model.evaluate(xv, yv)
    assert result["loss"] == pytest.approx(model.history["val_loss"][-1], rel=1e-6)
    p = model.predict(xv)
    assert result["accuracy"] == pytest.approx(np.mean(p.argmax(1) == yv.argmax(1)))
    expected_loss = -np.mean(np.sum(yv * np.log(p.astype(np.float64)), axis=1))
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-5)


def test_training_metrics_are_over_the_whole_epoch():
    model = classifier(metrics=["accuracy"])
    x, y = data(50)
    model.fit(x, y, epochs=1, batch_size=7, learning_rate=1e-9, print_loss=False)
    # With a negligible learning rate the weights hardly move, so the epoch's accuracy equals
    # the accuracy of the (unchanged) model on all samples.
    expected = np.mean(model.predict(x).argmax(1) == y.argmax(1))
    assert model.history["accuracy"][0] == pytest.approx(expected)


def test_validation_split_holds_out_the_last_samples():
    model = classifier()
    x, y = data(50)
    model.fit(x, y, epochs=1, validation_split=0.2, print_loss=False, batch_size=50)
    assert model.optimizer.iterations == 1
    assert model.history["val_loss"][0] == pytest.approx(model.evaluate(x[40:], y[40:])["loss"],
                                                         rel=1e-6)


# ---------------------------------------------------------------------------- data sources
def test_generator_and_list_of_batches_equal_arrays():
    x, y = data(30)
    reference = classifier(seed=4)
    reference.fit(x, y, epochs=2, batch_size=8, shuffle=False, print_loss=False)
    batches = [(x[i : i + 8], y[i : i + 8]) for i in range(0, 30, 8)]

    from_list = classifier(seed=4)
    from_list.fit(batches, epochs=2, print_loss=False)

    def generate():
        while True:
            yield from batches

    from_generator = classifier(seed=4)
    from_generator.fit(generate(), epochs=2, steps_per_epoch=4, print_loss=False)
    for model in (from_list, from_generator):
        for a, b in zip(reference.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(a, b)
    assert from_generator.history["loss"] == reference.history["loss"]


def test_generator_without_steps_per_epoch_is_explained():
    model = classifier()
    x, y = data(8)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(((x, y) for _ in range(3)), epochs=1)


def test_train_on_batch_is_one_fit_step():
    x, y = data(16)
    a, b = classifier(seed=5, metrics=["accuracy"]), classifier(seed=5)
    loss = a.train_on_batch(x, y)
    b.fit(x, y, epochs=1, batch_size=16, shuffle=False, print_loss=False)
    assert loss == pytest.approx(b.history["loss"][0])
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    result = a.train_on_batch(x, y, return_dict=True)
    assert set(result) == {"loss", "accuracy"}


def test_optimizer_state_survives_across_fit_calls():
    x, y = data(20)
    once, twice = classifier(seed=6, optimizer="adam"), classifier(seed=6, optimizer="adam")
    once.fit(x, y, epochs=2, batch_size=20, print_loss=False)
    twice.fit(x, y, epochs=1, batch_size=20, print_loss=False)
    twice.fit(x, y, epochs=1, batch_size=20, print_loss=False)
    for a, b in zip(once.get_weights(), twice.get_weights()):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------ reproducibility
def test_set_seed_makes_runs_bit_for_bit_identical():
    x, y = data(64)
    runs = []
    for _ in range(2):
        model = classifier(seed=11, dropout=0.3, optimizer="adam")
        model.fit(x, y, epochs=3, batch_size=8, print_loss=False)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    other = classifier(seed=12, dropout=0.3, optimizer="adam")
    assert not np.array_equal(other.get_weights()[0], runs[0][0])


def test_numpy_global_random_state_is_never_used():
    np.random.seed(123)
    state = np.random.get_state()
    model = classifier(dropout=0.5)
    x, y = data()
    model.fit(x, y, epochs=2, print_loss=False)
    after = np.random.get_state()
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2] == after[2]


def test_a_pickled_model_is_small_and_trains_on_identically():
    import pickle

    model = classifier(seed=21, dropout=0.2, optimizer="adam")
    x, y = data(400)
    model.fit(x, y, epochs=1, batch_size=16, print_loss=False)
    model.predict(x)
    payload = pickle.dumps(model)
    weights = sum(w.nbytes for w in model.get_weights())
    # weights, Adam's two slots and small metadata; no activations, buffers or snapshots
    assert len(payload) < 3 * weights + 20_000
    twin = pickle.loads(payload)
    np.testing.assert_array_equal(twin.predict(x), model.predict(x))
    for m in (model, twin):  # same shuffling and dropout generators, same optimizer state
        m.fit(x, y, epochs=1, batch_size=16, print_loss=False)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)
