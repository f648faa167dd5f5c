"""Benchmark layerwise against PyTorch (CPU) and scikit-learn on the targets of issue 5.

MLP 784-256-128-10 (ReLU, softmax + categorical cross-entropy, float32) on 60,000 synthetic
float32 samples, shuffled each epoch. Every comparison interleaves the contenders (A B A B ...)
in one process with the same data and the same thread count, warms each up once, and reports
medians and their ratios. Peers are used where installed and skipped with a note otherwise.

    python benchmarks/run.py                  # everything, about 3-5 minutes on 2 cores
    python benchmarks/run.py --quick          # smoke run, about a minute
    python benchmarks/run.py --only train,predict --threads 1

The Markdown table is printed and written to benchmarks/results/latest.md, the raw timings to
benchmarks/results/latest.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

BENCHMARKS = (
    "train", "sklearn", "blas", "predict", "predict10k", "families", "gelu", "memory", "import"
)
MEMORY_LIMIT_MB = 64.0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="BLAS/OpenMP threads for all (default: cores)"
    )
    parser.add_argument("--quick", action="store_true", help="short smoke run (~1 minute)")
    parser.add_argument("--only", default=None, help=f"comma-separated subset of {BENCHMARKS}")
    parser.add_argument("--skip", default=None, help="comma-separated benchmarks to leave out")
    parser.add_argument("--samples", type=int, default=None, help="data set size (60000)")
    parser.add_argument("--rounds", type=int, default=None, help="timed epochs per contender (7)")
    parser.add_argument("--predict-calls", type=int, default=None, help="calls per timing (2000)")
    parser.add_argument("--predict-rounds", type=int, default=None, help="timings each (15)")
    parser.add_argument("--import-runs", type=int, default=None, help="interpreters each (30)")
    parser.add_argument("--output-dir", type=Path, default=HERE / "results")
    parser.add_argument("--no-save", action="store_true", help="print only, write no files")
    parser.add_argument(
        "--readme",
        type=Path,
        default=None,
        help="also replace the table between the benchmark-table markers of this README",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print every timing")
    args = parser.parse_args(argv)

    quick = args.quick
    defaults = {
        "samples": 10_000 if quick else 60_000,
        "rounds": 2 if quick else 7,
        "predict_calls": 300 if quick else 2000,
        "predict_rounds": 4 if quick else 15,
        "import_runs": 5 if quick else 30,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")

    def names(text):
        chosen = [] if text is None else [n.strip() for n in text.split(",") if n.strip()]
        unknown = sorted(set(chosen) - set(BENCHMARKS))
        if unknown:
            parser.error(f"unknown benchmark(s) {unknown}; choose from {BENCHMARKS}")
        return chosen

    only, skip = names(args.only), names(args.skip)
    args.selected = [b for b in BENCHMARKS if (not only or b in only) and b not in skip]
    if not args.selected:
        parser.error("no benchmark selected")
    return args


# ----------------------------------------------------------------------------- formatting
def _rate(samples: int, seconds: float) -> str:
    return f"{samples / seconds:,.0f} samples/s"


def _speedup(ratio: float) -> str:
    return f"{ratio:.2f}x faster" if ratio >= 1 else f"{ratio:.2f}x ({1 / ratio:.2f}x slower)"


def _row(benchmark, layerwise, peer, ratio, target, met) -> dict:
    return {
        "benchmark": benchmark,
        "layerwise": layerwise,
        "peer": peer,
        "ratio": ratio,
        "target": target,
        "met": "—" if met is None else ("yes" if met else "**no**"),
    }


def markdown_table(rows: list[dict]) -> str:
    header = ["benchmark", "layerwise", "peer", "ratio", "target", "met?"]
    keys = ["benchmark", "layerwise", "peer", "ratio", "target", "met"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(row[k]) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def environment_lines(env: dict) -> list[str]:
    lines = [
        f"- Machine: {env['cpu']}, {env['cores']} usable cores ({env['logical_cpus']} logical "
        f"CPUs); {env['platform']}",
        f"- Threads pinned to {env['threads']} for every contender (threadpoolctl + "
        f"torch.set_num_threads + *_NUM_THREADS)",
        f"- Python {env['python']}, NumPy {env['numpy']}, layerwise {env['layerwise']}, "
        f"PyTorch {env['torch'] or 'not installed'}, "
        f"scikit-learn {env['sklearn'] or 'not installed'}, "
        f"threadpoolctl {env['threadpoolctl'] or 'not installed'}",
    ]
    if env.get("load_average"):
        lines.append(
            "- Load average (1, 5, 15 min) at the start: "
            + ", ".join(f"{value:.2f}" for value in env["load_average"])
            + " (other processes running distort the absolute numbers more than the ratios)"
        )
    if env.get("threadpools"):
        pools = "; ".join(
            f"{p['api']} {p['version'] or ''} ({p['library']}): {p['threads']} threads".replace(
                "  ", " "
            )
            for p in env["threadpools"]
        )
        lines.append(f"- BLAS/OpenMP libraries loaded: {pools}")
    elif env.get("threadpools") is None:
        lines.append("- BLAS libraries: unknown (threadpoolctl not installed)")
    return lines


def numpy_blas() -> str:
    """NumPy's BLAS as NumPy reports it, e.g. 'scipy-openblas 0.3.31'."""
    import numpy

    try:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except (TypeError, KeyError):  # NumPy < 2
        return "BLAS unknown"
    version = ".".join(str(blas.get("version", "")).split(".")[:3])
    return f"{blas.get('name', 'BLAS')} {version}".strip()


