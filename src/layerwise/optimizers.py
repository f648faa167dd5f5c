"""Optimizers: SGD (with momentum and Nesterov), Adam, AdamW and RMSprop.

The update rules are PyTorch's (``torch/optim``), written one equation per line so they can be
checked against the papers. Every update happens in place on the parameter arrays; per-parameter
state (``slots``) and one scratch array per parameter are allocated once, in :meth:`build`.
State is kept by parameter name (``dense_1/weights``) so that it can be saved and restored.
"""

from __future__ import annotations

import math

import numpy as np

from . import registry, schedules
from .registry import Serializable, register, serialize

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "get"]


def _check_rate(value, argument: str, low: float = 0.0, high: float = math.inf, closed=False):
    ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (low <= value if closed else low < value) and value < high
    if not ok:
        bounds = f"in [{low}, {high})" if closed else f"in ({low}, {high})"
        raise ValueError(f"Argument '{argument}' must be a number {bounds}; received {value!r}.")
    return float(value)


def check_learning_rate(value, argument: str = "learning_rate"):
    """A positive finite number or a :class:`~layerwise.schedules.LearningRateSchedule`."""
    if isinstance(value, (schedules.LearningRateSchedule, dict)):
        return schedules.get(value, argument)
    return _check_rate(value, argument)


