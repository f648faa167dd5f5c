"""The distributed training step: one allreduce per step over the packed gradients.

A step on process ``r`` computes the gradient of its share's mean loss times ``n_r / n`` (folded
into the small output errors, as plain SGD folds its learning rate), so that the sum over
processes is the gradient of the global batch's mean loss. The packed gradient array carries a
few more numbers (samples, loss sums, a failed flag: see ``MPIStrategy.tail_size``); one
in-place allreduce sums all of it. Regularization, clipping and the optimizer then run on the
averaged gradient, identically on every process, so that the weights stay equal without being
sent again.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..exceptions import TrainingDivergedError

__all__ = ["train_step", "reduce_metrics"]


def _gradient_buffer(model, strategy) -> tuple[np.ndarray, bool]:
    """The packed gradients with their tail (``fit`` packs them so), or a buffer to copy them
    through when the model could not be packed (mixed dtypes); second value: copy needed."""
    tail = strategy.tail_size(model)
    packed = getattr(model, "_packed", None)
    if packed is not None:
        full = packed.flat[1].base
        if full is not None and full.size == packed.flat[1].size + tail:
            return full, False
    total = sum(g.size for g in model._grads)
    buffer = getattr(model, "_allreduce_buffer", None)
    if buffer is None or buffer.size != total + tail:
        buffer = model._allreduce_buffer = np.empty(total + tail, dtype=np.float64)
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


def _local_backward(model, strategy, xs, ys, scale):
    """Forward, losses, metrics and backward on this process's share (as the single-process
    step, with the errors weighted); returns its mean loss and each output's."""
    outputs = model._graph.forward(xs)
    if len(ys) > len(outputs):  # fit appends sample weights to the targets
        raise NotImplementedError(
            "Distributed training with sample_weight or class_weight is not supported yet; "
            "train on one process."
        )
    for mask, output in zip(model._graph.output_masks, outputs):
        if mask is not None and output.ndim >= 3 and mask.shape == output.shape[:2]:
            # Losses over unmasked steps would need each process's share of those steps.
            raise NotImplementedError(
                "Distributed training of an output with masked sequence steps is not supported "
                "yet; train it on one process."
            )
    losses_list, weights = model.losses, model.loss_weights
    output_losses = [f.value(y, o) for f, y, o in zip(losses_list, ys, outputs)]
    for k, group in enumerate(model._output_metrics):
        if group:
            probabilities = losses_list[k].probabilities(outputs[k])
            for metric in group:
                metric.update(ys[k], probabilities)
    buffers = model._error_buffers
    if buffers is None:
        buffers = model._error_buffers = [None] * len(outputs)
    n, expected = len(xs[0]), strategy.expected_count
    share = (n / expected if expected else n) * (1.0 if scale is None else scale)
    errors, fused = [], []
    for k, output in enumerate(outputs):
        buffer = buffers[k]
        if buffer is None or buffer.shape[0] < len(output) or buffer.shape[1:] != output.shape[1:]:
            buffer = buffers[k] = np.empty_like(output)
        error, pre_activation = model._loss_gradient(ys[k], output, buffer[: len(output)], k)
        factor = weights[k] * share
        if factor != 1.0:
            error *= factor
        errors.append(error)
        fused.append(pre_activation)
    model._graph.backward(errors, fused)
    return sum(w * v for w, v in zip(weights, output_losses)), output_losses


def _idle_pass(model) -> None:
    """Forward and backward on no rows: a process without samples still takes part in the
    reductions of synchronized batch-norm layers, in the same order as the others."""
    empty = [np.empty((0, *shape), dtype=model.dtype) for shape in model.input_shapes]
    outputs = model._graph.forward(empty)
    model._graph.backward([np.zeros_like(o) for o in outputs], list(model._fused_outputs))


def train_step(
    model: Any, strategy: Any, xs: Any, ys: Any, epoch: int, step: int, batch_only: bool = False
) -> float:
    """One synchronous step on every process; returns the global batch's loss.

    ``xs`` is None (or has no rows) on a process without samples in this step: it sends zeros.
    The plain-SGD fast path that folds the update into backward is not used (it would update
    before the gradients are averaged); SGD still takes ``lr * g`` prescaled gradients.
    """
    buffer, copied = _gradient_buffer(model, strategy)
    tail_size = strategy.tail_size(model)
    gradients, tail = buffer[:-tail_size], buffer[-tail_size:]
    scale = model.optimizer.gradient_scale()
    n_local = 0 if xs is None else len(xs[0])
    loss, output_losses, error = 0.0, [0.0] * len(model.losses), None
    synchronized = strategy.synchronized_layers
    try:
        if n_local:
            loss, output_losses = _local_backward(model, strategy, xs, ys, scale)
        elif synchronized:
            _idle_pass(model)
        else:
            gradients[...] = 0
        if copied and (n_local or synchronized):
            _copy(model._grads, buffer, into_buffer=True)
    except Exception as caught:  # noqa: BLE001 - raised on every process below
        if synchronized:  # the others may be waiting in a batch-norm reduction
            strategy.abort(caught)
        error = caught
    tail[0], tail[1], tail[2] = n_local, loss * n_local, error is not None
    if tail_size > strategy.TAIL:
        tail[strategy.TAIL :] = [value * n_local for value in output_losses]
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
    if tail_size > strategy.TAIL:
        model._output_losses = tuple(float(v) / total for v in tail[strategy.TAIL :])
    else:
        model._output_losses = (loss / model.loss_weights[0] if model.loss_weights[0] else 0.0,)
    for layer in model._regularized:
        loss += layer.regularization_loss()
    if not math.isfinite(loss):
        try:
            model._diverged(loss, epoch, step, batch_only)
        except TrainingDivergedError as diverged:  # the same reduced loss on every process
            raise strategy.mark_agreed(diverged) from None
    if model._regularized:
        model._add_penalty_gradients(1.0 if scale is None else scale)
    model.optimizer.apply(model._params, model._grads, prescaled=scale is not None)
    return loss


def reduce_metrics(metrics: list, strategy: Any) -> None:
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
