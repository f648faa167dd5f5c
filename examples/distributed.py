"""Data-parallel training with MPI: the same script on one process or on N.

    python examples/distributed.py                  # one process
    mpiexec -n 2 python examples/distributed.py     # two, each on half of every batch

Needs the mpi extra (``pip install "layerwise[mpi]"``: mpi4py and MPICH from the package index)
for more than one process. Every process loads the same data; fit splits it by rank.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

import layerwise
from layerwise import Dense, Input, Model
from layerwise.callbacks import EarlyStopping, ModelCheckpoint
from layerwise.distributed import MPIStrategy


def make_data(samples: int = 4000, seed: int = 0):
    """Ten classes from a random linear teacher over 32 features (the same on every process)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, 32)).astype(np.float32)
    labels = np.argmax(x @ rng.standard_normal((32, 10)), axis=1)
    return x, np.eye(10, dtype=np.float32)[labels]


def main(folder: Path) -> dict:
    strategy = MPIStrategy()  # MPI.COMM_WORLD, or a single process without mpiexec
    layerwise.set_seed(0)
    x, y = make_data()
    inputs = Input(shape=(32,))
    hidden = Dense(64, activation="relu", weights_initializer="he_normal")(inputs)
    outputs = Dense(10, activation="softmax")(hidden)
    model = Model(inputs, outputs)
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"],
                  distribute=strategy)
    # batch_size is per process: the global batch is 32 * strategy.size.
    model.fit(x[:3000], y[:3000], epochs=10, batch_size=32, validation_split=0.1, verbose=2,
              callbacks=[EarlyStopping(patience=3, restore_best_weights=True),
                         ModelCheckpoint(folder / "checkpoint.safetensors")])
    result = model.evaluate(x[3000:], y[3000:])  # reduced over processes
    model.save(folder / "model.safetensors")  # written by rank 0 only
    if strategy.is_chief:
        print(f"{strategy.size} process(es): test loss {result['loss']:.4f}, "
              f"accuracy {result['accuracy']:.4f}")
    return result


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.gettempdir()))
