"""Evaluation: ``evaluate`` and the loss and metric bookkeeping ``fit`` shares with it (mixed
into :class:`~layerwise.Model` through :class:`~layerwise.training.Trainer`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import metrics as metrics_module
from . import weighting
from .callbacks import CallbackList
from .callbacks.base import KERAS_BATCH_SIZE
from .feeding import DataFeeding
from .layers.base import check_positive_int
from .progress import format_logs

__all__ = ["Evaluator", "masked_value", "sequence_mask", "update_metric"]


class Evaluator(DataFeeding):
    """``evaluate`` for :class:`~layerwise.Model` (a mixin: the model supplies its graph,
    losses, metrics and training mode)."""

    def _add_metric_logs(self, logs: dict, metric_lists) -> None:
        for names, group in zip(self._metric_names, metric_lists):
            for name, metric in zip(names, group):
                logs[name] = metric.result()

    def _evaluate_batches(self, batches, callback_list: CallbackList | None = None) -> dict:
        dist = self._dist
        if dist is not None:  # arrays in full: each process evaluates its part of the rows
            batches = dist.shard_evaluation(batches)
        metric_lists = [
            [metrics_module.clone(m, loss, shape) for m in group]
            for group, loss, shape in zip(self._output_metrics, self.losses, self.output_shapes)
        ]
        totals = [0.0] * len(self.losses)
        counts = [0] * len(self.losses)
        count = 0
        hooks = callback_list if callback_list is not None else CallbackList(None, self)
        begin, end = hooks.wants("on_test_batch_begin"), hooks.wants("on_test_batch_end")
        hooks.call("on_test_begin", {})
        for step, (xs, ys) in enumerate(batches):
            if begin:
                hooks.call("on_test_batch_begin", step, {})
            outputs = self._graph.forward(xs)
            ys, sample_weights = ys[: len(outputs)], ys[len(outputs) :] or None
            n = len(xs[0])
            count += n
            batch_losses = []
            for k, (loss, y, output) in enumerate(zip(self.losses, ys, outputs)):
                mask = sequence_mask(self._graph.output_masks[k], output)
                if sample_weights is not None and mask is None:
                    value = weighting.weighted_loss(loss, y, output, sample_weights[k])
                    weight = n
                else:
                    weight = n if mask is None else int(mask.sum())  # masked: by unmasked steps
                    value = masked_value(loss, y, output, mask)
                batch_losses.append(value)
                totals[k] += value * weight
                counts[k] += weight
                if metric_lists[k]:
                    probabilities = loss.probabilities(output)
                    if mask is not None:
                        y, probabilities = y[mask], probabilities[mask]
                    for metric in metric_lists[k]:
                        update_metric(metric, y, probabilities, sample_weights, k)
            if end:
                batch_loss = sum(w * v for w, v in zip(self.loss_weights, batch_losses))
                hooks.call("on_test_batch_end", step, {"loss": batch_loss})
        if dist is not None:  # every process's totals
            totals, counts, (count,) = dist.reduce_evaluation(metric_lists, totals, counts, [count])
        if count == 0:
            source = getattr(batches, "argument", "the evaluation data")
            raise ValueError(f"Argument '{source}' yielded no batches.")
        # Frozen layers' penalties are not part of the loss (as in fit, and Keras).
        penalty = sum(layer.regularization_loss() for layer in self.layers if layer.trainable)
        means = [t / c if c else 0.0 for t, c in zip(totals, counts)]
        result = {"loss": sum(w * m for w, m in zip(self.loss_weights, means)) + penalty}
        if len(means) > 1:
            for name, value in zip(self.output_names, means):
                result[f"{name}_loss"] = value
        self._add_metric_logs(result, metric_lists)
        hooks.call("on_test_end", dict(result))
        return result

    def evaluate(
        self,
        x: Any,
        y: Any = None,
        batch_size: int | None = None,
        verbose: int = 0,
        steps: int | None = None,
        *,
        sample_weight: Any = None,
        callbacks: Any = None,
    ) -> dict:
        """Loss and metrics on data, in inference mode: ``{'loss': ..., 'accuracy': ...}``.

        ``x`` and ``y`` are arrays (lists or dicts for several inputs or outputs), or ``x`` is
        an iterable of ``(x_batch, y_batch)`` pairs (a generator needs ``steps``, the number of
        batches to read). Inside ``fit`` (from a callback) the training mode of the rest of the
        epoch is left as it was.

        Args:
            x: the samples.
            y: the targets.
            batch_size: samples per forward pass (default 1024; Keras' 32 when a callback takes
                ``on_test_batch_*``, so that it is called as often as in Keras).
            verbose: 1 prints the results on one line.
            steps: batches to read when ``x`` is a generator of ``(x, y)`` pairs.
            sample_weight: one weight per sample, as in :meth:`fit`: the loss is
                ``sum(w * loss_per_sample) / n`` and metrics are weighted.
            callbacks: callbacks whose ``on_test_*`` hooks are called.
        """
        self._require_compiled("evaluate")
        callback_list = CallbackList(callbacks, self)
        if batch_size is not None:
            size = check_positive_int(batch_size, "batch_size")
        elif callback_list.wants_batches("test"):  # the hooks see Keras' batches
            size = KERAS_BATCH_SIZE
        else:
            size = self._evaluate_batch()
        if not isinstance(verbose, int) or isinstance(verbose, bool) or verbose not in (0, 1, 2):
            raise ValueError(f"Argument 'verbose' must be 0, 1 or 2; received {verbose!r:.40}.")
        if steps is not None:
            steps = check_positive_int(steps, "steps")
            if y is not None:
                raise ValueError("Argument 'steps' is for generators of (x, y) pairs, not arrays.")
        batches, arrays = self._batches(x, y, size, False, steps, "x", "y", "steps")
        self._attach_weights(arrays, sample_weight, None, "sample_weight")
        was_training = self._training
        self._set_training(False)
        try:
            result = self._evaluate_batches(batches, callback_list)
        finally:
            if was_training and self._inside_fit:
                self._set_training(True)
        if verbose and (self._dist is None or self._dist.is_chief):
            print(format_logs(result))
        return result

    def test_on_batch(
        self, x: Any, y: Any, sample_weight: Any = None, return_dict: bool = False
    ) -> Any:
        """Loss (and metrics) of one batch in inference mode, without updating anything: the
        counterpart of :meth:`train_on_batch` (Keras' name). Returns the loss, or with
        ``return_dict=True`` the dict :meth:`evaluate` returns."""
        if not isinstance(return_dict, (bool, np.bool_)):
            raise TypeError(
                f"Argument 'return_dict' must be True or False; received {return_dict!r:.60}."
            )
        if isinstance(x, (list, tuple, dict)) or not hasattr(x, "__len__"):
            rows = None  # several inputs: evaluate's default pass size covers a batch
        else:
            rows = max(1, len(x))
        logs = self.evaluate(x, y, batch_size=rows, sample_weight=sample_weight)
        return logs if return_dict else logs["loss"]


def update_metric(
    metric: Any, y: np.ndarray, probabilities: np.ndarray, sample_weights: list | None, k: int
) -> None:
    """``metric.update`` with output ``k``'s sample weights, if the batch has any."""
    if sample_weights is None:
        metric.update(y, probabilities)
    else:
        metric.update(y, probabilities, sample_weight=sample_weights[k])


def sequence_mask(mask: np.ndarray | None, output: np.ndarray) -> np.ndarray | None:
    """The output's mask when it marks the steps of a sequence output ``(n, steps, ...)``
    (Keras: losses and metrics then leave masked steps out), else None."""
    if mask is None or output.ndim < 3 or mask.shape != output.shape[:2]:
        return None
    return mask


def masked_value(loss: Any, y: np.ndarray, output: np.ndarray, mask: np.ndarray | None) -> float:
    """The loss over the unmasked positions only (their mean; 0 when none is left)."""
    if mask is None:
        return loss.value(y, output)
    if not mask.any():
        return 0.0
    return loss.value(y[mask], output[mask])
