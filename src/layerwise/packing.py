"""All parameters in one flat array, all gradients in another, for the optimizers.

An element-wise optimizer (Adam, RMSprop, SGD with momentum) makes the same handful of NumPy
calls for every parameter array: 7-12 for Adam, at about a microsecond each however small the
array, which is most of its cost for small networks. ``fit`` therefore moves every layer's
parameters into one flat array and their gradients into another; the layers keep views of the
same shapes and values (:meth:`Layer._adopt`), and the optimizer updates everything in one
call (:meth:`Optimizer.build` with ``flat``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "Packed",
    "pack",
]


class Packed(NamedTuple):
    params: list  # the arrays the layers hold, views of flat[0]
    grads: list  # their gradients, views of flat[1]
    flat: tuple  # (flat_params, flat_grads)


def _arrays(layers):
    params = [p for layer in layers for p in layer.parameters().values()]
    grads = [g for layer in layers for g in layer.gradients().values()]
    return params, grads


def _tail(packed: Packed) -> int:
    base = packed.flat[1].base
    return 0 if base is None else base.size - packed.flat[1].size


def pack(layers: list[Any], previous: Packed | None = None, tail: int = 0) -> Packed | None:
    """Pack the parameters and gradients of ``layers`` (values kept), or return ``previous``
    when the layers still hold exactly its arrays; None without parameters or with mixed
    dtypes. Arrays replaced since (a new dtype after ``compile``, other layers) are packed
    afresh.

    ``tail``: the flat gradient array is the start of one ``tail`` elements longer (its
    ``.base``), so that distributed training reduces a few numbers with the gradients in one
    call."""
    params, grads = _arrays(layers)
    if (
        previous is not None
        and len(previous.params) == len(params)
        and _tail(previous) == tail
        and all(a is b for a, b in zip(previous.params + previous.grads, params + grads))
    ):
        return previous
    if not params or len({a.dtype for a in params + grads}) != 1:
        return None
    total = sum(p.size for p in params)
    flat_params = np.empty(total, dtype=params[0].dtype)
    flat_grads = np.zeros(total + tail, dtype=params[0].dtype)
    flat_grads = flat_grads[:total] if tail else flat_grads
    offset = 0
    for layer in layers:
        gradients = layer.gradients()
        new_params, new_grads = {}, {}
        for name, param in layer.parameters().items():
            end = offset + param.size
            new_params[name] = flat_params[offset:end].reshape(param.shape)
            new_params[name][...] = param
            new_grads[name] = flat_grads[offset:end].reshape(param.shape)
            new_grads[name][...] = gradients[name]
            offset = end
        if new_params:
            layer._adopt(new_params, new_grads)
    return Packed(*_arrays(layers), (flat_params, flat_grads))
