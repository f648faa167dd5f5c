"""Where the time of the two missed inference targets goes (issue 15), measured step by step:

- ``erf``: each NumPy step of the table evaluation on one 16,384-value block (the index passes,
  the gather of the coefficient rows, Horner's passes) against ``np.tanh`` on the same block,
  and the target's budget (3x ``np.tanh``);
- ``predict10k``: the 784x256 product of the benchmark MLP on 10,000 float32 rows with NumPy's
  OpenBLAS against the same product as a one-node onnxruntime graph (MLAS), at one thread, in
  the steady state of repeated calls (5 calls per timing, medians of interleaved rounds).

    python benchmarks/profile_floors.py            # both
    python benchmarks/profile_floors.py erf        # one of them
"""

from __future__ import annotations

import statistics
import sys
import time
import timeit

import numpy as np


def _best(function, number: int = 300, repeat: int = 7) -> float:
    """Microseconds per call, the best of ``repeat`` runs of ``number`` calls."""
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number * 1e6


def erf_steps() -> None:
    from layerwise.special import _erf_table, _index, _scratch, erf

    x = np.random.default_rng(0).standard_normal(16384)
    table = _erf_table()
    scratch = _scratch(len(x))[: table.degree + 3, : len(x)]
    index, out = _index(len(x)), np.empty(len(x))
    t, centre, gathered = scratch[0], scratch[1], scratch[2:]
    unsigned = index.view(np.uint64)
    tanh = _best(lambda: np.tanh(x))
    steps = {
        "np.tanh (the reference)": tanh,
        "erf, whole": _best(lambda: erf(x)),
        "table.evaluate": _best(lambda: table.evaluate(x, out, scratch, index)),
        "  index: x + rounder": _best(lambda: np.add(x, table._rounder, out=centre)),
        "  index: bits - offset": _best(lambda: np.subtract(centre.view(np.int64), table._bits,
                                                            out=index)),
        "  range check (one reduction)": _best(lambda: unsigned.max(initial=0)),
        "  grid point: - rounder": _best(lambda: np.subtract(centre, table._rounder,
                                                             out=centre)),
        "  offset t = x - c": _best(lambda: np.subtract(x, centre, out=t)),
        f"  gather {table.degree + 1} coefficient rows": _best(
            lambda: np.take(table.table, index, axis=1, out=gathered, mode="clip")),
        "  gather one row": _best(lambda: np.take(table.table[0], index, out=gathered[0],
                                                  mode="clip")),
        "  one Horner pass (multiply)": _best(lambda: np.multiply(gathered[-1], t, out=out)),
        "  one Horner pass (add)": _best(lambda: np.add(out, gathered[0], out=out)),
    }
    print(f"erf on 16,384 float64 values (µs per block); budget at 3x tanh: {3 * tanh:.1f} µs")
    for name, micros in steps.items():
        print(f"  {name:38s} {micros:7.1f}   {micros / tanh:4.1f}x tanh")


def predict10k_product() -> None:
    import threadpoolctl

    threadpoolctl.threadpool_limits(1)
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    x = rng.standard_normal((10_000, 784)).astype(np.float32)
    w = rng.standard_normal((784, 256)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "product",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 784])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 256])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    out = np.empty((10_000, 256), np.float32)
    contenders = {"NumPy / OpenBLAS sgemm": lambda: np.matmul(x, w, out=out),
                  "onnxruntime / MLAS": lambda: session.run(None, {"x": x})}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(15):
        for name, run in contenders.items():
            run()  # steady state: one untimed call first
            start = time.perf_counter()
            for _ in range(5):
                run()
            times[name].append((time.perf_counter() - start) / 5 * 1e3)
    print("784x256 product on 10,000 float32 rows, 1 thread (ms, median of 15 rounds)")
    for name, values in times.items():
        print(f"  {name:24s} {statistics.median(values):6.2f}")


if __name__ == "__main__":
    chosen = sys.argv[1:] or ["erf", "predict10k"]
    if "erf" in chosen:
        erf_steps()
    if "predict10k" in chosen:
        predict10k_product()
