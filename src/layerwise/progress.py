"""What ``fit`` prints, readable on any terminal width.

``verbose``: 0 silent, 1 progress bar, 2 one line per epoch, ``'auto'`` a bar when standard
output is a terminal and lines otherwise (CI logs, notebooks' captured output, pipes).

With the bar (``verbose=1``), each epoch shows a tqdm bar with the running values of the loss and
of every metric; when the epoch ends, the bar keeps its count and the epoch's lines follow it.
Every epoch line (both modes) holds every training and validation value; a line wider than the
terminal is wrapped at ``" - "`` separators rather than cut, so at 80 columns nothing is lost::

    Epoch 3/10 - 0.4s - loss: 0.1234 - accuracy: 0.9500 - precision: 0.9411 - recall: 0.9375
        - val_loss: 0.2345 - val_accuracy: 0.9100 - val_precision: 0.9032 - val_recall: 0.9000
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

__all__ = ["make_reporter", "format_logs", "wrap_fields", "Reporter"]

_INDENT = "    "
_REFRESH_SECONDS = 0.1  # the running values are refreshed at most ten times a second


def format_logs(logs: dict[str, float]) -> str:
    """``'loss: 0.1234 - accuracy: 0.9500'``: every value with four decimals."""
    return " - ".join(_fields(logs))


def _fields(logs: dict[str, float]) -> list[str]:
    return [f"{key}: {value:.4f}" for key, value in logs.items()]


def wrap_fields(fields: Sequence[str], width: int) -> list[str]:
    """Join ``fields`` with ``' - '`` into lines of at most ``width`` characters, breaking only
    between fields (continuation lines are indented and start with ``'- '``); a single field
    wider than ``width`` gets a line of its own.

    Example::

        wrap_fields(['Epoch 1/2', 'loss: 0.5000', 'val_loss: 0.6000'], 30)
        # ['Epoch 1/2 - loss: 0.5000', '    - val_loss: 0.6000']
    """
    lines: list[str] = []
    current = ""
    for field in fields:
        if not current:
            current = field if not lines else f"{_INDENT}- {field}"
        elif len(current) + 3 + len(field) <= width:
            current = f"{current} - {field}"
        else:
            lines.append(current)
            current = f"{_INDENT}- {field}"
    if current:
        lines.append(current)
    return lines


def _terminal_width(stream: TextIO) -> int:
    if getattr(stream, "isatty", lambda: False)():
        import shutil  # on first use: with bz2 and lzma, 2 ms of every import otherwise

        return shutil.get_terminal_size((80, 24)).columns
    return 80  # logs and pipes: the width people read them at


class Reporter:
    """Silent reporter, and the interface of the others: ``fit`` calls ``epoch_begin``, then
    ``batch_end`` after every step with the running mean loss, then ``epoch_end`` with the
    epoch's logs, and ``close`` at the end (also after an error)."""

    def epoch_begin(self, epoch: int) -> None:
        """An epoch (counted from 0) starts."""

    def batch_end(self, step: int, running_loss: float) -> None:
        """Step ``step`` (from 0) of the epoch is done; ``running_loss`` is the epoch's mean."""

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """The epoch is done; ``logs`` has every training and validation value."""

    def close(self) -> None:
        """Training has ended (normally or not)."""


class _Lines(Reporter):
    """One epoch line (wrapped to the width) per epoch: ``Epoch 3/10 - 0.4s - loss: ...``."""

    def __init__(self, epochs: int, stream: TextIO, label: str | None = None) -> None:
        self.epochs, self.stream, self.label = epochs, stream, label
        self.start = time.perf_counter()

    def _title(self, epoch: int) -> str:
        return self.label or f"Epoch {epoch + 1}/{self.epochs}"

    def epoch_begin(self, epoch: int) -> None:
        self.start = time.perf_counter()

    def _epoch_lines(self, epoch: int, logs: dict[str, float]) -> list[str]:
        seconds = time.perf_counter() - self.start
        fields = [self._title(epoch), f"{seconds:.1f}s", *_fields(logs)]
        return wrap_fields(fields, _terminal_width(self.stream))

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        print("\n".join(self._epoch_lines(epoch, logs)), file=self.stream, flush=True)


class _Bar(_Lines):
    """A tqdm bar per epoch with the running loss and metrics; then the epoch's lines."""

    def __init__(
        self,
        epochs: int,
        steps: int | None,
        stream: TextIO,
        running_metrics: Callable[[], dict[str, float]] | None = None,
        label: str | None = None,
    ) -> None:
        from tqdm.auto import tqdm  # imported only when a bar is shown

        super().__init__(epochs, stream, label)
        self.tqdm, self.steps = tqdm, steps
        self.running_metrics = running_metrics
        self.bar: Any = None
        self.shown = 0.0

    def epoch_begin(self, epoch: int) -> None:
        super().epoch_begin(epoch)
        self.bar = self.tqdm(
            total=self.steps or None,
            desc=self._title(epoch),
            file=self.stream,
            leave=True,
            unit="step",
            dynamic_ncols=True,
            bar_format="{desc} {bar} {n_fmt}/{total_fmt} {elapsed}{postfix}",
        )
        self.shown = -_REFRESH_SECONDS  # the first step shows its values at once

    def batch_end(self, step: int, running_loss: float) -> None:
        self.bar.update(1)
        now = time.monotonic()
        if now - self.shown > _REFRESH_SECONDS:
            self.shown = now
            logs = {} if math.isnan(running_loss) else {"loss": running_loss}
            if self.running_metrics is not None:
                logs.update(self.running_metrics())
            if logs:
                self.bar.set_postfix_str(format_logs(logs), refresh=True)
            else:
                self.bar.refresh()

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.bar is not None:
            # The bar keeps its final count; the values, which the width may cut, move to the
            # epoch's own lines below it.
            self.bar.set_postfix_str("", refresh=False)
            self.bar.close()
            self.bar = None
        super().epoch_end(epoch, logs)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def make_reporter(
    verbose: int | str,
    epochs: int,
    steps: int | None,
    stream: TextIO | None = None,
    running_metrics: Callable[[], dict[str, float]] | None = None,
    label: str | None = None,
) -> Reporter:
    """The progress reporter for ``verbose`` (0, 1, 2 or ``'auto'``).

    Args:
        verbose: 0 silent, 1 a bar, 2 one line per epoch, ``'auto'`` a bar on a terminal.
        epochs: the number of epochs (shown as ``Epoch 3/10``).
        steps: batches per epoch, or None when unknown (a generator).
        stream: where to write (default: standard output).
        running_metrics: returns the metrics' running values of the epoch so far (called at
            most ten times a second while the bar is shown).
        label: shown instead of ``Epoch 3/10`` (``predict`` shows ``'predict'``).
    """
    stream = stream or sys.stdout
    if verbose == "auto":
        verbose = 1 if getattr(stream, "isatty", lambda: False)() else 2
    if verbose == 0:
        return Reporter()
    if verbose == 1:
        return _Bar(epochs, steps, stream, running_metrics, label)
    return _Lines(epochs, stream, label)
