"""Harness cases of the layers that move values: RepeatVector, Permute, zero padding, cropping
and up-sampling (1-D and 2-D, every argument form)."""

from layer_harness import LayerCase
from layerwise import (
    Cropping1D,
    Cropping2D,
    Permute,
    RepeatVector,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)

CASES = [
    LayerCase("repeat_vector", lambda: RepeatVector(3), [(4,)]),
    LayerCase("permute_2d", lambda: Permute((2, 1)), [(3, 4)]),
    LayerCase("permute_3d", lambda: Permute((3, 1, 2)), [(2, 3, 4)]),
    LayerCase("zero_padding1d", lambda: ZeroPadding1D((2, 1)), [(4, 3)]),
    LayerCase("zero_padding2d_int", lambda: ZeroPadding2D(1), [(3, 2, 2)]),
    LayerCase("zero_padding2d_pairs", lambda: ZeroPadding2D(((1, 0), (0, 2))), [(3, 2, 2)]),
    LayerCase("cropping1d", lambda: Cropping1D((1, 2)), [(6, 2)]),
    LayerCase("cropping2d", lambda: Cropping2D(((1, 0), (2, 1))), [(4, 5, 2)]),
    LayerCase("cropping2d_symmetric", lambda: Cropping2D((1, 1)), [(4, 4, 3)]),
    LayerCase("up_sampling1d", lambda: UpSampling1D(3), [(4, 2)]),
    LayerCase("up_sampling2d", lambda: UpSampling2D((2, 3)), [(3, 2, 2)]),
]
