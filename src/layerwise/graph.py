"""The functional graph: layers in running order, and running them forward and back.

:class:`Graph` is what a :class:`~layerwise.Model` runs. It owns the backward contract for layers
with several parents or children:

- a layer receives the gradient of its output as an array it owns (it may overwrite it): an array
  that a merge layer hands to several parents is copied for all but the first;
- the gradients that the children of a fan-out return are summed;
- masks (from ``Embedding(mask_zero=True)`` or ``Masking``) flow forward along with the outputs,
  only when some layer makes one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .exceptions import DisconnectedLayersError
from .layers.base import Layer

__all__ = ["Graph", "as_layer_list", "topological_order"]


def as_layer_list(value: Any, argument: str) -> list[Layer]:
    """``value`` (a layer or a list of layers) as a non-empty list of distinct layers."""
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ValueError(f"Argument '{argument}' of Model must not be empty.")
    for item in items:
        if not isinstance(item, Layer):
            raise TypeError(
                f"Argument '{argument}' of Model must be a Layer (or a list of layers); "
                f"received {item!r:.80} of type {type(item).__name__}."
            )
    if len({id(item) for item in items}) != len(items):
        raise ValueError(
            f"Argument '{argument}' of Model lists the same layer twice: "
            f"{[item.name for item in items]}."
        )
    return items


def topological_order(inputs: list[Layer], outputs: Any) -> list[Layer]:
    """Layers from the inputs to the outputs, each after all of its parents: a depth-first walk
    from each output in turn, parents in the order the layer was called on them."""
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    input_ids = {id(layer) for layer in inputs}
    order: list[Layer] = []
    done: set[int] = set()
    on_path: set[int] = set()
    for output in outputs:
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
                raise DisconnectedLayersError(f"The layer graph has a cycle at {layer.name!r}.")
            on_path.add(id(layer))
            stack.append((layer, True))
            if id(layer) in input_ids:
                continue
            if not layer.inbound:
                raise DisconnectedLayersError(
                    f"Layer {layer.name!r} is reached from the outputs but is not one of the "
                    f"model's inputs {[i.name for i in inputs]}: the outputs are not connected to "
                    "the inputs through it. Pass it in 'inputs' or connect it with "
                    "layer(previous_layer)."
                )
            stack.extend((parent, False) for parent in reversed(layer.inbound))
    missing = [i.name for i in inputs if id(i) not in done]
    if missing:
        raise DisconnectedLayersError(
            f"Input layer(s) {missing} are not connected to the outputs "
            f"{[o.name for o in outputs]}; build the model by calling each layer on the previous "
            "one, e.g. Dense(8)(inputs)."
        )
    return order


class Graph:
    """The layers between ``inputs`` and ``outputs``, in running order.

    Attributes:
        layers: every layer, each after its parents.
        parents: for each layer, the indices of its parents in ``layers`` (empty for inputs).
        input_indices, output_indices: where the model's inputs and outputs are in ``layers``.
        children: for each layer, how many layers consume its output.
    """

    def __init__(self, inputs: list[Layer], outputs: list[Layer]) -> None:
        self.layers = topological_order(inputs, outputs)
        index = {id(layer): i for i, layer in enumerate(self.layers)}
        input_ids = {id(layer) for layer in inputs}
        self.parents = [
            () if id(layer) in input_ids else tuple(index[id(p)] for p in layer.inbound)
            for layer in self.layers
        ]
        self.input_indices = [index[id(layer)] for layer in inputs]
        self.output_indices = [index[id(layer)] for layer in outputs]
        self.children = [0] * len(self.layers)
        for parents in self.parents:
            for p in parents:
                self.children[p] += 1
        self.find_gradient_paths()
        # Masks are tracked only when some layer makes one (Embedding(mask_zero), Masking).
        self.masking = any(
            type(layer).compute_mask is not Layer.compute_mask for layer in self.layers
        )
        self.output_masks: list = [None] * len(outputs)
        # Every layer computes its inference output without writing to itself (Layer._infer):
        # then predict may run several passes at once, one per thread (layerwise.inference).
        self.inferable = not self.masking and all(
            type(layer)._infer is not Layer._infer for layer in self.layers
        )
        self._chain = (
            len(inputs) == 1
            and len(outputs) == 1
            and not self.masking
            and all(len(p) <= 1 for p in self.parents)
            and self.output_indices == [len(self.layers) - 1]
        )

    def check_trainable(self) -> None:
        """Every layer's ``_check_trainable`` (a ValueError before anything changes)."""
        for layer in self.layers:
            layer._check_trainable()

    def find_gradient_paths(self) -> None:
        """Which layers need the gradient of their input (``needs_input_gradient``): those
        with a trainable layer upstream. Called again by compile and fit, after layers were
        frozen or thawed: behind a frozen base nothing is backpropagated."""
        upstream: list[bool] = []
        for parents in self.parents:
            upstream.append(any(
                upstream[p] or (self.layers[p].trainable and self.layers[p].parameters())
                for p in parents
            ))
        self.needs_input_gradient = upstream
        self.frozen = [not layer.trainable for layer in self.layers]

    # ------------------------------------------------------------------ forward
    def forward(self, inputs: list) -> list:
        """Run every layer on its parents' outputs; returns the outputs' arrays, in order."""
        layers = self.layers
        if self._chain:  # the common case: a chain from one input to one output
            x = inputs[0]
            for layer in layers:
                x = layer.forward(x)
            return [x]
        results: list = [None] * len(layers)
        for k, i in enumerate(self.input_indices):
            results[i] = inputs[k]
        if not self.masking:  # no masks to carry: each layer on its parents' outputs, no more
            for i, (layer, parents) in enumerate(zip(layers, self.parents)):
                if not parents:
                    results[i] = layer.forward(results[i])
                elif layer.multiple_inputs:
                    results[i] = layer.forward([results[p] for p in parents])
                else:
                    results[i] = layer.forward(results[parents[0]])
            return [results[i] for i in self.output_indices]
        masks: list = [None] * len(layers)
        for i, (layer, parents) in enumerate(zip(layers, self.parents)):
            if not parents:
                x, mask = results[i], None
            elif layer.multiple_inputs:
                x = [results[p] for p in parents]
                mask = [masks[p] for p in parents]
            else:
                x, mask = results[parents[0]], masks[parents[0]]
            if layer.accepts_mask:
                results[i] = layer.forward(x, mask=mask)
            else:
                results[i] = layer.forward(x)
            if self.masking:
                masks[i] = layer.compute_mask(x, mask)
        self.output_masks = [masks[i] for i in self.output_indices]
        return [results[i] for i in self.output_indices]

    def infer(
        self, inputs: list, workspace: list | None = None, check_products: frozenset = frozenset()
    ) -> list:
        """The outputs' arrays for ``inputs`` in inference mode, through every layer's
        ``_infer``: nothing is written to the layers, so several threads may run it at once.
        Only for a graph that is ``inferable``.

        ``workspace`` (a list with one item per layer, None at first, owned by one thread)
        keeps each layer's output array for the next call, which writes over it: the outputs
        returned are then valid only until that call. The dense layers at the indices in
        ``check_products`` check their products (``Dense._infer``'s ``check_product``).
        """
        if self._chain and workspace is None and not check_products:  # one-sample predict
            x = inputs[0]
            for layer in self.layers:
                x = layer._infer(x)
            return [x]
        n = len(inputs[0])
        results: list = [None] * len(self.layers)
        for k, i in enumerate(self.input_indices):
            results[i] = inputs[k]
        for i, (layer, parents) in enumerate(zip(self.layers, self.parents)):
            if not parents:
                x = results[i]
            elif layer.multiple_inputs:
                x = [results[p] for p in parents]
            else:
                x = results[parents[0]]
            out = None
            if workspace is not None and parents:
                out = workspace[i]
                if out is None or len(out) < n:
                    # np.empty only reserves: a layer that returns a view never touches it.
                    out = workspace[i] = np.empty((n, *layer.output_shape), dtype=layer.dtype)
                out = out[:n]
            if i in check_products:
                results[i] = layer._infer(x, out, check_product=True)
            else:
                results[i] = layer._infer(x, out)
        return [results[i] for i in self.output_indices]

    # ----------------------------------------------------------------- backward
    def backward(
        self,
        output_errors: list,
        pre_activation: list[bool],
        all_inputs: bool = False,
        descend: bool = False,
    ) -> list:
        """Run every layer's backward from the outputs' errors; returns the gradient with
        respect to each model input (None where no layer needed it).

        ``pre_activation[k]`` says that output ``k``'s error is already the gradient before its
        output activation (a fused loss). With ``descend`` every layer also takes its plain
        gradient-descent step as soon as the error has passed it (the gradients must already
        carry the learning rate).
        """
        layers, parents_of = self.layers, self.parents
        frozen = self.__dict__.get("frozen") or [False] * len(layers)  # pickles from before
        errors: list = [None] * len(layers)
        fused = [False] * len(layers)
        for k, i in enumerate(self.output_indices):
            errors[i] = output_errors[k]
            fused[i] = pre_activation[k]
        for i in range(len(layers) - 1, -1, -1):
            error = errors[i]
            if error is None:
                continue
            layer = layers[i]
            needs = all_inputs or self.needs_input_gradient[i]
            # A frozen layer passes the error on but takes no step.
            step = layer._backward_descend if descend and not frozen[i] else layer._backward
            error = step(error, pre_activation=fused[i], input_gradient=needs)
            parents = parents_of[i]
            if error is None or not parents:
                errors[i] = error if not parents else None
                continue
            errors[i] = None
            if layer.multiple_inputs:
                handed: list = []
                for p, part in zip(parents, error):
                    if any(part is other for other in handed):
                        part = part.copy()  # the same array to two parents: each owns its own
                    handed.append(part)
                    errors[p] = part if errors[p] is None else errors[p] + part
            else:
                p = parents[0]
                errors[p] = error if errors[p] is None else errors[p] + error
        return [errors[i] if not parents_of[i] else None for i in self.input_indices]
