"""Turning what the user gives ``fit``, ``evaluate`` and ``train_on_batch`` into checked
arrays and batches: one array per input and output (lists, dicts by layer name, or a single
array), the targets as each output's loss reads them, sample and class weights, and the
validation data. Mixed into :class:`~layerwise.training.Trainer`; everything here runs before
the first weight changes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import weighting
from .data import ArrayBatches, PairBatches, as_features, as_numeric_array, check_finite
from .exceptions import ShapeMismatchError
from .layers.base import check_positive_int

__all__ = ["DataFeeding", "EVALUATE_BATCH"]

EVALUATE_BATCH = 1024  # rows per evaluation pass (fewer for large activations)


class DataFeeding:
    """The data half of the training methods (see the module docstring)."""

    def _evaluate_batch(self) -> int:
        """Rows per evaluation pass: 1024, or fewer where predict's rule (at most 2**21
        values in any layer's output per pass, see Model._predict_batch) asks for fewer."""
        predict_batch = getattr(self, "_predict_batch", None)
        return min(EVALUATE_BATCH, predict_batch()) if predict_batch else EVALUATE_BATCH

    def _structured(self, value, names: list[str], argument: str, what: str):
        """``value`` as one item per input (or output): a list/tuple in order, a dict by layer
        name, or (for one) the value itself. Returns ``(items, argument names)``."""
        if isinstance(value, dict):
            unknown = sorted((k for k in value if k not in names), key=str)
            missing = [n for n in names if n not in value]
            if unknown or missing:
                raise ValueError(
                    f"Argument '{argument}' is a dict by {what} name; the model's {what}s are "
                    f"{names}, but it has unknown keys {unknown} and lacks {missing}."
                )
            return [value[n] for n in names], [f"{argument}[{n!r}]" for n in names]
        if len(names) == 1:
            if (
                isinstance(value, (list, tuple))
                and len(value) == 1
                and isinstance(value[0], np.ndarray)
                and value[0].ndim >= 2
            ):
                value = value[0]  # Keras' [x] for a model with one input
            return [value], [argument]
        if not isinstance(value, (list, tuple)) or len(value) != len(names):
            size = (
                f"{len(value)} items" if isinstance(value, (list, tuple)) else type(value).__name__
            )
            raise ValueError(
                f"Argument '{argument}' must hold one array per {what} of the model, {names}: a "
                f"list of {len(names)} arrays in that order or a dict by {what} name; received "
                f"{size}."
            )
        return list(value), [f"{argument}[{k}]" for k in range(len(names))]

    def _input_arrays(self, x, argument: str) -> list[np.ndarray]:
        """The model's inputs as arrays in its dtype, checked (shape, NaN, sample counts)."""
        return self._input_arrays_and_names(x, argument)[0]

    def _input_arrays_and_names(
        self, x, argument: str, check_values: bool = True
    ) -> tuple[list[np.ndarray], list[str]]:
        """:meth:`_input_arrays` and the argument name of each (``x``, ``x['a']``, ...);
        floating inputs are checked for NaN only with ``check_values``."""
        if len(self.input_layers) == 1 and type(x) is np.ndarray and self._ready_input(x):
            if check_values:
                check_finite(x, argument)
            return [x], [argument]
        items, names = self._structured(x, self.input_names, argument, "input")
        dtypes = [getattr(layer, "input_dtype", None) for layer in self.input_layers]
        arrays = [
            as_features(item, shape, self.dtype if dtype is None else dtype, name, check_values)
            for item, shape, name, dtype in zip(items, self.input_shapes, names, dtypes)
        ]
        _same_length(arrays, names)
        return arrays, names

    def _ready_input(self, x: np.ndarray) -> bool:
        """Whether ``x`` is already what the general path would make of it for the single
        input (a C-contiguous array of the input's dtype and sample shape): then only its NaN
        check is left, which a one-sample predict pays instead of several microseconds of
        conversions."""
        dtype = getattr(self.input_layers[0], "input_dtype", None)
        if dtype is None:
            dtype = self.dtype
        # ndim 1: the general path reshapes a single feature's column.
        return (x.dtype == dtype and x.ndim > 1 and x.shape[1:] == self.input_shapes[0]
                and x.flags.c_contiguous)

    def _target_arrays(self, y, argument: str, n: int) -> list[np.ndarray]:
        """The targets of every output as its loss consumes them, checked."""
        items, names = self._structured(y, self.output_names, argument, "output")
        arrays = []
        for item, name, loss, shape in zip(items, names, self.losses, self.output_shapes):
            array = as_numeric_array(item, name)
            if array.ndim == 0:
                raise ValueError(
                    f"Argument '{name}' is a single number; it must hold one target per sample."
                )
            check_finite(array, name)
            try:
                arrays.append(loss.targets(array, shape, self.dtype))
            except ShapeMismatchError as error:
                raise ShapeMismatchError(_with_argument(str(error), name, shape)) from None
        _same_length(arrays, names)
        if arrays and len(arrays[0]) != n:
            raise ValueError(
                f"The inputs hold {n} samples but '{argument}' holds {len(arrays[0])}; they must "
                "hold the same number of samples."
            )
        return arrays

    def _convert_xy(self, x, y, x_name: str = "x_train", y_name: str = "y_train"):
        """Features and targets as the model consumes them; raises before anything changes."""
        xs = self._input_arrays(x, x_name)
        if len(xs[0]) == 0:
            raise ValueError(f"Argument '{x_name}' holds no samples.")
        try:
            ys = self._target_arrays(y, y_name, len(xs[0]))
        except ValueError as error:
            if "same number of samples" not in str(error):
                raise
            raise ValueError(
                f"Arguments '{x_name}' and '{y_name}' must hold the same number of samples; "
                f"received {len(xs[0])} and another count."
            ) from None
        return xs, ys

    def _convert_batch(self, xb, yb, wb=None):
        """One ``(x, y)`` or ``(x, y, sample_weight)`` batch from an iterable, checked; the
        weights (one array per output) follow the targets, as :meth:`_attach_weights` does."""
        xs, ys = self._convert_xy(xb, yb, "x_batch", "y_batch")
        if wb is not None:
            weights = weighting.check_sample_weights(
                wb, self.output_names, len(xs[0]), "sample_weight of a batch"
            )
            ys = list(ys) + [w.astype(self.dtype) for w in weights]
        return xs, ys

    def _batches(self, x, y, batch_size, shuffle, steps_per_epoch, x_name, y_name,
                 steps_argument="steps_per_epoch"):
        if y is None:
            if isinstance(x, np.ndarray):
                raise TypeError(f"Argument '{y_name}' is required when '{x_name}' is an array.")
            batches = PairBatches(x, steps_per_epoch, self._convert_batch, x_name, steps_argument)
            return batches, None
        if steps_per_epoch is not None:
            raise ValueError(
                "Argument 'steps_per_epoch' is for generators of (x_batch, y_batch) pairs; with "
                "arrays, every sample is used once per epoch."
            )
        xs, ys = self._convert_xy(x, y, x_name, y_name)
        batches = ArrayBatches(xs, ys, batch_size, shuffle, self._rng)
        return batches, batches

    def _validation_batches(
        self, train, arrays, validation_data, split, batch_size, shuffle, steps=None,
        validation_batch_size=None, hook_rows=None,
    ):
        """The training batches and the validation batches (``validation_split``), or the
        validation batches alone (``validation_data``; None without). Arrays are validated
        in passes of ``validation_batch_size`` rows, by default ``hook_rows`` (given when a
        callback takes the test batch hooks) or the evaluation's (1024 or fewer):
        the batch size changes only how many ``on_test_batch_*`` calls there are, not the
        values, which are means over all samples."""
        if validation_batch_size is not None:
            validation_batch_size = check_positive_int(validation_batch_size,
                                                       "validation_batch_size")
            if validation_data is None and not split:
                raise ValueError(
                    "Argument 'validation_batch_size' needs validation_data or "
                    "validation_split."
                )
        rows = validation_batch_size or hook_rows or self._evaluate_batch()
        if not isinstance(split, (int, float)) or isinstance(split, bool) or not 0 <= split < 1:
            raise ValueError(
                f"Argument 'validation_split' must be a number in [0, 1); received {split!r}."
            )
        if split and validation_data is not None:
            raise ValueError("Give either 'validation_data' or 'validation_split', not both.")
        if split:
            if arrays is None:
                raise ValueError("Argument 'validation_split' needs arrays, not a generator.")
            n = arrays.samples
            cut = int(math.floor(n * (1 - split)))
            if cut == 0 or cut == n:
                raise ValueError(
                    f"validation_split={split} leaves no samples for training or validation "
                    f"out of {n}."
                )
            held_out = arrays.subset(cut, n, rows, False)
            return arrays.subset(0, cut, batch_size, shuffle), held_out
        if validation_data is None:
            return None
        if (
            isinstance(validation_data, tuple)
            and len(validation_data) == 3
            and not _is_array_pair(validation_data[0], several=len(self.input_layers) > 1)
        ):
            # (x_val, y_val, sample_weight_val), as Keras accepts
            xs, ys = self._convert_xy(*validation_data[:2], "validation_data[0]",
                                      "validation_data[1]")
            batches = ArrayBatches(xs, ys, rows, False, self._rng)
            self._attach_weights(batches, validation_data[2], None, "validation_data[2]")
            return batches
        if _is_array_pair(validation_data, several=len(self.input_layers) > 1):
            xs, ys = self._convert_xy(*validation_data, "validation_data[0]", "validation_data[1]")
            return ArrayBatches(xs, ys, rows, False, self._rng)
        if validation_batch_size is not None:
            raise ValueError(
                "Argument 'validation_batch_size' is for arrays; batches given as "
                "'validation_data' are evaluated as they come."
            )
        if isinstance(validation_data, (str, bytes, np.ndarray, dict, set)) or not hasattr(
            validation_data, "__iter__"
        ):
            raise TypeError(
                "Argument 'validation_data' must be a tuple (x_val, y_val) or an iterable of "
                f"(x_batch, y_batch) pairs; received {type(validation_data).__name__}."
            )
        if isinstance(validation_data, (list, tuple)):  # in memory: check every batch now
            batches = list(
                PairBatches(validation_data, None, self._convert_batch, "validation_data")
            )
            if not batches:
                raise ValueError("Argument 'validation_data' holds no batches.")
            return batches
        return PairBatches(
            validation_data, steps, self._convert_batch, "validation_data", "validation_steps"
        )

    @staticmethod
    def _check_validation_freq(validation_freq: Any) -> int | frozenset:
        """Keras' ``validation_freq``: validate after every ``k``-th epoch (a positive int), or
        after the epochs of a list, numbered from 1."""
        if isinstance(validation_freq, (list, tuple)) and all(
            isinstance(e, (int, np.integer)) and not isinstance(e, bool) and e > 0
            for e in validation_freq
        ):
            return frozenset(int(e) for e in validation_freq)
        if (isinstance(validation_freq, (int, np.integer)) and not isinstance(validation_freq, bool)
                and validation_freq > 0):
            return int(validation_freq)
        raise ValueError(
            "Argument 'validation_freq' must be a positive integer (validate every k epochs) or a "
            f"list of epoch numbers counted from 1; received {validation_freq!r:.60}."
        )

    @staticmethod
    def _validates(epoch: int, validation_freq: int | frozenset) -> bool:
        """Whether fit validates after ``epoch`` (counted from 0), as Keras decides."""
        if isinstance(validation_freq, frozenset):
            return epoch + 1 in validation_freq
        return (epoch + 1) % validation_freq == 0

    def _attach_weights(self, batches, sample_weight, class_weight, argument: str) -> None:
        """Check the weights and let ``batches`` yield them after the targets (one array per
        output); a refused call raises before anything changed."""
        if sample_weight is None and class_weight is None:
            return
        if batches is None or not isinstance(batches, ArrayBatches):
            raise ValueError(
                f"Argument '{argument if class_weight is None else 'class_weight'}' needs arrays; "
                "with batches from an iterable, weigh the loss inside the data instead."
            )
        n, targets = batches.samples, batches.ys[: len(self.losses)]
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError("Give 'class_weight' or 'sample_weight', not both (as Keras).")
            if len(self.losses) != 1:
                raise ValueError(
                    "Argument 'class_weight' is for models with one output; with several, give "
                    "'sample_weight' per output."
                )
            weights = [weighting.class_weights_to_sample_weights(class_weight, targets[0])]
        else:
            weights = weighting.check_sample_weights(sample_weight, self.output_names, n, argument)
        batches.ys = list(targets) + [w.astype(self.dtype) for w in weights]


def _same_length(arrays: list, names: list[str]) -> None:
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        listed = ", ".join(f"'{n}' {k}" for n, k in zip(names, lengths))
        raise ValueError(
            f"The arrays must hold the same number of samples; received {listed}."
        )


def _with_argument(message: str, name: str, shape) -> str:
    """A label shape error, naming the argument and, for multi-axis outputs, ``Flatten``."""
    message = message.replace("Argument 'y'", f"Argument '{name}'", 1)
    if len(shape) > 1:
        message += (
            f" The output has samples of shape {tuple(shape)} because Dense acts on the last "
            "axis; put a Flatten() before the Dense to get one output per sample."
        )
    return message


def _is_array_pair(value, several: bool) -> bool:
    """True when ``validation_data`` is ``(x_val, y_val)`` rather than a list of batches."""
    if isinstance(value, tuple) and len(value) == 2:
        return True
    if not isinstance(value, list) or len(value) != 2 or several:
        return False
    first = value[0]
    looks_like_pair = (
        isinstance(first, (tuple, list)) and len(first) == 2 and isinstance(first[0], np.ndarray)
    )
    return not looks_like_pair
