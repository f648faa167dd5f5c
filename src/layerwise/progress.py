"""What ``fit`` prints: a tqdm progress bar per epoch on a terminal, one line per epoch otherwise.

``verbose``: 0 silent, 1 progress bar, 2 one line per epoch, ``'auto'`` a bar when standard
output is a terminal and lines otherwise (CI logs, notebooks' captured output, pipes).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["make_reporter", "format_logs"]


def format_logs(logs: dict) -> str:
    return " - ".join(f"{key}: {value:.4f}" for key, value in logs.items())


class _Silent:
    def epoch_begin(self, epoch: int) -> None:
        pass

    def batch_end(self, step: int, running_loss: float) -> None:
        pass

    def epoch_end(self, epoch: int, logs: dict) -> None:
        pass

    def close(self) -> None:
        pass


class _Lines(_Silent):
    """``Epoch 3/10 - loss: 0.1234 - accuracy: 0.9500 - 0.4s``."""

    def __init__(self, epochs: int, stream: TextIO | None) -> None:
        self.epochs, self.stream = epochs, stream

    def epoch_begin(self, epoch: int) -> None:
        self.start = time.perf_counter()

    def epoch_end(self, epoch: int, logs: dict | None) -> None:
        seconds = time.perf_counter() - self.start
        print(
            f"Epoch {epoch + 1}/{self.epochs} - {format_logs(logs)} - {seconds:.1f}s",
            file=self.stream,
            flush=True,
        )


class _Bar(_Silent):
    """A tqdm bar per epoch; the running loss is refreshed at most ten times a second."""

    def __init__(self, epochs: int, steps: int | None, stream: TextIO | None) -> None:
        from tqdm.auto import tqdm  # imported only when a bar is shown

        self.tqdm, self.epochs, self.steps, self.stream = tqdm, epochs, steps, stream
        self.bar = None

    def epoch_begin(self, epoch: int) -> None:
        self.bar = self.tqdm(
            total=self.steps or None,
            desc=f"Epoch {epoch + 1}/{self.epochs}",
            file=self.stream,
            leave=True,
            unit="batch",
            dynamic_ncols=True,
        )
        self.shown = time.monotonic()

    def batch_end(self, step: int, running_loss: float) -> None:
        self.bar.update(1)
        now = time.monotonic()
        if now - self.shown > 0.1:
            self.shown = now
            self.bar.set_postfix_str(f"loss: {running_loss:.4f}", refresh=False)

    def epoch_end(self, epoch: int, logs: dict | None) -> None:
        self.bar.set_postfix_str(format_logs(logs), refresh=True)
        self.bar.close()
        self.bar = None

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def make_reporter(
    verbose: int | str, epochs: int, steps: int | None, stream: TextIO | None = None
) -> _Silent:
    """The progress reporter for ``verbose`` (0, 1, 2 or ``'auto'``)."""
    stream = stream or sys.stdout
    if verbose == "auto":
        verbose = 1 if getattr(stream, "isatty", lambda: False)() else 2
    if verbose == 0:
        return _Silent()
    if verbose == 1:
        return _Bar(epochs, steps, stream)
    return _Lines(epochs, stream)
