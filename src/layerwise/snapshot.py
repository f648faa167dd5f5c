"""What "the model's state" is, in one place: every parameter, every layer's state (moving
averages) and the optimizer's slots and step count. Training keeps a :class:`Snapshot` of it
to fall back on when it diverges, and refuses to end with any of it non-finite."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Snapshot", "state_arrays", "non_finite"]


def state_arrays(model: Any) -> list[tuple[str, np.ndarray]]:
    """Every array that training changes, by name: parameters, layer state, optimizer slots."""
    arrays = [
        (f"{layer.name}/{name}", array)
        for layer in model.layers
        for group in (layer.parameters(), layer.state())
        for name, array in group.items()
    ]
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        arrays += [
            (f"optimizer/{name}/{slot}", array)
            for name, slots in optimizer.slots.items()
            for slot, array in slots.items()
        ]
    return arrays


def non_finite(model: Any) -> list[str]:
    """The names of the arrays of :func:`state_arrays` that hold NaN or infinity."""
    return [name for name, array in state_arrays(model) if not np.isfinite(array).all()]


class Snapshot:
    """Copies of :func:`state_arrays` and the optimizer's step count, restorable in place
    (layers and optimizers keep referring to the same arrays)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.arrays = [(array, array.copy()) for _, array in state_arrays(model)]
        optimizer = getattr(model, "optimizer", None)
        self.iterations = None if optimizer is None else optimizer.iterations

    def restore(self) -> None:
        """Put every array (and the step count) back as it was when the snapshot was taken."""
        for array, saved in self.arrays:
            np.copyto(array, saved)
        if self.iterations is not None:
            self.model.optimizer.iterations = self.iterations

    def matches(self) -> bool:
        """True when the model still holds exactly the snapshot's values (for tests)."""
        return all(np.array_equal(a, s, equal_nan=True) for a, s in self.arrays)
