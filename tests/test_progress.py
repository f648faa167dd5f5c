"""The progress display: every value visible at 80 columns, running metrics during the epoch."""

from __future__ import annotations

import io

import numpy as np

from layerwise import Dense, Input, Model
from layerwise.progress import make_reporter, wrap_fields

METRICS = ["accuracy", "precision", "recall", "f1_score"]


def classifier():
    inputs = Input(shape=(4,))
    model = Model(inputs, Dense(1, activation="sigmoid")(Dense(8, activation="tanh")(inputs)))
    model.compile(loss_fn="binary_crossentropy", optimizer="adam", metrics=METRICS)
    return model


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    return x, (x[:, 0] + x[:, 1] > 0).astype(float)


def test_wrap_fields_breaks_between_fields_and_keeps_every_field():
    fields = [f"name_{i}: 0.{i:04d}" for i in range(12)]
    lines = wrap_fields(fields, 40)
    assert all(len(line) <= 40 for line in lines)
    assert len(lines) > 1 and lines[1].startswith("    - ")
    joined = " ".join(lines)
    assert all(field in joined for field in fields)
    assert wrap_fields(["a", "b"], 80) == ["a - b"]


def test_epoch_lines_at_80_columns_show_every_training_and_validation_value(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stdout", stream)
    model = classifier()
    x, y = data()
    model.fit(x, y, epochs=2, verbose=2, validation_data=data(32, seed=1))
    lines = stream.getvalue().splitlines()
    assert lines and all(len(line) <= 80 for line in lines)
    text = stream.getvalue()
    for name in ["loss", *METRICS]:
        for key in (name, f"val_{name}"):
            value = model.history[key][-1]
            assert f"{key}: {value:.4f}" in text, key


def test_the_bar_shows_running_metrics_and_then_the_full_epoch_line():
    stream = io.StringIO()
    reporter = make_reporter(
        1, epochs=1, steps=3, stream=stream,
        running_metrics=lambda: {"accuracy": 0.25, "precision": 0.5},
    )
    reporter.epoch_begin(0)
    reporter.batch_end(0, 0.75)
    shown = stream.getvalue()
    assert "loss: 0.7500" in shown and "accuracy: 0.2500" in shown and "precision: 0.5000" in shown
    reporter.batch_end(1, 0.5)
    reporter.batch_end(2, 0.5)
    logs = {"loss": 0.5, "accuracy": 0.75, "val_loss": 0.625, "val_accuracy": 0.5}
    reporter.epoch_end(0, logs)
    reporter.close()
    lines = stream.getvalue().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("Epoch 1/1 - "))
    epoch_lines = lines[first:]
    assert all(len(line) <= 80 for line in epoch_lines)
    text = " ".join(epoch_lines)
    assert all(f"{key}: {value:.4f}" in text for key, value in logs.items())


def test_silent_reporter_writes_nothing():
    stream = io.StringIO()
    reporter = make_reporter(0, epochs=1, steps=1, stream=stream)
    reporter.epoch_begin(0)
    reporter.batch_end(0, 1.0)
    reporter.epoch_end(0, {"loss": 1.0})
    reporter.close()
    assert stream.getvalue() == ""


def test_fit_with_the_bar_shows_running_metric_values_during_the_epoch(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stdout", stream)
    model = classifier()
    x, y = data()
    model.fit(x, y, epochs=1, verbose=1, batch_size=8)
    bar_updates = [
        part for part in stream.getvalue().split("\r") if "/8" in part and "Epoch 1/1 -" not in part
    ]
    assert any("loss:" in part and "accuracy:" in part for part in bar_updates), bar_updates