def update_readme(path: Path, block: str) -> None:
    """Replace what lies between the README's benchmark-table markers with ``block``."""
    start, end = "<!-- benchmark-table -->", "<!-- /benchmark-table -->"
    text = path.read_text()
    if start not in text or end not in text:
        raise SystemExit(f"{path} has no {start} ... {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{block}\n{end}{tail}")


# ----------------------------------------------------------------------------- benchmarks
def run_training(args, data, peers, log, rows, raw, notes) -> None:
    """Training throughput (vs PyTorch) and against scikit-learn and the BLAS bound, grouped so
    that each layerwise epoch is interleaved with every peer it is compared to."""
    import measure
    import numpy as np
    import workloads

    n = data.samples
    warm = min(n, 4096)
    torch_ok = "train" in args.selected and peers["torch"]
    sklearn_ok = "sklearn" in args.selected and peers["sklearn"]
    blas_ok = "blas" in args.selected
    if "train" in args.selected and not peers["torch"]:
        notes.append("PyTorch is not installed: the PyTorch comparisons were skipped.")
    if "sklearn" in args.selected and not peers["sklearn"]:
        notes.append("scikit-learn is not installed: the MLPClassifier comparison was skipped.")

    models = {"sgd": workloads.layerwise_model("sgd")}
    if torch_ok:
        models["adam"] = workloads.layerwise_model("adam")
    trainers = {}
    if torch_ok:
        for name, model in models.items():
            trainer = workloads.TorchTrainer(data, name)
            # Same starting weights, and a check that both compute the same function.
            trainer.load_layerwise_weights(model.get_weights())
            sample = data.x[:256]
            gap = float(np.max(np.abs(model.predict(sample) - trainer.probabilities(sample))))
            raw.setdefault("architecture_check_max_abs_difference", {})[name] = gap
            if gap > 1e-4:
                raise RuntimeError(f"layerwise and PyTorch disagree by {gap:g} on the same weights")
            trainers[name] = trainer
        notes.append(
            "PyTorch starts from layerwise's initial weights; their softmax outputs agree to "
            f"{max(raw['architecture_check_max_abs_difference'].values()):.1e} before training, "
            "so both compute the same network."
        )

    groups = []  # (key, optimizer, batch size, contenders, warm-ups)
    for optimizer, batch_size in (("sgd", 32), ("sgd", 128), ("sgd", 512), ("adam", 128)):
        contenders, warm_ups = {}, {}
        with_torch = torch_ok
        with_sklearn = sklearn_ok and optimizer == "sgd" and batch_size == 32
        with_blas = blas_ok and optimizer == "sgd" and batch_size == 128
        if not (with_torch or with_sklearn or with_blas):
            continue
        model = models[optimizer]
        contenders["layerwise"] = lambda m=model, b=batch_size: workloads.layerwise_epoch(
            m, data, b
        )
        warm_ups["layerwise"] = lambda m=model, b=batch_size: workloads.layerwise_epoch(
            m, data, b, warm
        )
        if with_torch:
            trainer = trainers[optimizer]
            contenders["pytorch"] = lambda t=trainer, b=batch_size: t.epoch(b)
            warm_ups["pytorch"] = lambda t=trainer, b=batch_size: t.epoch(b, warm)
        if with_sklearn:
            contenders["sklearn"] = lambda b=batch_size: workloads.sklearn_epoch(data, b)
            warm_ups["sklearn"] = lambda b=batch_size: workloads.sklearn_epoch(data, b, warm)
        if with_blas:
            matmuls = workloads.MatmulEpoch(batch_size)
            contenders["blas"] = lambda e=matmuls: e.epoch(data.x)
            warm_ups["blas"] = lambda e=matmuls: e.epoch(data.x[:warm])
        groups.append((f"{optimizer}_{batch_size}", optimizer, batch_size, contenders, warm_ups))

    training_rows = []
    for key, optimizer, batch_size, contenders, warm_ups in groups:
        log(f"  {optimizer.upper()} at batch {batch_size}: {', '.join(contenders)}")
        timings = measure.interleaved(
            contenders, args.rounds, warm_ups, log if args.verbose else None
        )
        raw.setdefault("training", {})[key] = timings
        ours = measure.median(timings["layerwise"]["seconds"])
        title = f"train 1 epoch, {'Adam' if optimizer == 'adam' else 'SGD'}, batch {batch_size}"
        for peer, seconds in timings.items():
            if peer == "layerwise":
                continue
            theirs = measure.median(seconds["seconds"])
            paired = [p / o for p, o in zip(seconds["seconds"], timings["layerwise"]["seconds"])]
            timings[peer]["paired_ratio_median"] = measure.median(paired)
            if peer == "pytorch":
                goal = {("sgd", 512): 1.0, ("adam", 128): 1.3}.get((optimizer, batch_size), 1.5)
                ratio = theirs / ours
                training_rows.append(
                    _row(
                        f"{title} (vs PyTorch)",
                        _rate(n, ours),
                        f"PyTorch: {_rate(n, theirs)}",
                        _speedup(ratio),
                        f"≥ {goal:.1f}x",
                        ratio >= goal,
                    )
                )
            elif peer == "sklearn":
                ratio = theirs / ours
                dtype = seconds["results"][-1][1]
                training_rows.append(
                    _row(
                        f"{title} (vs scikit-learn)",
                        _rate(n, ours),
                        f"MLPClassifier ({dtype}): {_rate(n, theirs)}",
                        _speedup(ratio),
                        "≥ 1.5x",
                        ratio >= 1.5,
                    )
                )
                notes.append(f"scikit-learn's MLPClassifier trained in {dtype} (float32 input).")
            else:
                ratio = ours / theirs
                training_rows.append(
                    _row(
                        f"epoch at batch {batch_size} vs its matrix products alone",
                        f"{ours:.3f} s",
                        f"BLAS bound: {theirs:.3f} s",
                        f"{ratio:.2f}x the BLAS time",
                        "≤ 1.3x",
                        ratio <= 1.3,
                    )
                )
        # sklearn returns (loss, dtype); the others the loss; the BLAS bound nothing.
        losses = {
            name: round(float(np.atleast_1d(t["results"][-1])[0]), 4)
            for name, t in timings.items()
            if name != "blas"
        }
        if losses:
            log(f"    last-epoch mean losses: {losses}")
            raw.setdefault("last_epoch_losses", {})[key] = losses
    if torch_ok and "sgd_128" in raw.get("last_epoch_losses", {}):
        # Same starting weights and the same updates: the losses should track each other.
        pair = raw["last_epoch_losses"]["sgd_128"]
        notes.append(
            "from the same starting weights, the last timed SGD epoch at batch 128 ends at a mean "
            f"training loss of {pair['layerwise']:.4f} (layerwise) vs {pair['pytorch']:.4f} "
            "(PyTorch)."
        )
    # PyTorch rows first, then scikit-learn, then the BLAS bound, whatever order they ran in.
    order = ("PyTorch", "scikit-learn", "matrix products")
    rows += sorted(
        training_rows, key=lambda r: next(i for i, k in enumerate(order) if k in r["benchmark"])
    )


