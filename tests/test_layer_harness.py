"""One harness for every layer class in the registry: gradients by finite differences (inputs
and parameters), training-mode buffers against fresh results over several batch sizes, config,
save and pickle round trips, float32 against float64, packed Adam steps against the update
equations, and ONNX parity. Cases live in ``tests/cases_*.py``; a registered layer class
without a case fails ``test_every_registered_layer_has_a_case``."""

from __future__ import annotations

import copy
import importlib
import pathlib
import pickle

import numpy as np
import pytest

import layerwise
from layerwise import Input, Model, registry
from layerwise.layers import Layer

CASES = [
    case
    for path in sorted(pathlib.Path(__file__).parent.glob("cases_*.py"))
    for case in importlib.import_module(path.stem).CASES
]
IDS = [case.id for case in CASES]
MODEL_CASES, MODEL_IDS = CASES, IDS


def _wire(case, seed=0):
    """A fresh layer wired on Inputs of the case's shapes, and the model around it."""
    layerwise.set_seed(seed)
    layer = case.make()
    if isinstance(layer, Input):
        return layer, Model(layer, layer)
    dtype = "int64" if case.integer_inputs else None  # ids are fed as integers
    inputs = [Input(shape, dtype=dtype) for shape in case.input_shapes]
    layer(inputs if layer.multiple_inputs else inputs[0])
    return layer, Model(inputs if len(inputs) > 1 else inputs[0], layer)


def _generator_states(layer):
    return [copy.deepcopy(g.bit_generator.state) for g in layer.random_generators()]


def _set_generator_states(layer, states):
    for generator, state in zip(layer.random_generators(), states):
        generator.bit_generator.state = copy.deepcopy(state)


def _forward(layer, xs):
    return layer.forward(xs if layer.multiple_inputs else xs[0])


def test_every_registered_layer_has_a_case():
    registered = set(registry._CLASSES["layer"].values())
    covered = {type(case.make()) for case in CASES}
    missing = sorted(cls.__name__ for cls in registered - covered if cls.__module__.startswith(
        "layerwise."))
    assert missing == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradients_match_finite_differences(case):
    layer, model = _wire(case)
    model.compile(loss_fn="mse", dtype="float64")
    rng = np.random.default_rng(1)
    xs = [np.asarray(x, np.float64) if not case.integer_inputs else x for x in case.draw(rng, 3)]
    layer.training = True
    states = _generator_states(layer)

    def run():
        _set_generator_states(layer, states)
        return _forward(layer, xs)

    weight = rng.normal(size=run().shape)

    def loss():
        return float(np.sum(run() * weight))

    run()
    input_grads = layer._backward(weight.copy(), input_gradient=True)
    if not layer.multiple_inputs:
        input_grads = [input_grads]
    analytic = {name: g.copy() for name, g in layer.gradients().items()}
    checked = 0
    if not case.integer_inputs:
        for x, grad in zip(xs, input_grads):
            numeric = _numeric(loss, x, rng)
            for index, value in numeric:
                np.testing.assert_allclose(grad.reshape(-1)[index], value, rtol=case.rtol,
                                           atol=1e-8)
                checked += 1
    for name, param in layer.parameters().items():
        for index, value in _numeric(loss, param, rng):
            np.testing.assert_allclose(analytic[name].reshape(-1)[index], value,
                                       rtol=case.rtol, atol=1e-8)
            checked += 1
    assert checked > 0


def _numeric(loss, array, rng, count=12, eps=1e-6):
    """Central differences of ``loss`` at up to ``count`` random entries of ``array``."""
    flat = array.reshape(-1)
    picks = rng.choice(flat.size, size=min(count, flat.size), replace=False)
    results = []
    for index in picks:
        original = flat[index]
        flat[index] = original + eps
        plus = loss()
        flat[index] = original - eps
        minus = loss()
        flat[index] = original
        results.append((index, (plus - minus) / (2 * eps)))
    return results


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_training_buffers_give_the_results_of_a_fresh_pass(case):
    layer, model = _wire(case)
    model.compile(loss_fn="mse", dtype="float64")
    fresh = copy.deepcopy(layer)
    rng = np.random.default_rng(2)
    batches = [case.draw(rng, n) for n in (4, 2, 7, 2)]
    for xs in batches:
        layer.training = fresh.training = True
        fresh._buffers.clear()
        states = _generator_states(layer)
        out = np.array(_forward(layer, xs), copy=True)
        _set_generator_states(fresh, states)
        expected = _forward(fresh, xs)
        np.testing.assert_array_equal(out, expected)
        error = rng.normal(size=out.shape)
        grads = layer._backward(error.copy())
        fresh_grads = fresh._backward(error.copy())
        for a, b in zip(grads if layer.multiple_inputs else [grads],
                        fresh_grads if layer.multiple_inputs else [fresh_grads]):
            np.testing.assert_array_equal(a, b)
        # Layer state (moving averages) moved the same way in both.
        for name, value in layer.state().items():
            fresh.state()[name][...] = value
        layer.training = fresh.training = False
        inference = _forward(layer, xs)
        if case.train_matches_inference:
            np.testing.assert_allclose(inference, out, rtol=1e-12, atol=1e-12)
        assert inference.shape == (len(xs[0]), *layer.output_shape)


