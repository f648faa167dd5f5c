"""How many threads NumPy's BLAS uses, and one thread while training on small products.

A minibatch step multiplies matrices of a few hundred rows (``200 x 64 @ 64 x 100`` on digits).
On an idle machine a second BLAS thread makes such a product up to 1.9x faster; on a busy one
each threaded call waits for a free core, and training slows down by up to 15x (measured on
this project's shared 2-core machine: digits at default settings, 16 s with two threads, 1 s
with one). One thread is never much slower and often far faster, so the stochastic solvers run
small products on one thread, as scikit-learn's own ``KMeans`` does for its inner loop, and
restore the setting afterwards. threadpoolctl comes with scikit-learn.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

# Products below this many multiply-adds per batch train on one BLAS thread.
SMALL_PRODUCT = 1 << 23

_libraries = None


def _blas_libraries() -> list:
    """threadpoolctl's controllers of the loaded BLAS libraries, found once (about 10 ms)."""
    global _libraries
    if _libraries is None:
        try:
            with warnings.catch_warnings():  # e.g. its note on two OpenMP runtimes loaded
                warnings.simplefilter("ignore")
                controller = ThreadpoolController()
            _libraries = [c for c in controller.lib_controllers if c.user_api == "blas"]
        except Exception:  # noqa: BLE001 - an optimisation only: never fail a fit for it
            _libraries = []
    return _libraries


def blas_threads() -> int:
    """The threads of NumPy's BLAS now (a microsecond per call), 0 if unknown."""
    try:
        return max((c.get_num_threads() for c in _blas_libraries()), default=0)
    except Exception:  # noqa: BLE001
        return 0


_lock = threading.Lock()
_active = 0  # blocks inside one_blas_thread now (fits running in several Python threads)
_saved: list = []


@contextmanager
def one_blas_thread(active: bool) -> Iterator[None]:
    """With ``active``, BLAS runs on one thread inside the block; the setting found by the first
    of the blocks open at a time is restored when the last one closes (also after an
    exception), so fits running in parallel Python threads cannot leave it at one."""
    global _active, _saved
    if not active:
        yield
        return
    with _lock:
        if _active == 0:
            _saved = []
            for library in _blas_libraries():
                try:
                    _saved.append((library, library.get_num_threads()))
                    library.set_num_threads(1)
                except Exception:  # noqa: BLE001
                    continue
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                for library, threads in _saved:
                    library.set_num_threads(threads)
                _saved = []
