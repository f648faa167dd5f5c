"""Weight initializers by name, with the formulas of the table below.

An initializer is called as ``initializer(shape, dtype, rng)`` and returns a new array. For a
weight matrix of shape ``(fan_in, fan_out)``, the Xavier (Glorot) and He initializers use the
fan-in and fan-out below; normals are plain (not truncated) normals.

=================  ==========================================
name               distribution
=================  ==========================================
random_normal      N(0, 0.05^2) (also what ``None`` means)
random_uniform     U[-0.05, 0.05]
zeros / ones       constant 0 / 1
xavier_normal      N(0, 2 / (fan_in + fan_out))
xavier_uniform     U[-sqrt(6 / (fan_in + fan_out)), +...]
he_normal          N(0, 2 / fan_in)
he_uniform         U[-sqrt(6 / fan_in), +...]
=================  ==========================================

``glorot_normal`` and ``glorot_uniform`` are aliases of the Xavier initializers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from . import registry
from .registry import ConfigValue, register
from .seeding import make_rng

__all__ = [
    "Initializer",
    "RandomNormal",
    "RandomUniform",
    "Zeros",
    "Ones",
    "Constant",
    "XavierNormal",
    "XavierUniform",
    "HeNormal",
    "HeUniform",
    "Orthogonal",
    "get",
    "compute_fans",
]


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight array: ``(rows, columns)``; a vector has both = size.

    A convolution kernel ``(*window, in_channels, filters)`` has the receptive field
    ``prod(window)`` times each, as in Keras: ``fan_in = window * in_channels`` and
    ``fan_out = window * filters``. Each is at least 1, so that an empty shape never divides
    by zero (as in Keras).

    Example:
        >>> compute_fans((3, 3, 32, 64))
        (288, 576)
    """
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return max(int(shape[0]), 1), max(int(shape[0]), 1)
    receptive_field = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return (
        max(int(shape[-2]) * receptive_field, 1),
        max(int(shape[-1]) * receptive_field, 1),
    )


def _positive(value, argument: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not (value > 0 and math.isfinite(value))
    ):
        raise ValueError(f"Argument '{argument}' must be a positive number; received {value!r}.")
    return float(value)


# Set by the model-file loader: the number of values initializers may still create, so that a
# hostile file declaring a huge layer fails fast instead of allocating it. None: no limit.
_allocation_budget: list[int] | None = None


def _spend_allocation_budget(shape: tuple[int, ...]) -> None:
    if _allocation_budget is None:
        return
    size = math.prod(shape)
    if size > _allocation_budget[0]:
        raise ValueError(
            f"a parameter of shape {shape} is larger than all the tensors stored in the file"
        )
    _allocation_budget[0] -= size