class Optimizer(Serializable):
    """Base class. Subclasses list their per-parameter state in ``slot_names`` and implement
    ``update_parameter(param, grad, slots, scratch, learning_rate)``.

    Attributes:
        learning_rate: a number or a schedule; assigning it is allowed at any time.
        iterations: number of updates applied so far (drives schedules and bias correction).
    """

    slot_names: tuple[str, ...] = ()

    def __init__(self, learning_rate=0.01):
        self.learning_rate = check_learning_rate(learning_rate)
        self.iterations = 0
        self.slots: dict[str, dict[str, np.ndarray]] = {}
        self._names: list[str] = []
        self._scratch: list[np.ndarray] = []

    @property
    def current_learning_rate(self) -> float:
        """The rate of the next update (the schedule's value at ``iterations``)."""
        if isinstance(self.learning_rate, schedules.LearningRateSchedule):
            return float(self.learning_rate(self.iterations))
        return self.learning_rate

    def build(self, names: list[str], params: list[np.ndarray]) -> None:
        """Create state for parameters; state of parameters already known is kept."""
        self._names = list(names)
        for name, param in zip(names, params):
            slots = self.slots.get(name)
            if slots is None or any(
                s.shape != param.shape or s.dtype != param.dtype for s in slots.values()
            ):
                self.slots[name] = {slot: np.zeros_like(param) for slot in self.slot_names}
        self._scratch = [np.empty_like(p) for p in params]

    def apply(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """One update of every parameter from its gradient, in place."""
        if len(self._scratch) != len(params):
            raise RuntimeError("Optimizer.build(names, params) must be called before apply().")
        learning_rate = self.current_learning_rate
        self.iterations += 1
        for name, param, grad, scratch in zip(self._names, params, grads, self._scratch):
            self.update_parameter(param, grad, self.slots[name], scratch, learning_rate)

    def update_parameter(self, param, grad, slots, scratch, learning_rate) -> None:
        raise NotImplementedError

    def get_state(self) -> dict[str, np.ndarray]:
        """Per-parameter state as ``{"dense_1/weights/m": array, ...}`` (for saving)."""
        return {f"{name}/{slot}": a for name, s in self.slots.items() for slot, a in s.items()}

    def set_state(self, state: dict[str, np.ndarray], iterations: int) -> None:
        """Restore state saved by :meth:`get_state`."""
        slots: dict[str, dict[str, np.ndarray]] = {}
        for key, array in state.items():
            name, _, slot = key.rpartition("/")
            slots.setdefault(name, {})[slot] = np.array(array, copy=True)
        self.slots = slots
        self.iterations = int(iterations)

    def _config(self, **extra):
        rate = self.learning_rate
        rate = serialize(rate) if isinstance(rate, schedules.LearningRateSchedule) else rate
        return {"learning_rate": rate, **extra}

    def get_config(self):
        return self._config()

    def __repr__(self):
        return f"{type(self).__name__}({self.get_config()})"


registry.register_kind("optimizer", Optimizer)


@register("sgd")
class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum, as PyTorch::

    v = momentum * v + g
    p = p - lr * v                      (or p - lr * (g + momentum * v) with nesterov)
    """

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False):
        super().__init__(learning_rate)
        self.momentum = _check_rate(momentum, "momentum", 0.0, 1.0, closed=True)
        if nesterov and not self.momentum:
            raise ValueError("Argument 'nesterov=True' needs a positive 'momentum'.")
        self.nesterov = bool(nesterov)
        self.slot_names = ("velocity",) if self.momentum else ()

    def update_parameter(self, param, grad, slots, scratch, learning_rate):
        if not self.momentum:
            np.multiply(grad, learning_rate, out=scratch)
            param -= scratch
            return
        velocity = slots["velocity"]
        velocity *= self.momentum
        velocity += grad
        if self.nesterov:
            np.multiply(velocity, self.momentum, out=scratch)
            scratch += grad
            scratch *= learning_rate
        else:
            np.multiply(velocity, learning_rate, out=scratch)
        param -= scratch

    def get_config(self):
        return self._config(momentum=self.momentum, nesterov=self.nesterov)


@register("adam")
class Adam(Optimizer):
    """Adam (Kingma & Ba), with bias correction, as PyTorch::

    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g^2
    p = p - lr / (1 - beta_1^t) * m / (sqrt(v) / sqrt(1 - beta_2^t) + epsilon)
    """

    slot_names = ("m", "v")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        self.beta_1 = _check_rate(beta_1, "beta_1", 0.0, 1.0, closed=True)
        self.beta_2 = _check_rate(beta_2, "beta_2", 0.0, 1.0, closed=True)
        self.epsilon = _check_rate(epsilon, "epsilon")

    def update_parameter(self, param, grad, slots, scratch, learning_rate):
        m, v = slots["m"], slots["v"]
        t = self.iterations  # already counts this update
        m *= self.beta_1
        np.multiply(grad, 1 - self.beta_1, out=scratch)
        m += scratch
        v *= self.beta_2
        np.multiply(grad, grad, out=scratch)
        scratch *= 1 - self.beta_2
        v += scratch
        step_size = learning_rate / (1 - self.beta_1**t)
        np.sqrt(v, out=scratch)
        scratch *= 1 / math.sqrt(1 - self.beta_2**t)
        scratch += self.epsilon
        np.divide(m, scratch, out=scratch)
        scratch *= step_size
        param -= scratch

    def get_config(self):
        return self._config(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)


@register("adamw")
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as PyTorch::

    p = p * (1 - lr * weight_decay)
    then the Adam update.
    """

    def __init__(
        self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.004
    ):
        super().__init__(learning_rate, beta_1, beta_2, epsilon)
        self.weight_decay = _check_rate(weight_decay, "weight_decay", closed=True)

    def update_parameter(self, param, grad, slots, scratch, learning_rate):
        param *= 1 - learning_rate * self.weight_decay
        super().update_parameter(param, grad, slots, scratch, learning_rate)

    def get_config(self):
        return {**super().get_config(), "weight_decay": self.weight_decay}


@register("rmsprop")
class RMSprop(Optimizer):
    """RMSprop (Hinton), as PyTorch::

    v = rho * v + (1 - rho) * g^2
    p = p - lr * g / (sqrt(v) + epsilon)
    """

    slot_names = ("v",)

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7):
        super().__init__(learning_rate)
        self.rho = _check_rate(rho, "rho", 0.0, 1.0, closed=True)
        self.epsilon = _check_rate(epsilon, "epsilon")

    def update_parameter(self, param, grad, slots, scratch, learning_rate):
        v = slots["v"]
        v *= self.rho
        np.multiply(grad, grad, out=scratch)
        scratch *= 1 - self.rho
        v += scratch
        np.sqrt(v, out=scratch)
        scratch += self.epsilon
        np.divide(grad, scratch, out=scratch)
        scratch *= learning_rate
        param -= scratch

    def get_config(self):
        return self._config(rho=self.rho, epsilon=self.epsilon)


def get(identifier, argument: str = "optimizer") -> Optimizer:
    """An optimizer from a name (default settings), instance or config dict."""
    if identifier is None:
        return SGD()
    return registry.get("optimizer", identifier, argument=argument)
