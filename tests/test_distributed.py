"""Data-parallel training under ``mpiexec -n 2`` and ``-n 3`` equals single-process training.

N processes at per-process batch B follow the trajectory of one process at batch N*B on the
same global sample order (the processes share the shuffling generator), to 1e-10 in float64 and
1e-5 in float32: weights, optimizer step count, per-epoch loss and accuracy, validation, and
evaluate. Every process ends with the same weights.
"""

import numpy as np
import pytest

from distributed_cases import (
    CONFIGS,
    EPOCHS,
    PER_RANK_BATCH,
    classifier,
    config_name,
    data,
    graph_data,
    masked_text_model,
    padded_text,
    two_headed,
)
from mpi_launch import run_mpi

TOLERANCE = {"float64": 1e-10, "float32": 1e-5}


def single_process(optimizer, regularized, dtype, clipping, processes):
    x, y = data()
    model = classifier(optimizer, regularized, dtype, clipping)
    model.fit(x, y, epochs=EPOCHS, batch_size=PER_RANK_BATCH * processes, verbose=0,
              validation_split=0.2)
    return model, model.evaluate(x, y)


@pytest.fixture(scope="module", params=[2, 3], ids=["2-processes", "3-processes"])
def distributed_run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"mpi{request.param}")
    done = run_mpi("exactness.py", request.param, out)
    assert done.returncode == 0, done.stderr[-4000:]
    return request.param, out


@pytest.mark.parametrize("config", CONFIGS, ids=[config_name(*c) for c in CONFIGS])
def test_n_processes_equal_one_process_at_n_times_the_batch(distributed_run, config):
    processes, out = distributed_run
    reference, evaluated = single_process(*config, processes)
    tolerance = TOLERANCE[config[2]]
    runs = [np.load(out / f"{config_name(*config)}-rank{r}.npz") for r in range(processes)]
    expected = reference.get_weights()
    for rank, run in enumerate(runs):
        for i, weight in enumerate(expected):
            got = run[f"w{i}"]
            assert got.dtype == weight.dtype
            np.testing.assert_allclose(got, weight, rtol=0, atol=tolerance,
                                       err_msg=f"rank {rank}, weight {i}")
        assert int(run["iterations"]) == reference.optimizer.iterations
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            np.testing.assert_allclose(run[key], reference.history[key], rtol=tolerance,
                                       atol=tolerance, err_msg=f"rank {rank}, {key}")
        np.testing.assert_allclose(run["evaluate"], [evaluated["loss"], evaluated["accuracy"]],
                                   rtol=tolerance, atol=tolerance)
    for run in runs[1:]:  # bit-identical: every process applied the same update
        for i in range(len(expected)):
            np.testing.assert_array_equal(run[f"w{i}"], runs[0][f"w{i}"])


def test_training_moved_the_weights():
    # Guards the comparison above against a model that never trains (equal because unchanged).
    x, y = data()
    model = classifier("adam", False, "float64")
    before = model.get_weights()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert max(np.abs(a - b).max() for a, b in zip(model.get_weights(), before)) > 1e-3


def test_synchronized_batch_norm_equals_one_process(distributed_run):
    processes, out = distributed_run
    x, y = data()
    reference = classifier("adam", False, "float64", batch_norm=True)
    reference.fit(x, y, epochs=EPOCHS, batch_size=PER_RANK_BATCH * processes, verbose=0)
    for rank in range(processes):  # with 3 processes, one has no rows in the last step
        run = np.load(out / f"bn-sync-rank{rank}.npz")
        for i, weight in enumerate(reference.get_weights()):  # moving statistics included
            np.testing.assert_allclose(run[f"w{i}"], weight, rtol=0, atol=1e-10)
        np.testing.assert_allclose(run["loss"], reference.history["loss"], rtol=1e-10)
        np.testing.assert_allclose(run["predict"], reference.predict(x), rtol=0, atol=1e-10)


