"""The start of a distributed ``fit``: every process takes rank 0's model.

Broadcast from rank 0: the parameters (one call on the packed array), the layers' state
(moving averages), the optimizer's state, step count and learning rate, and the shuffling
generator (so that every process draws the same sample order). Random generators of layers
(dropout masks) are not copied but derived, once per model, from rank 0's by jumping them
``rank`` times ahead: independent streams on each process, reproducible from the seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["broadcast_model"]


def _signature(model) -> list:
    """What must be equal on every process for their models to be copies of each other."""
    return [model.dtype.name, type(model.optimizer).__name__] + [
        (name, tuple(array.shape)) for name, array in model._weight_items()
    ] + [layer.name for layer in model.layers if not layer.trainable]


def _layer_generators(model) -> list[np.random.Generator]:
    generators = []
    for layer in model.layers:
        found = getattr(layer, "random_generators", None)
        if callable(found):
            generators.extend(found())
        elif isinstance(getattr(layer, "rng", None), np.random.Generator):
            generators.append(layer.rng)
    return generators


def broadcast_model(model: Any, strategy: Any) -> None:
    """Make ``model`` on every process a copy of rank 0's (weights, state, optimizer, shuffling).

    Raises:
        DistributedError / ValueError: the processes built different models (another
            architecture, dtype or optimizer): on every process, before anything is changed.
    """
    comm = strategy.comm
    signatures = comm.allgather(_signature(model))
    error = None
    if any(s != signatures[0] for s in signatures):
        rank = next(r for r, s in enumerate(signatures) if s != signatures[0])
        error = ValueError(
            f"The model of process {rank} differs from rank 0's (architecture, dtype or "
            f"optimizer); every process must build and compile the same model."
        )
    strategy.agree(error if strategy.is_chief else None)

    packed = getattr(model, "_packed", None)
    if packed is not None:
        comm.Bcast(packed.flat[0], root=0)
    else:
        for array in model._params:
            _bcast_arrays_inplace(strategy, array)
    for layer in model.layers:  # state, and frozen layers' parameters (not packed)
        frozen = () if layer.trainable else layer.parameters().values()
        for array in (*frozen, *layer.state().values()):
            _bcast_arrays_inplace(strategy, array)

    optimizer = model.optimizer
    flat = getattr(optimizer, "_flat", None)
    if flat is not None:
        for array in flat[2].values():  # every slot packed like the parameters
            comm.Bcast(array, root=0)
    else:
        for name in optimizer._names:
            for array in optimizer.slots.get(name, {}).values():
                _bcast_arrays_inplace(strategy, array)
    settings = (optimizer.iterations, optimizer.learning_rate, model._rng.bit_generator.state)
    iterations, rate, shuffling = comm.bcast(settings, root=0)
    optimizer.iterations, optimizer.learning_rate = iterations, rate
    model._rng.bit_generator.state = shuffling

    if not getattr(model, "_layer_streams_split", False):
        states = comm.bcast([g.bit_generator.state for g in _layer_generators(model)], root=0)
        for generator, state in zip(_layer_generators(model), states):
            bit = type(generator.bit_generator)()
            bit.state = state
            if strategy.rank:
                bit = bit.jumped(strategy.rank)
            generator.bit_generator.state = bit.state
        model._layer_streams_split = True


def _bcast_arrays_inplace(strategy, array: np.ndarray) -> None:
    """Broadcast into ``array`` even when it is a non-contiguous view."""
    if array.flags.c_contiguous:
        strategy.comm.Bcast(array, root=0)
        return
    copy = np.ascontiguousarray(array)
    strategy.comm.Bcast(copy, root=0)
    array[...] = copy
