"""Learning-rate schedules: objects passed as ``learning_rate`` to an optimizer (or to ``fit``).

A schedule maps the optimizer's step count (0 for the first update, as in Keras) to a rate::

    Adam(learning_rate=CosineDecay(0.01, decay_steps=1000))

Definitions follow Keras (``keras.optimizers.schedules``); ``StepDecay`` is PyTorch's ``StepLR``.
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import registry
from .registry import Serializable, register

__all__ = [
    "LearningRateSchedule",
    "StepDecay",
    "ExponentialDecay",
    "CosineDecay",
    "PiecewiseConstantDecay",
    "get",
]


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def _positive(value, argument: str, allow_zero: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not _is_bool(value) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"Argument '{argument}' must be a {kind} number; received {value!r}.")
    return float(value)


def _steps(value, argument: str) -> int:
    if _is_bool(value) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"Argument '{argument}' must be a positive integer; received {value!r}.")
    return int(value)


class LearningRateSchedule(Serializable):
    """Base class: ``schedule(step) -> learning rate``, with ``step`` counting updates from 0.

    A subclass implements ``__call__`` and ``get_config``; register it with
    :func:`layerwise.register_serializable` to save models that use it.
    """

    def __call__(self, step: int) -> float:
        """The learning rate of update number ``step`` (0 for the first)."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.get_config()})"


registry.register_kind("schedule", LearningRateSchedule)


@register("step_decay")
class StepDecay(LearningRateSchedule):
    """Multiply the rate by ``decay_rate`` every ``decay_steps`` steps (PyTorch's ``StepLR``)::

        initial_learning_rate * decay_rate ** floor(step / decay_steps)

    Args:
        initial_learning_rate: positive rate of the first ``decay_steps`` updates.
        decay_steps: positive integer, the number of updates between two decays.
        decay_rate: positive factor applied at each decay.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float = 0.5):
        self.initial_learning_rate = _positive(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _steps(decay_steps, "decay_steps")
        self.decay_rate = _positive(decay_rate, "decay_rate")

    def __call__(self, step: int) -> float:
        return self.initial_learning_rate * self.decay_rate ** (step // self.decay_steps)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
        }


@register("exponential_decay")
class ExponentialDecay(LearningRateSchedule):
    """Keras' exponential decay::

        initial_learning_rate * decay_rate ** (step / decay_steps)

    Args:
        initial_learning_rate: positive rate at step 0.
        decay_steps: positive integer; the rate is multiplied by ``decay_rate`` every so many.
        decay_rate: positive factor.
        staircase: round the exponent down, so the rate changes every ``decay_steps`` steps.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
    ):
        self.initial_learning_rate = _positive(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _steps(decay_steps, "decay_steps")
        self.decay_rate = _positive(decay_rate, "decay_rate")
        self.staircase = bool(staircase)

    def __call__(self, step: int) -> float:
        exponent = step / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return self.initial_learning_rate * self.decay_rate**exponent

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
        }


@register("cosine_decay")
class CosineDecay(LearningRateSchedule):
    """Cosine from ``initial_learning_rate`` down to ``alpha * initial_learning_rate`` over
    ``decay_steps`` steps, then constant (Keras' definition, without warm-up)::

        progress = min(step, decay_steps) / decay_steps
        initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * progress)) + alpha)

    Args:
        initial_learning_rate: positive rate at step 0.
        decay_steps: positive integer, the length of the decay.
        alpha: final rate as a fraction of the initial one, in [0, 1].
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0):
        self.initial_learning_rate = _positive(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _steps(decay_steps, "decay_steps")
        self.alpha = _positive(alpha, "alpha", allow_zero=True)
        if self.alpha > 1:
            raise ValueError(f"Argument 'alpha' must be in [0, 1]; received {alpha!r}.")

    def __call__(self, step: int) -> float:
        progress = min(step, self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
        }


@register("piecewise_constant_decay")
class PiecewiseConstantDecay(LearningRateSchedule):
    """Constant rates between step boundaries (Keras' definition): ``values[0]`` while
    ``step <= boundaries[0]``, ``values[i]`` while ``boundaries[i-1] < step <= boundaries[i]``,
    and ``values[-1]`` once ``step > boundaries[-1]``.

    Args:
        boundaries: strictly increasing non-negative integers.
        values: positive rates, one more than ``boundaries``.

    Example::

        PiecewiseConstantDecay(boundaries=[1000, 2000], values=[0.1, 0.01, 0.001])
    """

    def __init__(self, boundaries: Sequence[int], values: Sequence[float]) -> None:
        for argument, value in (("boundaries", boundaries), ("values", values)):
            if not isinstance(value, (list, tuple)) and not (
                isinstance(value, np.ndarray) and value.ndim == 1
            ):
                raise ValueError(
                    f"Argument '{argument}' must be a list; received {value!r:.60}."
                )
        boundaries, values = list(boundaries), list(values)
        for b in boundaries:
            if _is_bool(b) or not isinstance(b, numbers.Integral) or b < 0:
                raise ValueError(
                    "Argument 'boundaries' must hold non-negative integers; "
                    f"received {boundaries!r}."
                )
        if any(a >= b for a, b in zip(boundaries, boundaries[1:])):
            raise ValueError(
                f"Argument 'boundaries' must be strictly increasing; received {boundaries!r}."
            )
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                f"Argument 'values' must hold one more element than 'boundaries' "
                f"({len(boundaries) + 1}); received {len(values)}."
            )
        self.boundaries = [int(b) for b in boundaries]
        self.values = [_positive(v, "values") for v in values]

    def __call__(self, step: int) -> float:
        # The first boundary that the step has not passed; bisect_left keeps step == boundary
        # in the earlier interval, as Keras does.
        return self.values[bisect.bisect_left(self.boundaries, step)]

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": list(self.boundaries), "values": list(self.values)}


def get(identifier: Any, argument: str = "learning_rate") -> LearningRateSchedule:
    """A schedule from an instance (returned as is), a class or a config dict."""
    return registry.get("schedule", identifier, argument=argument)
