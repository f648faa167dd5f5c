"""``model.summary()``: a table of layers, output shapes and parameter counts, like Keras'."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["print_summary", "summary_text"]


def _shape(shape) -> str:
    return "(None, " + ", ".join(str(s) for s in shape) + ")" if shape else "?"


def summary_text(model: Any, line_length: int = 80, show_trainable: bool = False) -> str:
    """The summary as a string; trainable parameters are those optimizers update,
    non-trainable ones are layer state such as batch normalization's moving averages and the
    parameters of frozen layers (``trainable = False``). ``show_trainable`` adds Keras'
    "Trainable" column: Y, N (frozen) or - (no weights)."""
    rows = []
    trainable = non_trainable = 0
    for layer, parents in zip(model.layers, model._parents):
        own = sum(a.size for a in layer.trainable_weights)
        fixed = sum(a.size for a in layer.non_trainable_weights)
        trainable += own
        non_trainable += fixed
        connected = ", ".join(model.layers[p].name for p in parents)
        row = (f"{layer.name} ({type(layer).__name__})", _shape(layer.output_shape),
               f"{own + fixed:,}", connected)
        if show_trainable:
            row += (("Y" if layer.trainable else "N") if own + fixed else "-",)
        rows.append(row)
    headers = ("Layer (type)", "Output shape", "Param #", "Connected to")
    if show_trainable:
        headers += ("Trainable",)
    widths = [max(len(r[i]) for r in [headers, *rows]) + 2 for i in range(len(headers))]
    width = max(sum(widths), line_length)

    def line(cells):
        return "".join(
            cell.rjust(w - 2) + "  " if i == 2 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths))
        ).rstrip()

    itemsize = model.dtype.itemsize
    total = trainable + non_trainable
    text = [f'Model: "{model.name}"', "=" * width, line(headers), "=" * width]
    text += [line(row) for row in rows]
    text += [
        "=" * width,
        f"Total params: {total:,} ({_bytes(total * itemsize)})",
        f"Trainable params: {trainable:,} ({_bytes(trainable * itemsize)})",
        f"Non-trainable params: {non_trainable:,} ({_bytes(non_trainable * itemsize)})",
    ]
    return "\n".join(text)


def _bytes(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.2f} {unit}" if unit != "B" else f"{count} B"
        count /= 1024
    return f"{count:.2f} GB"  # pragma: no cover


def print_summary(model: Any, line_length: Any = None, print_fn: Any = None,
                  show_trainable: Any = False) -> None:
    """:meth:`Model.summary`: the arguments checked, the table printed (or given to
    ``print_fn``)."""
    if line_length is not None and (isinstance(line_length, bool)
                                    or not isinstance(line_length, int) or line_length < 1):
        raise ValueError(
            f"Argument 'line_length' must be a positive integer; received {line_length!r:.40}."
        )
    if not isinstance(show_trainable, (bool, np.bool_)):
        raise TypeError(
            f"Argument 'show_trainable' must be True or False; received {show_trainable!r:.40}."
        )
    text = summary_text(model, line_length or 80, bool(show_trainable))
    (print if print_fn is None else print_fn)(text)
