"""``plot_history``: training curves with matplotlib (an optional extra, imported on use)."""

from __future__ import annotations

from typing import Any

from ._optional import require

__all__ = ["plot_history"]


def plot_history(
    history: Any, metrics: list[str] | None = None, figsize: tuple[float, float] | None = None
) -> Any:
    """Draw the loss and metric curves of ``model.history``, training and validation.

    One panel per quantity (``loss``, ``accuracy``, ...), each with its ``val_`` twin when
    present. Returns the matplotlib ``Figure`` (save it with ``fig.savefig('history.png')``).

    Args:
        history: ``model.history`` (or any dict of per-epoch lists).
        metrics: names to draw (default: every quantity that has no ``val_`` prefix).
        figsize: matplotlib figure size; default 4.5 x 3.5 inches per panel.

    Raises:
        ImportError: matplotlib is not installed (``pip install "layerwise[plot]"``).
    """
    matplotlib = require("matplotlib", "plot", "plot_history")
    if matplotlib.get_backend().lower() not in ("agg",) and not _has_display():
        matplotlib.use("Agg")
    plt = require("matplotlib.pyplot", "plot", "plot_history")
    history = getattr(history, "history", history)
    if not isinstance(history, dict) or not history:
        raise ValueError(
            "Argument 'history' must be a non-empty dict of per-epoch lists "
            "such as model.history after fit."
        )
    names = (
        list(metrics)
        if metrics is not None
        else [k for k in history if not k.startswith("val_") and k != "learning_rate"]
    )
    unknown = [n for n in names if n not in history]
    if unknown:
        raise ValueError(
            f"Argument 'metrics' names {unknown}, which the history lacks; "
            f"it has {sorted(history)}."
        )
    figure, axes = plt.subplots(
        1, len(names), figsize=figsize or (4.5 * len(names), 3.5), squeeze=False
    )
    logged = getattr(history, "logged_epochs", {})

    def epochs_of(key: str) -> list[int]:
        """Epoch numbers from 1 of ``history[key]``: as fit logged them (validation_freq skips
        some), else one per value."""
        known = logged.get(key)
        if known is not None and len(known) == len(history[key]):
            return [epoch + 1 for epoch in known]
        return list(range(1, len(history[key]) + 1))

    for axis, name in zip(axes[0], names):
        epochs = epochs_of(name)
        axis.plot(epochs, history[name], label="train", marker="." if len(epochs) < 30 else None)
        if f"val_{name}" in history:
            validated = epochs_of(f"val_{name}")
            axis.plot(validated, history[f"val_{name}"], label="validation",
                      marker="o" if len(validated) < len(epochs) else None)
        axis.set_title(name)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    return figure


def _has_display() -> bool:
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
