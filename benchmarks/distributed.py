"""Data-parallel training on this machine: 1 process x 2 BLAS threads against 2 processes x 1.

The benchmark MLP (784-256-128-10, float32, 235,146 parameters, SGD lr 0.01) trains at global
batch 256: one process with OpenBLAS on two threads at batch 256, against ``mpiexec -n 2``
with one thread per process at batch 128 each. Each round starts both afresh (interleaved, the
order alternating); a process trains one untimed epoch, then ``--epochs`` timed ones. Reported:

- throughput (samples per second) of each, and their ratio;
- the allreduce of the 235k packed gradients alone (``MPI.Allreduce`` in place, 200 calls);
- how a 2-process step splits: compute (forward, backward, update), waiting for the other
  process (a barrier before each allreduce, in one extra diagnostic epoch), and the transfer
  itself (the allreduce after that barrier).

    .venv/bin/python benchmarks/distributed.py                 # 3 rounds, 20,000 samples
    .venv/bin/python benchmarks/distributed.py --rounds 5 --samples 60000 --epochs 2

Writes ``results/distributed.json`` and ``results/distributed.md`` (the table for the README).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GLOBAL_BATCH = 256


def worker(samples: int, epochs: int, per_process_batch: int) -> None:
    """Runs in each process: trains, times, prints one JSON line on rank 0."""
    sys.path.insert(0, str(HERE))
    import numpy as np
    from workloads import Data, layerwise_model

    from layerwise.distributed import MPIStrategy

    strategy = MPIStrategy()
    data = Data(samples)
    model = layerwise_model("sgd")
    model.compile(loss_fn="categorical_crossentropy", optimizer=model.optimizer,
                  distribute=strategy)
    fit = lambda: model.fit(data.x, data.y_onehot, epochs=1,  # noqa: E731
                            batch_size=per_process_batch, verbose=0)
    fit()  # warm-up: buffers, BLAS threads, page faults
    report = {"processes": strategy.size, "threads": os.environ.get("OPENBLAS_NUM_THREADS"),
              "batch_per_process": per_process_batch, "samples": samples}
    if strategy.size > 1:
        comm, MPI = strategy.comm, strategy.MPI
        spent = {"allreduce": 0.0, "wait": 0.0, "steps": 0, "calls": []}
        original = strategy.allreduce

        def timed(array, barrier=False):
            if barrier:
                start = time.perf_counter()
                comm.Barrier()
                spent["wait"] += time.perf_counter() - start
            start = time.perf_counter()
            result = original(array)
            spent["allreduce"] += time.perf_counter() - start
            spent["calls"].append(time.perf_counter() - start)
            spent["steps"] += 1
            return result

        strategy.allreduce = timed
    seconds = []
    for _ in range(epochs):
        if strategy.size > 1:
            comm.Barrier()
            spent.update(allreduce=0.0, wait=0.0, steps=0, calls=[])
        start = time.perf_counter()
        fit()
        seconds.append(time.perf_counter() - start)
    report["epoch_seconds"] = seconds
    if strategy.size > 1:
        report["allreduce_in_fit_seconds"] = spent["allreduce"]
        report["steps"] = spent["steps"]
        report["allreduce_in_fit_median_seconds"] = statistics.median(spent["calls"])
        # Diagnostic epoch: a barrier first separates waiting for the slower process from
        # the transfer.
        strategy.allreduce = lambda array: timed(array, barrier=True)
        spent.update(allreduce=0.0, wait=0.0, steps=0, calls=[])
        comm.Barrier()
        start = time.perf_counter()
        fit()
        report["diagnostic_epoch_seconds"] = time.perf_counter() - start
        report["diagnostic_wait_seconds"] = spent["wait"]
        report["diagnostic_transfer_seconds"] = spent["allreduce"]
        report["diagnostic_transfer_median_seconds"] = statistics.median(spent["calls"])
        # Diagnostic epoch without communication (each process keeps its own gradients): what
        # two processes compute when nothing is sent and nobody waits.
        tail = strategy.tail_size(model)

        def local_only(array):
            array[-tail:][0] *= strategy.size  # the sample count the allreduce would give
            return array

        strategy.allreduce = local_only
        comm.Barrier()
        start = time.perf_counter()
        fit()
        report["no_communication_epoch_seconds"] = time.perf_counter() - start
        # The allreduce alone: the packed gradients plus the 3 numbers reduced with them.
        buffer = np.ones(model.count_params() + strategy.TAIL, dtype=np.float32)
        calls = []
        for _ in range(200):
            comm.Barrier()
            start = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
            calls.append(time.perf_counter() - start)
        report["allreduce_alone_seconds"] = calls
        report["gradient_elements"] = int(model.count_params())
    if strategy.is_chief:
        print(json.dumps(report), flush=True)


# (processes, BLAS threads per process); the middle one is a control: one core's worth.
CONFIGS = ((1, 2), (1, 1), (2, 1))


def _launch(processes: int, threads: int, args) -> dict:
    env = dict(os.environ, UCX_TLS="self,sm")
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    command = [sys.executable, __file__, "--worker", "--samples", str(args.samples),
               "--epochs", str(args.epochs), "--batch", str(GLOBAL_BATCH // processes)]
    if processes > 1:
        mpiexec = Path(sys.executable).parent / "mpiexec"
        command = [str(mpiexec), "-launcher", "fork", "-hosts", "localhost", "-iface", "lo",
                   "-n", str(processes), *command]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _summary(runs: dict, samples: int) -> str:
    rate = {c: statistics.median(samples / s for run in runs[c] for s in run["epoch_seconds"])
            for c in CONFIGS}
    # The fastest epoch: the least disturbed by the other work on a shared machine.
    best = {c: max(samples / s for run in runs[c] for s in run["epoch_seconds"]) for c in CONFIGS}
    two = runs[(2, 1)]
    steps = two[0]["steps"]
    epoch2 = statistics.median(s for run in two for s in run["epoch_seconds"])
    in_fit = statistics.median(run["allreduce_in_fit_seconds"] for run in two) / steps
    wait = statistics.median(run["diagnostic_wait_seconds"] for run in two) / steps
    transfer = statistics.median(run["diagnostic_transfer_seconds"] for run in two) / steps
    alone = statistics.median(t for run in two for t in run["allreduce_alone_seconds"])
    in_fit_median = statistics.median(run["allreduce_in_fit_median_seconds"] for run in two)
    transfer_median = statistics.median(
        run["diagnostic_transfer_median_seconds"] for run in two)
    step = epoch2 / steps
    alone_epoch = statistics.median(run["no_communication_epoch_seconds"] for run in two)
    base, top = rate[(1, 2)], best[(1, 2)]
    names = {(1, 2): "1 process x 2 BLAS threads, batch 256",
             (2, 1): "2 processes x 1 thread, batch 128 each",
             (1, 1): "(control) 1 process x 1 thread, batch 256"}
    rows = [
        "| configuration (global batch 256) | samples/s, median | ratio | samples/s, fastest "
        "epoch | ratio |",
        "|---|---|---|---|---|",
        *(f"| {names[c]} | {rate[c]:,.0f} | {rate[c] / base:.2f} | {best[c]:,.0f} | "
          f"{best[c] / top:.2f} |" for c in ((1, 2), (2, 1), (1, 1))),
        f"| (diagnostic) 2 processes, allreduce skipped | {samples / alone_epoch:,.0f} | "
        f"{samples / alone_epoch / base:.2f} | | |",
        "",
        "| a 2-process step | ms | share |",
        "|---|---|---|",
        f"| whole step | {step * 1e3:.2f} | 100% |",
        f"| compute (forward, backward, update) | {(step - in_fit) * 1e3:.2f} | "
        f"{(step - in_fit) / step:.0%} |",
        f"| allreduce call inside fit (transfer + waiting; mean, median {in_fit_median * 1e3:.2f})"
        f" | {in_fit * 1e3:.2f} | {in_fit / step:.0%} |",
        f"| of which waiting for the other process (diagnostic epoch) | {wait * 1e3:.2f} | |",
        f"| of which transfer (diagnostic epoch; mean, median {transfer_median * 1e3:.2f}) | "
        f"{transfer * 1e3:.2f} | |",
        f"| allreduce of the {two[0]['gradient_elements']:,} gradients alone | "
        f"{alone * 1e3:.3f} | |",
    ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=GLOBAL_BATCH, help=argparse.SUPPRESS)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per process")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-save", action="store_true", help="print only, keep results/")
    args = parser.parse_args()
    if args.worker:
        worker(args.samples, args.epochs, args.batch)
        return
    runs: dict[tuple, list] = {config: [] for config in CONFIGS}
    for round_index in range(args.rounds):
        shift = round_index % len(CONFIGS)  # rotate the order: none always runs first
        for config in CONFIGS[shift:] + CONFIGS[:shift]:
            runs[config].append(_launch(*config, args))
            print(f"round {round_index + 1}: {config[0]} process(es) x {config[1]} thread(s): "
                  f"{runs[config][-1]['epoch_seconds']}", file=sys.stderr)
    table = _summary(runs, args.samples)
    print(table)
    if args.no_save:
        return
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "distributed.json").write_text(json.dumps({"args": vars(args), "runs": {
        f"{p}x{t}": r for (p, t), r in runs.items()}},
                                                         indent=1))
    command = (f"python benchmarks/distributed.py --rounds {args.rounds} --samples "
               f"{args.samples} --epochs {args.epochs}")
    (results / "distributed.md").write_text(f"`{command}`\n\n{table}\n")


if __name__ == "__main__":
    main()
