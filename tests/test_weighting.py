"""Sample and class weights against PyTorch's weighted reductions in float64, and weighted
metrics against scikit-learn's ``sample_weight``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, precision_score, r2_score, recall_score

import layerwise
from layerwise import Dense, Input, Model
from layerwise.optimizers import SGD

N, FEATURES, CLASSES = 12, 5, 3
RATE = 0.1


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, FEATURES))
    labels = rng.integers(0, CLASSES, N)
    weights = rng.uniform(0.0, 3.0, N)
    return x, labels, weights


def one_layer(units, activation, loss, metrics=None):
    layerwise.set_seed(0)
    inputs = Input(shape=(FEATURES,))
    model = Model(inputs, Dense(units, activation=activation)(inputs))
    model.compile(loss=loss, optimizer=SGD(RATE), metrics=metrics, dtype="float64")
    return model


def torch_step(model, x, loss_of_outputs):
    """One SGD step of the same layer in torch; returns (loss before, kernel, bias after)."""
    kernel, bias = (torch.tensor(w, requires_grad=True) for w in model.get_weights())
    loss = loss_of_outputs(torch.tensor(x) @ kernel + bias)
    loss.backward()
    with torch.no_grad():
        kernel -= RATE * kernel.grad
        bias -= RATE * bias.grad
    return loss.item(), kernel.detach().numpy(), bias.detach().numpy()


CASES = {
    # name: (units, activation, loss, targets(labels), torch per-sample losses(z, labels))
    "categorical_crossentropy": (
        CLASSES, "softmax", "categorical_crossentropy", lambda lab: np.eye(CLASSES)[lab],
        lambda z, lab: torch.nn.functional.cross_entropy(z, torch.tensor(lab), reduction="none"),
    ),
    "sparse_categorical_crossentropy": (
        CLASSES, "softmax", "sparse_categorical_crossentropy", lambda lab: lab,
        lambda z, lab: torch.nn.functional.cross_entropy(z, torch.tensor(lab), reduction="none"),
    ),
    "binary_crossentropy": (
        1, "sigmoid", "binary_crossentropy", lambda lab: (lab == 1).astype(float)[:, None],
        lambda z, lab: torch.nn.functional.binary_cross_entropy_with_logits(
            z, torch.tensor((lab == 1).astype(float)[:, None]), reduction="none"
        ).mean(dim=1),
    ),
    "mse": (
        2, None, "mse", lambda lab: np.stack([lab, -lab], 1).astype(float),
        lambda z, lab: torch.nn.functional.mse_loss(
            z, torch.tensor(np.stack([lab, -lab], 1).astype(float)), reduction="none"
        ).mean(dim=1),
    ),
    "huber": (
        2, None, "huber", lambda lab: np.stack([3 * lab, -lab], 1).astype(float),
        lambda z, lab: torch.nn.functional.huber_loss(
            z, torch.tensor(np.stack([3 * lab, -lab], 1).astype(float)), reduction="none"
        ).mean(dim=1),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_weighted_step_equals_torch_weighted_mean_of_per_sample_losses(case):
    units, activation, loss, targets, torch_losses = CASES[case]
    x, labels, weights = data()
    model = one_layer(units, activation, loss)
    expected_loss, kernel, bias = torch_step(
        model, x, lambda z: (torch_losses(z, labels) * torch.tensor(weights)).mean()
    )
    got = model.fit(x, targets(labels), batch_size=N, shuffle=False, verbose=0,
                    sample_weight=weights)
    assert got == pytest.approx(expected_loss, rel=1e-13)
    np.testing.assert_allclose(model.get_weights()[0], kernel, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.get_weights()[1], bias, rtol=1e-12, atol=1e-14)


def test_class_weight_equals_torch_cross_entropy_weight_summed_over_the_batch_size():
    x, labels, _ = data(1)
    class_weight = {0: 0.5, 1: 2.0, 2: 4.0}
    table = torch.tensor([class_weight[c] for c in range(CLASSES)], dtype=torch.float64)
    model = one_layer(CLASSES, "softmax", "sparse_categorical_crossentropy")
    # Keras' class_weight divides the weighted sum by the number of samples; torch's
    # CrossEntropyLoss(weight=...) with reduction='mean' would divide by the sum of weights.
    expected_loss, kernel, _ = torch_step(
        model, x,
        lambda z: torch.nn.functional.cross_entropy(
            z, torch.tensor(labels), weight=table, reduction="sum"
        ) / N,
    )
    got = model.fit(x, labels, batch_size=N, shuffle=False, verbose=0, class_weight=class_weight)
    assert got == pytest.approx(expected_loss, rel=1e-13)
    np.testing.assert_allclose(model.get_weights()[0], kernel, rtol=1e-12, atol=1e-14)


def test_weights_of_one_change_nothing_and_batches_accumulate_as_keras():
    x, labels, weights = data(2)
    y = np.eye(CLASSES)[labels]
    plain, weighted = (one_layer(CLASSES, "softmax", "categorical_crossentropy")
                       for _ in range(2))
    plain.fit(x, y, batch_size=5, epochs=2, shuffle=False, verbose=0)
    weighted.fit(x, y, batch_size=5, epochs=2, shuffle=False, verbose=0,
                 sample_weight=np.ones(N))
    for a, b in zip(plain.get_weights(), weighted.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    # evaluate: the weighted loss over all samples, sum(w * loss_i) / n, whatever the batches.
    model = one_layer(CLASSES, "softmax", "categorical_crossentropy", metrics=["accuracy"])
    z = torch.tensor(x) @ torch.tensor(model.get_weights()[0]) + torch.tensor(
        model.get_weights()[1]
    )
    per_sample = torch.nn.functional.cross_entropy(z, torch.tensor(labels), reduction="none")
    w = torch.tensor(weights)
    result = model.evaluate(x, y, batch_size=5, sample_weight=weights)
    assert result["loss"] == pytest.approx((per_sample * w).mean().item(), rel=1e-13)
    correct = (z.argmax(1) == torch.tensor(labels)).double()
    assert result["accuracy"] == pytest.approx(((correct * w).sum() / w.sum()).item(), rel=1e-13)


@pytest.mark.parametrize(
    "metric, reference",
    [
        ("precision", lambda t, p, w: precision_score(t, p, average="macro", sample_weight=w,
                                                      zero_division=0)),
        ("recall", lambda t, p, w: recall_score(t, p, average="macro", sample_weight=w,
                                                zero_division=0)),
        ("f1", lambda t, p, w: f1_score(t, p, average="macro", sample_weight=w,
                                        zero_division=0)),
    ],
)
def test_weighted_class_metrics_equal_scikit_learn_with_sample_weight(metric, reference):
    x, labels, weights = data(3)
    model = one_layer(CLASSES, "softmax", "sparse_categorical_crossentropy", metrics=[metric])
    predicted = model.predict(x).argmax(1)
    result = model.evaluate(x, labels, batch_size=4, sample_weight=weights)
    assert result[metric] == pytest.approx(reference(labels, predicted, weights), rel=1e-12)


def test_weighted_binary_precision_and_r2_equal_scikit_learn():
    x, labels, weights = data(4)
    y = (labels == 1).astype(float)
    model = one_layer(1, "sigmoid", "binary_crossentropy", metrics=["precision"])
    predicted = (model.predict(x)[:, 0] > 0.5).astype(int)
    result = model.evaluate(x, y, batch_size=5, sample_weight=weights)
    expected = precision_score(y, predicted, sample_weight=weights, zero_division=0)
    assert result["precision"] == pytest.approx(expected, rel=1e-12)
    regression = one_layer(2, None, "mse", metrics=["r2", "mae"])
    targets = np.stack([labels, x[:, 0]], 1).astype(float)
    out = regression.predict(x)
    result = regression.evaluate(x, targets, batch_size=5, sample_weight=weights)
    assert result["r2"] == pytest.approx(r2_score(targets, out, sample_weight=weights), rel=1e-12)
    mae = np.sum(np.abs(out - targets).mean(1) * weights) / weights.sum()
    assert result["mae"] == pytest.approx(mae, rel=1e-12)


def test_validation_split_and_triples_carry_the_weights():
    x, labels, weights = data(5)
    y = np.eye(CLASSES)[labels]
    model = one_layer(CLASSES, "softmax", "categorical_crossentropy")
    before = model.get_weights()
    model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y, weights))
    after = model.get_weights()
    model.set_weights(after)
    expected = model.evaluate(x, y, sample_weight=weights)["loss"]
    assert model.history["val_loss"][-1] == pytest.approx(expected, rel=1e-12)
    model.set_weights(before)
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.25, sample_weight=weights,
              shuffle=False)
    cut = int(N * 0.75)
    held = model.evaluate(x[cut:], y[cut:], sample_weight=weights[cut:])["loss"]
    assert model.history["val_loss"][-1] == pytest.approx(held, rel=1e-12)


def test_refused_weights_change_nothing():
    x, labels, weights = data(6)
    y = np.eye(CLASSES)[labels]
    model = one_layer(CLASSES, "softmax", "categorical_crossentropy")
    before = model.get_weights()
    bad = [
        ({"sample_weight": -weights}, ValueError, ">= 0"),
        ({"sample_weight": weights[:-1]}, ValueError, "one weight per sample"),
        ({"sample_weight": np.full(N, np.nan)}, ValueError, "finite"),
        ({"class_weight": {0: 1.0}, "sample_weight": weights}, ValueError, "not both"),
        ({"class_weight": {"cat": 1.0}}, ValueError, "class indices"),
        ({"class_weight": [1.0, 2.0]}, TypeError, "dict"),
        ({"initial_epoch": 3}, ValueError, "initial_epoch"),
    ]
    for kwargs, error, message in bad:
        with pytest.raises(error, match=message):
            model.fit(x, y, epochs=3, verbose=0, **kwargs)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 0


def test_initial_epoch_numbers_the_epochs_as_keras():
    x, labels, _ = data(7)
    seen = []
    model = one_layer(CLASSES, "softmax", "sparse_categorical_crossentropy")
    callback = layerwise.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append(epoch)
    )
    model.fit(x, labels, epochs=4, initial_epoch=2, verbose=0, callbacks=[callback])
    assert seen == [2, 3]
    assert model.history.epoch == [2, 3]
    assert len(model.history["loss"]) == 2


def test_fit_evaluate_and_predict_call_the_keras_3_hooks_where_keras_does():
    x, labels, _ = data(8)
    calls = []

    class Recorder(layerwise.callbacks.Callback):
        pass

    recorder = Recorder()
    for hook in [
        "on_train_begin", "on_train_end", "on_test_begin", "on_test_end", "on_predict_begin",
        "on_predict_end",
    ]:
        setattr(recorder, hook, lambda logs=None, hook=hook: calls.append(hook))
    for hook in [
        "on_epoch_begin", "on_epoch_end", "on_train_batch_begin", "on_train_batch_end",
        "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin",
        "on_predict_batch_end",
    ]:
        setattr(recorder, hook, lambda i, logs=None, hook=hook: calls.append((hook, i)))
    model = one_layer(CLASSES, "softmax", "sparse_categorical_crossentropy")
    model.fit(x, labels, epochs=1, batch_size=8, verbose=0, validation_data=(x, labels),
              callbacks=[recorder])
    assert calls == [
        "on_train_begin", ("on_epoch_begin", 0),
        ("on_train_batch_begin", 0), ("on_train_batch_end", 0),
        ("on_train_batch_begin", 1), ("on_train_batch_end", 1),
        # validation in batches of batch_size, as Keras (validation_batch_size's default)
        "on_test_begin", ("on_test_batch_begin", 0), ("on_test_batch_end", 0),
        ("on_test_batch_begin", 1), ("on_test_batch_end", 1), "on_test_end",
        ("on_epoch_end", 0), "on_train_end",
    ]
    calls.clear()
    model.evaluate(x, labels, batch_size=5, callbacks=[recorder])
    assert calls == ["on_test_begin", ("on_test_batch_begin", 0), ("on_test_batch_end", 0),
                     ("on_test_batch_begin", 1), ("on_test_batch_end", 1),
                     ("on_test_batch_begin", 2), ("on_test_batch_end", 2), "on_test_end"]
    calls.clear()
    outputs = []
    recorder.on_predict_batch_end = lambda i, logs=None: outputs.append(logs["outputs"].copy())
    result = model.predict(x, batch_size=7, callbacks=[recorder])
    assert calls == ["on_predict_begin", ("on_predict_batch_begin", 0),
                     ("on_predict_batch_begin", 1), "on_predict_end"]
    np.testing.assert_array_equal(np.concatenate(outputs), result)
    np.testing.assert_array_equal(result, model.predict(x))
    # without a batch_size, the hooks see Keras' default batches of 32 (60 rows: 32 + 28)
    calls.clear()
    model.evaluate(np.concatenate([x] * 5), np.concatenate([labels] * 5), callbacks=[recorder])
    assert ("on_test_batch_begin", 1) in calls and ("on_test_batch_begin", 2) not in calls
    outputs.clear()
    model.predict(np.concatenate([x] * 5), callbacks=[recorder])
    assert [len(o) for o in outputs] == [32, 28]


def test_predict_verbose_shows_progress_and_returns_the_same(capsys):
    x, _, _ = data(9)
    model = one_layer(CLASSES, "softmax", "categorical_crossentropy")
    quiet = model.predict(x)
    assert capsys.readouterr().out == ""
    np.testing.assert_array_equal(model.predict(x, verbose=2, batch_size=5), quiet)
    assert capsys.readouterr().out.startswith("predict - ")
    for bad in (3, True, np.array([1, 2]), "loud"):
        with pytest.raises(ValueError, match="'verbose'"):
            model.predict(x, verbose=bad)


def test_terminate_on_nan_ends_fit_quietly_with_the_epochs_start_put_back(capsys):
    x, labels, _ = data(10)
    model = one_layer(1, None, "mse")
    y = np.where(labels == 0, 1e200, -1e200)  # squares overflow: the first loss is infinite
    with pytest.raises(layerwise.exceptions.TrainingDivergedError):
        model.fit(x, y, epochs=3, verbose=0)
    model = one_layer(1, None, "mse")
    before = model.get_weights()
    loss = model.fit(x, y, epochs=3, batch_size=4, verbose=0,
                     callbacks=[layerwise.callbacks.TerminateOnNaN()])
    assert np.isnan(loss) and len(model.history["loss"]) == 1
    assert "Batch 0: Invalid loss, terminating training" in capsys.readouterr().out
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["model.keras", "model.h5", "model.pt", "model.pkl"])
def test_save_refuses_another_formats_name_and_writes_nothing(tmp_path, name):
    model = one_layer(1, None, "mse")
    for save in (model.save, model.save_weights):
        with pytest.raises(ValueError, match=r"\.safetensors") as raised:
            save(tmp_path / name)
        assert "allow_other_extension=True" in str(raised.value)
        assert not (tmp_path / name).exists()
    model.save(tmp_path / name, allow_other_extension=True)
    again = layerwise.load_model(tmp_path / name)
    np.testing.assert_array_equal(again.get_weights()[0], model.get_weights()[0])
    model.save_weights(tmp_path / "weights.safetensors")


def test_batches_from_an_iterable_may_carry_their_sample_weights():
    x, labels, weights = data(11)
    y = np.eye(CLASSES)[labels]
    arrays = one_layer(CLASSES, "softmax", "categorical_crossentropy")
    arrays.fit(x, y, batch_size=4, shuffle=False, verbose=0, sample_weight=weights)
    batches = [(x[i : i + 4], y[i : i + 4], weights[i : i + 4]) for i in range(0, N, 4)]
    triples = one_layer(CLASSES, "softmax", "categorical_crossentropy")
    triples.fit(batches, verbose=0, validation_data=batches)
    for a, b in zip(arrays.get_weights(), triples.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    assert triples.history["val_loss"][-1] == pytest.approx(
        triples.evaluate(x, y, sample_weight=weights)["loss"], rel=1e-12
    )
    with pytest.raises(ValueError, match="sample_weight of a batch"):
        triples.fit([(x, y, -weights)], verbose=0)


def test_class_weight_needs_one_label_per_sample():
    from layerwise.weighting import class_weights_to_sample_weights

    np.testing.assert_array_equal(
        class_weights_to_sample_weights({1: 3.0}, np.eye(3)[[0, 1, 2]]), [1.0, 3.0, 1.0]
    )
    np.testing.assert_array_equal(
        class_weights_to_sample_weights({1: 3.0}, np.array([[0.0], [1.0]])), [1.0, 3.0]
    )
    for targets in (np.zeros((4, 2, 3)), np.array([[0, 1], [1, 1]])):  # sequences of labels
        with pytest.raises(ValueError, match="one class label per sample"):
            class_weights_to_sample_weights({0: 1.0}, targets)
