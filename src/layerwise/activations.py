"""Activation functions, their exact derivatives, and the name registry.

Each activation is a small object with

- ``forward(x, out=None)``: the function, written into ``out`` when given;
- ``backward(x, y, output_error)``: the gradient with respect to ``x``, given the input ``x``, the
  output ``y`` and the gradient with respect to ``y``. It may overwrite ``output_error`` (the
  training loop owns that buffer). When ``needs_input`` is False the gradient is computed from
  ``y`` alone, so a layer may apply the activation in place and keep only its output.

:func:`get_function` returns the pair of plain functions ``(function, derivative)`` for a name,
with ``derivative(x, output_error)`` never modifying its arguments.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _constants, registry
from .registry import ConfigValue, register
from .special import erf, gelu

__all__ = [
    "ActivationFunction",
    "Linear",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "LeakyReLU",
    "ELU",
    "GELU",
    "Softplus",
    "Swish",
    "get",
    "get_function",
    "erf",
]


def _as_float(x) -> np.ndarray:
    """``x`` as an array; floating arrays keep their dtype, anything else becomes float64."""
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


class ActivationFunction(ConfigValue):
    """Base class of activations. Subclasses implement ``forward`` and ``backward``.

    Class attributes:
        name: the registered short name.
        needs_input: True when ``backward`` needs ``x``; False when the output ``y`` suffices,
            which lets a layer apply the activation in place.
        output_is_probability: True for outputs a cross-entropy may be computed from.

    Example::

        relu = layerwise.activations.get('relu')
        y = relu(np.array([-1.0, 2.0]))                   # [0., 2.]
        dx = relu.derivative([-1.0, 2.0], [5.0, 5.0])    # [0., 5.]
    """

    name = "activation"
    needs_input = False
    output_is_probability = False

    def forward(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``f(x)`` for a floating array ``x``, written into ``out`` when given (may be ``x``)."""
        raise NotImplementedError

    def backward(self, x: np.ndarray, y: np.ndarray, output_error: np.ndarray) -> np.ndarray:
        """Gradient with respect to ``x`` given ``x``, ``y = f(x)`` and the gradient with respect
        to ``y``. May overwrite ``output_error``; ``x`` may be None when ``needs_input`` is False.
        """
        raise NotImplementedError

    def __call__(self, x: ArrayLike) -> np.ndarray:
        """``f(x)`` as a new array (lists and integer arrays are computed in float64)."""
        x = _as_float(x)
        y = self.forward(x)
        return y.copy() if y is x else y

    def derivative(self, x: ArrayLike, output_error: ArrayLike) -> np.ndarray:
        """Gradient with respect to ``x`` given the gradient with respect to the output
        (arrays or lists). Neither argument is modified."""
        x = _as_float(x)
        y = self.forward(x)
        return self.backward(x, y, np.array(output_error, dtype=y.dtype, copy=True))



registry.register_kind("activation", ActivationFunction)


