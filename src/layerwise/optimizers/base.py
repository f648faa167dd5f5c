"""The optimizer base class: per-parameter state by name, one scratch array per parameter (or
all of them packed into one flat array by ``fit``), learning rates and schedules."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .. import registry, schedules
from ..registry import Serializable, serialize

# A constant rate or a schedule of the step number (layerwise.schedules).
LearningRate = float | schedules.LearningRateSchedule

__all__ = ["Optimizer", "check_learning_rate", "check_iterations"]


def _check_number(value, argument: str, low: float = 0.0, high: float = math.inf, closed=False):
    """``value`` as a float in ``(low, high)`` (``[low, high)`` if ``closed``), else ValueError."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    ok = ok and math.isfinite(value) and (low <= value if closed else low < value) and value < high
    if not ok:
        bounds = f"in [{low}, {high})" if closed else f"in ({low}, {high})"
        raise ValueError(f"Argument '{argument}' must be a number {bounds}; received {value!r}.")
    return float(value)


def check_learning_rate(value: Any, argument: str = "learning_rate") -> LearningRate:
    """A positive finite number (returned as a float) or a
    :class:`~layerwise.schedules.LearningRateSchedule` (or its config dict).

    Raises:
        ValueError: anything else (zero, negative, NaN, infinite, a string, ...).
    """
    if isinstance(value, (schedules.LearningRateSchedule, dict)):
        return schedules.get(value, argument)
    return _check_number(value, argument)


