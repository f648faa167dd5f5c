"""Under mpiexec: train every configuration of distributed_cases.CONFIGS data-parallel; each
process writes its final weights, history and evaluate() result to OUT/<config>-rank<r>.npz."""

import sys
from pathlib import Path

import numpy as np

from distributed_cases import CONFIGS, EPOCHS, PER_RANK_BATCH, classifier, config_name, data
from layerwise.distributed import MPIStrategy

out = Path(sys.argv[1])
strategy = MPIStrategy()
x, y = data()
for config in CONFIGS:
    model = classifier(*config, distribute=strategy)
    model.fit(x, y, epochs=EPOCHS, batch_size=PER_RANK_BATCH, verbose=0, validation_split=0.2)
    result = model.evaluate(x, y)
    arrays = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    np.savez(
        out / f"{config_name(*config)}-rank{strategy.rank}.npz",
        **arrays,
        loss=np.array(model.history["loss"]),
        accuracy=np.array(model.history["accuracy"]),
        val_loss=np.array(model.history["val_loss"]),
        val_accuracy=np.array(model.history["val_accuracy"]),
        evaluate=np.array([result["loss"], result["accuracy"]]),
        iterations=np.array(model.optimizer.iterations),
    )

# Batch normalization: synchronized statistics follow one process at N*B; per-process ones
# (the default) do not, but leave every process with the same (averaged) moving statistics.
for sync in (True, False):
    batch_norm_strategy = MPIStrategy(sync_batch_norm=sync)
    model = classifier("adam", False, "float64", distribute=batch_norm_strategy, batch_norm=True)
    model.fit(x, y, epochs=EPOCHS, batch_size=PER_RANK_BATCH, verbose=0)
    arrays = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    name = "bn-sync" if sync else "bn-local"
    np.savez(out / f"{name}-rank{strategy.rank}.npz", **arrays,
             loss=np.array(model.history["loss"]), predict=model.predict(x))

# A graph with two inputs and two outputs (weighted losses, a metric on one head).
from distributed_cases import graph_data, two_headed  # noqa: E402

xs, ys = graph_data()
model = two_headed(distribute=strategy)
model.fit(xs, ys, epochs=EPOCHS, batch_size=PER_RANK_BATCH, verbose=0, validation_split=0.2)
np.savez(out / f"graph-rank{strategy.rank}.npz",
         **{f"w{i}": w for i, w in enumerate(model.get_weights())},
         **{f"history_{key}": np.array(values) for key, values in model.history.items()})

# Without packing (as for a model whose layers hold mixed dtypes): gradients are copied through
# a buffer of their own, with the same numbers.
from layerwise import packing  # noqa: E402

pack = packing.pack
packing.pack = lambda *args, **kwargs: None
model = classifier("adam", True, "float64", distribute=strategy)
model.fit(x, y, epochs=EPOCHS, batch_size=PER_RANK_BATCH, verbose=0)
packing.pack = pack
np.savez(out / f"unpacked-rank{strategy.rank}.npz", packed=np.array(model._packed is not None),
         **{f"w{i}": w for i, w in enumerate(model.get_weights())})

# Padded sequences whose mask the layers consume (Embedding(mask_zero), masked mean pooling).
from distributed_cases import masked_text_model, padded_text  # noqa: E402

ids, labels = padded_text()
model = masked_text_model(distribute=strategy)
model.fit(ids, labels, epochs=EPOCHS, batch_size=PER_RANK_BATCH, verbose=0)
np.savez(out / f"masked-rank{strategy.rank}.npz", loss=np.array(model.history["loss"]),
         **{f"w{i}": w for i, w in enumerate(model.get_weights())})

# A frozen first layer (its regularizer left out too), perturbed on every process but rank 0:
# fit gives every process rank 0's frozen weights and trains the rest as one process would.
model = classifier("adam", True, "float64", distribute=strategy)
model.layers[1].trainable = False
if strategy.rank:
    model.layers[1].weights += 1.0
model.fit(x, y, epochs=EPOCHS, batch_size=PER_RANK_BATCH, verbose=0)
np.savez(out / f"frozen-rank{strategy.rank}.npz",
         **{f"w{i}": w for i, w in enumerate(model.get_weights())})
