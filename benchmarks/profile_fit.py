"""Where one layerwise training epoch spends its time.

Profiles one ``fit`` epoch of the benchmark's MLP 784-256-128-10 (60,000 float32 samples,
batch 32, SGD by default) after an untimed warm-up epoch on a slice of the data, with
pyinstrument when it is installed (a sampling profiler: low overhead, a call tree with the time
of each line of the library) and with cProfile otherwise (deterministic, slower per Python call,
so it overstates Python overhead relative to BLAS).

    python benchmarks/profile_fit.py                     # call tree (pyinstrument)
    python benchmarks/profile_fit.py --flat              # functions by their own time
    python benchmarks/profile_fit.py --batch-size 128 --optimizer adam
    python benchmarks/profile_fit.py --profiler cprofile --top 40
    python benchmarks/profile_fit.py --html /tmp/fit.html  # interactive pyinstrument page

pyinstrument is a tool, not a dependency: ``pip install pyinstrument``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: cores)")
    parser.add_argument("--profiler", choices=("auto", "pyinstrument", "cprofile"), default="auto")
    parser.add_argument("--flat", action="store_true", help="pyinstrument: flat list by self time")
    parser.add_argument("--top", type=int, default=30, help="cProfile: rows to print")
    parser.add_argument("--html", type=Path, default=None, help="pyinstrument: write an HTML page")
    args = parser.parse_args()

    if args.threads is not None:
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[variable] = str(args.threads)

    import workloads

    profiler_name = args.profiler
    if profiler_name == "auto":
        try:
            import pyinstrument  # noqa: F401

            profiler_name = "pyinstrument"
        except ImportError:
            profiler_name = "cprofile"
            print("pyinstrument is not installed (pip install pyinstrument); using cProfile.\n")

    data = workloads.Data(args.samples)
    model = workloads.layerwise_model(args.optimizer)
    workloads.layerwise_epoch(model, data, args.batch_size, min(args.samples, 4096))

    def epoch():
        return workloads.layerwise_epoch(model, data, args.batch_size)

    start = time.perf_counter()
    if profiler_name == "pyinstrument":
        from pyinstrument import Profiler

        # 0.2 ms sampling: a batch-32 step takes tens of microseconds, so a finer interval
        # costs more than it resolves.
        profiler = Profiler(interval=0.0002)
        profiler.start()
        loss = epoch()
        profiler.stop()
        seconds = time.perf_counter() - start
        print(profiler.output_text(unicode=True, color=sys.stdout.isatty(), flat=args.flat))
        if args.html is not None:
            args.html.write_text(profiler.output_html())
            print(f"HTML written to {args.html}")
    else:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.enable()
        loss = epoch()
        profile.disable()
        seconds = time.perf_counter() - start
        stats = pstats.Stats(profile).strip_dirs()
        print("By own time:")
        stats.sort_stats("tottime").print_stats(args.top)
        print("By cumulative time:")
        stats.sort_stats("cumulative").print_stats(args.top)

    batches = -(-args.samples // args.batch_size)
    print(
        f"One epoch: {args.samples:,} samples, batch {args.batch_size}, {args.optimizer}, "
        f"{batches:,} steps in {seconds:.3f} s under {profiler_name} "
        f"({seconds / batches * 1e6:.1f} µs per step, loss {loss:.4f})."
    )


if __name__ == "__main__":
    main()
