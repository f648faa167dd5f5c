"""``predict`` without hooks: the rows in passes of bounded size, each pass checked for NaN and
run through the graph; with several BLAS threads, large inputs split between Python threads.

Why threads: with BLAS threads alone only the matrix products run in parallel. Everything between
them (bias, activations, softmax, the NaN check of the input) runs on one core while the other
waits, and every product wakes BLAS's thread pool again. When every layer of the model computes
its inference output without writing to itself (``Layer._infer``), ``predict`` instead runs
whole passes on several Python threads at once, each with one BLAS thread: NumPy's loops and
BLAS release the GIL, so the element-wise work runs in parallel as well as the products. The
passes are handed out one at a time, so a thread whose core is busy with another process simply
takes fewer of them. On the benchmark MLP's 10,000 rows with 2 threads this takes ``predict``
from about 1.5x onnxruntime's time to 1.1-1.16x on a quiet machine, and below its time when
other processes load the cores (``benchmarks/run.py --only predict10k``).

The BLAS thread count that the library runs with (``OPENBLAS_NUM_THREADS``, threadpoolctl) is
the number of threads used; it is set to one for the duration of the call and then restored
(:func:`layerwise._blas.one_thread`). With one thread, a model with other layers, or a small
input, the passes run one after another on the calling thread.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from typing import TYPE_CHECKING

import numpy as np

from . import _blas
from .data import check_finite
from .graph import Graph
from .layers.core import Dense
from .ops.affine import NonFiniteProduct

if TYPE_CHECKING:  # imported on first use: concurrent.futures (and logging) cost 4 ms at import
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["checks_by_product", "predict_few", "predict_passes", "threads_for"]

# Passes handed to each thread (so that the threads can even out), each of at least this many
# rows (below it, a pass's Python overhead and BLAS's efficiency on short matrices cost more).
PASSES_PER_THREAD = 4
MIN_PASS_ROWS = 256
# Multiply-adds and output values of a call below which starting threads costs more than the
# parallel work saves (about a millisecond of work on one core).
MIN_PARALLEL_WORK = 1 << 24


_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_pid = 0
_pool_lock = threading.Lock()


def _helpers(count: int) -> ThreadPoolExecutor:
    """The helper threads, kept between calls: a new thread's first BLAS call sets up
    OpenBLAS's buffers for that thread (0.1-0.4 ms measured), which every ``predict`` would
    pay. A larger pool replaces it when more threads are asked for, and a forked child makes
    its own (the parent's threads do not exist there; submitting to them would wait forever)."""
    from concurrent.futures import ThreadPoolExecutor

    global _pool, _pool_size, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_size < count or _pool_pid != os.getpid():
            if _pool is not None and _pool_pid == os.getpid():
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(count, thread_name_prefix="layerwise-predict")
            _pool_size, _pool_pid = count, os.getpid()
        return _pool


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - not Linux


def _work_per_row(graph: Graph) -> int:
    """A cost per sample: the weights (one multiply-add each, for a dense layer) and output
    values of every layer."""
    return sum(
        layer.count_params() + math.prod(layer.output_shape or (1,)) for layer in graph.layers
    )


def threads_for(graph: Graph, rows: int) -> int:
    """How many threads ``predict`` runs ``rows`` samples of ``graph`` on: BLAS's thread count
    (at most the usable cores) for an ``inferable`` graph and enough work, else 1.

    Example:
        >>> import layerwise
        >>> inputs = layerwise.Input((784,))
        >>> model = layerwise.Model(inputs, layerwise.Dense(10)(inputs))
        >>> threads_for(model._graph, 1)  # one sample: always the calling thread
        1
    """
    if rows < 2 * MIN_PASS_ROWS or not graph.inferable:
        return 1
    threads = min(_blas.blas_threads(), _cores(), rows // MIN_PASS_ROWS)
    if threads < 2 or rows * _work_per_row(graph) < MIN_PARALLEL_WORK:
        return 1
    return threads


def checks_by_product(graph: Graph) -> tuple[list[bool], frozenset]:
    """Which model inputs the dense layers they feed check for NaN (``Dense._infer``'s
    ``check_product``), and the indices of those layers in ``graph.layers``.

    An input qualifies when every layer it feeds is a ``Dense`` no wider than it: the check then
    reads the product, in cache and at most as large, instead of another pass over the input
    (on the benchmark MLP it saves 5% of ``predict``'s time).

    Example:
        >>> import layerwise
        >>> inputs = layerwise.Input((784,))
        >>> model = layerwise.Model(inputs, layerwise.Dense(10)(inputs))
        >>> checks_by_product(model._graph)
        ([True], frozenset({1}))
    """
    if not graph.inferable:
        return [False] * len(graph.input_indices), frozenset()
    children: dict[int, list[int]] = {}
    for i, parents in enumerate(graph.parents):
        for p in parents:
            children.setdefault(p, []).append(i)
    checked, layers = [], set()
    for i in graph.input_indices:
        feeds = children.get(i, [])
        ok = bool(feeds) and all(
            type(graph.layers[j]) is Dense
            and graph.layers[j].output_size <= graph.layers[j].input_size
            for j in feeds
        )
        checked.append(ok)
        if ok:
            layers.update(feeds)
    return checked, frozenset(layers)


def _checked_outputs(graph, chunk, names, start: int, workspace, by_product) -> list:
    """The outputs for the rows ``chunk`` (samples ``start``, ... of the inputs), which are
    checked for NaN first, or by the products of ``by_product``."""
    checked_later, check_layers = by_product
    for rows, name, later in zip(chunk, names, checked_later):
        if not later:
            check_finite(rows, name, first_sample=start)
    if not graph.inferable:
        return graph.forward(chunk)
    try:
        return graph.infer(chunk, workspace, check_layers)
    except NonFiniteProduct:
        # The rows hold NaN (check_finite names the sample), or the product overflowed or the
        # weights hold NaN: then the pass runs again without the shortcut.
        for rows, name in zip(chunk, names):
            check_finite(rows, name, first_sample=start)
        return graph.infer(chunk, workspace)


def _run_pass(graph, xs, names, results, start: int, stop: int, workspace, by_product) -> None:
    """Rows ``start:stop``: checked for NaN, run, written into ``results``."""
    chunk = [x[start:stop] for x in xs]
    outputs = _checked_outputs(graph, chunk, names, start, workspace, by_product)
    for result, out in zip(results, outputs):
        result[start:stop] = out


def _unshared(outputs: list, xs: list) -> list:
    """``outputs``, each copied if it shares memory with an input (a model whose output is a
    view of its input, such as a lone ``Reshape``): ``predict`` returns arrays of its own."""
    return [
        out.copy() if any(np.may_share_memory(out, x) for x in xs) else out for out in outputs
    ]


def predict_few(graph: Graph, xs: list[np.ndarray], names: list[str]) -> list[np.ndarray]:
    """:func:`predict_passes` for fewer than ``MIN_PASS_ROWS`` samples (one sample, typically):
    one pass on the calling thread, the input checked for NaN first; the shortest way, since
    at one sample each Python step costs a few percent of the call (finding the dense layers
    that could check their products costs more than checking the input).

    Example:
        >>> import layerwise
        >>> inputs = layerwise.Input((3,))
        >>> model = layerwise.Model(inputs, layerwise.Dense(2, kernel_initializer="ones")(inputs))
        >>> predict_few(model._graph, [np.ones((1, 3))], ["x"])
        [array([[3., 3.]])]
    """
    for x, name in zip(xs, names):
        check_finite(x, name)
    outputs = graph.infer(xs) if graph.inferable else graph.forward(xs)
    if len(xs) == 1:  # the usual case, without the generator
        x = xs[0]
        return [out.copy() if np.may_share_memory(out, x) else out for out in outputs]
    return _unshared(outputs, xs)


def predict_passes(
    graph: Graph,
    xs: list[np.ndarray],
    names: list[str],
    output_shapes: list[tuple[int, ...]],
    dtype: np.dtype,
    pass_rows: int,
) -> list[np.ndarray]:
    """The outputs of ``graph`` (in inference mode) for the inputs ``xs``, whose floating
    values have not been checked for NaN yet (``names`` are their argument names, for the
    error): at most ``pass_rows`` rows per pass, on :func:`threads_for` threads.

    Args:
        graph: the model's graph, its layers already in inference mode.
        xs: one C-contiguous array ``(n, *input_shape)`` per model input.
        names: the argument name of each input (``'x'``, ``"x['a']"``).
        output_shapes: the shape of one sample of each output.
        dtype: the dtype of the returned arrays (the model's).
        pass_rows: the most rows a pass may hold (``predict``'s ``batch_size``).

    Returns:
        One array ``(n, *output_shape)`` per output, none of them sharing memory with ``xs``.
    """
    n = len(xs[0])
    if n < MIN_PASS_ROWS and n <= pass_rows:
        return predict_few(graph, xs, names)
    threads = threads_for(graph, n)
    if threads == 1 and n <= pass_rows:  # one pass: the graph's own arrays, no copy
        outputs = _checked_outputs(graph, xs, names, 0, None, checks_by_product(graph))
        return _unshared(outputs, xs)
    results = [np.empty((n, *shape), dtype=dtype) for shape in output_shapes]
    by_product = checks_by_product(graph)
    if threads == 1:
        workspace = [None] * len(graph.layers)
        for start in range(0, n, pass_rows):
            stop = min(start + pass_rows, n)
            _run_pass(graph, xs, names, results, start, stop, workspace, by_product)
        return results
    rows = max(MIN_PASS_ROWS, min(pass_rows, math.ceil(n / (threads * PASSES_PER_THREAD))))
    starts = range(0, n, rows)
    taken = itertools.count()  # next() on it is atomic: each pass goes to one thread
    failures: list[tuple[int, BaseException]] = []

    def work() -> None:
        start = 0
        workspace = [None] * len(graph.layers)  # this thread's own
        try:
            # Passes are taken in order, so every pass before a failed one is finished and
            # the failure of the earliest rows (the first NaN sample) is the one raised.
            while not failures and (k := next(taken)) < len(starts):
                start = starts[k]
                stop = min(start + rows, n)
                _run_pass(graph, xs, names, results, start, stop, workspace, by_product)
        except BaseException as error:  # noqa: BLE001 - handed to the calling thread
            failures.append((start, error))

    with _blas.one_thread():
        helpers = [_helpers(threads - 1).submit(work) for _ in range(threads - 1)]
        work()
        for helper in helpers:
            helper.result()
    if failures:
        raise min(failures, key=lambda failure: failure[0])[1]
    return results
