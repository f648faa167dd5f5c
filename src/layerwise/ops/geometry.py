"""Output sizes and padding of sliding windows, as Keras and TensorFlow compute them, and
``ConvGeometry``, all of a convolution's or pooling's shapes but the batch size."""

from __future__ import annotations

import functools

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = ["ConvGeometry", "conv_geometry", "conv_output_length", "padding_amounts",
           "strided_view"]


def conv_output_length(length: int, window: int, stride: int, dilation: int, padding: str) -> int:
    """Positions of a window sliding over ``length`` elements.

    ``'valid'``: ``floor((length - effective_window) / stride) + 1`` (0 or less when the window
    does not fit); ``'same'``: ``ceil(length / stride)``, whatever the window; ``'causal'``
    (1-D): ``'valid'`` after padding ``effective_window - 1`` before. The effective
    window of a dilated kernel is ``(window - 1) * dilation + 1``.

    Example:
        >>> conv_output_length(28, 3, 1, 1, "valid"), conv_output_length(5, 2, 2, 1, "same")
        (26, 3)
    """
    if padding == "same":
        return -(-length // stride)
    if padding == "causal":  # padded before by the dilated window less one: 'valid' on that
        return (length - 1) // stride + 1
    effective = (window - 1) * dilation + 1
    return (length - effective) // stride + 1


def padding_amounts(
    length: int, window: int, stride: int, dilation: int, padding: str
) -> tuple[int, int]:
    """``(before, after)`` padding of one axis. ``'same'`` pads ``max((out - 1) * stride +
    effective_window - length, 0)`` in all, the odd one after (bottom/right), as TensorFlow.

    Example:
        >>> padding_amounts(5, 2, 2, 1, "same"), padding_amounts(28, 3, 1, 1, "same")
        ((0, 1), (1, 1))
    """
    if padding == "causal":  # Keras' Conv1D: every output sees only the present and the past
        return ((window - 1) * dilation, 0)
    if padding != "same":
        return (0, 0)
    output = conv_output_length(length, window, stride, dilation, "same")
    effective = (window - 1) * dilation + 1
    total = max((output - 1) * stride + effective - length, 0)
    return (total // 2, total - total // 2)


def strided_view(
    array: np.ndarray, shape: tuple[int, ...], strides: tuple[int, ...], writeable: bool
) -> np.ndarray:
    """``as_strided(array, shape, strides, writeable=writeable)``, in about a fifth of the time
    for a C-contiguous ``array`` (a view made straight on its buffer; ``as_strided`` builds it
    through Python objects, ~2.5 us, which a one-sample forward pass pays in every layer).
    ``shape`` and ``strides`` must stay inside ``array``, as for the windows of an image.

    Example:
        >>> strided_view(np.arange(4.0), (3, 2), (8, 8), False).tolist()
        [[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]]
    """
    if not array.flags.c_contiguous:
        return as_strided(array, shape, strides, writeable=writeable)
    view = np.ndarray(shape, array.dtype, array, 0, strides)
    if not writeable:
        view.flags.writeable = False
    return view


class ConvGeometry:
    """Everything about a convolution's shapes except the batch size: immutable, equal and
    hashed by its fields (a key of the workspace's plans). Written out rather than a frozen
    dataclass, whose module and code generation cost 1.3 ms of ``import layerwise``.

    Attributes:
        input_size: ``(height, width)`` of one sample.
        channels: input channels.
        kernel_size: ``(kernel_h, kernel_w)``.
        strides, dilation: ``(along height, along width)``.
        padding: ``((top, bottom), (left, right))`` zero padding.
        output_size: ``(out_h, out_w)``.
    """

    _FIELDS = ("input_size", "channels", "kernel_size", "strides", "dilation", "padding",
               "output_size")
    input_size: tuple[int, int]
    channels: int
    kernel_size: tuple[int, int]
    strides: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[tuple[int, int], tuple[int, int]]
    output_size: tuple[int, int]

    def __init__(self, input_size: tuple[int, int], channels: int,
                 kernel_size: tuple[int, int], strides: tuple[int, int],
                 dilation: tuple[int, int], padding: tuple[tuple[int, int], tuple[int, int]],
                 output_size: tuple[int, int]) -> None:
        values = (input_size, channels, kernel_size, strides, dilation, padding, output_size)
        self.__dict__.update(zip(self._FIELDS, values))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ConvGeometry is immutable: cannot set {name!r}.")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"ConvGeometry is immutable: cannot delete {name!r}.")

    def _key(self) -> tuple:
        return tuple(self.__dict__[name] for name in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={self.__dict__[name]!r}" for name in self._FIELDS)
        return f"ConvGeometry({fields})"

    @functools.cached_property  # read at every pass: computed once
    def padded_size(self) -> tuple[int, int]:
        """``(height, width)`` after padding."""
        (top, bottom), (left, right) = self.padding
        return (self.input_size[0] + top + bottom, self.input_size[1] + left + right)

    @functools.cached_property
    def patch_size(self) -> int:
        """Values in one receptive field: ``kernel_h * kernel_w * channels``."""
        return self.kernel_size[0] * self.kernel_size[1] * self.channels

    @functools.cached_property
    def padded(self) -> bool:
        """Whether any side is padded."""
        return any(any(side) for side in self.padding)

    @functools.cached_property
    def tiles(self) -> bool:
        """Whether the windows tile the input without padding or overlap (stride == window)."""
        return self.strides == self.kernel_size and not self.padded

    @functools.cached_property
    def tile_slices(self) -> tuple:
        """For tiling windows: ``(rows, columns)``, the slices that take row ``i`` (column
        ``j``) of every window, for each ``i`` (``j``)."""
        (out_h, out_w), (window_h, window_w) = self.output_size, self.kernel_size
        return (tuple(slice(i, out_h * window_h, window_h) for i in range(window_h)),
                tuple(slice(j, out_w * window_w, window_w) for j in range(window_w)))

    @functools.cached_property
    def offset_slices(self) -> tuple:
        """For each window offset ``(i, j)``, row-major: the ``(rows, columns)`` slices of the
        (padded) input that hold element ``(i, j)`` of every window."""
        (stride_h, stride_w), (out_h, out_w) = self.strides, self.output_size
        (dil_h, dil_w) = self.dilation
        return tuple(
            (slice(i * dil_h, i * dil_h + (out_h - 1) * stride_h + 1, stride_h),
             slice(j * dil_w, j * dil_w + (out_w - 1) * stride_w + 1, stride_w))
            for i in range(self.kernel_size[0]) for j in range(self.kernel_size[1]))


def conv_geometry(
    input_size: tuple[int, int],
    channels: int,
    kernel_size: tuple[int, int],
    strides: tuple[int, int] = (1, 1),
    dilation: tuple[int, int] = (1, 1),
    padding: str = "valid",
) -> ConvGeometry:
    """The geometry of a convolution with ``'valid'`` or ``'same'`` padding (TensorFlow's rule:
    output ``ceil(input / stride)``, the odd padded pixel at the bottom/right).

    Raises ValueError when the (dilated) kernel does not fit the input.

    Example:
        >>> conv_geometry((28, 28), 1, (3, 3)).output_size
        (26, 26)
    """
    sizes = [
        conv_output_length(length, k, s, d, padding)
        for length, k, s, d in zip(input_size, kernel_size, strides, dilation)
    ]
    if min(sizes) <= 0:
        raise ValueError(
            f"A kernel of size {tuple(kernel_size)} with dilation {tuple(dilation)} does not "
            f"fit an input of size {tuple(input_size)} with padding {padding!r}."
        )
    pads = tuple(
        padding_amounts(length, k, s, d, padding)
        for length, k, s, d in zip(input_size, kernel_size, strides, dilation)
    )
    return ConvGeometry(
        tuple(input_size), int(channels), tuple(kernel_size), tuple(strides), tuple(dilation),
        pads, tuple(sizes),
    )