@pytest.mark.parametrize("case", MODEL_CASES, ids=MODEL_IDS)
def test_config_save_and_pickle_round_trips(case, tmp_path):
    layer, model = _wire(case)
    model.compile(loss_fn="mse", optimizer="adam", dtype="float64")
    config = registry.serialize(layer)
    again = registry.deserialize(config, "layer")
    assert type(again) is type(layer) and registry.serialize(again) == config
    xs = case.draw(np.random.default_rng(3), 5)
    x = xs if len(xs) > 1 else xs[0]
    model.fit(x, model.predict(x) * 0.5 + 0.1, epochs=2, batch_size=2, print_loss=False)
    expected = model.predict(x)
    model.save(tmp_path / "m.safetensors")
    loaded = layerwise.load_model(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.predict(x), expected)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.predict(x), expected)


@pytest.mark.parametrize("case", MODEL_CASES, ids=MODEL_IDS)
def test_float32_agrees_with_float64(case):
    xs = case.draw(np.random.default_rng(4), 6)
    x = xs if len(xs) > 1 else xs[0]
    results = {}
    for dtype in ("float64", "float32"):
        layer, model = _wire(case, seed=7)
        model.compile(loss_fn="mse", dtype=dtype)
        output = model.predict(x)
        assert output.dtype == np.dtype(dtype)
        assert all(w.dtype == np.dtype(dtype) for w in model.get_weights())
        results[dtype] = output
    np.testing.assert_allclose(results["float32"], results["float64"], rtol=1e-4, atol=1e-5)


WITH_PARAMETERS = [case for case in MODEL_CASES if _wire(case)[0].parameters()]


@pytest.mark.parametrize("case", WITH_PARAMETERS, ids=[c.id for c in WITH_PARAMETERS])
def test_packed_adam_steps_follow_the_update_equations(case):
    layer, model = _wire(case)
    model.compile(loss_fn="mse", optimizer=layerwise.optimizers.Adam(0.01), dtype="float64")
    reference = copy.deepcopy(layer)
    rng = np.random.default_rng(5)
    xs = case.draw(rng, 6)
    x = xs if len(xs) > 1 else xs[0]
    y = rng.normal(size=(6, *layer.output_shape))
    m = {name: np.zeros_like(p) for name, p in reference.parameters().items()}
    v = {name: np.zeros_like(p) for name, p in reference.parameters().items()}
    for step in range(1, 4):
        model.fit(x, y, epochs=1, batch_size=6, shuffle=False, print_loss=False)
        # The reference: the same gradients (mean squared error over every value), then Adam.
        reference.training = True
        states = _generator_states(layer)
        output = _forward(reference, xs)
        reference._backward(2 * (output - y) / output.size)
        for name, param in reference.parameters().items():
            g = reference.gradients()[name] + (
                reference.regularization_gradients().get(name, 0.0)
            )
            m[name] = 0.9 * m[name] + 0.1 * g
            v[name] = 0.999 * v[name] + 0.001 * g * g
            m_hat, v_hat = m[name] / (1 - 0.9**step), v[name] / (1 - 0.999**step)
            param -= 0.01 * m_hat / (np.sqrt(v_hat) + 1e-7)
        _set_generator_states(reference, states)
    assert model._packed is not None
    flat = model._packed.flat[0]
    for name, param in layer.parameters().items():
        assert np.shares_memory(param, flat)
        np.testing.assert_allclose(param, reference.parameters()[name], rtol=1e-9, atol=1e-12)


ONNX_CASES = [case for case in MODEL_CASES if case.onnx]


@pytest.mark.parametrize("case", ONNX_CASES, ids=[c.id for c in ONNX_CASES])
def test_onnx_export_runs_like_predict(case, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    layer, model = _wire(case)
    model.compile(loss_fn="mse")
    xs = case.draw(np.random.default_rng(6), 9)
    x = xs if len(xs) > 1 else xs[0]
    path = layerwise.export_onnx(model, tmp_path / "m.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {
        i.name: (a if case.integer_inputs else np.asarray(a, np.float32))
        for i, a in zip(session.get_inputs(), xs)
    }
    (result,) = session.run(None, feeds)
    np.testing.assert_allclose(result, model.predict(x), rtol=1e-5, atol=1e-5)


def test_a_layer_without_a_case_would_fail_the_harness():
    @registry.register("harness_probe_layer")
    class Probe(Layer):
        pass

    try:
        registered = set(registry._CLASSES["layer"].values())
        covered = {type(case.make()) for case in CASES}
        assert Probe in registered - covered
    finally:
        del registry._CLASSES["layer"]["Probe"]
        registry._ALIASES["layer"].pop("harness_probe_layer")
