"""``predict`` with a progress display or callbacks: batch by batch, calling Keras' predict
hooks (``on_predict_begin``, ``on_predict_batch_begin``/``end``, ``on_predict_end``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .callbacks import CallbackList
from .callbacks.base import KERAS_BATCH_SIZE
from .progress import make_reporter

__all__ = ["predict_with_hooks"]


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
