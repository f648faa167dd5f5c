"""The distributed training step and evaluation: one allreduce per step, reduced logs.

A step on process ``r`` computes the gradient of its share's mean loss times ``n_r / n`` (folded
into the small output error, as plain SGD folds its learning rate), so that the sum over
processes is the gradient of the global batch's mean loss. The packed gradient array carries
three more numbers (samples, loss sum, failed flag); one in-place allreduce sums all of it.
Regularization, clipping and the optimizer then run on the averaged gradient, identically on
every process, so that the weights stay equal without being sent again.
"""

from __future__ import annotations

import math

import numpy as np

from .. import metrics as metrics_module
from ..data import ArrayBatches
from ..exceptions import TrainingDivergedError
from .data import rank_rows

__all__ = ["train_step", "evaluate", "reduce_metrics"]


def _gradient_buffer(model, strategy) -> tuple[np.ndarray, bool]:
    """The packed gradients with their tail (``fit`` packs them so), or a buffer to copy them
    through when the model could not be packed (mixed dtypes); second value: copy needed."""
    packed = getattr(model, "_packed", None)
    if packed is not None:
        full = packed.flat[1].base
        if full is not None and full.size == packed.flat[1].size + strategy.TAIL:
            return full, False
    total = sum(g.size for g in model._grads)
    buffer = getattr(model, "_allreduce_buffer", None)
    if buffer is None or buffer.size != total + strategy.TAIL:
        buffer = model._allreduce_buffer = np.empty(total + strategy.TAIL, dtype=np.float64)
    return buffer, True


def _copy(grads, buffer, into_buffer: bool) -> None:
    offset = 0
    for grad in grads:
        part = buffer[offset : offset + grad.size].reshape(grad.shape)
        if into_buffer:
            part[...] = grad
        else:
            grad[...] = part
        offset += grad.size


def _local_backward(model, strategy, x, y, scale) -> float:
    """Forward, loss, metrics and backward on this process's share; returns its mean loss."""
    output = model._run_forward(x)
    loss = model.loss.value(y, output)
    if model.metrics:
        probabilities = model.loss.probabilities(output)
        for metric in model.metrics:
            metric.update(y, probabilities)
    buffer = model._error_buffer
    if buffer is None or buffer.shape[0] < len(output) or buffer.shape[1:] != output.shape[1:]:
        buffer = model._error_buffer = np.empty_like(output)
    error, pre_activation = model._loss_gradient(y, output, out=buffer[: len(output)])
    expected = strategy.expected_count
    factor = (len(x) / expected if expected else len(x)) * (1.0 if scale is None else scale)
    if factor != 1.0:
        error *= factor
    model._run_backward(error, pre_activation)
    return loss


def train_step(model, strategy, x, y, epoch: int, step: int) -> float:
    """One synchronous step on every process; returns the global batch's loss.

    ``x`` is None (or has no rows) on a process without samples in this step: it sends zeros.
    The plain-SGD fast path that folds the update into backward is not used (it would update
    before the gradients are averaged); SGD still takes ``lr * g`` prescaled gradients.
    """
    buffer, copied = _gradient_buffer(model, strategy)
    gradients, tail = buffer[: -strategy.TAIL], buffer[-strategy.TAIL :]
    scale = model.optimizer.gradient_scale()
    n_local = 0 if x is None else len(x)
    loss, error = 0.0, None
    try:
        if n_local:
            loss = _local_backward(model, strategy, x, y, scale)
        elif strategy.synchronized_layers:  # take part in their reductions, with no rows
            empty = np.empty((0, *model.input_shape), dtype=model.dtype)
            output = model._run_forward(empty)
            model._run_backward(np.zeros_like(output), model._fused)
        else:
            gradients[...] = 0
        if copied and (n_local or strategy.synchronized_layers):
            _copy(model._grads, buffer, into_buffer=True)
    except Exception as caught:  # noqa: BLE001 - raised on every process below
        if strategy.synchronized_layers:  # the others may be waiting in a batch-norm reduction
            strategy.abort(caught)
        error = caught
    tail[0], tail[1], tail[2] = n_local, loss * n_local, error is not None
    strategy.allreduce(buffer)
    if tail[2]:
        strategy.raise_together(error)
    total = float(tail[0])
    strategy.last_count = int(round(total))
    if strategy.expected_count is None:  # generators: the global count is known only now
        gradients *= 1.0 / total
    if copied:
        _copy(model._grads, buffer, into_buffer=False)
    loss = float(tail[1]) / total
    for layer in model._regularized:
        loss += layer.regularization_loss()
    if not math.isfinite(loss):
        try:
            model._diverged(loss, epoch, step)
        except TrainingDivergedError as diverged:  # the same reduced loss on every process
            raise strategy.mark_agreed(diverged) from None
    if model._regularized:
        model._add_penalty_gradients(1.0 if scale is None else scale)
    model.optimizer.apply(model._params, model._grads, prescaled=scale is not None)
    return loss


def reduce_metrics(metrics: list, strategy) -> None:
    """Merge every process's running totals into each metric (in rank order, so that every
    process computes the same result)."""
    if not metrics:
        return
    gathered = strategy.comm.allgather(metrics)
    for index, metric in enumerate(metrics):
        merged = gathered[0][index]
        for other in gathered[1:]:
            merged.merge_state(other[index])
        metric.__dict__.update(merged.__dict__)


def evaluate(model, strategy, batches) -> dict:
    """Loss and metrics over every process's data: arrays given in full are split by rank into
    contiguous parts, generators are taken as this process's share."""
    if isinstance(batches, ArrayBatches):
        low, high = rank_rows(len(batches.x), strategy.rank, strategy.size)
        batches = ArrayBatches(
            batches.x[low:high], batches.y[low:high], batches.batch_size, False, batches.rng
        )
    metrics = [metrics_module.clone(m, model.loss, model.output_shape) for m in model.metrics]
    total, count, error = 0.0, 0, None
    try:
        for x, y in batches:
            output = model._run_forward(x)
            total += model.loss.value(y, output) * len(x)
            count += len(x)
            if metrics:
                probabilities = model.loss.probabilities(output)
                for metric in metrics:
                    metric.update(y, probabilities)
    except Exception as caught:  # noqa: BLE001 - raised on every process below
        error = caught
    sums = strategy.allreduce(np.array([total, count, error is not None], dtype=np.float64))
    if sums[2]:
        strategy.raise_together(error)
    if sums[1] == 0:
        raise strategy.mark_agreed(ValueError("The evaluation data yielded no batches."))
    reduce_metrics(metrics, strategy)
    penalty = sum(layer.regularization_loss() for layer in model.layers)
    return {"loss": float(sums[0] / sums[1]) + penalty, **{m.name: m.result() for m in metrics}}