class Optimizer(Serializable):
    """Base class. Subclasses list their per-parameter state in ``slot_names`` and implement
    :meth:`update_parameter`; one whose update treats every element alike sets
    ``elementwise = True``, and ``fit`` then updates all parameters, packed into one array, in
    one call.

    Use: ``build(names, params)`` once (and again whenever the parameter arrays are replaced),
    then ``apply(params, grads)`` per training step.

    Gradient clipping (Keras' arguments, at most one of them; applied before every update):
    ``clipnorm`` scales each gradient array whose L2 norm exceeds it down to that norm,
    ``global_clipnorm`` scales all gradients together when their joint norm exceeds it, and
    ``clipvalue`` clips every element to ``[-clipvalue, clipvalue]``. Plain SGD's fast path
    (gradients pre-multiplied by the learning rate, the step folded into the products) is off
    while clipping is set.

    Attributes:
        learning_rate: a positive number or a schedule; may be reassigned at any time (validated).
        iterations: number of updates applied so far (drives schedules and bias correction).
        slots: per-parameter state, ``{parameter name: {slot name: array}}``.
    """

    slot_names: tuple[str, ...] = ()
    # Slots that can never be negative (running averages of squares): a file or set_state
    # holding a negative value there is refused.
    non_negative_slots: tuple[str, ...] = ()
    # True when update_parameter treats every element alike (no per-array norms or shapes), so
    # that one call on all parameters packed into one array equals one call per array. Only
    # the class that defines update_parameter can say so: a subclass that overrides it is
    # updated array by array unless it sets elementwise itself.
    elementwise = False

    def __init__(
        self,
        learning_rate: float = 0.01,
        clipnorm: Any = None,
        clipvalue: Any = None,
        global_clipnorm: Any = None,
    ):
        self.learning_rate = learning_rate
        given = {name: value for name, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                                                 ("global_clipnorm", global_clipnorm))
                 if value is not None}
        if len(given) > 1:
            raise ValueError(
                "Only one of 'clipnorm', 'clipvalue' and 'global_clipnorm' can be set; received "
                + ", ".join(f"{name}={value!r}" for name, value in given.items()) + "."
            )
        for name, value in given.items():
            _check_number(value, name)
        self.clipnorm = None if clipnorm is None else float(clipnorm)
        self.clipvalue = None if clipvalue is None else float(clipvalue)
        self.global_clipnorm = None if global_clipnorm is None else float(global_clipnorm)
        self._clip_buffer = None
        self._iterations = 0
        self.slots: dict[str, dict[str, np.ndarray]] = {}
        self._names: list[str] = []
        self._scratch: list[np.ndarray] = []
        self._flat = None  # (flat params, flat grads, {slot: flat array}, flat scratch)

    @property
    def learning_rate(self) -> LearningRate:
        """The rate: a float or a :class:`~layerwise.schedules.LearningRateSchedule`."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: Any):
        self._learning_rate = check_learning_rate(value)

    @property
    def iterations(self) -> int:
        """Updates applied so far (an integer from 0 to 2**53, exact as a float too)."""
        return self._iterations

    @iterations.setter
    def iterations(self, value: Any) -> None:
        self._iterations = check_iterations(value)

    @property
    def current_learning_rate(self) -> float:
        """The rate of the next update (a schedule is evaluated at ``iterations``, from 0)."""
        rate = self._learning_rate
        if isinstance(rate, schedules.LearningRateSchedule):
            return float(rate(self.iterations))
        return rate

    def build(
        self,
        names: list[str],
        params: list[np.ndarray],
        flat: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Create the state of each parameter and a scratch array for it.

        State already held for a name (from an earlier ``build`` or :meth:`set_state`) is kept,
        cast to the parameter's dtype if needed; it is reset to zeros if the shape changed.

        ``flat``: optionally ``(flat_params, flat_grads)``, two 1-D arrays of which ``params``
        and their gradients are consecutive views, in order (``fit`` packs them so). An
        element-wise optimizer then keeps its state packed the same way and :meth:`apply`
        updates everything in one call of :meth:`update_parameter`.
        """
        names = list(names)
        if len(names) != len(params):
            raise ValueError(f"build() got {len(names)} names for {len(params)} parameters.")
        if (
            flat is not None
            and self._flat is not None
            and flat[0] is self._flat[0]
            and flat[1] is self._flat[1]
            and names == self._names
        ):
            return  # already built on these arrays (train_on_batch builds every call)
        for name, param in zip(names, params):
            slots = self.slots.get(name, {})
            if set(slots) != set(self.slot_names) or any(
                s.shape != param.shape for s in slots.values()
            ):
                slots = {slot: np.zeros_like(param) for slot in self.slot_names}
            self.slots[name] = {
                slot: s.astype(param.dtype, copy=False) for slot, s in slots.items()
            }
        # The state of parameters not in this build (a layer frozen since) stays, as in Keras:
        # thawed, it goes on from its moments.
        self._names = names
        self._flat = None
        if flat is None or not self._updates_elementwise():
            self._scratch = [np.empty_like(p) for p in params]
            return
        flat_params, flat_grads = flat
        flat_slots = {slot: np.empty_like(flat_params) for slot in self.slot_names}
        scratch = np.empty_like(flat_params)
        self._scratch, offset = [], 0
        for name, param in zip(names, params):
            end = offset + param.size
            for slot, array in flat_slots.items():
                view = array[offset:end].reshape(param.shape)
                view[...] = self.slots[name][slot]
                self.slots[name][slot] = view
            self._scratch.append(scratch[offset:end].reshape(param.shape))
            offset = end
        self._flat = (flat_params, flat_grads, flat_slots, scratch)

    def _updates_elementwise(self) -> bool:
        defining = next(c for c in type(self).__mro__ if "update_parameter" in c.__dict__)
        return bool(defining.__dict__.get("elementwise", False))

    def __getstate__(self) -> dict:
        # The packed arrays belong to the model being trained: a copy is unbuilt (fit builds it
        # again) and keeps only its per-parameter state.
        state = dict(self.__dict__)
        state.update(_flat=None, _names=[], _scratch=[], _clip_buffer=None)
        return state

    def __setstate__(self, state: dict) -> None:
        for name in ("clipnorm", "clipvalue", "global_clipnorm", "_clip_buffer"):
            state.setdefault(name, None)  # optimizers pickled before clipping existed
        self.__dict__.update(state)

    def gradient_scale(self) -> float | None:
        """A factor the training loop may multiply the gradients by before :meth:`apply`
        (then called with ``prescaled=True``), or None. Only plain SGD uses it: with gradients
        pre-multiplied by the learning rate its update is one pass, ``p -= g``."""
        return None

    def apply(
        self, params: list[np.ndarray], grads: list[np.ndarray], prescaled: bool = False
    ) -> None:
        """One update of every parameter from its gradient, in place (``grads`` are not changed).

        ``params`` must be the arrays given to :meth:`build`, in the same order. ``prescaled``:
        the gradients were multiplied by :meth:`gradient_scale` (only where that is not None).
        """
        if prescaled:
            raise ValueError(f"{type(self).__name__} does not take prescaled gradients.")
        if len(self._scratch) != len(params):
            raise RuntimeError("Optimizer.build(names, params) must be called before apply().")
        learning_rate = self.current_learning_rate
        self.iterations += 1
        if self._flat is not None:  # params and grads are views of these (see build)
            flat_params, flat_grads, flat_slots, scratch = self._flat
            if self.clipping:
                flat_grads = self._clip_flat(flat_grads, grads)
            self.update_parameter(flat_params, flat_grads, flat_slots, scratch, learning_rate)
            return
        if self.clipping:
            grads = self.clip_gradients(grads)
        slots = self.slots
        for name, param, grad, scratch in zip(self._names, params, grads, self._scratch):
            self.update_parameter(param, grad, slots[name], scratch, learning_rate)

    @property
    def clipping(self) -> bool:
        """Whether a clipping argument is set."""
        return (self.clipnorm or self.clipvalue or self.global_clipnorm) is not None

    def clip_gradients(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        """The gradients clipped as Keras does (new arrays; ``grads`` are not changed)."""
        if self.clipvalue is not None:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm is not None:
            return [g * (self.clipnorm / max(norm, self.clipnorm))
                    for g, norm in zip(grads, (float(np.sqrt(np.vdot(g, g))) for g in grads))]
        if self.global_clipnorm is not None:
            norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
            scale = self.global_clipnorm / max(norm, self.global_clipnorm)
            return [g * scale for g in grads]
        return list(grads)

    def _clip_flat(self, flat_grads: np.ndarray, grads: list[np.ndarray]) -> np.ndarray:
        """The packed gradients clipped into a reused buffer (``grads`` are views of them)."""
        buffer = self._clip_buffer
        if buffer is None or buffer.shape != flat_grads.shape or buffer.dtype != flat_grads.dtype:
            buffer = self._clip_buffer = np.empty_like(flat_grads)
        if self.clipvalue is not None:
            return np.clip(flat_grads, -self.clipvalue, self.clipvalue, out=buffer)
        if self.global_clipnorm is not None:
            norm = math.sqrt(float(np.vdot(flat_grads, flat_grads)))
            return np.multiply(flat_grads, self.global_clipnorm / max(norm, self.global_clipnorm),
                               out=buffer)
        offset = 0
        for g in grads:  # clipnorm: each array by its own norm
            norm = float(np.sqrt(np.vdot(g, g)))
            end = offset + g.size
            np.multiply(flat_grads[offset:end], self.clipnorm / max(norm, self.clipnorm),
                        out=buffer[offset:end])
            offset = end
        return buffer

    def update_parameter(
        self,
        param: np.ndarray,
        grad: np.ndarray,
        slots: list[np.ndarray],
        scratch: np.ndarray | None,
        learning_rate: float,
    ) -> None:
        """Update ``param`` in place from ``grad``.

        Args:
            param: the parameter array (update it in place, never rebind it).
            grad: its gradient (read only).
            slots: this parameter's state arrays, by slot name (update in place).
            scratch: an array like ``param`` to compute in, so that nothing is allocated.
            learning_rate: the rate of this update; ``self.iterations`` already counts it.
        """
        raise NotImplementedError

    def get_state(self) -> dict[str, np.ndarray]:
        """Copies of the per-parameter state as ``{"dense_1/weights/m": array, ...}`` (for
        saving; pass them with ``iterations`` to :meth:`set_state` to resume): of the parameters
        of the last build (the trainable ones), or of every slot held before any build."""
        names = self._names or list(self.slots)
        return {
            f"{name}/{slot}": array.copy()
            for name in names if name in self.slots
            for slot, array in self.slots[name].items()
        }

    def set_state(self, state: dict[str, np.ndarray], iterations: int) -> None:
        """Restore state saved by :meth:`get_state` and the update count.

        Parameters without saved state start from zeros; training then continues exactly as if
        it had not been interrupted.

        Raises:
            ValueError: a negative or non-integer ``iterations``, or a saved array whose shape
                differs from the parameter it belongs to.
        """
        iterations = check_iterations(iterations)
        if not isinstance(state, dict):
            raise TypeError(
                f"Argument 'state' must be a dict of arrays by name, as get_state() returns; "
                f"received {type(state).__name__}."
            )
        known = dict(zip(self._names, self._scratch))
        slots: dict[str, dict[str, np.ndarray]] = {}
        for key, array in state.items():
            name, _, slot = key.rpartition("/") if isinstance(key, str) else ("", "", "")
            if slot not in self.slot_names or (known and name not in known):
                raise ValueError(
                    f"Argument 'state' holds {key!r:.80}, which is not a slot of this optimizer "
                    f"({', '.join(self.slot_names) or 'no slots'}) for one of its parameters."
                )
            value = _checked_slot(array, key, slot in self.non_negative_slots)
            if name in known and value.shape != known[name].shape:
                raise ValueError(
                    f"Saved optimizer state '{name}/{slot}' has shape {value.shape}, but the "
                    f"parameter has shape {known[name].shape}."
                )
            slots.setdefault(name, {})[slot] = value
        # Slots of parameters outside the last build (frozen layers) are not in saved state:
        # the ones held stay.
        self.slots = {**{n: s for n, s in self.slots.items() if known and n not in known},
                      **slots}
        self._iterations = iterations
        if self._names:  # already built: the scratch arrays stand in for the parameters
            flat, self._flat = self._flat, None  # rebuilt (packed again) around the new state
            self.build(self._names, self._scratch, flat=None if flat is None else flat[:2])

    def _config(self, **extra):
        rate = self._learning_rate
        rate = serialize(rate) if isinstance(rate, schedules.LearningRateSchedule) else rate
        clipping = {name: getattr(self, name) for name in ("clipnorm", "clipvalue",
                                                             "global_clipnorm")
                    if getattr(self, name, None) is not None}
        return {"learning_rate": rate, **extra, **clipping}

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments; a schedule is stored as its config dict."""
        return self._config()

    def __repr__(self):
        return f"{type(self).__name__}({self.get_config()})"


def check_iterations(value: Any, argument: str = "iterations") -> int:
    """An update count: an integer from 0 to 2**53 (beyond, a float cannot hold it exactly)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Argument '{argument}' must be an integer; received {value!r:.60}.")
    if not 0 <= value <= 2**53:
        raise ValueError(f"Argument '{argument}' must be from 0 to 2**53; received {value!r}.")
    return int(value)


def _checked_slot(array, key: str, non_negative: bool) -> np.ndarray:
    """A copy of a saved slot array, refused unless real, finite (and >= 0 where it must)."""
    if isinstance(array, (str, bytes)) or array is None:
        raise TypeError(f"Argument 'state': {key!r} must be an array; received {array!r:.60}.")
    value = np.array(array, copy=True)
    if value.dtype.kind not in "iuf":
        raise TypeError(
            f"Argument 'state': {key!r} must hold real numbers; received dtype {value.dtype}."
        )
    if not np.isfinite(value).all():
        raise ValueError(f"Argument 'state': {key!r} holds NaN or infinity.")
    if non_negative and (value < 0).any():
        raise ValueError(f"Argument 'state': {key!r} is an average of squares but holds "
                         "negative values.")
    return value


registry.register_kind("optimizer", Optimizer)
