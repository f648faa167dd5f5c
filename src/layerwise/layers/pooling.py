"""Pooling layers, channels-last, with Keras' names, arguments and defaults: ``MaxPooling1D/2D``,
``AveragePooling1D/2D``, ``GlobalAveragePooling1D/2D`` and ``GlobalMaxPooling1D/2D``. The
arithmetic is in :mod:`layerwise.ops.pooling`."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ..exceptions import ShapeMismatchError
from ..ops import (
    Workspace,
    avg_pool2d_backward,
    avg_pool2d_forward,
    conv_geometry,
    global_pool_backward,
    global_pool_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from ..registry import register
from .base import Layer, unique_name
from .convolutional import (
    check_data_format,
    check_sample_shape,
    keras_prefix,
    normalize_padding,
    normalize_tuple,
)

__all__ = [
    "MaxPooling1D",
    "MaxPooling2D",
    "AveragePooling1D",
    "AveragePooling2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
]

_SAMPLE_SHAPES = {1: "(steps, channels)", 2: "(height, width, channels)"}


class _Pooling(Layer):
    """Max or average over sliding windows of each channel; see the concrete classes."""

    rank = 2
    mode = "max"
    _transient = ("_workspace",)

    def __init__(
        self,
        pool_size: Any = 2,
        strides: Any = None,
        padding: str = "valid",
        name: str | None = None,
        data_format: str | None = None,
    ) -> None:
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size")
        self.strides = (
            self.pool_size if strides is None else normalize_tuple(strides, self.rank, "strides")
        )
        self.padding = normalize_padding(padding)
        check_data_format(data_format)
        # Keras' automatic names: conv2d_1, max_pooling2d_1 (no underscore before the 2d).
        super().__init__(name or unique_name(keras_prefix(type(self).__name__)))
        self.geometry = None
        self._workspace = None

    def build(self, input_shape: Any) -> None:
        """Output ``(*pooled, channels)``; refuses inputs smaller than the window."""
        shape = check_sample_shape(self, input_shape, self.rank, _SAMPLE_SHAPES[self.rank])
        ones = (1,) * (2 - self.rank)  # 1-D pooling runs as 2-D pooling of height 1
        try:
            self.geometry = conv_geometry(
                ones + shape[:-1], shape[-1], ones + self.pool_size, ones + self.strides,
                (1, 1), self.padding,
            )
        except ValueError:
            raise ShapeMismatchError(
                f"{type(self).__name__} {self.name!r}: its window {self.pool_size} does not fit "
                f"inputs of size {shape[:-1]} with padding='valid'; use a smaller pool_size, "
                "padding='same', or larger inputs."
            ) from None
        self.input_shape = shape
        self.output_shape = (*self.geometry.output_size[2 - self.rank :], shape[-1])

    def _as_2d(self, array: np.ndarray) -> np.ndarray:
        return array if self.rank == 2 else array.reshape(len(array), 1, *array.shape[1:])

    def forward(self, inputs: Any) -> np.ndarray:
        """The pooled batch ``(n, *pooled, channels)``."""
        if self._workspace is None:
            self._workspace = Workspace()
        n = len(inputs)
        self.input = inputs
        out = (self._buffer("y", (n, *self.geometry.output_size, inputs.shape[-1]))
               if self.training else None)  # outside training NumPy allocates
        if self.mode == "max":  # the windows' choices are kept for a training step only
            pooled = max_pool2d_forward(self._as_2d(inputs), self.geometry, self._workspace,
                                        out=out, keep_choices=self.training)
        else:
            pooled = avg_pool2d_forward(self._as_2d(inputs), self.geometry, self._workspace,
                                        out=out)
        self.output = pooled.reshape(n, *self.output_shape)
        return self.output

    def _infer(self, inputs: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """:meth:`forward` in inference, writing nothing to the layer (its temporaries in a
        workspace of this call), so that several threads may run it at once."""
        x = self._as_2d(inputs)
        if self.mode == "max":
            pooled = max_pool2d_forward(x, self.geometry, Workspace(), keep_choices=False)
        else:
            pooled = avg_pool2d_forward(x, self.geometry, Workspace())
        return pooled.reshape(len(inputs), *self.output_shape)

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """The input gradient (no parameters: None without ``input_gradient``)."""
        if not input_gradient:
            return None
        n = len(output_error)
        error = self._as_2d(output_error.reshape(n, *self.output_shape))
        out = self._buffer("dx", (n, *self.geometry.input_size, self.input_shape[-1]))
        if self.mode == "max":  # reads what the last forward pass kept in the workspace
            parent = self._relu_parent()
            if parent is not None:
                # A window's error goes to its maximum, which is the pooled value: the
                # parent's ReLU derivative there is (pooled > 0). Applied on the pooled error,
                # a pool_size times smaller array, it spares the parent its own pass.
                np.multiply(error, self.output.reshape(error.shape) > 0, out=error)
            gradient = max_pool2d_backward(
                error, self._as_2d(self.input), self._as_2d(self.output), self.geometry,
                self._workspace, out=out,
            )
            if parent is not None:
                gradient = gradient.reshape(n, *self.input_shape)
                parent._relu_applied_to = gradient  # the parent skips its ReLU backward
                return gradient
        else:
            gradient = avg_pool2d_backward(error, self.geometry, self._workspace, out=out)
        return gradient.reshape(n, *self.input_shape)

    def _relu_parent(self):
        """The parent whose ReLU output this layer pools, when it can take the error with the
        ReLU derivative already applied (a Conv1D/Conv2D; the error array it receives is then
        checked to be the very one returned here, so a fan-out sum never skips its ReLU)."""
        parent = self.inbound[0] if len(self.inbound) == 1 else None
        if (
            parent is not None
            and hasattr(parent, "_relu_applied_to")
            and getattr(parent.activation, "name", None) == "relu"
            and parent.output is self.input
            and self.training
        ):
            return parent
        return None

    def set_dtype(self, dtype: DTypeLike) -> None:
        """Change the dtype; the workspace of the old one is dropped."""
        super().set_dtype(dtype)
        self._workspace = None

    def get_config(self) -> dict[str, Any]:
        """``pool_size``, ``strides``, ``padding`` and ``name``."""
        return {
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "name": self.name,
        }


_POOL_DOC = """{kind} pooling over windows of each channel, channels-last (as Keras).

    Args:
        pool_size: window size, an int{pair} (default {default}).
        strides: step of the window (default: ``pool_size``).
        padding: ``'valid'`` or ``'same'`` (output ``ceil(input / stride)``, padding at the
            bottom/right first, as TensorFlow). {padding_rule}
        name: optional layer name.
        data_format: ``None`` or ``'channels_last'`` only.

    Shapes: input ``(n, {axes}, channels)``, output ``(n, {pooled_axes}, channels)``.

    Example::

        x = {name}({default})(previous)
    """
_MAX_RULE = (
    "The gradient of a window goes to its first maximum in row-major order (as PyTorch)."
)
_AVG_RULE = "Padded positions are not counted in a window's mean (as Keras)."


def _pool_doc(name: str, rank: int) -> str:
    kind = "Max" if name.startswith("Max") else "Average"
    return _POOL_DOC.format(
        kind=kind,
        pair=" or a pair" if rank == 2 else "",
        default="(2, 2)" if rank == 2 else "2",
        padding_rule=_MAX_RULE if kind == "Max" else _AVG_RULE,
        axes="height, width" if rank == 2 else "steps",
        pooled_axes="out_h, out_w" if rank == 2 else "out_steps",
        name=name,
    )


@register("max_pooling2d")
class MaxPooling2D(_Pooling):
    __doc__ = _pool_doc("MaxPooling2D", 2)
    rank, mode = 2, "max"

    def __init__(
        self,
        pool_size: Any = (2, 2),
        strides: Any = None,
        padding: Any = "valid",
        name: Any = None,
        data_format: Any = None,
    ) -> None:
        super().__init__(pool_size, strides, padding, name, data_format)


@register("max_pooling1d")
class MaxPooling1D(_Pooling):
    __doc__ = _pool_doc("MaxPooling1D", 1)
    rank, mode = 1, "max"


@register("average_pooling2d")
class AveragePooling2D(_Pooling):
    __doc__ = _pool_doc("AveragePooling2D", 2)
    rank, mode = 2, "avg"

    def __init__(
        self,
        pool_size: Any = (2, 2),
        strides: Any = None,
        padding: Any = "valid",
        name: Any = None,
        data_format: Any = None,
    ) -> None:
        super().__init__(pool_size, strides, padding, name, data_format)


@register("average_pooling1d")
class AveragePooling1D(_Pooling):
    __doc__ = _pool_doc("AveragePooling1D", 1)
    rank, mode = 1, "avg"


class _GlobalPooling(Layer):
    """Mean or maximum over all positions of each channel; see the concrete classes."""

    rank = 2
    mode = "avg"

    def __init__(self, keepdims: bool = False, name: str | None = None,
                 data_format: str | None = None) -> None:
        if not isinstance(keepdims, (bool, np.bool_)):
            raise TypeError(f"Argument 'keepdims' must be True or False; received {keepdims!r}.")
        check_data_format(data_format)
        super().__init__(name or unique_name(keras_prefix(type(self).__name__)))
        self.keepdims = bool(keepdims)

    def build(self, input_shape: Any) -> None:
        """Output ``(channels,)``, or ``(1, ..., 1, channels)`` with ``keepdims``."""
        shape = check_sample_shape(self, input_shape, self.rank, _SAMPLE_SHAPES[self.rank])
        self.input_shape = shape
        self.output_shape = (*(1,) * self.rank, shape[-1]) if self.keepdims else (shape[-1],)

    def forward(self, inputs: Any) -> np.ndarray:
        """``(n, *spatial, channels) -> (n, channels)`` (or with kept unit axes)."""
        self.input = inputs
        self.output = self._infer(inputs)
        return self.output

    def _infer(self, inputs: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return global_pool_forward(inputs, self.mode).reshape(len(inputs), *self.output_shape)

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """The input gradient (no parameters: None without ``input_gradient``)."""
        if not input_gradient:
            return None
        error = output_error.reshape(len(output_error), self.input_shape[-1])
        return global_pool_backward(error, self.input, self.mode)

    def get_config(self) -> dict[str, Any]:
        """``keepdims`` and ``name``."""
        return {"keepdims": self.keepdims, "name": self.name}


_GLOBAL_DOC = """{kind} of each channel over all {positions}, channels-last (as Keras).

    Args:
        keepdims: keep the pooled axes with size 1 (default False).
        name: optional layer name.
        data_format: ``None`` or ``'channels_last'`` only.

    Shapes: input ``(n, {axes}, channels)``, output ``(n, channels)``{kept}.{rule}

    Example::

        outputs = Dense(10, activation='softmax')({name}()(features))
    """


def _global_doc(name: str, rank: int) -> str:
    maximum = "Max" in name
    return _GLOBAL_DOC.format(
        kind="Maximum" if maximum else "Mean",
        positions="positions" if rank == 2 else "steps",
        axes="height, width" if rank == 2 else "steps",
        kept=" (``(n, 1, 1, channels)`` with keepdims)" if rank == 2
        else " (``(n, 1, channels)`` with keepdims)",
        rule=" The gradient goes to the first maximum (row-major) of each channel."
        if maximum else "",
        name=name,
    )


@register("global_average_pooling2d")
class GlobalAveragePooling2D(_GlobalPooling):
    __doc__ = _global_doc("GlobalAveragePooling2D", 2)
    rank, mode = 2, "avg"


@register("global_average_pooling1d")
class GlobalAveragePooling1D(_GlobalPooling):
    __doc__ = _global_doc("GlobalAveragePooling1D", 1) + """
    With a mask (``Embedding(mask_zero=True)``, ``Masking``), the mean is over the unmasked steps
    only, as Keras computes it; a sequence with every step masked gives zeros (Keras: NaN).
    """
    rank, mode = 1, "avg"
    accepts_mask = True
    _transient = ("step_weights",)

    def forward(self, inputs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """The mean over the steps, or over the unmasked steps when a mask arrives."""
        if mask is None:
            self.step_weights = None
            return super().forward(inputs)
        self.input = inputs
        kept = np.asarray(mask, dtype=inputs.dtype)
        self.step_weights = kept / np.maximum(kept.sum(axis=1, keepdims=True), 1)
        output = np.einsum("nt,ntc->nc", self.step_weights, inputs)
        self.output = output.reshape(len(inputs), *self.output_shape)
        return self.output

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """Each unmasked step receives the output error times its weight."""
        if self.step_weights is None:
            return super()._backward(output_error, pre_activation, input_gradient)
        if not input_gradient:
            return None
        error = output_error.reshape(len(output_error), self.input_shape[-1])
        return self.step_weights[:, :, None] * error[:, None, :]


@register("global_max_pooling2d")
class GlobalMaxPooling2D(_GlobalPooling):
    __doc__ = _global_doc("GlobalMaxPooling2D", 2)
    rank, mode = 2, "max"


@register("global_max_pooling1d")
class GlobalMaxPooling1D(_GlobalPooling):
    __doc__ = _global_doc("GlobalMaxPooling1D", 1)
    rank, mode = 1, "max"
