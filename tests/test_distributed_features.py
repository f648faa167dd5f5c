"""What a 2-process run synchronizes besides the gradients (tests/mpi_scripts/features.py):
printing and files on rank 0 only, resuming on every process, stopping together, per-process
generators, reduced metrics, and errors raised everywhere or ending the job in bounded time."""

import json
import pathlib

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from distributed_cases import classifier, data
from mpi_launch import run_mpi

PROCESSES = 2
EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "distributed.py"


def scenario(tmp_path, part, expect_success=True):
    done = run_mpi("features.py", PROCESSES, tmp_path, part, timeout=90)
    if expect_success:
        assert done.returncode == 0, done.stderr[-4000:]
        return [json.loads((tmp_path / f"{part}-rank{r}.json").read_text())
                for r in range(PROCESSES)], done
    return None, done


@pytest.fixture(scope="module")
def main_run(tmp_path_factory):
    reports, _ = scenario(tmp_path_factory.mktemp("features"), "main")
    return reports


def test_one_allreduce_per_step_over_the_packed_gradient(main_run):
    steps = 2 * -(-50 // (4 * PROCESSES))  # two epochs of 50 samples at global batch 8
    for report in main_run:
        assert report["allreduce_sizes"] == [report["parameters"] + 3] * steps


def test_dropout_masks_are_independent_but_weights_equal(main_run):
    chief, other = main_run
    assert chief["dropout_weights"] == other["dropout_weights"]
    assert chief["dropout_draw"] != other["dropout_draw"]


def test_distribute_given_to_fit_trains_as_given_to_compile(main_run):
    for report in main_run:
        assert report["fit_distribute_equal"] and report["fit_distribute_stays"]


def test_only_rank_0_prints(main_run):
    chief, other = main_run
    assert chief["printed"].count("Epoch ") == 2 and "Epoch 2/2 - " in chief["printed"]
    assert "loss: " in chief["printed"].splitlines()[1]
    assert chief["printed"].splitlines()[-1].startswith("loss: ")  # evaluate(verbose=1)
    assert other["printed"] == ""


def test_only_rank_0_writes_files(main_run):
    chief, other = main_run
    assert chief["files"] == ["ckpt-1.safetensors", "ckpt-2.safetensors", "model.safetensors",
                              "weights.safetensors"]
    assert other["files"] == []


def test_resume_restores_every_process(main_run):
    for report in main_run:  # rank 1's model started from other weights before resuming
        assert report["resume_difference"] < 1e-12
        assert report["resume_history"] == report["whole_history"]
        assert len(report["resume_history"]) == 4


def test_a_stop_on_one_process_stops_all(main_run):
    assert [r["stopped_epochs"] for r in main_run] == [2, 2]  # rank 1 alone asked after epoch 2
    assert [r["early_epochs"] for r in main_run] == [2, 2]


def test_generators_are_per_process_and_unequal_lengths_are_joined(main_run):
    # Step k trains on rank 0's k-th batch together with rank 1's; after rank 0 runs out, on
    # rank 1's alone: one process training on those unions is the reference.
    x, y = data()
    steps = [[(0, 6), (18, 22)], [(6, 12), (22, 30)], [(12, 18), (30, 34)], [(34, 44)],
             [(44, 50)]]
    batches = [(np.concatenate([x[a:b] for a, b in s]), np.concatenate([y[a:b] for a, b in s]))
               for s in steps]
    reference = classifier("sgd")
    reference.fit(batches, epochs=2, verbose=0)
    for report in main_run:
        assert report["generator_iterations"] == 10
        for got, expected in zip(report["generator_weights"], reference.get_weights()):
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)
        np.testing.assert_allclose(report["generator_loss"], reference.history["loss"],
                                   rtol=1e-10)


def test_train_on_batch_starts_from_rank_0_and_averages(main_run):
    x, y = data()
    reference = classifier("adam", seed=0)
    for step in range(3):
        logs = reference.train_on_batch(x[8 * step : 8 * step + 8], y[8 * step : 8 * step + 8],
                                        return_dict=True)
    for report in main_run:
        for got, expected in zip(report["train_on_batch_weights"], reference.get_weights()):
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)
        assert report["train_on_batch_logs"] == pytest.approx(logs, rel=1e-10)


