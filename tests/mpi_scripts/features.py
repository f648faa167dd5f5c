"""Under mpiexec -n 2: what is synchronized besides the gradients. Each process writes what it
saw to OUT/features-rank<r>.json (the test reads them); one scenario per run for the failures.

    features.py OUT main          printing, files, resume, stopping, generators, metrics
    features.py OUT step_error    rank 1's data raises in step 3: every process raises
    features.py OUT diverge       a loss that becomes infinite: TrainingDivergedError everywhere
    features.py OUT terminate     TerminateOnNaN on a loss that becomes infinite: every process
                                  ends fit quietly after the same step
    features.py OUT mismatch      rank 1 builds another model: refused on every process
    features.py OUT callback      rank 1's callback raises: the job is aborted
    features.py OUT uncaught      rank 1 raises outside fit while rank 0 waits: aborted
"""

import contextlib
import io
import json
import sys
from pathlib import Path

import numpy as np

from distributed_cases import classifier, data
from layerwise.callbacks import Callback, EarlyStopping, ModelCheckpoint
from layerwise.distributed import MPIStrategy

out, part = Path(sys.argv[1]), sys.argv[2]
strategy = MPIStrategy()
rank = strategy.rank
x, y = data()
report: dict = {}


def write():
    (out / f"{part}-rank{rank}.json").write_text(json.dumps(report))


def caught(function):
    try:
        function()
    except Exception as error:  # noqa: BLE001 - the test checks which one
        return {"type": type(error).__name__, "message": str(error)}
    return None


class StopOnRankOne(Callback):
    def on_epoch_end(self, epoch, logs=None):
        if rank == 1 and epoch == 1:
            self.model.stop_training = True


class RaiseOnRankOne(Callback):
    def on_epoch_end(self, epoch, logs=None):
        if rank == 1:
            raise RuntimeError("a callback failed on rank 1")


if part == "main":
    # Printing: only rank 0.
    model = classifier("adam", distribute=strategy)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        model.fit(x, y, epochs=2, batch_size=4, verbose=2)
        model.evaluate(x, y, verbose=1)
    report["printed"] = printed.getvalue()

    # One allreduce per step, over the whole packed gradient (and the numbers riding with it).
    model = classifier("adam", distribute=strategy)
    sizes, allreduce = [], strategy.allreduce
    strategy.allreduce = lambda array: sizes.append(array.size) or allreduce(array)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    del strategy.allreduce
    report["allreduce_sizes"], report["parameters"] = sizes, model.count_params()

    # Dropout: the same weights everywhere, masks from independent streams per process.
    import layerwise
    from layerwise import Dense, Dropout, Input, Model

    layerwise.set_seed(3)
    inputs = Input(shape=(6,))
    dropout = Dropout(0.5)
    hidden = dropout(Dense(16, activation="relu")(inputs))
    model = Model(inputs, Dense(3, activation="softmax")(hidden))
    model.compile(loss="categorical_crossentropy", optimizer="adam", distribute=strategy)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    report["dropout_weights"] = [w.tolist() for w in model.get_weights()]
    report["dropout_draw"] = dropout.random_generators()[0].random(4).tolist()

    # distribute= given to fit instead of compile: the same training, and it stays.
    by_fit = classifier("adam")
    by_fit.fit(x, y, epochs=2, batch_size=4, verbose=0, distribute=strategy)
    by_compile = classifier("adam", distribute=strategy)
    by_compile.fit(x, y, epochs=2, batch_size=4, verbose=0)
    report["fit_distribute_equal"] = all(
        np.array_equal(a, b) for a, b in zip(by_fit.get_weights(), by_compile.get_weights()))
    report["fit_distribute_stays"] = by_fit.distribute is strategy

    # Files: only rank 0 writes, wherever each process is told to.
    folder = out / f"files-rank{rank}"
    folder.mkdir()
    model = classifier("adam", distribute=strategy)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0,
              callbacks=[ModelCheckpoint(folder / "ckpt-{epoch}.safetensors", monitor="loss")])
    model.save(folder / "model.safetensors")
    model.save_weights(folder / "weights.safetensors")
    report["files"] = sorted(p.name for p in folder.iterdir())

    # Resume: rank 0 reads the checkpoint; every process continues from it, even one whose
    # model started elsewhere (another seed), and ends where an uninterrupted run ends.
    shared = out / "shared-ckpt.safetensors"
    model = classifier("adam", distribute=strategy)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0,
              callbacks=[ModelCheckpoint(shared, monitor="loss")])
    resumed = classifier("adam", distribute=strategy, seed=rank + 10)
    resumed.fit(x, y, epochs=4, batch_size=4, verbose=0, resume_from=shared)
    whole = classifier("adam", distribute=strategy)
    whole.fit(x, y, epochs=4, batch_size=4, verbose=0)
    report["resume_difference"] = max(
        float(np.abs(a - b).max()) for a, b in zip(resumed.get_weights(), whole.get_weights())
    )
    report["resume_history"] = resumed.history["loss"]
    report["whole_history"] = whole.history["loss"]

    # Stopping: a callback that stops rank 1 alone stops both; EarlyStopping alike everywhere.
    model = classifier("adam", distribute=strategy)
    model.fit(x, y, epochs=6, batch_size=4, verbose=0, callbacks=[StopOnRankOne()])
    report["stopped_epochs"] = len(model.history["loss"])
    early = EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    model = classifier("adam", distribute=strategy)
    model.fit(x, y, epochs=6, batch_size=4, verbose=0, callbacks=[early])
    report["early_epochs"] = len(model.history["loss"])

    # Generators: per-process batches, unequal in number (rank 0: 3, rank 1: 5 batches).
    rows = {0: [(0, 6), (6, 12), (12, 18)], 1: [(18, 22), (22, 30), (30, 34), (34, 44), (44, 50)]}
    batches = [(x[a:b], y[a:b]) for a, b in rows[rank]]
    model = classifier("sgd", distribute=strategy)
    model.fit(batches, epochs=2, verbose=0)
    report["generator_weights"] = [w.tolist() for w in model.get_weights()]
    report["generator_loss"] = model.history["loss"]
    report["generator_iterations"] = model.optimizer.iterations

    # Metrics reduced over processes: classification and regression, fit and evaluate.
    metrics = ("accuracy", "precision", "recall", "f1")
    model = classifier("adam", distribute=strategy, metrics=metrics)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    report["evaluate"] = model.evaluate(x, y)
    report["weights"] = [w.tolist() for w in model.get_weights()]
    # Every process evaluates the same model on its own rows; the test recomputes the values.
    # Batches given per process (rank 0: rows 0-20, rank 1: rows 20-50) are reduced too.
    own = [(x[a:b], y[a:b]) for a, b in ([(0, 10), (10, 20)] if rank == 0 else [(20, 50)])]
    report["evaluate_batches"] = model.evaluate(own)
    # train_on_batch: each process gives its own batch; the first call takes rank 0's weights
    # (rank 1's model starts elsewhere), every call averages the gradients.
    model = classifier("adam", distribute=strategy, seed=rank)
    for step in range(3):
        rows = slice(8 * step + 4 * rank, 8 * step + 4 * rank + 4)
        logs = model.train_on_batch(x[rows], y[rows], return_dict=True)
    report["train_on_batch_weights"] = [w.tolist() for w in model.get_weights()]
    report["train_on_batch_logs"] = logs
    write()

