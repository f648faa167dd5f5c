"""Peak memory of one training epoch, measured in a fresh process; prints one JSON line.

Run by ``run.py`` (``python benchmarks/memory_child.py --contender layerwise --method rss``).
The baseline is taken with the data loaded, the model built and compiled, and BLAS already
initialised by one small product (its thread buffers belong to the process, not to ``fit``).

Methods:
    rss: the kernel's resident-set high-water mark (VmHWM). It is reset just before the epoch
        through /proc/self/clear_refs where the kernel allows it; otherwise the lifetime peak
        (``ru_maxrss``) is used, which the in-place data generation keeps close to the baseline.
        Sees every allocation, including BLAS and PyTorch's own allocator.
    tracemalloc: Python's allocation tracer, started just before the epoch. NumPy reports its
        array buffers to it, so its peak is the memory that the epoch's Python objects and NumPy
        arrays held at once; it cannot see PyTorch's allocator (layerwise only).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    peak, current = _status_kib("VmHWM"), _status_kib("VmRSS")
    # A kernel that ignores the request leaves the lifetime peak in place; allow 1 MiB of drift.
    return peak is not None and current is not None and peak <= current + 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contender", choices=("layerwise", "torch"), default="layerwise")
    parser.add_argument("--method", choices=("rss", "tracemalloc"), default="rss")
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    import numpy as np
    import workloads

    if args.threads is not None:
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=args.threads)
        except ImportError:
            pass  # the parent also pinned the thread count through the environment

    data = workloads.Data(args.samples)
    if args.contender == "layerwise":
        model = workloads.layerwise_model("sgd")
        data_mb = data.megabytes

        def run():
            return workloads.layerwise_epoch(model, data, args.batch_size)

    else:
        import torch

        if args.threads is not None:
            torch.set_num_threads(args.threads)
        trainer = workloads.TorchTrainer(data, "sgd")
        data_mb = (data.x.nbytes + data.labels.nbytes) / 2**20
        trainer.model(trainer.x[:256]).sum().backward()  # initialise its BLAS and autograd
        trainer.optimizer.zero_grad()

        def run():
            return trainer.epoch(args.batch_size)

    warm = np.ones((256, workloads.FEATURES), np.float32)
    warm @ np.ones((workloads.FEATURES, 256), np.float32)  # BLAS thread buffers exist now
    del warm

    result = {"contender": args.contender, "method": args.method, "data_mb": data_mb}
    if args.method == "tracemalloc":
        import tracemalloc

        tracemalloc.start()
        start = time.perf_counter()
        loss = run()
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result.update(overhead_mb=peak / 2**20, peak_source="tracemalloc peak")
    else:
        before_kib = _status_kib("VmRSS")
        if before_kib is not None and _reset_peak():
            start = time.perf_counter()
            loss = run()
            seconds = time.perf_counter() - start
            peak_kib = _status_kib("VmHWM")
            source = "VmHWM reset by /proc/self/clear_refs"
        else:
            # ru_maxrss is in KiB on Linux; the baseline is then the lifetime peak so far.
            before_kib = before_kib or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            start = time.perf_counter()
            loss = run()
            seconds = time.perf_counter() - start
            peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            source = "ru_maxrss (lifetime peak)"
        result.update(
            baseline_mb=before_kib / 1024,
            peak_mb=peak_kib / 1024,
            overhead_mb=(peak_kib - before_kib) / 1024,
            peak_source=source,
        )
    result.update(seconds=seconds, loss=loss)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