def run_predict(args, data, peers, log, rows, raw, notes) -> None:
    """One-sample predict: ``model.predict(x[:1])`` vs softmax(model(x)) in inference mode."""
    import measure
    import workloads

    calls = args.predict_calls
    model = workloads.layerwise_model("sgd")
    one = data.x[:1]
    contenders = {}

    def layerwise_calls():
        predict = model.predict
        for _ in range(calls):
            predict(one)

    contenders["layerwise"] = layerwise_calls
    if peers["torch"]:
        import torch

        trainer = workloads.TorchTrainer(data, "sgd")
        trainer.load_layerwise_weights(model.get_weights())
        network, one_tensor = trainer.model.eval(), torch.from_numpy(one)

        def torch_calls():
            for _ in range(calls):
                with torch.inference_mode():
                    torch.softmax(network(one_tensor), dim=1)

        contenders["pytorch"] = torch_calls
    else:
        notes.append("PyTorch is not installed: the predict comparison was skipped.")

    log(f"  predict of one sample: {args.predict_rounds} rounds of {calls} calls")
    timings = measure.interleaved(
        contenders, args.predict_rounds, log=log if args.verbose else None
    )
    for timing in timings.values():
        timing["microseconds_per_call"] = [s / calls * 1e6 for s in timing["seconds"]]
        timing.pop("results")
    raw["predict"] = timings
    ours = measure.median(timings["layerwise"]["microseconds_per_call"])
    if "pytorch" in timings:
        theirs = measure.median(timings["pytorch"]["microseconds_per_call"])
        ratio = ours / theirs
        rows.append(
            _row(
                "predict 1 sample",
                f"{ours:.1f} µs",
                f"PyTorch inference_mode: {theirs:.1f} µs",
                f"{ratio:.2f}x PyTorch's time",
                "≤ 0.7x",
                ratio <= 0.7,
            )
        )
        notes.append(
            "predict: PyTorch's timing covers `with torch.inference_mode(): "
            "torch.softmax(model(x), dim=1)` per call, layerwise's `model.predict(x)`; "
            "both return probabilities of one sample."
        )
    else:
        rows.append(_row("predict 1 sample", f"{ours:.1f} µs", "—", "—", "≤ 0.7x", None))


