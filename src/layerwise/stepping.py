"""One training step (forward, losses, metrics, backward, the optimizer's update) and
``train_on_batch``; what a diverged step restores. Mixed into :class:`~layerwise.Model` through
:class:`layerwise.training.Trainer`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import weighting
from .evaluation import Evaluator, masked_value, sequence_mask, update_metric
from .exceptions import TrainingDivergedError
from .snapshot import Snapshot, non_finite

__all__ = ["Stepper"]


class Stepper(Evaluator):
    """The training step of :class:`layerwise.Model` (see the module's docstring)."""

    def _train_step(self, xs, ys, epoch: int = 0, step: int = 0, batch_only=False) -> float:
        """Forward, loss, backward and one optimizer update on a batch; returns the loss."""
        if self._dist is not None:  # gradients averaged over processes
            return self._dist.train_step(self, xs, ys, epoch, step, batch_only)
        outputs = self._graph.forward(xs)
        losses_list, weights = self.losses, self.loss_weights
        ys, sample_weights = ys[: len(outputs)], ys[len(outputs) :] or None
        masks = [sequence_mask(m, o) for m, o in zip(self._graph.output_masks, outputs)]
        if sample_weights is not None:
            if any(m is not None for m in masks):
                raise ValueError(
                    "Argument 'sample_weight' is not supported for outputs with masked steps; "
                    "weigh the steps through the mask instead."
                )
            self._output_losses = tuple(
                weighting.weighted_loss(f, y, o, w)
                for f, y, o, w in zip(losses_list, ys, outputs, sample_weights)
            )
            loss = sum(w * v for w, v in zip(weights, self._output_losses))
        elif len(outputs) == 1 and masks[0] is None:
            loss = losses_list[0].value(ys[0], outputs[0])
            self._output_losses = (loss,)
            loss *= weights[0]
        else:
            self._output_losses = tuple(masked_value(f, y, o, m)
                                        for f, y, o, m in zip(losses_list, ys, outputs, masks))
            loss = sum(w * v for w, v in zip(weights, self._output_losses))
        for layer in self._regularized:
            loss += layer.regularization_loss()
        if not math.isfinite(loss):
            self._diverged(loss, epoch, step, batch_only)
        for k, group in enumerate(self._output_metrics):
            if group:  # logits become probabilities once per batch, not once per metric
                probabilities = losses_list[k].probabilities(outputs[k])
                y, mask = ys[k], masks[k]
                if mask is not None:  # masked steps count for nothing (Keras)
                    y, probabilities = y[mask], probabilities[mask]
                for metric in group:
                    update_metric(metric, y, probabilities, sample_weights, k)
        buffers = self._error_buffers
        if buffers is None:
            buffers = self._error_buffers = [None] * len(outputs)
        errors, fused = [], []
        for k, output in enumerate(outputs):
            buffer = buffers[k]
            if (
                buffer is None
                or buffer.shape[0] < len(output)
                or buffer.shape[1:] != output.shape[1:]
            ):
                buffer = buffers[k] = np.empty_like(output)
            if masks[k] is None:
                error, pre_activation = self._loss_gradient(ys[k], output, buffer[: len(output)],
                                                            k)
            else:  # the gradient of the mean over the unmasked positions, zero elsewhere
                error = buffer[: len(output)]
                error[...] = 0.0
                mask = masks[k]
                if mask.any():
                    part, pre_activation = self._loss_gradient(ys[k][mask], output[mask], None, k)
                    error[mask] = part
                else:
                    pre_activation = self._fused_outputs[k]
            if weights[k] != 1.0:
                error *= weights[k]
            if sample_weights is not None:
                weighting.scale_rows(error, sample_weights[k])
            errors.append(error)
            fused.append(pre_activation)
        # Plain SGD takes gradients already multiplied by the learning rate: scaling the small
        # output error once (backpropagation is linear in it) turns the update into one pass,
        # p -= g, instead of two over every parameter.
        scale = self.optimizer.gradient_scale()
        if scale is not None:
            for error in errors:
                error *= scale
            if not self._regularized:
                # p -= g needs nothing but g: each layer steps as soon as backpropagation has
                # passed it, and a dense layer folds its step into the weight-gradient product.
                self._graph.backward(errors, fused, descend=True)
                self.optimizer.iterations += 1
                return loss
        self._graph.backward(errors, fused)
        if self._regularized:
            self._add_penalty_gradients(1.0 if scale is None else scale)
        self.optimizer.apply(self._params, self._grads, prescaled=scale is not None)
        return loss

    def _diverged(self, loss, epoch: int, step: int, batch_only: bool = False) -> None:
        """Put back the state of the epoch's start (or, if that predicts NaN on the training
        data, of fit's start) and raise TrainingDivergedError."""
        self._epoch_start.restore()
        where = "the weights, layer state and optimizer state of the start of this epoch"
        if batch_only:
            where = "the weights, layer state and optimizer state from before this batch"
        fallback = getattr(self, "_fit_start", None)
        if fallback is not None and not self._predicts_finite():
            fallback.restore()
            where = (
                "the weights, layer state and optimizer state from before this fit (those of "
                "the epoch's start predicted NaN or infinity on the training data)"
            )
        if isinstance(loss, float):
            loss = f"{loss}"
        raise TrainingDivergedError(
            f"Training diverged at epoch {epoch + 1}, step {step + 1}: the loss was {loss}; "
            f"{where} were restored. Lower the learning rate, scale the inputs, or check the "
            "labels."
        )

    def _predicts_finite(self) -> bool:
        """True when the model's outputs on the training arrays (if any) are all finite."""
        data = getattr(self, "_training_arrays", None)
        if data is None:
            return True
        training = self._training
        self._set_training(False)
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                for xs, _ in data.subset(0, data.samples, self._evaluate_batch(), False):
                    if not all(np.isfinite(out).all() for out in self._graph.forward(xs)):
                        return False
        finally:
            self._set_training(training)
        return True

    def train_on_batch(self, x: Any, y: Any, return_dict: bool = False) -> Any:
        """One update on one batch (for incremental or out-of-core training).

        Returns the batch loss, or with ``return_dict=True`` a dict of loss and metrics.
        """
        self._require_compiled("train_on_batch")
        if not isinstance(return_dict, (bool, np.bool_)):
            raise TypeError(
                f"Argument 'return_dict' must be True or False; received {return_dict!r:.60}."
            )
        xs, ys = self._convert_xy(x, y, "x", "y")
        self._graph.check_trainable()
        self._prepare_training()
        for metric in self.metrics:
            metric.reset()
        self._set_training(True)
        try:
            self._epoch_start = Snapshot(self)
            self._fit_start, self._training_arrays = None, None
            with np.errstate(over="ignore", invalid="ignore"):
                loss = self._train_step(xs, ys, batch_only=True)
                bad = non_finite(self)
                if bad:
                    self._diverged(f"{loss}, but the update wrote NaN or infinity into {bad[:3]}",
                                   0, 0, batch_only=True)
        finally:
            self._set_training(False)
        if not return_dict:
            return loss
        logs = {"loss": loss}
        if len(self.losses) > 1:
            for name, value in zip(self.output_names, self._output_losses):
                logs[f"{name}_loss"] = value
        if self._dist is not None:
            self._dist.reduce_metrics(self.metrics)
        self._add_metric_logs(logs, self._output_metrics)
        return logs
