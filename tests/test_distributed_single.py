"""The distributed pieces that need no second process: splitting by rank, merging metrics, the
strategy of one process (a script run without mpiexec), lazy import of mpi4py."""

import json
import subprocess
import sys

import numpy as np
import pytest

import layerwise
from distributed_cases import data
from layerwise import metrics
from layerwise.data import ArrayBatches
from layerwise.distributed.data import ShardedBatches, rank_rows
from layerwise.distributed.step import _local_backward
from mpi_launch import SCRIPTS, require_mpi


@pytest.mark.parametrize("count, size", [(8, 2), (12, 3), (5, 2), (2, 3), (1, 4), (7, 3)])
def test_rank_rows_cover_the_batch_once_in_order(count, size):
    parts = [rank_rows(count, rank, size) for rank in range(size)]
    assert parts[0][0] == 0 and parts[-1][1] == count
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
    lengths = [stop - start for start, stop in parts]
    assert max(lengths) - min(lengths) <= 1


class FakeStrategy:
    def __init__(self, rank, size):
        self.rank, self.size, self.expected_count = rank, size, None


@pytest.mark.parametrize("size", [2, 3])
@pytest.mark.parametrize("shuffle", [True, False])
def test_processes_together_see_the_single_process_batches(size, shuffle):
    x, y = data(n=23)
    single = ArrayBatches([x], [y], 4 * size, shuffle, np.random.default_rng(5))
    expected = [(xs[0].copy(), ys[0].copy()) for xs, ys in single]
    per_rank = []
    for rank in range(size):
        strategy = FakeStrategy(rank, size)
        batches = ArrayBatches([x], [y], 4, shuffle, np.random.default_rng(5))
        shards = ShardedBatches(batches, strategy)
        assert len(shards) == len(expected)
        steps = []
        for xs, ys in shards:
            steps.append((xs[0].copy(), ys[0].copy(), strategy.expected_count))
        per_rank.append(steps)
    for step, (xb, yb) in enumerate(expected):
        parts = [per_rank[rank][step] for rank in range(size)]
        np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), xb)
        np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), yb)
        assert all(p[2] == len(xb) for p in parts)


@pytest.mark.parametrize("name", ["accuracy", "precision", "recall", "f1", "mae", "mse", "r2"])
def test_merged_metrics_equal_the_metric_over_all_batches(name):
    rng = np.random.default_rng(0)
    y_true = np.eye(3)[rng.integers(0, 3, 40)]
    y_pred = rng.dirichlet(np.ones(3), 40)
    if name in ("mae", "mse", "r2"):
        y_true, y_pred = rng.normal(size=(40, 2)) + 5.0, rng.normal(size=(40, 2)) + 5.0
    whole, first, second, empty = (metrics.get(name) for _ in range(4))
    kind = "onehot" if y_true.shape[1] == 3 else None
    for metric in (whole, first, second, empty):
        metric.kind = kind or metric.kind
    whole.update(y_true, y_pred)
    first.update(y_true[:13], y_pred[:13])
    second.update(y_true[13:], y_pred[13:])
    first.merge_state(second)
    first.merge_state(empty)  # a process that saw no samples changes nothing
    assert first.result() == pytest.approx(whole.result(), rel=1e-12)
    assert empty.result() == 0.0


def test_one_process_without_mpiexec_trains_exactly_as_without_a_strategy():
    require_mpi()
    done = subprocess.run([sys.executable, str(SCRIPTS / "single.py")], capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(SCRIPTS.parent),
                                                       "OPENBLAS_NUM_THREADS": "1",
                                                       "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["mpi4py_after_import"] is False  # imported by MPIStrategy(), not before
    assert (report["size"], report["rank"], report["chief"]) == (1, 0, True)
    assert report["identical"] is True
    assert len(report["refused"]) == 3
    assert all("Argument 'distribute'" in message for message in report["refused"])
    assert "NoMerge has no merge_state" in report["no_merge"]
    assert "Argument 'distribute'" in report["fit_refused"]
    assert report["unchanged"] is True
    assert report["mpi_string"] == "MPIStrategy"


def test_importing_layerwise_does_not_import_mpi4py():
    code = "import sys, layerwise, layerwise.distributed; print('mpi4py' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "False", done.stderr


class StepMask(layerwise.layers.Layer):
    """Passes its input through and masks every step whose first feature is zero."""

    def build(self, input_shape):
        super().build(tuple(input_shape))
        self.output_shape = self.input_shape

    def forward(self, inputs):
        return inputs

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        return output_error if input_gradient else None

    def compute_mask(self, inputs, mask):
        return inputs[..., 0] != 0

    def get_config(self):
        return {"name": self.name}


def test_masked_sequence_outputs_are_refused_by_the_distributed_step():
    inputs = layerwise.Input(shape=(5, 3))
    model = layerwise.Model(inputs, layerwise.Dense(2)(StepMask()(inputs)))
    model.compile(loss="mse")
    model._prepare_training()
    x = np.ones((4, 5, 3))
    x[:, 3:, 0] = 0
    with pytest.raises(NotImplementedError, match="masked sequence steps"):
        _local_backward(model, FakeStrategy(0, 2), [x], [np.zeros((4, 5, 2))], None)