def run_memory(args, peers, log, rows, raw, notes) -> None:
    """Peak memory of one fit epoch at batch 128, in fresh processes, above the loaded data."""
    import measure

    log("  peak memory of fit (fresh subprocesses)")
    report = {}
    for contender, method in (("layerwise", "rss"), ("layerwise", "tracemalloc"), ("torch", "rss")):
        if contender == "torch" and not peers["torch"]:
            continue
        report[f"{contender}_{method}"] = result = measure.memory_in_subprocess(
            contender, method, args.samples, 128, args.threads
        )
        log(f"    {contender} ({method}): +{result['overhead_mb']:.1f} MB")
    raw["memory"] = report
    rss = report["layerwise_rss"]
    traced = report["layerwise_tracemalloc"]
    worst = max(rss["overhead_mb"], traced["overhead_mb"])
    data_mb = rss["data_mb"]
    peer = "—"
    if "torch_rss" in report:
        peer = f"PyTorch loop: +{report['torch_rss']['overhead_mb']:.1f} MB (RSS)"
    rows.append(
        _row(
            "fit peak memory above the loaded data, batch 128",
            f"+{rss['overhead_mb']:.1f} MB (RSS), +{traced['overhead_mb']:.1f} MB (tracemalloc)",
            peer,
            f"{worst:.1f} MB of {MEMORY_LIMIT_MB:.0f} MB allowed",
            f"≤ data ({data_mb:.0f} MB) + {MEMORY_LIMIT_MB:.0f} MB",
            worst <= MEMORY_LIMIT_MB,
        )
    )
    notes.append(
        f"memory: one epoch in a fresh process; RSS peak from {rss['peak_source']} "
        f"(baseline {rss['baseline_mb']:.0f} MB with data, model and BLAS loaded), and "
        "tracemalloc's peak (NumPy reports its buffers to it); the target is judged on the larger."
    )


