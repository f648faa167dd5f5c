"""``Bidirectional``: a recurrent layer run forwards and backwards, outputs merged (Keras)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import registry
from ..registry import register
from .base import Layer
from .recurrent import _Recurrent

__all__ = ["Bidirectional"]


_MERGE_MODES = ("concat", "sum", "mul", "ave")


@register("bidirectional")
class Bidirectional(Layer):
    """Run a recurrent layer forwards and a copy of it backwards, and merge the two outputs.

    Args:
        layer: a ``SimpleRNN``, ``LSTM`` or ``GRU`` (not yet wired); it is copied twice
            (``forward_<name>`` and ``backward_<name>``, the second with ``go_backwards``
            flipped), so both directions start from their own weights.
        merge_mode: ``'concat'`` (default), ``'sum'``, ``'mul'`` or ``'ave'``.
        backward_layer: optional layer to use for the backward direction instead.
        name: optional layer name.

    With ``return_sequences`` the backward direction's sequence is flipped back to the input's
    order before merging, and masked steps output zeros (Keras' behaviour). Weights:
    the forward layer's, then the backward layer's (``get_weights()`` as in Keras).

    Example::

        x = Embedding(5000, 32, mask_zero=True)(Input(shape=(40,), dtype='int32'))
        outputs = Dense(1, activation='sigmoid')(Bidirectional(LSTM(16))(x))
    """

    accepts_mask = True
    _transient = ("_forward_out", "_backward_out", "_sync_names")

    def __init__(self, layer: Any, merge_mode: str = "concat", backward_layer: Any = None,
                 name: str | None = None) -> None:
        super().__init__(name)
        layer = registry.deserialize(layer, "layer") if isinstance(layer, dict) else layer
        if not isinstance(layer, _Recurrent):
            raise TypeError(f"Argument 'layer' of Bidirectional must be a SimpleRNN, LSTM or GRU; "
                            f"received {layer!r:.80}.")
        if not isinstance(merge_mode, str) or merge_mode not in _MERGE_MODES:
            raise ValueError(f"Argument 'merge_mode' must be one of {list(_MERGE_MODES)}; "
                             f"received {merge_mode!r}.")
        self.merge_mode = merge_mode
        config = registry.serialize(layer)
        config["config"]["name"] = f"forward_{layer.name}"
        self.forward_layer = registry.deserialize(config, "layer")
        if backward_layer is None:
            config = registry.serialize(layer)
            config["config"]["name"] = f"backward_{layer.name}"
            config["config"]["go_backwards"] = not layer.go_backwards
            self.backward_layer = registry.deserialize(config, "layer")
        else:
            if isinstance(backward_layer, dict):
                backward_layer = registry.deserialize(backward_layer, "layer")
            if not isinstance(backward_layer, _Recurrent):
                raise TypeError("Argument 'backward_layer' must be a SimpleRNN, LSTM or GRU; "
                                f"received {backward_layer!r:.80}.")
            if backward_layer.go_backwards == self.forward_layer.go_backwards:
                raise ValueError("Argument 'backward_layer' must have the opposite go_backwards "
                                 "of 'layer'.")
            self.backward_layer = backward_layer
        if self.forward_layer.return_sequences != self.backward_layer.return_sequences:
            raise ValueError("The forward and backward layers must agree on return_sequences.")
        self.return_sequences = self.forward_layer.return_sequences
        for sub in self._directions():
            sub.zero_output_for_mask = self.return_sequences

    def _directions(self):
        return (self.forward_layer, self.backward_layer)

    @property
    def trainable(self) -> bool:
        """``Layer.trainable``; setting it sets both directions' too, as Keras' wrappers do."""
        return Layer.trainable.fget(self)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        Layer.trainable.fset(self, value)
        for sub in self._directions():
            sub.trainable = value

    def _check_trainable(self) -> None:
        """The directions train (or not) with the wrapper: one direction alone cannot be frozen
        (this layer holds both directions' weights as its own)."""
        flags = [sub.trainable for sub in self._directions()]
        if any(flag != self.trainable for flag in flags):
            raise ValueError(
                f"Bidirectional {self.name!r}: its directions' trainable flags {flags} differ "
                f"from its own ({self.trainable}); set trainable on the Bidirectional layer "
                "itself, which freezes or thaws both directions."
            )

    def build(self, input_shape: Any) -> None:
        """Build both directions and hold their weights as this layer's own."""
        self.input_shape = tuple(input_shape)
        self.__dict__.pop("_sync_names", None)  # the weights' names: formed again by _sync
        for prefix, sub in zip(("forward", "backward"), self._directions()):
            sub.dtype = self.dtype
            sub.build(self.input_shape)
            for weight, trainable in sub._weights.items():
                setattr(self, f"{prefix}_{weight}", getattr(sub, weight))
                self._weights[f"{prefix}_{weight}"] = trainable
                if trainable:
                    setattr(self, f"grad_{prefix}_{weight}", getattr(sub, f"grad_{weight}"))
                if weight in sub._regularizers:
                    self._regularizers[f"{prefix}_{weight}"] = sub._regularizers[weight]
        shape = self.forward_layer.output_shape
        width = shape[-1] * (2 if self.merge_mode == "concat" else 1)
        self.output_shape = (*shape[:-1], width)

    def _sync(self) -> None:
        # The generic machinery (packing, dtype, loading) rebinds this layer's arrays: the
        # directions compute with whatever this layer holds now. The attribute names are
        # formed once (a one-sample pass would spend microseconds formatting them).
        names = self.__dict__.get("_sync_names")
        if names is None:
            names = self._sync_names = [
                (sub, pairs) for prefix, sub in zip(("forward", "backward"), self._directions())
                for pairs in [[(weight, f"{prefix}_{weight}") for weight in sub._weights]
                              + [(f"grad_{weight}", f"grad_{prefix}_{weight}")
                                 for weight, trainable in sub._weights.items() if trainable]]]
        for sub, pairs in names:
            sub.training, sub.dtype = self.training, self.dtype
            for theirs, ours in pairs:
                setattr(sub, theirs, getattr(self, ours))

    def forward(self, input_data: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Both directions' outputs, merged."""
        self._sync()
        self.input = input_data
        y_f = self.forward_layer.forward(input_data, mask=mask)
        y_b = self.backward_layer.forward(input_data, mask=mask)
        if self.return_sequences:
            y_b = y_b[:, ::-1]
        self._forward_out, self._backward_out = y_f, y_b
        if self.merge_mode == "concat":
            out = np.concatenate([y_f, y_b], axis=-1)
        elif self.merge_mode == "sum":
            out = y_f + y_b
        elif self.merge_mode == "mul":
            out = y_f * y_b
        else:
            out = (y_f + y_b) * self.dtype.type(0.5)
        self.output = out
        return out

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """Split the error between the directions and add their input gradients."""
        self._sync()
        units = self._forward_out.shape[-1]
        if self.merge_mode == "concat":
            e_f, e_b = output_error[..., :units], output_error[..., units:]
        elif self.merge_mode == "sum":
            e_f, e_b = output_error, output_error
        elif self.merge_mode == "mul":
            e_f, e_b = output_error * self._backward_out, output_error * self._forward_out
        else:
            e_f = e_b = output_error * self.dtype.type(0.5)
        if self.return_sequences:
            e_b = e_b[:, ::-1]
        dx_f = self.forward_layer._backward(np.ascontiguousarray(e_f),
                                            input_gradient=input_gradient)
        dx_b = self.backward_layer._backward(np.ascontiguousarray(e_b),
                                             input_gradient=input_gradient)
        return None if not input_gradient else dx_f + dx_b

    def compute_mask(self, inputs: Any, mask: np.ndarray | None) -> np.ndarray | None:
        """The input's mask with ``return_sequences``, else None."""
        return mask if self.return_sequences else None

    def random_generators(self) -> list[np.random.Generator]:
        """Both directions' dropout generators."""
        return [g for sub in self._directions() for g in sub.random_generators()]

    def get_config(self) -> dict[str, Any]:
        """The wrapped layers' configs and the merge mode."""
        forward = registry.serialize(self.forward_layer)
        forward["config"]["name"] = forward["config"]["name"].removeprefix("forward_")
        return {"layer": forward, "merge_mode": self.merge_mode,
                "backward_layer": registry.serialize(self.backward_layer), "name": self.name}
