"""RepeatVector, Permute, ZeroPadding, Cropping and UpSampling against PyTorch in float64
(outputs and input gradients, PyTorch's NCHW ops applied to the channels-last arrays through
permutes), their shapes and names as Keras gives them, and their refusals by argument name.
The layer harness (tests/cases_spatial.py) adds finite differences, configs, saving and ONNX."""

from __future__ import annotations

import numpy as np
import pytest

import layerwise
from layerwise import (
    Cropping1D,
    Cropping2D,
    Dense,
    Input,
    Model,
    Permute,
    RepeatVector,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)
from layerwise.exceptions import ShapeMismatchError

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _channels_first(t, rank):
    return t.permute(0, rank + 1, *range(1, rank + 1))


def _channels_last(t, rank):
    return t.permute(0, *range(2, rank + 2), 1)


CASES = [
    (lambda: RepeatVector(3), (4,), lambda t: t[:, None, :].expand(-1, 3, -1)),
    (lambda: Permute((2, 1)), (3, 4), lambda t: t.permute(0, 2, 1)),
    (lambda: Permute((3, 1, 2)), (2, 3, 4), lambda t: t.permute(0, 3, 1, 2)),
    (lambda: ZeroPadding1D((2, 1)), (4, 3),
     lambda t: _channels_last(F.pad(_channels_first(t, 1), (2, 1)), 1)),
    (lambda: ZeroPadding2D(((1, 0), (0, 2))), (3, 2, 2),
     lambda t: _channels_last(F.pad(_channels_first(t, 2), (0, 2, 1, 0)), 2)),
    (lambda: ZeroPadding2D(1), (3, 2, 2),
     lambda t: _channels_last(F.pad(_channels_first(t, 2), (1, 1, 1, 1)), 2)),
    (lambda: Cropping1D((1, 2)), (6, 2), lambda t: t[:, 1:4]),
    (lambda: Cropping2D(((1, 0), (2, 1))), (4, 5, 2), lambda t: t[:, 1:, 2:4]),
    (lambda: UpSampling1D(3), (4, 2),
     lambda t: _channels_last(F.interpolate(_channels_first(t, 1), scale_factor=3), 1)),
    (lambda: UpSampling2D((2, 3)), (3, 2, 2),
     lambda t: _channels_last(F.interpolate(_channels_first(t, 2), scale_factor=(2, 3)), 2)),
]


@pytest.mark.parametrize("make, shape, reference", CASES,
                         ids=[f"{i}" for i in range(len(CASES))])
def test_output_and_input_gradient_equal_pytorch(make, shape, reference):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, *shape))
    inputs = Input(shape)
    layer = make()
    model = Model(inputs, layer(inputs))
    model.compile(loss="mse", dtype="float64")
    t = torch.tensor(x, requires_grad=True)
    expected = reference(t)
    np.testing.assert_array_equal(model.predict(x), expected.detach().numpy())
    weight = rng.standard_normal(expected.shape)
    (expected * torch.tensor(weight)).sum().backward()
    layer.training = True
    np.testing.assert_array_equal(layer.forward(x), expected.detach().numpy())
    gradient = layer._backward(weight.copy())
    np.testing.assert_allclose(gradient, t.grad.numpy(), rtol=1e-14, atol=1e-15)
    assert layer.output_shape == tuple(expected.shape[1:])


def test_keras_names_and_a_small_model_that_trains_through_them():
    layerwise.set_seed(0)
    inputs = Input((4,))
    steps = RepeatVector(6)(Dense(3)(inputs))              # (6, 3)
    wide = UpSampling1D(2)(ZeroPadding1D(1)(steps))         # (16, 3)
    swapped = Permute((2, 1))(Cropping1D((2, 2))(wide))     # (3, 12)
    model = Model(inputs, Dense(1)(swapped))
    model.compile(loss="mse", optimizer="adam", dtype="float64")
    names = [layer.name.rsplit("_", 1)[0] for layer in model.layers[2:7]]
    assert names == ["repeat_vector", "zero_padding1d", "up_sampling1d", "cropping1d",
                     "permute"]  # Keras' automatic names, numbered
    x = np.random.default_rng(1).standard_normal((32, 4))
    y = np.random.default_rng(2).standard_normal((32, 3, 1))
    before = model.evaluate(x, y)["loss"]
    model.fit(x, y, epochs=30, verbose=0)
    assert model.evaluate(x, y)["loss"] < before


@pytest.mark.parametrize("make, message", [
    (lambda: RepeatVector(0), "'n'"),
    (lambda: Permute((1, 1)), "'dims'"),
    (lambda: Permute((0, 1)), "'dims'"),
    (lambda: ZeroPadding2D(-1), "'padding'"),
    (lambda: ZeroPadding2D(((1, 2, 3), (0, 0))), "'padding'"),
    (lambda: ZeroPadding1D((1, 2, 3)), "'padding'"),
    (lambda: Cropping2D("all"), "'cropping'"),
    (lambda: UpSampling2D(2, interpolation="bilinear"), "'interpolation'"),
    (lambda: UpSampling2D(2, data_format="channels_first"), "'data_format'"),
    (lambda: UpSampling1D(0), "'size'"),
])
def test_bad_arguments_are_refused_by_name(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


@pytest.mark.parametrize("layer, shape", [
    (RepeatVector(2), (3, 4)),
    (Permute((2, 1)), (2, 3, 4)),
    (Cropping1D((3, 3)), (6, 2)),
    (ZeroPadding2D(1), (4, 4)),
])
def test_inputs_of_the_wrong_shape_are_refused_when_wired(layer, shape):
    with pytest.raises(ShapeMismatchError, match=type(layer).__name__):
        layer(Input(shape))
