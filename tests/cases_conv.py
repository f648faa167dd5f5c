"""Harness cases of the convolutional family: Conv1D/2D, pooling, and batch normalization and
dropout on 3-D/4-D activations."""

import math

from layer_harness import LayerCase
from layerwise import (
    AveragePooling1D,
    AveragePooling2D,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Dropout,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)


def _distinct(rng, shape):
    """Values that differ clearly, so that a finite difference never swaps a window's maximum."""
    return rng.permutation(math.prod(shape)).reshape(shape) * 0.1 + rng.normal(size=shape) * 0.01


CASES = [
    LayerCase("conv2d_valid_tanh", lambda: Conv2D(3, (2, 3), activation="tanh"), [(5, 6, 2)]),
    LayerCase("conv2d_same_strided", lambda: Conv2D(4, 3, strides=2, padding="same"),
              [(5, 5, 3)]),
    LayerCase(
        "conv2d_dilated_no_bias_l2",
        lambda: Conv2D(2, 2, dilation_rate=2, use_bias=False, kernel_regularizer="l2"),
        [(6, 5, 2)],
    ),
    LayerCase("conv2d_same_relu", lambda: Conv2D(3, 3, padding="same", activation="relu"),
              [(4, 4, 1)]),
    LayerCase("conv2d_sigmoid_pointwise", lambda: Conv2D(2, 1, activation="sigmoid"),
              [(3, 3, 4)]),
    LayerCase("conv1d_valid_tanh", lambda: Conv1D(3, 3, activation="tanh"), [(7, 2)]),
    LayerCase("conv1d_same_strided", lambda: Conv1D(2, 4, strides=2, padding="same"), [(9, 3)]),
    LayerCase("conv1d_causal_dilated", lambda: Conv1D(2, 3, padding="causal", dilation_rate=2),
              [(7, 2)]),
    LayerCase("conv1d_dilated_l1_bias",
              lambda: Conv1D(2, 2, dilation_rate=3, bias_regularizer="l1"), [(8, 2)]),
    LayerCase("max_pooling2d", lambda: MaxPooling2D(2), [(5, 6, 2)], sample=_distinct),
    LayerCase("max_pooling2d_same_overlapping",
              lambda: MaxPooling2D(3, strides=2, padding="same"), [(5, 5, 2)], sample=_distinct),
    LayerCase("max_pooling1d", lambda: MaxPooling1D(2), [(7, 3)], sample=_distinct),
    LayerCase("max_pooling1d_same_stride1",
              lambda: MaxPooling1D(3, strides=1, padding="same"), [(6, 2)], sample=_distinct),
    LayerCase("average_pooling2d", lambda: AveragePooling2D(2), [(4, 6, 2)]),
    LayerCase("average_pooling2d_same",
              lambda: AveragePooling2D((2, 3), strides=(1, 2), padding="same"), [(5, 5, 2)]),
    LayerCase("average_pooling1d_same", lambda: AveragePooling1D(3, padding="same"), [(7, 2)]),
    LayerCase("global_average_pooling2d", lambda: GlobalAveragePooling2D(), [(3, 4, 2)]),
    LayerCase("global_average_pooling1d_keepdims",
              lambda: GlobalAveragePooling1D(keepdims=True), [(5, 3)]),
    LayerCase("global_max_pooling2d", lambda: GlobalMaxPooling2D(), [(3, 4, 2)],
              sample=_distinct),
    LayerCase("global_max_pooling1d", lambda: GlobalMaxPooling1D(), [(5, 3)], sample=_distinct),
    LayerCase("batch_normalization_4d", lambda: BatchNormalization(momentum=0.5), [(3, 4, 2)],
              train_matches_inference=False),
    LayerCase("dropout_4d", lambda: Dropout(0.3, seed=2), [(3, 3, 2)],
              train_matches_inference=False),
]
