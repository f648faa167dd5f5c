"""layerwise's fit against a hand-written, lean NumPy loop and the matrix products alone.

The lean loop does what a fast NumPy training step can do at least (shuffled gather into a
buffer, products into preallocated arrays, in-place bias, ReLU and softmax, the fused
cross-entropy gradient, one-pass SGD) without the library around it, and without computing the
loss value. It shows how much of an epoch is the library's own overhead (fit / lean) and how
much is inherent to NumPy's one-operation-at-a-time execution (lean / products). The lean loop
is NumPy alone; fit also adds the first layer's SGD step straight into its weights inside the
weight-gradient product (one BLAS gemm, layerwise._blas), so fit / lean can fall below 1.
Interleaved rounds, medians; MLP 784-256-128-10 on 60,000 float32 samples.

    .venv/bin/python benchmarks/lean_loop.py [batch_size ...]     # default: 32 128
"""

from __future__ import annotations

import sys
import time

import numpy as np

import layerwise
from layerwise import Dense, Input, Model

N, LR = 60_000, 0.01
rng = np.random.default_rng(0)
X = rng.standard_normal((N, 784)).astype(np.float32)
Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, N)]


def lean_epoch(params, grads, bs):
    w1, b1, w2, b2, w3, b3 = params
    xb, yb = np.empty((bs, 784), np.float32), np.empty((bs, 10), np.float32)
    h1b, h2b = np.empty((bs, 256), np.float32), np.empty((bs, 128), np.float32)
    zb, d1b, d2b = np.empty((bs, 10), np.float32), np.empty_like(h1b), np.empty_like(h2b)
    order = rng.permutation(N)
    for start in range(0, N, bs):
        index = order[start : start + bs]
        n = len(index)
        x = np.take(X, index, axis=0, out=xb[:n], mode="clip")
        y = np.take(Y, index, axis=0, out=yb[:n], mode="clip")
        h1 = np.dot(x, w1, out=h1b[:n])
        h1 += b1
        np.maximum(h1, 0, out=h1)
        h2 = np.dot(h1, w2, out=h2b[:n])
        h2 += b2
        np.maximum(h2, 0, out=h2)
        z = np.dot(h2, w3, out=zb[:n])
        z += b3
        z -= np.maximum.reduce(z, axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= np.add.reduce(z, axis=1, keepdims=True)
        z -= y
        z *= LR / n
        np.add.reduce(z, axis=0, out=grads[5])
        np.dot(h2.T, z, out=grads[4])
        d2 = np.dot(z, w3.T, out=d2b[:n])
        np.multiply(d2, h2 > 0, out=d2)
        np.add.reduce(d2, axis=0, out=grads[3])
        np.dot(h1.T, d2, out=grads[2])
        d1 = np.dot(d2, w2.T, out=d1b[:n])
        np.multiply(d1, h1 > 0, out=d1)
        np.add.reduce(d1, axis=0, out=grads[1])
        np.dot(x.T, d1, out=grads[0])
        for p, g in zip(params, grads):
            np.subtract(p, g, out=p)


def products_epoch(params, grads, bs):
    w1, _, w2, _, w3, _ = params
    x = X[:bs]
    h1, h2 = np.empty((bs, 256), np.float32), np.empty((bs, 128), np.float32)
    z, d1, d2 = np.empty((bs, 10), np.float32), np.empty_like(h1), np.empty_like(h2)
    for _ in range(0, N, bs):
        np.dot(x, w1, out=h1)
        np.dot(h1, w2, out=h2)
        np.dot(h2, w3, out=z)
        np.dot(h2.T, z, out=grads[4])
        np.dot(z, w3.T, out=d2)
        np.dot(h1.T, d2, out=grads[2])
        np.dot(d2, w2.T, out=d1)
        np.dot(x.T, d1, out=grads[0])


def main(batch_sizes) -> None:
    layerwise.set_seed(0)
    inputs = Input(shape=(784,))
    h = Dense(128, activation="relu")(Dense(256, activation="relu")(inputs))
    model = Model(inputs, Dense(10, activation="softmax")(h))
    model.compile(loss_fn="categorical_crossentropy")
    params = [p.copy() for p in model.get_weights()]
    grads = [np.empty_like(p) for p in params]
    for bs in batch_sizes:
        contenders = {
            "fit": lambda bs=bs: model.fit(X, Y, epochs=1, batch_size=bs, verbose=0),
            "lean": lambda bs=bs: lean_epoch(params, grads, bs),
            "products": lambda bs=bs: products_epoch(params, grads, bs),
        }
        times = {name: [] for name in contenders}
        for run in contenders.values():
            run()
        for _ in range(5):
            for name, run in contenders.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
        fit, lean, products = (float(np.median(times[k])) for k in contenders)
        print(
            f"batch {bs}: fit {fit:.3f} s, lean loop {lean:.3f} s, products {products:.3f} s; "
            f"fit/lean {fit / lean:.2f}, lean/products {lean / products:.2f}, "
            f"fit/products {fit / products:.2f}"
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [32, 128])
