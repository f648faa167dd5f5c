"""Freezing layers with Keras' ``trainable``: frozen weights never change, the rest trains exactly
as PyTorch trains the same network with ``requires_grad=False`` on the frozen parameters (float64),
a frozen BatchNormalization normalizes with its moving statistics, a frozen layer's regularizer
leaves the loss, and the flag is counted, listed, saved and checked as Keras does."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

import layerwise
from layerwise import BatchNormalization, Dense, Input, Model
from layerwise.exceptions import ModelFileError

torch = pytest.importorskip("torch")

OPTIMIZERS = {
    "sgd": (lambda: layerwise.optimizers.SGD(learning_rate=0.1),
            lambda params: torch.optim.SGD(params, lr=0.1)),
    "momentum": (lambda: layerwise.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                 lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9)),
    "adam": (lambda: layerwise.optimizers.Adam(learning_rate=0.01, epsilon=1e-7),
             lambda params: torch.optim.Adam(params, lr=0.01, eps=1e-7)),
}


def _model(frozen: tuple[int, ...], optimizer: str, norm: bool = False):
    """Input(5) -> Dense(8, tanh) -> [BN] -> Dense(6, relu) -> Dense(3), layers at
    ``frozen`` (indices among the weighted layers) frozen before compile."""
    layerwise.set_seed(0)
    inputs = Input((5,))
    h = Dense(8, activation="tanh")(inputs)
    if norm:
        h = BatchNormalization(momentum=0.5)(h)
    h = Dense(6, activation="relu")(h)
    model = Model(inputs, Dense(3)(h))
    weighted = [layer for layer in model.layers if layer.get_weights()]
    for i in frozen:
        weighted[i].trainable = False
    model.compile(loss="mse", optimizer=OPTIMIZERS[optimizer][0](), dtype="float64")
    return model, weighted


def _torch_twin(weighted, norm: bool):
    modules = []
    for layer in weighted:
        if isinstance(layer, BatchNormalization):
            module = torch.nn.BatchNorm1d(layer.gamma.size, eps=layer.epsilon, momentum=0.5)
            module = module.double()
            with torch.no_grad():
                module.weight.copy_(torch.tensor(layer.gamma))
                module.bias.copy_(torch.tensor(layer.beta))
                module.running_mean.copy_(torch.tensor(layer.moving_mean))
                module.running_var.copy_(torch.tensor(layer.moving_variance))
        else:
            module = torch.nn.Linear(*layer.weights.shape).double()
            with torch.no_grad():
                module.weight.copy_(torch.tensor(layer.weights.T))
                module.bias.copy_(torch.tensor(layer.bias))
        if not layer.trainable:
            module.requires_grad_(False)
            if isinstance(module, torch.nn.BatchNorm1d):
                module.eval()  # a frozen BatchNormalization runs on its moving statistics
        modules.append(module)
    return modules


def _torch_forward(modules, x, norm: bool):
    h = torch.tanh(modules[0](x))
    rest = modules[1:]
    if norm:
        h, rest = rest[0](h), rest[1:]
    return rest[1](torch.relu(rest[0](h)))


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("frozen, norm", [((0,), False), ((1,), False), ((0, 2), False),
                                          ((1,), True), ((0, 1), True)])
def test_training_with_frozen_layers_equals_pytorch_with_requires_grad_off(optimizer, frozen,
                                                                          norm):
    model, weighted = _model(frozen, optimizer, norm)
    before = [layer.get_weights() for layer in weighted]
    modules = _torch_twin(weighted, norm)
    trainable = [p for m in modules for p in m.parameters() if p.requires_grad]
    torch_optimizer = OPTIMIZERS[optimizer][1](trainable)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((24, 5)), rng.standard_normal((24, 3))
    model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    for _ in range(3):
        for start in range(0, 24, 8):
            torch_optimizer.zero_grad()
            out = _torch_forward(modules, torch.tensor(x[start:start + 8]), norm)
            ((out - torch.tensor(y[start:start + 8])) ** 2).mean().backward()
            torch_optimizer.step()
    for layer, module, was in zip(weighted, modules, before):
        if not layer.trainable:  # bit for bit, moving statistics included
            for a, b in zip(was, layer.get_weights()):
                np.testing.assert_array_equal(a, b)
            continue
        if isinstance(layer, BatchNormalization):
            mine = [layer.gamma, layer.beta, layer.moving_mean, layer.moving_variance]
            theirs = [module.weight, module.bias, module.running_mean, module.running_var]
        else:
            mine, theirs = [layer.weights.T, layer.bias], [module.weight, module.bias]
        for a, b in zip(mine, theirs):
            np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10, atol=1e-12)
        assert not np.array_equal(mine[0].T if mine[0].ndim == 2 else mine[0], was[0])


def test_backpropagation_stops_behind_a_frozen_base(monkeypatch):
    model, weighted = _model((0, 1), "adam")
    calls = []
    for layer in weighted[:2]:
        original = layer._backward

        def spy(*args, _original=original, _name=layer.name, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(layer, "_backward", spy)
    x = np.random.default_rng(2).standard_normal((16, 5))
    model.fit(x, x[:, :3], epochs=1, batch_size=8, verbose=0)
    assert calls == []  # the head needs no input gradient: nothing reaches the frozen layers
    weighted[1].trainable = True  # thawed: takes effect at the next fit, without compile
    model.fit(x, x[:, :3], epochs=1, batch_size=8, verbose=0)
    assert calls == [weighted[1].name] * 2


def test_a_frozen_layers_regularizer_leaves_the_loss_and_its_weights_alone():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((20, 4)), rng.standard_normal((20, 2))
    losses = []
    for regularized in (True, False):
        layerwise.set_seed(0)
        inputs = Input((4,))
        base = Dense(6, kernel_regularizer="l2" if regularized else None)
        model = Model(inputs, Dense(2)(base(inputs)))
        base.trainable = False
        model.compile(loss="mse", optimizer="sgd", dtype="float64")
        kernel = base.weights.copy()
        model.fit(x, y, epochs=2, batch_size=5, shuffle=False, verbose=0)
        np.testing.assert_array_equal(base.weights, kernel)
        losses.append((model.history["loss"], model.evaluate(x, y)["loss"]))
    assert losses[0] == losses[1]  # the frozen kernel's penalty is in neither fit's nor
    # evaluate's loss


def test_counts_lists_and_summary_follow_the_flag():
    model, weighted = _model((1,), "sgd", norm=True)  # the BatchNormalization is frozen
    norm = weighted[1]
    assert norm.trainable_weights == [] and len(norm.non_trainable_weights) == 4
    assert norm.non_trainable_weights[0] is norm.gamma  # the arrays themselves, Keras' order
    dense = weighted[0]
    assert dense.trainable_weights[0] is dense.weights and dense.non_trainable_weights == []
    trainable = sum(w.size for w in model.trainable_weights)
    assert trainable == (5 * 8 + 8) + (8 * 6 + 6) + (6 * 3 + 3)
    assert sum(w.size for w in model.non_trainable_weights) == 4 * 8
    assert model.count_params() == trainable + 32
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert f"Trainable params: {trainable:,}" in text
    assert "Non-trainable params: 32" in text


def test_model_trainable_freezes_and_thaws_every_layer():
    model, weighted = _model((), "adam")
    model.trainable = False
    assert model.trainable is False and all(not layer.trainable for layer in model.layers)
    assert model.trainable_weights == []
    before = model.get_weights()
    x = np.random.default_rng(4).standard_normal((16, 5))
    model.fit(x, x[:, :3], epochs=2, verbose=0)  # nothing to train: runs and changes nothing
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.history["loss"][0] == model.history["loss"][1]
    model.trainable = True
    model.fit(x, x[:, :3], epochs=1, verbose=0)
    assert not np.array_equal(before[0], model.get_weights()[0])


def test_the_flag_is_saved_loaded_pickled_and_refused_when_not_a_boolean(tmp_path):
    model, weighted = _model((0,), "adam")
    x = np.random.default_rng(5).standard_normal((16, 5))
    model.fit(x, x[:, :3], epochs=1, verbose=0)
    path = tmp_path / "frozen.safetensors"
    model.save(path)
    loaded = layerwise.load_model(path)
    assert [layer.trainable for layer in loaded.layers] == [layer.trainable
                                                            for layer in model.layers]
    configs = [entry["config"] for entry in model.get_config()["layers"]]
    assert [c.get("trainable") for c in configs] == [None, False, None, None]
    twin = pickle.loads(pickle.dumps(model))
    assert twin.layers[1].trainable is False
    # training the loaded model goes on with the base frozen
    kernel = loaded.layers[1].weights.copy()
    loaded.fit(x, x[:, :3], epochs=1, verbose=0)
    np.testing.assert_array_equal(loaded.layers[1].weights, kernel)
    with pytest.raises(TypeError, match="'trainable'"):
        weighted[1].trainable = 1
    assert weighted[1].trainable is True
    hostile = model.get_config()
    hostile["layers"][1]["config"]["trainable"] = "no"
    with pytest.raises((TypeError, ModelFileError), match="trainable"):
        Model.from_config(json.loads(json.dumps(hostile)))


def test_a_checkpointed_fit_with_a_frozen_base_resumes_bit_for_bit(tmp_path):
    x = np.random.default_rng(6).standard_normal((24, 5))
    y = x[:, :3] * 2
    straight, _ = _model((0,), "adam")
    straight.fit(x, y, epochs=4, batch_size=8, verbose=0)
    first, _ = _model((0,), "adam")
    path = str(tmp_path / "ckpt-{epoch}.safetensors")
    first.fit(x, y, epochs=2, batch_size=8, verbose=0,
              callbacks=[layerwise.callbacks.ModelCheckpoint(path)])
    resumed, _ = _model((0,), "adam")
    resumed.fit(x, y, epochs=4, batch_size=8, verbose=0,
                resume_from=str(tmp_path / "ckpt-2.safetensors"))
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    # saved optimizer state is that of the trainable parameters
    state = first.optimizer.get_state()
    assert state and all(not key.startswith(first.layers[1].name + "/") for key in state)


def test_a_layer_frozen_and_thawed_goes_on_from_its_optimizer_moments():
    model, weighted = _model((), "adam")
    x = np.random.default_rng(7).standard_normal((16, 5))
    model.fit(x, x[:, :3], epochs=2, batch_size=8, verbose=0)
    name = f"{weighted[0].name}/weights"
    moments = {k: v.copy() for k, v in model.optimizer.slots[name].items()}
    weighted[0].trainable = False
    model.fit(x, x[:, :3], epochs=1, batch_size=8, verbose=0)
    for key, value in moments.items():  # kept, untouched while frozen (as Keras keeps them)
        np.testing.assert_array_equal(model.optimizer.slots[name][key], value)
    weighted[0].trainable = True
    model.fit(x, x[:, :3], epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(model.optimizer.slots[name]["m"], moments["m"])
    assert np.all(model.optimizer.slots[name]["v"] > 0)


def test_bidirectional_freezes_both_directions_and_refuses_one_alone():
    layerwise.set_seed(0)
    inputs = Input((5, 3))
    wrapper = layerwise.Bidirectional(layerwise.LSTM(4))
    model = Model(inputs, Dense(2)(wrapper(inputs)))
    model.compile(loss="mse", optimizer="adam", dtype="float64")
    x = np.random.default_rng(8).standard_normal((8, 5, 3))
    y = np.zeros((8, 2))
    wrapper.trainable = False
    assert not wrapper.forward_layer.trainable and not wrapper.backward_layer.trainable
    before = wrapper.get_weights()
    model.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(before, wrapper.get_weights()):
        np.testing.assert_array_equal(a, b)
    wrapper.trainable = True
    wrapper.forward_layer.trainable = False  # one direction alone: refused before anything
    head = model.layers[-1].get_weights()
    with pytest.raises(ValueError, match="set trainable on the Bidirectional layer itself"):
        model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="Bidirectional"):
        model.train_on_batch(x, y)
    for a, b in zip(head, model.layers[-1].get_weights()):
        np.testing.assert_array_equal(a, b)
    wrapper.trainable = False  # frozen from the config too, both directions
    rebuilt = Model.from_config(model.get_config())
    assert not rebuilt.layers[1].trainable and not rebuilt.layers[1].forward_layer.trainable


def test_the_models_own_flag_is_saved_and_a_bad_one_refused():
    model, _ = _model((), "sgd")
    model.trainable = False
    config = model.get_config()
    assert config["trainable"] is False
    rebuilt = Model.from_config(config)
    assert rebuilt.trainable is False and not any(layer.trainable for layer in rebuilt.layers)
    config["trainable"] = "no"
    with pytest.raises(ModelFileError, match="'trainable'"):
        Model.from_config(config)
    model.trainable = True
    assert "trainable" not in model.get_config()


def test_summary_shows_which_layers_train_and_takes_keras_arguments():
    model, weighted = _model((1,), "sgd", norm=True)
    lines = []
    model.summary(print_fn=lines.append, show_trainable=True, line_length=120)
    table = lines[0].splitlines()
    assert table[1] == "=" * 120 and table[2].rstrip().endswith("Trainable")
    flags = {row.split()[0]: row.split()[-1] for row in table[4:4 + len(model.layers)]}
    assert flags == {model.layers[0].name: "-", weighted[0].name: "Y", weighted[1].name: "N",
                     weighted[2].name: "Y", weighted[3].name: "Y"}
    for bad, error in (({"line_length": 0}, ValueError), ({"show_trainable": "y"}, TypeError)):
        with pytest.raises(error, match=list(bad)[0]):
            model.summary(**bad)