def test_evaluate_metrics_are_reduced_over_processes(main_run):
    x, y = data()
    metrics = ("accuracy", "precision", "recall", "f1")
    single = classifier("adam", metrics=metrics)
    single.set_weights([np.array(w) for w in main_run[0]["weights"]])
    expected = single.evaluate(x, y)
    predicted = np.argmax(single.predict(x), axis=1)
    truth = np.argmax(y, axis=1)
    independent = {  # scikit-learn on all 50 samples, not layerwise's metrics
        "accuracy": np.mean(predicted == truth),
        "precision": precision_score(truth, predicted, average="macro", zero_division=0),
        "recall": recall_score(truth, predicted, average="macro", zero_division=0),
        "f1": f1_score(truth, predicted, average="macro", zero_division=0),
    }
    for report in main_run:
        assert report["evaluate_batches"] == pytest.approx(expected, rel=1e-12)
        assert report["evaluate"].keys() == expected.keys()
        for key, value in expected.items():
            assert report["evaluate"][key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
        for key, value in independent.items():
            assert report["evaluate"][key] == pytest.approx(value, rel=1e-12), key


def test_an_error_in_one_process_step_is_raised_on_every_process(tmp_path):
    (chief, other), _ = scenario(tmp_path, "step_error")
    assert other["error"] == {"type": "ValueError", "message": "bad batch on rank 1"}
    assert chief["error"]["type"] == "DistributedError"
    assert "Process 1 of 2" in chief["error"]["message"]
    assert "ValueError: bad batch on rank 1" in chief["error"]["message"]
    assert chief["iterations"] == other["iterations"] == 3  # no update after the failure


def test_divergence_stops_every_process(tmp_path):
    reports, _ = scenario(tmp_path, "diverge")
    assert [r["error"]["type"] for r in reports] == ["TrainingDivergedError"] * 2


def test_terminate_on_nan_stops_every_process_together(tmp_path):
    reports, _ = scenario(tmp_path, "terminate")
    assert [r["error"] for r in reports] == [None, None]
    assert reports[0]["epochs"] == reports[1]["epochs"] == 1
    assert reports[0]["iterations"] == reports[1]["iterations"]
    assert all(r["finite"] for r in reports)


def test_different_models_are_refused_on_every_process(tmp_path):
    (chief, other), _ = scenario(tmp_path, "mismatch")
    assert chief["error"]["type"] == "ValueError"
    assert "process 1 differs from rank 0's" in chief["error"]["message"]
    assert other["error"]["type"] == "DistributedError"
    for key in ("data_error", "evaluate_error"):
        assert chief[key]["type"] == "ValueError" and "different arrays" in chief[key]["message"]
        assert other[key]["type"] == "DistributedError"
    assert chief["unchanged"] and other["unchanged"]


@pytest.mark.parametrize("part, message", [
    ("callback", "a callback failed on rank 1"),
    ("uncaught", "user code failed on rank 1"),
])
def test_an_error_the_others_cannot_see_aborts_the_job(tmp_path, part, message):
    # run_mpi fails the test if the job is still running after its timeout: nothing hangs.
    _, done = scenario(tmp_path, part, expect_success=False)
    assert done.returncode != 0, done.stdout[-3000:]
    assert message in done.stderr, (done.returncode, done.stdout[-3000:], done.stderr[-3000:])
    assert not list(tmp_path.glob(f"{part}-rank*.json"))


def test_the_example_runs_on_two_processes(tmp_path):
    done = run_mpi(EXAMPLE, PROCESSES, tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("Epoch 1/10 - ") == 1  # printed by rank 0 only
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("2 process(es): test loss ")
    assert float(last.rsplit("accuracy ", 1)[1]) > 0.5  # ten classes: chance is 0.1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.safetensors",
                                                         "model.safetensors"]