class Initializer(ConfigValue):
    """Base class: subclasses implement ``sample(shape, rng)`` returning float64 values.

    Args:
        seed: when given, every call draws the same values (a generator built from the seed);
            otherwise values come from the generator the caller passes, or from one spawned
            from the library's seed sequence (see :func:`layerwise.set_seed`). NumPy's global
            random state is never used.

    Example::

        init = layerwise.initializers.get('he_normal')
        w = init((784, 256))                     # float32, std sqrt(2 / 784)
        w64 = init((784, 256), dtype=np.float64, rng=np.random.default_rng(0))
    """

    def __init__(self, seed: int | None = None):
        self.seed = seed
        if seed is not None:
            make_rng(seed)  # validates the seed now rather than at first use

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Values for an array of ``shape`` drawn from ``rng`` (float64)."""
        raise NotImplementedError

    def __call__(
        self,
        shape: tuple[int, ...],
        dtype: DTypeLike = np.float32,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """A new array of ``shape`` and ``dtype`` (float32 by default)."""
        shape = tuple(int(s) for s in shape)
        _spend_allocation_budget(shape)
        if self.seed is not None:
            rng = make_rng(self.seed)
        elif rng is None:
            rng = make_rng()
        return np.asarray(self.sample(shape, rng), dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed} if self.seed is not None else {}



registry.register_kind("initializer", Initializer)


class _Normal(Initializer):
    """A plain (not truncated) normal with mean 0 and the standard deviation ``std(shape)``."""

    def std(self, shape: tuple[int, ...]) -> float:
        """The standard deviation for a weight array of ``shape``."""
        raise NotImplementedError

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.normal(0.0, self.std(shape), size=shape)


class _Uniform(Initializer):
    """A uniform distribution on ``[-bound(shape), bound(shape)]``."""

    def bound(self, shape: tuple[int, ...]) -> float:
        """The half-width of the interval for a weight array of ``shape``."""
        raise NotImplementedError

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        limit = self.bound(shape)
        return rng.uniform(-limit, limit, size=shape)


@register("random_normal", "normal")
class RandomNormal(_Normal):
    """Normal with mean 0 and standard deviation ``stddev`` (0.05)."""

    def __init__(self, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.stddev = _positive(stddev, "stddev")

    def std(self, shape: tuple[int, ...]) -> float:
        return self.stddev

    def get_config(self) -> dict[str, Any]:
        return {"stddev": self.stddev, **super().get_config()}


@register("random_uniform", "uniform")
class RandomUniform(_Uniform):
    """Uniform on ``[-limit, limit]`` (0.05)."""

    def __init__(self, limit: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.limit = _positive(limit, "limit")

    def bound(self, shape: tuple[int, ...]) -> float:
        return self.limit

    def get_config(self) -> dict[str, Any]:
        return {"limit": self.limit, **super().get_config()}


@register("zeros", "zero")
class Zeros(Initializer):
    """All zeros."""

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.zeros(shape)


@register("ones", "one")
class Ones(Initializer):
    """All ones."""

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.ones(shape)


@register("constant")
class Constant(Initializer):
    """Every element equal to ``value``."""

    def __init__(self, value: float = 0.0):
        super().__init__(None)
        if isinstance(value, bool) or not (
            isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value)
        ):
            raise ValueError(f"Argument 'value' must be a finite number; received {value!r}.")
        self.value = float(value)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.full(shape, self.value)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


@register("xavier_normal", "glorot_normal")
class XavierNormal(_Normal):
    """Normal with standard deviation ``sqrt(2 / (fan_in + fan_out))`` (Glorot normal)."""

    def std(self, shape: tuple[int, ...]) -> float:
        fan_in, fan_out = compute_fans(shape)
        return math.sqrt(2.0 / (fan_in + fan_out))


@register("xavier_uniform", "glorot_uniform")
class XavierUniform(_Uniform):
    """Uniform on ``±sqrt(6 / (fan_in + fan_out))`` (Glorot uniform)."""

    def bound(self, shape: tuple[int, ...]) -> float:
        fan_in, fan_out = compute_fans(shape)
        return math.sqrt(6.0 / (fan_in + fan_out))


@register("he_normal")
class HeNormal(_Normal):
    """Normal with standard deviation ``sqrt(2 / fan_in)``."""

    def std(self, shape: tuple[int, ...]) -> float:
        return math.sqrt(2.0 / compute_fans(shape)[0])


@register("he_uniform")
class HeUniform(_Uniform):
    """Uniform on ``±sqrt(6 / fan_in)``."""

    def bound(self, shape: tuple[int, ...]) -> float:
        return math.sqrt(6.0 / compute_fans(shape)[0])


@register("orthogonal")
class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times ``gain``, as Keras draws it: the Q of the QR
    decomposition of a standard-normal ``(max(r, c), min(r, c))`` matrix, signs fixed by R's
    diagonal, transposed when the (flattened) shape ``(r, c)`` is wide. Keras' default for
    recurrent kernels.

    Args:
        gain: scale of the matrix.
        seed: as for every initializer.

    Example::

        q = Orthogonal()((64, 256))          # q @ q.T == I (64 x 64)
    """

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        super().__init__(seed)
        if isinstance(gain, bool) or not isinstance(gain, (int, float, np.floating)):
            raise TypeError(f"Argument 'gain' must be a number; received {gain!r}.")
        self.gain = float(gain)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        if len(shape) < 2:
            raise ValueError(
                f"The orthogonal initializer needs a shape of at least two dimensions; received "
                f"{shape}."
            )
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return np.ascontiguousarray(self.gain * q.reshape(shape))  # q.T is F-ordered

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, **super().get_config()}


def get(identifier: Any, argument: str = "initializer") -> Initializer:
    """An initializer from a name, instance, config dict, or ``None`` (random normal)."""
    if identifier is None:
        return RandomNormal()
    return registry.get("initializer", identifier, argument=argument)
