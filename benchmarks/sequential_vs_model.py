"""A chain built as ``Sequential`` against the same chain built with ``Model``: one training
epoch each (MLP 784-256-128-10, ReLU, softmax + cross-entropy, float32, 20,000 samples, batch
128), interleaved rounds in one process, medians. They run the same Graph, so the ratio should
be 1.0 within the noise.

    .venv/bin/python benchmarks/sequential_vs_model.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import layerwise
from layerwise import Dense, Input, Model, Sequential


def chain(kind: str, optimizer: str):
    layerwise.set_seed(0)
    layers = [Input((784,)), Dense(256, activation="relu"), Dense(128, activation="relu"),
              Dense(10, activation="softmax")]
    if kind == "Sequential":
        model = Sequential(layers)
    else:
        x = layers[0]
        for layer in layers[1:]:
            x = layer(x)
        model = Model(layers[0], x)
    model.compile(loss="categorical_crossentropy", optimizer=optimizer)
    return model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, 784)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, len(x))]
    for optimizer in ("sgd", "adam"):
        models = {kind: chain(kind, optimizer) for kind in ("Model", "Sequential")}
        times: dict[str, list[float]] = {kind: [] for kind in models}
        for model in models.values():
            model.fit(x[:1024], y[:1024], epochs=1, batch_size=128, verbose=0)  # warm up
        for _ in range(rounds):
            for kind, model in models.items():
                start = time.perf_counter()
                model.fit(x, y, epochs=1, batch_size=128, verbose=0)
                times[kind].append(time.perf_counter() - start)
        medians = {kind: statistics.median(t) for kind, t in times.items()}
        print(f"{optimizer}: Model {medians['Model']:.3f} s, Sequential "
              f"{medians['Sequential']:.3f} s per epoch; Sequential / Model = "
              f"{medians['Sequential'] / medians['Model']:.2f}")


if __name__ == "__main__":
    main()
