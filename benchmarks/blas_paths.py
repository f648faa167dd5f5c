"""What the direct BLAS calls of layerwise._blas are worth in a training epoch.

Times one ``fit`` epoch of the benchmark MLP (784-256-128-10, 60,000 float32 samples) with the
direct calls on (the default size threshold) and off (every array through NumPy alone),
interleaved in one process, for plain SGD, SGD with momentum, Adam and RMSprop. Prints the
medians and the median of the per-round ratios (off / on; above 1: the direct calls save time).

    .venv/bin/python benchmarks/blas_paths.py [--batch-size 128] [--rounds 9]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402

from layerwise import _blas, optimizers  # noqa: E402

OPTIMIZERS = {
    "SGD": lambda: optimizers.SGD(workloads.SGD_RATE),
    "SGD momentum 0.9": lambda: optimizers.SGD(workloads.SGD_RATE, momentum=0.9),
    "Adam": lambda: optimizers.Adam(workloads.ADAM_RATE, epsilon=workloads.ADAM_EPSILON),
    "RMSprop": lambda: optimizers.RMSprop(workloads.ADAM_RATE),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    if not _blas.available():
        print("NumPy's OpenBLAS was not found: layerwise uses NumPy alone; nothing to compare.")
        return
    data = workloads.Data(60_000)
    default = _blas.MIN_SIZE
    print(f"batch {args.batch_size}, {args.rounds} interleaved rounds, one epoch each:")
    for name, make in OPTIMIZERS.items():
        model = workloads.layerwise_model()
        model.compile(loss_fn="categorical_crossentropy", optimizer=make())
        workloads.layerwise_epoch(model, data, args.batch_size, 4096)  # warm-up
        times = {"on": [], "off": []}
        for _ in range(args.rounds):
            for setting in times:
                _blas.MIN_SIZE = default if setting == "on" else sys.maxsize
                start = time.perf_counter()
                workloads.layerwise_epoch(model, data, args.batch_size)
                times[setting].append(time.perf_counter() - start)
        _blas.MIN_SIZE = default
        ratio = np.median([off / on for on, off in zip(times["on"], times["off"])])
        print(
            f"  {name:17s} direct BLAS {np.median(times['on']):.3f} s, NumPy alone "
            f"{np.median(times['off']):.3f} s: {ratio:.2f}x"
        )


if __name__ == "__main__":
    main()
