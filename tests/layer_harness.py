"""The form of a layer-harness case (see test_layer_harness.py), shared by tests/cases_*.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class LayerCase:
    """One way to build and feed a layer for the harness.

    Attributes:
        id: a short name for the test ids, e.g. ``"dense_relu"``.
        make: returns a new, unwired layer.
        input_shapes: one sample's shape for each input (one tuple for a layer with one input).
        sample: draws a batch for one input ``(rng, shape) -> array``; default standard normal.
        integer_inputs: the inputs hold integer ids (no input gradient is checked for them).
        train_matches_inference: the training-mode output equals the inference output (False
            for dropout and batch normalization).
        onnx: the layer has an ONNX converter to check.
        rtol: tolerance of the finite-difference check.
    """

    id: str
    make: Callable
    input_shapes: list = field(default_factory=lambda: [(5,)])
    sample: Callable | None = None
    integer_inputs: bool = False
    train_matches_inference: bool = True
    onnx: bool = True
    rtol: float = 1e-6

    def draw(self, rng: np.random.Generator, n: int) -> list[np.ndarray]:
        """A batch of ``n`` samples for each input."""
        draw = self.sample or (lambda r, shape: r.normal(size=shape))
        return [np.asarray(draw(rng, (n, *shape))) for shape in self.input_shapes]
