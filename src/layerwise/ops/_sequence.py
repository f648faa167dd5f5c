"""What the recurrent kernels share: workspaces, activations, directions and masks.

Layout of the kernels (why it is this one): the products that do not depend on the previous
step (the input projections, the weight and input gradients) run once over all steps on
batch-major ``(batch * steps, k)`` matrices, the layout of the layer's input and output, so they
need no transposed copies. Inside the time loop the state is kept transposed, ``(units, batch)``:
every gate of a step is then a contiguous block of rows, and each NumPy pass over it is one
contiguous pass (a pass over a ``(batch, units)`` gate slice of a ``(batch, 4 * units)`` row pays
NumPy's per-row cost 64 times). BLAS moves a step between the two layouts in one ``omatcopy``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .. import activations as _activations

__all__ = ["Workspace", "cell_activation", "derivative_into", "prepare_sequence"]


class Workspace:
    """Arrays reused from call to call, so the loops find their buffers at fixed addresses.

    ``array(key, shape, dtype)`` returns the cached array when shape and dtype match, else a new
    one (and ``fresh`` becomes True, telling the kernel to rebuild its prepared calls).
    """

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.plans: dict = {}

    # Prepared calls hold raw addresses of these arrays: a copy must start empty, never share
    # (or point into) the original's buffers.
    def __deepcopy__(self, memo) -> Workspace:
        return Workspace()

    def __getstate__(self) -> dict:
        return {"arrays": {}, "plans": {}}

    def array(
        self,
        key: str,
        shape: tuple[int, ...],
        dtype: DTypeLike,
        fill: float | None = None,
    ) -> Any:
        """The cached array ``key`` of this shape and dtype (filled with ``fill`` when new)."""
        array = self.arrays.get(key)
        if array is None or array.shape != tuple(shape) or array.dtype != dtype:
            array = np.empty(shape, dtype) if fill is None else np.full(shape, fill, dtype)
            self.arrays[key] = array
            self.plans.clear()
        return array


def cell_activation(identifier: Any, argument: str) -> _activations.ActivationFunction:
    """An element-wise activation whose derivative follows from its output alone."""
    function = _activations.get(identifier, argument)
    if isinstance(function, _activations.Softmax) or function.needs_input:
        raise ValueError(
            f"Argument '{argument}' must be an element-wise activation whose derivative follows "
            f"from its output (tanh, sigmoid, relu, linear, ...); received {identifier!r}."
        )
    return function


def derivative_into(function, y: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = f'(x)`` from ``y = f(x)``: in place for tanh and sigmoid, generically otherwise."""
    if isinstance(function, _activations.Tanh):
        np.multiply(y, y, out=out)
        np.subtract(1, out, out=out)
    elif isinstance(function, _activations.Sigmoid):
        np.multiply(y, y, out=out)
        np.subtract(y, out, out=out)
    else:
        out[...] = function.backward(None, y, np.ones_like(y))
    return out


def prepare_sequence(x: np.ndarray, mask: np.ndarray | None, go_backwards: bool):
    """The input in processing order and the mask as "masked" flags ``(steps, batch)``.

    Returns ``(x, masked)`` where ``x`` is C-contiguous ``(batch, steps, features)`` (reversed
    along time for ``go_backwards``) and ``masked`` is None when no step is masked.
    """
    if x.ndim != 3:
        raise ValueError(f"A recurrent layer needs inputs (batch, steps, features); received "
                         f"shape {x.shape}.")
    if go_backwards:
        x = x[:, ::-1]
    x = np.ascontiguousarray(x)
    if mask is None:
        return x, None
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != x.shape[:2]:
        raise ValueError(f"The mask must have shape (batch, steps) = {x.shape[:2]}; received "
                         f"{mask.shape}.")
    if go_backwards:
        mask = mask[:, ::-1]
    masked = np.ascontiguousarray(~mask.T)
    return x, (masked if masked.any() else None)