def _store(result: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    # Not every function has a ufunc with ``out=``; those compute, then copy when asked to.
    if out is None or out is result:
        return result
    np.copyto(out, result)
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp(-|x|) never overflows: f(x) = 1/(1+e) for x >= 0 and e/(1+e) for x < 0.
    e = np.exp(-np.abs(x))
    r = np.reciprocal(1 + e)
    e *= r
    return np.where(x >= 0, r, e)


@register("linear", "identity")
class Linear(ActivationFunction):
    """``f(x) = x``."""

    name = "linear"

    def forward(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _store(x, out)

    def backward(self, x: np.ndarray, y: np.ndarray, output_error: np.ndarray) -> np.ndarray:
        return output_error


@register("relu")
class ReLU(ActivationFunction):
    """``f(x) = max(0, x)``; the gradient at 0 is taken as 0 (as in PyTorch and Keras)."""

    name = "relu"

    def forward(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.maximum(x, _constants.zeros_like(x), out=out)

    def backward(self, x: np.ndarray, y: np.ndarray, output_error: np.ndarray) -> np.ndarray:
        # y > 0 exactly where x > 0, so the output alone decides.
        return np.multiply(output_error, y > 0, out=output_error)


@register("sigmoid")
class Sigmoid(ActivationFunction):
    """``f(x) = 1 / (1 + exp(-x))``, computed without overflow for any ``x``."""

    name = "sigmoid"
    output_is_probability = True

    def forward(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _store(_sigmoid(x), out)

    def backward(self, x: np.ndarray, y: np.ndarray, output_error: np.ndarray) -> np.ndarray:
        output_error *= y
        output_error *= 1 - y
        return output_error


@register("tanh")
class Tanh(ActivationFunction):
    """``f(x) = tanh(x)``."""

    name = "tanh"

    def forward(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.tanh(x, out=out)

    def backward(self, x: np.ndarray, y: np.ndarray, output_error: np.ndarray) -> np.ndarray:
        output_error *= 1 - y * y
        return output_error


@register("softmax")
class Softmax(ActivationFunction):
    """Softmax over the last axis, per sample: each row of the output sums to 1.

    Its backward is the exact Jacobian-vector product ``y * (g - sum(g * y))``, so softmax can be
    followed by any loss; with categorical cross-entropy the model uses the fused gradient.
    """

    name = "softmax"
    output_is_probability = True

    def forward(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        # Small reductions as BLAS products and flat reductions (see layerwise._constants):
        # np.max/np.sum along a short last axis cost more than the arithmetic of a batch.
        out = np.subtract(x, _constants.row_max_shift(x), out=out)
        np.exp(out, out=out)
        out /= _constants.row_sums(out)
        return out

    def backward(self, x: np.ndarray, y: np.ndarray, output_error: np.ndarray) -> np.ndarray:
        dot = _constants.row_sums(output_error * y)
        output_error -= dot
        output_error *= y
        return output_error


def _check_number(value, argument: str, positive: bool = False) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating))
        or not (math.isfinite(value) and (value > 0 or not positive))
    ):
        kind = "a positive" if positive else "a finite"
        raise ValueError(f"Argument '{argument}' must be {kind} number; received {value!r}.")
    return float(value)


@register("leaky_relu")
class LeakyReLU(ActivationFunction):
    """``f(x) = x`` for ``x > 0``, else ``negative_slope * x`` (default 0.2, as Keras)."""

    name = "leaky_relu"
    needs_input = True

    def __init__(self, negative_slope: float = 0.2):
        self.negative_slope = _check_number(negative_slope, "negative_slope")

    def forward(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _store(np.where(x > 0, x, x * self.negative_slope), out)

    def backward(self, x: np.ndarray, y: np.ndarray, output_error: np.ndarray) -> np.ndarray:
        output_error *= np.where(x > 0, 1, self.negative_slope).astype(x.dtype, copy=False)
        return output_error

    def get_config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


@register("elu")
class ELU(ActivationFunction):
    """``f(x) = x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``."""

    name = "elu"
    needs_input = True

    def __init__(self, alpha: float = 1.0):
        self.alpha = _check_number(alpha, "alpha", positive=True)

    def forward(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        negative = np.expm1(np.minimum(x, 0))
        negative *= self.alpha
        return _store(np.where(x > 0, x, negative), out)

    def backward(self, x: np.ndarray, y: np.ndarray, output_error: np.ndarray) -> np.ndarray:
        # alpha * exp(x) from x rather than y + alpha, which cancels to noise for x << 0.
        slope = np.exp(np.minimum(x, 0))
        slope *= self.alpha
        output_error *= np.where(x > 0, 1, slope).astype(x.dtype, copy=False)
        return output_error

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_TANH_SCALE = math.sqrt(2 / math.pi)


@register("gelu")
class GELU(ActivationFunction):
    """``f(x) = x * Phi(x)``, Phi the standard normal CDF (exact, as PyTorch's default).

    ``approximate=True`` uses the tanh approximation (PyTorch's ``approximate='tanh'``).
    """

    name = "gelu"
    needs_input = True

    def __init__(self, approximate: bool = False):
        if not isinstance(approximate, bool):
            raise ValueError(f"Argument 'approximate' must be a bool; received {approximate!r}.")
        self.approximate = approximate

    def _tanh_inner(self, x):
        # The cube only matters where tanh is not yet saturated; clipping keeps it finite.
        bounded = np.clip(x, -1e3, 1e3)
        return np.tanh(_TANH_SCALE * (bounded + 0.044715 * bounded * bounded * bounded))

    def forward(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if self.approximate:
            return _store(0.5 * x * (1 + self._tanh_inner(x)), out)
        return gelu(x, out=out)

    def backward(self, x: np.ndarray, y: np.ndarray, output_error: np.ndarray) -> np.ndarray:
        if self.approximate:
            t = self._tanh_inner(x)
            bounded = np.clip(x, -1e3, 1e3)
            slope = _TANH_SCALE * (1 + 3 * 0.044715 * bounded * bounded)
            output_error *= 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * slope
        else:
            # d/dx x Phi(x) = Phi(x) + x phi(x). Phi(x) is read back from the output, y / x,
            # five passes instead of the ~60 of computing it again (x = 0 gives Phi = 1/2);
            # x is clipped where phi(x) is 0 anyway, so that x * x cannot overflow.
            zero = x == 0
            cdf = np.divide(y, x + zero)
            cdf += 0.5 * zero
            bounded = np.clip(x, -40.0, 40.0)
            output_error *= cdf + x * np.exp(-0.5 * bounded * bounded) * _INV_SQRT_2PI
        return output_error

    def get_config(self) -> dict[str, Any]:
        return {"approximate": self.approximate}


@register("softplus")
class Softplus(ActivationFunction):
    """``f(x) = log(1 + exp(x))``, computed as ``max(x, 0) + log1p(exp(-|x|))``."""

    name = "softplus"
    needs_input = True

    def forward(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _store(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))), out)

    def backward(self, x: np.ndarray, y: np.ndarray, output_error: np.ndarray) -> np.ndarray:
        output_error *= _sigmoid(x)
        return output_error


@register("swish", "silu")
class Swish(ActivationFunction):
    """``f(x) = x * sigmoid(x)`` (also called SiLU)."""

    name = "swish"
    needs_input = True

    def forward(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _store(x * _sigmoid(x), out)

    def backward(self, x: np.ndarray, y: np.ndarray, output_error: np.ndarray) -> np.ndarray:
        s = _sigmoid(x)
        output_error *= s * (1 + x * (1 - s))
        return output_error


def get(identifier: Any, argument: str = "activation") -> ActivationFunction:
    """An activation from a name, an instance, a config dict, or ``None`` (linear)."""
    if identifier is None:
        return Linear()
    return registry.get("activation", identifier, argument=argument)


def get_function(name: str) -> tuple[Callable, Callable]:
    """The pair of functions ``(function, derivative)`` for an activation name.

    ``derivative(x, output_error)`` returns the gradient with respect to ``x``.
    """
    activation = get(name, argument="activation_function")
    return activation.__call__, activation.derivative