elif part == "step_error":
    def batches():
        for step in range(6):
            if rank == 1 and step == 3:
                raise ValueError("bad batch on rank 1")
            yield x[step * 4 : step * 4 + 4], y[step * 4 : step * 4 + 4]

    model = classifier("sgd", distribute=strategy)
    report["error"] = caught(lambda: model.fit(batches(), steps_per_epoch=6, verbose=0))
    report["iterations"] = model.optimizer.iterations
    write()

elif part == "diverge":
    import layerwise

    model = classifier("sgd", distribute=strategy)
    model.optimizer = layerwise.optimizers.SGD(1e30)
    report["error"] = caught(lambda: model.fit(x * 1e20, y, epochs=2, batch_size=4, verbose=0))
    write()

elif part == "terminate":
    import layerwise
    from layerwise.callbacks import TerminateOnNaN

    model = classifier("sgd", distribute=strategy)
    model.optimizer = layerwise.optimizers.SGD(1e30)
    report["error"] = caught(lambda: model.fit(x * 1e20, y, epochs=3, batch_size=4, verbose=0,
                                               callbacks=[TerminateOnNaN()]))
    report["epochs"] = len(model.history.get("loss", []))
    report["iterations"] = model.optimizer.iterations
    report["finite"] = all(bool(np.isfinite(w).all()) for w in model.get_weights())
    write()

elif part == "mismatch":
    model = classifier("sgd", distribute=strategy, regularized=False)
    if rank == 1:
        model = classifier("adam", distribute=strategy)
    report["error"] = caught(lambda: model.fit(x, y, epochs=1, verbose=0))
    # Arrays already split by the user (17 and 33 rows) are not arrays "in full".
    model = classifier("sgd", distribute=strategy)
    rows = slice(0, 17) if rank == 0 else slice(17, 50)
    before = model.get_weights()
    report["data_error"] = caught(lambda: model.fit(x[rows], y[rows], epochs=1, verbose=0))
    report["evaluate_error"] = caught(lambda: model.evaluate(x[rows], y[rows]))
    report["unchanged"] = all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    write()

elif part == "callback":
    model = classifier("sgd", distribute=strategy)
    model.fit(x, y, epochs=3, batch_size=4, verbose=0, callbacks=[RaiseOnRankOne()])
    write()  # never reached: the job is aborted

elif part == "uncaught":
    model = classifier("sgd", distribute=strategy)
    if rank == 1:
        raise RuntimeError("user code failed on rank 1")
    model.fit(x, y, epochs=3, batch_size=4, verbose=0)  # rank 0 waits for rank 1 here
    write()
