"""``Model.predict`` and ``predict_on_batch`` (the ``Predicting`` mixin of
:class:`layerwise.Model`): a few samples in one checked pass, large inputs in passes (on
several threads, :mod:`layerwise.inference`), and with a progress display or callbacks batch by
batch, calling Keras' predict hooks (``on_predict_begin``, ``on_predict_batch_begin``/``end``,
``on_predict_end``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .callbacks import CallbackList
from .callbacks.base import KERAS_BATCH_SIZE
from .data import check_finite
from .inference import MIN_PASS_ROWS, predict_few, predict_passes
from .layers.base import check_positive_int
from .progress import make_reporter

__all__ = ["Predicting", "predict_with_hooks"]

_PREDICT_BATCH = 4096  # rows per forward pass in predict: large for BLAS, bounded in memory
# ... and at most this many values (8 MB of float32) in any layer's output per pass: an image
# model's activations are large per sample, and passes that outgrow the caches run several
# times slower (mnist_convnet's predict: 7.2 s at 4096 rows, 1.3 s at 64).
_PREDICT_VALUES = 2**21


def predict_with_hooks(
    model: Any, xs: list[np.ndarray], batch_size: int | None, verbose: int | str, callbacks: Any
) -> Any:
    """The outputs of ``model`` for the checked inputs ``xs``, ``batch_size`` rows at a time,
    with ``verbose`` progress and ``callbacks``' predict hooks (see :meth:`Model.predict`).
    Without a ``batch_size``: Keras' 32 when a callback takes the batch hooks (they are called
    as often as in Keras), else predict's default passes."""
    hooks = CallbackList(callbacks, model)
    if batch_size is None:
        batch_size = KERAS_BATCH_SIZE if hooks.wants_batches("predict") else model._predict_batch()
    n = len(xs[0])
    steps = max(math.ceil(n / batch_size), 1)
    reporter = make_reporter(verbose, 1, steps, label="predict")
    results = [np.empty((n, *shape), dtype=model.dtype) for shape in model.output_shapes]
    was_training = model._training
    if was_training:
        model._set_training(False)
    try:
        hooks.call("on_predict_begin", {})
        reporter.epoch_begin(0)
        for step, start in enumerate(range(0, n, batch_size)):
            if hooks.wants("on_predict_batch_begin"):
                hooks.call("on_predict_batch_begin", step, {})
            outputs = model._graph.forward([x[start : start + batch_size] for x in xs])
            for result, out in zip(results, outputs):
                result[start : start + batch_size] = out
            reporter.batch_end(step, math.nan)
            if hooks.wants("on_predict_batch_end"):
                batch = [r[start : start + batch_size] for r in results]
                hooks.call("on_predict_batch_end", step, {"outputs": model._single_or_list(batch)})
        reporter.epoch_end(0, {})
        hooks.call("on_predict_end", {})
    finally:
        reporter.close()
        if was_training and model._inside_fit:
            model._set_training(True)
    return model._single_or_list(results)


class Predicting:
    """``predict``, ``predict_on_batch`` and their pass sizes: a mixin of
    :class:`layerwise.Model` (which provides the graph, the layers and the input checks)."""

    _graph: Any
    _training: bool
    _inside_fit: bool
    layers: list
    input_layers: list
    output_shapes: list
    dtype: Any
    _set_training: Callable[[bool], None]
    _ready_input: Callable[[np.ndarray], bool]
    _input_arrays_and_names: Callable[..., tuple]
    _single_or_list: Callable[[list], Any]

    def _predict_batch(self) -> int:
        """predict's default rows per pass: 4096, fewer where a layer's output per sample is
        large (the Inputs' outputs are the caller's arrays, not allocated by the pass).
        Computed once per graph (a Sequential's add() makes a new one)."""
        cached = getattr(self, "_predict_rows", None)
        if cached is not None and cached[0] is self._graph:
            return cached[1]
        widest = max((math.prod(layer.output_shape) for layer in self.layers
                      if layer.inbound and layer.output_shape), default=1)
        rows = max(1, min(_PREDICT_BATCH, _PREDICT_VALUES // widest))
        self._predict_rows = (self._graph, rows)
        return rows

    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: int | str = 0,
        callbacks: Any = None,
    ) -> Any:
        """Outputs for samples ``x``: an array ``(n, *output_shape)`` in the model's dtype, or a
        list of arrays for several outputs. ``x`` is an array (or nested lists), or for several
        inputs a list in the order of ``inputs`` or a dict by input name. Large inputs run in
        batches of ``batch_size``; with several BLAS threads (``OPENBLAS_NUM_THREADS``,
        threadpoolctl), a large input of a model of dense, activation, normalization, dropout,
        merge and reshaping layers runs its batches on that many Python threads at once, each
        with one BLAS thread (see :mod:`layerwise.inference`). Dropout and batch normalization
        run in inference mode for this call only (a ``predict`` inside ``fit``'s callbacks does
        not change the training mode of the rest of the epoch).

        Args:
            x: the samples.
            batch_size: samples per forward pass (default 4096, fewer for models with large
                activations, such as CNNs: at most 2**21 values in any layer's output per pass;
                Keras' 32 when a callback takes ``on_predict_batch_*``, so that it is called as
                often as in Keras).
            verbose: 0 silent (the default: predict is often called in loops), 1 a progress bar,
                2 one line when done, ``'auto'`` a bar on a terminal.
            callbacks: callbacks whose ``on_predict_*`` hooks are called (``on_predict_batch_end``
                receives ``{'outputs': batch_outputs}``).
        """
        if (  # a few samples, as a caller's loop passes them: the shortest way
            type(x) is np.ndarray
            and batch_size is None
            and type(verbose) is int
            and verbose == 0
            and callbacks is None
            and len(self.input_layers) == 1
            and self._ready_input(x)
            and len(x) < MIN_PASS_ROWS
        ):
            return self._single_or_list(self._in_inference_mode(predict_few, [x], ["x"]))
        # NaN is looked for pass by pass (layerwise.inference), or below for predict_with_hooks.
        xs, names = self._input_arrays_and_names(x, "x", check_values=False)
        size = (self._predict_batch() if batch_size is None
                else check_positive_int(batch_size, "batch_size"))
        if isinstance(verbose, bool) or not (
            isinstance(verbose, (int, str)) and verbose in (0, 1, 2, "auto")
        ):
            raise ValueError(
                f"Argument 'verbose' must be 0, 1, 2 or 'auto'; received {verbose!r:.40}."
            )
        if verbose or callbacks:
            for array, name in zip(xs, names):
                check_finite(array, name)
            return predict_with_hooks(self, xs, None if batch_size is None else size, verbose,
                                      callbacks)
        return self._single_or_list(self._in_inference_mode(
            predict_passes, xs, names, self.output_shapes, self.dtype, size
        ))

    def _in_inference_mode(self, run: Callable[..., Any], *arguments: Any) -> Any:
        """``run(graph, *arguments)`` with dropout and batch normalization in inference mode,
        for this call only: inside ``fit`` (a callback's predict) training mode comes back."""
        was_training = self._training
        if was_training:
            self._set_training(False)
        try:
            return run(self._graph, *arguments)
        finally:
            if was_training and self._inside_fit:
                self._set_training(True)

    def predict_on_batch(self, x: Any) -> Any:
        """The outputs for ``x`` in one pass (Keras' name): :meth:`predict` with the whole
        input as its batch."""
        rows = None if isinstance(x, (list, tuple, dict)) or not hasattr(x, "__len__") else len(x)
        return self.predict(x, batch_size=max(1, rows) if rows is not None else None)
