"""Harness cases of the core, merge, shape, dropout and normalization layers."""

import math

from layer_harness import LayerCase
from layerwise import (
    Activation,
    Add,
    Average,
    BatchNormalization,
    Concatenate,
    Dense,
    Dropout,
    Flatten,
    Input,
    Maximum,
    Minimum,
    Multiply,
    Reshape,
    Subtract,
)


def _distinct(rng, shape):
    """Inputs whose values differ clearly, so max/min have no near-ties for differences."""
    return rng.permutation(math.prod(shape)).reshape(shape) * 0.1 + rng.normal(size=shape) * 0.01


CASES = [
    LayerCase("input", lambda: Input((5,))),
    LayerCase("dense_tanh", lambda: Dense(4, activation="tanh")),
    LayerCase("dense_softmax_3d", lambda: Dense(3, activation="softmax"), [(2, 5)]),
    LayerCase("dense_no_bias_l2", lambda: Dense(3, use_bias=False, kernel_regularizer="l2")),
    LayerCase("activation_gelu", lambda: Activation("gelu"), [(3, 4)]),
    LayerCase("dropout", lambda: Dropout(0.3, seed=1), [(6,)], train_matches_inference=False),
    LayerCase(
        "batch_normalization_3d",
        lambda: BatchNormalization(momentum=0.5),
        [(3, 4)],
        train_matches_inference=False,
    ),
    LayerCase("add", lambda: Add(), [(4,), (4,), (4,)]),
    LayerCase("subtract", lambda: Subtract(), [(2, 3), (2, 3)]),
    LayerCase("multiply", lambda: Multiply(), [(4,), (4,), (4,)]),
    LayerCase("average", lambda: Average(), [(4,), (4,)]),
    LayerCase("maximum", lambda: Maximum(), [(4,), (4,), (4,)], sample=_distinct),
    LayerCase("minimum", lambda: Minimum(), [(4,), (4,)], sample=_distinct),
    LayerCase("concatenate_last", lambda: Concatenate(), [(2, 3), (2, 1)]),
    LayerCase("concatenate_axis1", lambda: Concatenate(axis=1), [(2, 3), (4, 3)]),
    LayerCase("flatten", lambda: Flatten(), [(2, 3, 2)]),
    LayerCase("reshape", lambda: Reshape((-1, 2)), [(6,)]),
]
