"""fit packs every parameter (and every gradient) into one flat array, so that an element-wise
optimizer updates them all in one call: the numbers must be those of the per-array updates,
and the packing must survive recompiling, pickling, saving and resuming."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import layerwise
from layerwise import BatchNormalization, Dense, Input, Model
from layerwise.optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from layerwise.training import Trainer


def _model(optimizer, dtype="float64", regularized=False):
    layerwise.set_seed(5)
    inputs = Input(shape=(6,))
    h = Dense(12, activation="relu", kernel_regularizer="l2" if regularized else None)(inputs)
    h = BatchNormalization()(h)
    h = Dense(7, activation="tanh")(h)
    model = Model(inputs, Dense(3, activation="softmax")(h))
    model.compile(loss_fn="categorical_crossentropy", optimizer=optimizer, dtype=dtype)
    return model


def _data(n=40):
    rng = np.random.default_rng(6)
    return rng.normal(size=(n, 6)), np.eye(3)[rng.integers(0, 3, n)]


OPTIMIZERS = [
    lambda: Adam(0.01),
    lambda: AdamW(0.01, weight_decay=0.1),
    lambda: RMSprop(0.01),
    lambda: SGD(0.05, momentum=0.9),
    lambda: SGD(0.05, momentum=0.9, nesterov=True),
]


@pytest.mark.parametrize("make", OPTIMIZERS)
@pytest.mark.parametrize("regularized", [False, True])
def test_packed_updates_equal_the_per_array_updates(make, regularized, monkeypatch):
    x, y = _data()
    packed = _model(make(), regularized=regularized)
    packed.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    monkeypatch.setattr(Trainer, "_pack_parameters", lambda self: None)
    separate = _model(make(), regularized=regularized)
    separate.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    assert separate.optimizer._flat is None and packed.optimizer._flat is not None
    for a, b in zip(packed.get_weights(), separate.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    # the same state, slot by slot (the two models' layers have different automatic names)
    state, expected = packed.optimizer.get_state(), separate.optimizer.get_state()
    assert [k.split("/", 1)[1] for k in state] == [k.split("/", 1)[1] for k in expected]
    for got, want in zip(state.values(), expected.values()):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_plain_sgd_with_a_regularizer_steps_the_packed_arrays():
    x, y = _data()
    model = _model(SGD(0.05), regularized=True)
    before = model.get_weights()
    model.fit(x, y, epochs=1, batch_size=40, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before[:2], model.get_weights()[:2]))


def test_layers_hold_views_of_one_flat_array_with_their_values():
    x, y = _data()
    model = _model(Adam(0.01))
    before = model.get_weights()
    model._prepare_training()
    params = model._parameter_arrays()
    flat_params, flat_grads = model._packed.flat
    assert all(np.shares_memory(p, flat_params) for p in params)
    assert all(np.shares_memory(g, flat_grads) for g in model._gradient_arrays())
    assert sum(p.size for p in params) == flat_params.size
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    model._prepare_training()  # again: nothing is copied, the same arrays stay
    assert all(a is b for a, b in zip(params, model._parameter_arrays()))
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert all(a is b for a, b in zip(params, model._parameter_arrays()))


def test_recompiling_to_another_dtype_packs_the_new_arrays():
    x, y = _data()
    model = _model(Adam(0.01), dtype="float32")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.compile(loss_fn="categorical_crossentropy", optimizer=Adam(0.01), dtype="float64")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    flat_params = model._packed.flat[0]
    assert flat_params.dtype == np.float64
    assert all(np.shares_memory(p, flat_params) for p in model._parameter_arrays())
    assert model.optimizer._flat[0] is flat_params


def test_a_copied_model_trains_apart_from_the_original():
    x, y = _data()
    model = _model(Adam(0.01))
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    for twin in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        weights = model.get_weights()
        twin.fit(x, y, epochs=1, batch_size=8, verbose=0)
        for a, b in zip(model.get_weights(), weights):
            np.testing.assert_array_equal(a, b)  # the original did not move
        assert any(not np.array_equal(a, b) for a, b in zip(twin.get_weights(), weights))


def test_set_weights_and_saved_state_reach_the_packed_arrays(tmp_path):
    x, y = _data()
    model = _model(Adam(0.01))
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    zeros = [np.zeros_like(w) for w in model.get_weights()]
    model.set_weights(zeros)
    assert not model._packed.flat[0].any()  # the flat array itself was written
    state = model.optimizer.get_state()
    model.optimizer.set_state({k: v + 1 for k, v in state.items()}, model.optimizer.iterations)
    for name, slots in model.optimizer.slots.items():
        for slot, array in slots.items():
            np.testing.assert_array_equal(array, state[f"{name}/{slot}"] + 1)
            assert np.shares_memory(array, model.optimizer._flat[2][slot])


class _PerArrayNorm(Optimizer):
    """Not element-wise: each array is scaled by its own norm, so it must see arrays one by
    one, in their own shapes."""

    def __init__(self):
        super().__init__(0.01)
        self.shapes = []

    def update_parameter(self, param, grad, slots, scratch, learning_rate):
        self.shapes.append(param.shape)
        param -= learning_rate * grad / (np.linalg.norm(grad) + 1e-12)


class _ClippedAdam(Adam):
    """A subclass that overrides the update without saying it is element-wise."""

    def update_parameter(self, param, grad, slots, scratch, learning_rate):
        self.shapes.append(param.shape)
        super().update_parameter(param, grad, slots, scratch, learning_rate)


@pytest.mark.parametrize("make", [_PerArrayNorm, lambda: _ClippedAdam(0.01)])
def test_an_optimizer_that_is_not_element_wise_still_gets_one_array_at_a_time(make):
    x, y = _data()
    optimizer = make()
    optimizer.shapes = []
    model = _model(optimizer)
    model.fit(x, y, epochs=1, batch_size=40, verbose=0)
    assert optimizer.shapes == [p.shape for p in model._parameter_arrays()]
    assert optimizer._flat is None
