"""How things are timed: interleaved rounds, fresh subprocesses, and the machine's description."""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Heavy or optional packages that `import layerwise` should not pull in.
LAZY_MODULES = ("tqdm", "safetensors", "onnx", "sklearn", "matplotlib", "torch", "scipy")


def interleaved(
    contenders: dict[str, Callable[[], object]],
    rounds: int,
    warm_ups: dict[str, Callable[[], object]] | None = None,
    log=None,
    settle: dict[str, Callable[[], object]] | None = None,
) -> dict:
    """Time each contender once per round, alternating them (A B A B ..., the order rotated each
    round so that none always runs first). Each contender first runs once untimed: its entry in
    ``warm_ups`` if given (e.g. a shorter epoch), else itself.

    ``settle`` (name -> callable) runs untimed right before each of that contender's timed runs:
    a contender whose thread pool spins after a call (onnxruntime's does, for milliseconds)
    otherwise slows down the next contender's first call, and a contender whose threads went
    to sleep pays for waking them: with it, each is timed in the steady state of repeated calls.

    Returns ``{name: {"seconds": [...], "results": [...]}}`` with one entry per round.
    """
    names = list(contenders)
    warm_ups = warm_ups or {}
    for name in names:
        warm_ups.get(name, contenders[name])()
    timings = {name: {"seconds": [], "results": []} for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            if settle and name in settle:
                settle[name]()
            start = time.perf_counter()
            result = contenders[name]()
            seconds = time.perf_counter() - start
            timings[name]["seconds"].append(seconds)
            timings[name]["results"].append(result)
            if log is not None:
                log(f"    round {round_index + 1}/{rounds} {name}: {seconds:.4f} s")
    return timings


def median(values) -> float:
    return float(statistics.median(values))


def thread_environment(threads: int) -> dict[str, str]:
    """The current environment with every BLAS/OpenMP thread variable set to ``threads``."""
    env = dict(os.environ)
    for variable in THREAD_VARIABLES:
        env[variable] = str(threads)
    return env


def time_imports(statements: dict[str, str], runs: int, threads: int, log=None) -> dict:
    """Wall time of ``python -c <statement>`` in fresh interpreters, interleaved, ``runs`` each
    after one untimed run each (which also warms the file cache).

    Bytecode caching is switched on for these interpreters, as it is on a user's machine: with
    PYTHONDONTWRITEBYTECODE set (as in some sandboxes), an editable install would recompile
    every module of the package on every import while NumPy's wheel ships compiled files.
    """
    env = thread_environment(threads)
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    def command(statement):
        return lambda: subprocess.run([sys.executable, "-c", statement], env=env, check=True)

    return interleaved(
        {name: command(statement) for name, statement in statements.items()}, runs, log=log
    )


def modules_after_import(module: str, threads: int) -> list[str]:
    """Which of ``LAZY_MODULES`` are in ``sys.modules`` right after ``import module``."""
    code = (
        f"import sys, json, {module}; "
        f"print(json.dumps([m for m in {list(LAZY_MODULES)!r} if m in sys.modules]))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code],
        env=thread_environment(threads),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def memory_in_subprocess(
    contender: str, method: str, samples: int, batch_size: int, threads: int
) -> dict:
    """Run ``memory_child.py`` in a fresh interpreter and return its JSON report."""
    command = [
        sys.executable,
        str(HERE / "memory_child.py"),
        f"--contender={contender}",
        f"--method={method}",
        f"--samples={samples}",
        f"--batch-size={batch_size}",
        f"--threads={threads}",
    ]
    completed = subprocess.run(
        command, env=thread_environment(threads), capture_output=True, text=True
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def environment(threads: int) -> dict:
    """Versions, the CPU and the BLAS/OpenMP libraries loaded, with their thread counts."""
    import numpy

    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "logical_cpus": os.cpu_count(),
        "threads": threads,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "numpy": numpy.__version__,
    }
    for name in ("layerwise", "torch", "sklearn", "threadpoolctl"):
        module = sys.modules.get(name)
        info[name] = getattr(module, "__version__", None) if module else None
    if "torch" in sys.modules:
        info["torch_threads"] = sys.modules["torch"].get_num_threads()
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {
                "api": pool.get("internal_api"),
                "version": pool.get("version"),
                "threads": pool.get("num_threads"),
                "library": Path(pool.get("filepath", "")).name,
            }
            for pool in threadpool_info()
        ]
    except ImportError:
        info["threadpools"] = None
    return info