def test_per_process_batch_norm_differs_but_processes_agree(distributed_run):
    processes, out = distributed_run
    runs = [np.load(out / f"bn-local-rank{rank}.npz") for rank in range(processes)]
    synced = np.load(out / "bn-sync-rank0.npz")
    names = [k for k in runs[0].files if k.startswith("w")]
    for run in runs[1:]:
        for name in names:
            np.testing.assert_array_equal(run[name], runs[0][name])
        np.testing.assert_array_equal(run["predict"], runs[0]["predict"])
    # Statistics of B rows per process are not those of N*B rows: the trajectories part.
    assert max(np.abs(runs[0][n] - synced[n]).max() for n in names) > 1e-6


def test_a_graph_with_two_inputs_and_two_outputs_equals_one_process(distributed_run):
    processes, out = distributed_run
    xs, ys = graph_data()
    reference = two_headed()
    reference.fit(xs, ys, epochs=EPOCHS, batch_size=PER_RANK_BATCH * processes, verbose=0,
                  validation_split=0.2)
    assert {"classes_loss", "value_loss", "classes_accuracy", "val_value_loss"} <= set(
        reference.history)
    for rank in range(processes):
        run = np.load(out / f"graph-rank{rank}.npz")
        for i, weight in enumerate(reference.get_weights()):
            np.testing.assert_allclose(run[f"w{i}"], weight, rtol=0, atol=1e-10)
        for key, values in reference.history.items():
            np.testing.assert_allclose(run[f"history_{key}"], values, rtol=1e-10, atol=1e-12,
                                       err_msg=key)


def test_unpacked_gradients_are_averaged_alike(distributed_run):
    processes, out = distributed_run
    x, y = data()
    reference = classifier("adam", True, "float64")
    reference.fit(x, y, epochs=EPOCHS, batch_size=PER_RANK_BATCH * processes, verbose=0)
    for rank in range(processes):
        run = np.load(out / f"unpacked-rank{rank}.npz")
        assert not run["packed"]
        for i, weight in enumerate(reference.get_weights()):
            np.testing.assert_allclose(run[f"w{i}"], weight, rtol=0, atol=1e-10)


def test_a_frozen_layer_keeps_rank_0s_weights_and_the_rest_trains_as_one_process(
        distributed_run):
    processes, out = distributed_run
    x, y = data()
    reference = classifier("adam", True, "float64")
    reference.layers[1].trainable = False
    frozen = reference.layers[1].weights.copy()
    reference.fit(x, y, epochs=EPOCHS, batch_size=PER_RANK_BATCH * processes, verbose=0)
    np.testing.assert_array_equal(reference.layers[1].weights, frozen)
    for rank in range(processes):
        run = np.load(out / f"frozen-rank{rank}.npz")
        for i, weight in enumerate(reference.get_weights()):
            np.testing.assert_allclose(run[f"w{i}"], weight, rtol=0, atol=1e-10)


CLIPPED = [c for c in CONFIGS if c[3] is not None]  # empty until the optimizers can clip

if CLIPPED:

    @pytest.mark.parametrize("config", CLIPPED, ids=[config_name(*c) for c in CLIPPED])
    def test_the_clipping_thresholds_bite(config):
        # Guards the clipping cases above: clipped training differs from unclipped.
        clipped, _ = single_process(*config, 2)
        plain, _ = single_process(*config[:3], None, 2)
        difference = max(np.abs(a - b).max()
                         for a, b in zip(clipped.get_weights(), plain.get_weights()))
        assert difference > 1e-4


def test_a_mask_consumed_by_the_layers_trains_as_one_process(distributed_run):
    processes, out = distributed_run
    ids, labels = padded_text()
    reference = masked_text_model()
    reference.fit(ids, labels, epochs=EPOCHS, batch_size=PER_RANK_BATCH * processes, verbose=0)
    for rank in range(processes):
        run = np.load(out / f"masked-rank{rank}.npz")
        for i, weight in enumerate(reference.get_weights()):
            np.testing.assert_allclose(run[f"w{i}"], weight, rtol=0, atol=1e-10)
        np.testing.assert_allclose(run["loss"], reference.history["loss"], rtol=1e-10)
