"""Numerical kernels shared by the layers: convolutions and pooling on channels-last arrays,
and the recurrent and embedding kernels (modules ``recurrent``, ``lstm``, ``gru``,
``embedding``).

Plain functions on NumPy arrays (no layer objects), so that they can be tested against an
independent implementation and timed on their own. Reusable temporaries live in a
:class:`Workspace` that the caller keeps between batches.
"""

from .conv import ConvGeometry, conv2d_backward, conv2d_forward, conv_geometry
from .geometry import conv_output_length, padding_amounts
from .pooling import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    global_pool_backward,
    global_pool_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from .workspace import Workspace

__all__ = [
    "ConvGeometry",
    "Workspace",
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "conv2d_backward",
    "conv2d_forward",
    "conv_geometry",
    "conv_output_length",
    "global_pool_backward",
    "global_pool_forward",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "padding_amounts",
]
