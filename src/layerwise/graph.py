"""The layer graph: from a model's input and output layers to the layers in running order."""

from __future__ import annotations

from .exceptions import DisconnectedLayersError
from .layers.base import Layer

__all__ = ["as_layer_list", "topological_order"]


def as_layer_list(value, argument: str) -> list[Layer]:
    """``value`` (a layer or a list of layers) as a non-empty list, checked."""
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ValueError(f"Argument '{argument}' of Model must not be empty.")
    for item in items:
        if not isinstance(item, Layer):
            raise TypeError(
                f"Argument '{argument}' of Model must be a Layer (or a list of layers); "
                f"received {item!r:.80} of type {type(item).__name__}."
            )
    return items


def topological_order(inputs: list[Layer], output: Layer) -> list[Layer]:
    """Layers from the inputs to ``output``, each after all of its parents (iterative DFS)."""
    order: list[Layer] = []
    done: set[int] = set()
    on_path: set[int] = set()
    stack: list[tuple[Layer, bool]] = [(output, False)]
    while stack:
        layer, expanded = stack.pop()
        if expanded:
            on_path.discard(id(layer))
            if id(layer) not in done:
                done.add(id(layer))
                order.append(layer)
            continue
        if id(layer) in done:
            continue
        if id(layer) in on_path:  # pragma: no cover - __call__ builds acyclic graphs
            raise DisconnectedLayersError(f"The layer graph has a cycle through {layer.name!r}.")
        on_path.add(id(layer))
        stack.append((layer, True))
        if layer in inputs:
            continue
        if not layer.inbound:
            raise DisconnectedLayersError(
                f"Layer {layer.name!r} is reached from the outputs but is not one of the model's "
                f"inputs {[i.name for i in inputs]}: the outputs are not connected to the inputs "
                "through it. Pass it in 'inputs' or connect it with layer(previous_layer)."
            )
        stack.extend((parent, False) for parent in reversed(layer.inbound))
    missing = [i.name for i in inputs if id(i) not in done]
    if missing:
        raise DisconnectedLayersError(
            f"Input layer(s) {missing} are not connected to the output {output.name!r}; build the "
            "model by calling each layer on the previous one, e.g. Dense(8)(inputs)."
        )
    return order
