"""Running a script under ``mpiexec -n N`` from a test: bounded in time, on this machine only.

The MPI comes from the ``mpi`` extra (MPICH's wheel, installed by ``make test``), or the
system's. Communication stays on the machine: MPICH's launcher forks the processes locally and
talks to them over the loopback interface, and UCX moves data through shared memory only.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).parent / "mpi_scripts"


def mpiexec() -> str | None:
    """The ``mpiexec`` beside this Python (the venv's, from the mpich wheel), else on PATH."""
    local = Path(sys.executable).parent / "mpiexec"
    return str(local) if local.exists() else shutil.which("mpiexec")


def require_mpi() -> str:
    """``mpiexec``'s path; skips the test without mpi4py or mpiexec (fails on CI, where
    ``make test`` installs both through the ``mpi`` extra)."""
    path = mpiexec()
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        path = None
    if path is None:
        message = 'mpi4py or mpiexec missing: pip install -e ".[dev,mpi]" (make test does)'
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _launcher_options(path: str) -> list[str]:
    version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    if "HYDRA" in version.stdout:  # MPICH: fork locally, control traffic on loopback only
        return ["-launcher", "fork", "-hosts", "localhost", "-iface", "lo"]
    if "Open MPI" in version.stdout or "OpenRTE" in version.stdout:
        return ["--oversubscribe", "--mca", "btl", "self,vader"]
    return []


def run_mpi(script: str, processes: int, *args, timeout: float = 120.0, env=None):
    """Run ``tests/mpi_scripts/<script>`` (or a script by absolute path) on ``processes``
    processes; returns the completed
    process (``returncode``, ``stdout``, ``stderr``). The whole job is killed at ``timeout``."""
    path = require_mpi()
    command = [path, *_launcher_options(path), "-n", str(processes), sys.executable,
               str(SCRIPTS / script), *map(str, args)]  # an absolute script path is kept
    environment = dict(os.environ)
    environment.update(
        UCX_TLS="self,sm",  # shared memory only: no network transport
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([str(SCRIPTS.parent), environment.get("PYTHONPATH", "")]),
    )
    environment.update(env or {})
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment,
        start_new_session=True,  # its own process group, so a timeout kills every rank
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(
            f"mpiexec -n {processes} {script} did not finish in {timeout} s\n"
            f"stdout:\n{stdout[-3000:]}\nstderr:\n{stderr[-3000:]}"
        ) from None
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