def run_import(args, log, rows, raw, notes) -> None:
    """``python -c "import layerwise"`` vs ``python -c "import numpy"`` in fresh interpreters."""
    import measure

    log(f"  import time: {args.import_runs} fresh interpreters each")
    timings = measure.time_imports(
        {"layerwise": "import layerwise", "numpy": "import numpy"},
        args.import_runs,
        args.threads,
        log=log if args.verbose else None,
    )
    for timing in timings.values():
        timing.pop("results")
    loaded = measure.modules_after_import("layerwise", args.threads)
    raw["import"] = {"timings": timings, "heavy_modules_after_import_layerwise": loaded}
    ours = measure.median(timings["layerwise"]["seconds"])
    theirs = measure.median(timings["numpy"]["seconds"])
    ratio = ours / theirs
    rows.append(
        _row(
            'python -c "import layerwise"',
            f"{ours * 1e3:.0f} ms",
            f"import numpy: {theirs * 1e3:.0f} ms",
            f"{ratio:.2f}x numpy's time",
            "≤ 1.3x",
            ratio <= 1.3,
        )
    )
    notes.append(
        "import: wall time of fresh interpreters (interpreter start-up included), with bytecode "
        "caching on as on a user's machine (PYTHONDONTWRITEBYTECODE removed for them)."
    )
    checked = ", ".join(measure.LAZY_MODULES)
    if loaded:
        notes.append(f"`import layerwise` loads **{', '.join(loaded)}** (checked: {checked}).")
    else:
        notes.append(f"`import layerwise` loads none of {checked}.")


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads is None:
        args.threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    # Set before NumPy (and so BLAS) is first imported, for this process and its children.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(args.threads)

    import inference
    import measure
    import numpy  # noqa: F401  (loads its BLAS before the thread limits are applied)
    import workloads

    import layerwise  # noqa: F401

    peers = {}
    try:
        import torch

        torch.set_num_threads(args.threads)
        peers["torch"] = True
    except ImportError:
        peers["torch"] = False
    try:
        import sklearn.neural_network  # noqa: F401  (loads SciPy's BLAS too)

        peers["sklearn"] = True
    except ImportError:
        peers["sklearn"] = False
    try:
        from threadpoolctl import threadpool_limits

        # Applies to every BLAS/OpenMP library loaded so far, i.e. all the contenders use.
        limits = threadpool_limits(limits=args.threads)
    except ImportError:
        limits = None

    def log(message):
        print(message, flush=True)

    env = measure.environment(args.threads)
    started = datetime.datetime.now().astimezone()
    print("# layerwise benchmarks", flush=True)
    for line in environment_lines(env):
        print(line)
    print(
        f"- Data: {args.samples:,} samples x {workloads.FEATURES} float32, {args.rounds} timed "
        f"epochs per contender; running {', '.join(args.selected)}",
        flush=True,
    )

    rows, raw, notes = [], {}, []
    needs_data = set(args.selected) & {"train", "sklearn", "blas", "predict", "predict10k"}
    data = workloads.Data(args.samples) if needs_data else None
    if set(args.selected) & {"train", "sklearn", "blas"}:
        run_training(args, data, peers, log, rows, raw, notes)
    if "predict" in args.selected:
        run_predict(args, data, peers, log, rows, raw, notes)
    if "predict10k" in args.selected:
        inference.run_predict_rows(args, data, peers, log, rows, raw, notes, _row)
    if "families" in args.selected:
        inference.run_predict_families(args, peers, log, rows, raw, notes, _row)
    if "gelu" in args.selected:
        inference.run_gelu(args, log, rows, raw, notes, _row)
    if "memory" in args.selected:
        run_memory(args, peers, log, rows, raw, notes)
    if "import" in args.selected:
        run_import(args, log, rows, raw, notes)
    if limits is not None:
        limits.restore_original_limits()
    minutes = (datetime.datetime.now().astimezone() - started).total_seconds() / 60

    table = markdown_table(rows)
    command = " ".join(["python benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)])
    header = [
        f"Benchmark of {started:%Y-%m-%d %H:%M %Z} ({minutes:.1f} min), `{command}`:",
        "",
        *environment_lines(env),
        f"- MLP 784-256-128-10, ReLU, softmax + cross-entropy, float32; {args.samples:,} "
        f"synthetic samples, shuffled; one epoch per timing; medians of {args.rounds} "
        "interleaved rounds (PyTorch and scikit-learn in the same process, same data)",
    ]
    text = "\n".join([*header, "", table, "", *(f"- {note}" for note in notes)])
    print()
    print(table)
    print()
    for note in notes:
        print(f"- {note}")
    if not args.no_save:
        args.output_dir.mkdir(parents=True, exist_ok=True)
        (args.output_dir / "latest.md").write_text(text + "\n")
        record = {
            "started": started.isoformat(),
            "minutes": minutes,
            "arguments": {k: v for k, v in vars(args).items() if k != "output_dir"},
            "environment": env,
            "rows": rows,
            "notes": notes,
            "raw": raw,
        }
        with open(args.output_dir / "latest.json", "w") as file:
            json.dump(record, file, indent=1, default=str)
        print(f"\nWritten: {args.output_dir / 'latest.md'} and latest.json")
    if args.readme is not None:
        summary = (
            f"Run of {started:%Y-%m-%d %H:%M %Z} (`{command}`, medians of {args.rounds} "
            f"interleaved rounds) on {env['cpu']} with {env['cores']} cores ({env['threads']} "
            f"threads for every contender), Python {env['python']}, NumPy {env['numpy']} "
            f"({numpy_blas()}), PyTorch {env['torch'] or 'not installed'}, scikit-learn "
            f"{env['sklearn'] or 'not installed'}:"
        )
        update_readme(args.readme, f"{textwrap.fill(summary, 99)}\n\n{table}")
        print(f"Updated the table in {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
