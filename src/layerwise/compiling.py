"""What ``Model.compile`` makes of its arguments: one loss, loss weight and metric list per
output, each checked against the output layer it trains, before anything changes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import losses, registry
from . import metrics as metrics_module
from .exceptions import IncompatibleLayerError

__all__ = [
    "by_output",
    "check_loss_fits_output",
    "resolve_loss_weights",
    "resolve_losses",
    "resolve_metrics",
]


def by_output(names: list[str], value: Any, argument: str, what: str) -> list:
    """``value`` given for every output: a list in the order of the outputs ``names`` or a dict
    by output name, checked; returns the list."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names), key=str)
        missing = [n for n in names if n not in value]
        if unknown or missing:
            raise ValueError(
                f"Argument '{argument}' is a dict by output name; the outputs are {names}, "
                f"but it has unknown keys {unknown} and lacks {missing}."
            )
        return [value[n] for n in names]
    if not isinstance(value, (list, tuple)) or len(value) != len(names):
        raise ValueError(
            f"Argument '{argument}' must give {what} for each of the {len(names)} outputs "
            f"{names}: a list of {len(names)} or a dict by output name; received "
            f"{value!r:.80}."
        )
    return list(value)


def resolve_losses(spec: Any, argument: str, names: list[str]) -> list:
    """One ``Loss`` per output from compile's ``loss``/``loss_fn``."""
    if isinstance(spec, str) and spec.strip().lower() in registry.valid_names("optimizer"):
        if spec.strip().lower() not in registry.valid_names("loss"):
            raise ValueError(
                f"Argument '{argument}' is {spec!r}, an optimizer's name: the first "
                "argument of compile is the loss here, compile(loss_fn, optimizer). Write "
                f"compile(loss='mse', optimizer={spec!r})."
            )
    if isinstance(spec, (dict, list, tuple)):
        items = by_output(names, spec, argument, "a loss")
        return [losses.get(item, argument=argument) for item in items]
    return [losses.get(spec, argument=argument)] * len(names)


def resolve_loss_weights(loss_weights: Any, names: list[str]) -> list[float]:
    """One finite weight >= 0 per output (1 each by default)."""
    if loss_weights is None:
        return [1.0] * len(names)
    if isinstance(loss_weights, (int, float)) and len(names) == 1:
        loss_weights = [loss_weights]
    items = by_output(names, loss_weights, "loss_weights", "a weight")
    for item in items:
        if (
            isinstance(item, bool)
            or not isinstance(item, (int, float, np.number))
            or not math.isfinite(item)
            or item < 0
        ):
            raise ValueError(
                "Argument 'loss_weights' must hold finite numbers >= 0; received "
                f"{loss_weights!r:.80}."
            )
    return [float(item) for item in items]


def resolve_metrics(metrics: Any, losses_list: list, names: list[str], shapes: list) -> list[list]:
    """One list of metric objects per output (a shared list gives each output its own
    objects)."""
    several = len(names) > 1
    if isinstance(metrics, dict) and several:
        per_output = by_output(
            names,
            dict(metrics) | {n: None for n in names if n not in metrics},
            "metrics",
            "metrics",
        )
    else:
        per_output = [metrics] * len(names)
    result = []
    for k, (group, loss_function, shape) in enumerate(zip(per_output, losses_list, shapes)):
        if (
            group is not None
            and not isinstance(group, (list, tuple, str, dict))
            and not (isinstance(group, metrics_module.Metric))
        ):
            raise TypeError(
                "Argument 'metrics' must be a list of metric names or objects"
                + (" (or a dict by output name)" if several else "")
                + f"; received {group!r:.80} of type {type(group).__name__}."
            )
        built = metrics_module.get_list(group, loss_function, shape)
        if k and group is metrics:  # one list for every output: each gets its own objects
            built = [metrics_module.clone(m, loss_function, shape) for m in built]
        result.append(built)
    return result


def check_loss_fits_output(loss: Any, layer: Any) -> None:
    """Refuse a loss that cannot train ``layer``'s output, with the fix in the message."""
    activation = layer.output_activation
    name = activation.name if activation is not None else "none"
    if loss.from_logits and activation is not None and name != "linear":
        raise IncompatibleLayerError(
            f"The loss {loss.name!r} has from_logits=True, so it applies {loss.partner} "
            f"itself, but the output layer {layer.name!r} already applies {name!r}. Use "
            "activation=None (linear) on the output layer, or from_logits=False."
        )
    if loss.requires_probability and not loss.from_logits:
        if activation is None or not activation.output_is_probability:
            raise IncompatibleLayerError(
                f"The loss {loss.name!r} needs probabilities, but the output layer "
                f"{layer.name!r} ({type(layer).__name__}) has activation {name!r}. Use "
                f"activation='{loss.partner}' on the output layer (or an "
                f"Activation('{loss.partner}') layer after it), or a linear output with "
                f"Loss({loss.name!r}, from_logits=True)."
            )
        if activation.name != loss.partner:
            raise IncompatibleLayerError(
                f"The loss {loss.name!r} needs a '{loss.partner}' output, but the output layer "
                f"{layer.name!r} has activation {name!r}. Use activation='{loss.partner}'"
                + (
                    ", or the loss 'binary_crossentropy' for independent sigmoid outputs."
                    if name == "sigmoid"
                    else ", or the loss 'categorical_crossentropy' for a softmax output."
                )
            )
