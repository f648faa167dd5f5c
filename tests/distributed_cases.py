"""Models and data shared by the distributed tests and the scripts they run under mpiexec."""

from __future__ import annotations

import inspect
import itertools

import numpy as np

import layerwise
from layerwise import BatchNormalization, Dense, Input, Model
from layerwise.regularizers import L2

SAMPLES = 50  # not a multiple of any global batch: the last one is partial (and, with three
PER_RANK_BATCH = 4  # processes, leaves one process without samples)
EPOCHS = 3

# (optimizer, regularized, dtype, clipping): every combination the exactness test checks.
CONFIGS = [(*c, None) for c in itertools.product(("sgd", "adam"), (False, True),
                                                  ("float64", "float32"))]
# Gradient clipping (Keras' clipnorm, clipvalue, global_clipnorm), where the optimizers have it;
# thresholds small enough that every step clips.
CLIPPING = "clipnorm" in inspect.signature(layerwise.optimizers.Optimizer.__init__).parameters
if CLIPPING:
    CONFIGS += [
        ("sgd", True, "float64", ("global_clipnorm", 0.05)),
        ("sgd", False, "float32", ("clipvalue", 0.002)),
        ("adam", True, "float64", ("clipnorm", 0.02)),
        ("adam", False, "float32", ("global_clipnorm", 0.05)),
    ]


def config_name(optimizer: str, regularized: bool, dtype: str, clipping=None) -> str:
    clip = "" if clipping is None else f"-{clipping[0]}"
    return f"{optimizer}-{'l2' if regularized else 'plain'}-{dtype}{clip}"


def data(seed: int = 0, n: int = SAMPLES):
    """A three-class problem: features (n, 6) and one-hot labels (n, 3)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 6)) + 0.8 * labels[:, None]
    return x, np.eye(3)[labels]


def classifier(optimizer="sgd", regularized=False, dtype="float64", clipping=None,
               distribute=None, batch_norm=False, metrics=("accuracy",), seed=0):
    """A small MLP (tanh, relu, softmax) compiled with ``distribute``; same weights per seed."""
    layerwise.set_seed(seed)
    regularizer = L2(0.01) if regularized else None
    inputs = Input(shape=(6,))
    x = Dense(16, activation="tanh", kernel_regularizer=regularizer)(inputs)
    if batch_norm:
        x = BatchNormalization(momentum=0.9)(x)
    x = Dense(8, activation="relu", kernel_regularizer=regularizer)(x)
    model = Model(inputs, Dense(3, activation="softmax")(x), seed=seed)
    clip = {} if clipping is None else dict([clipping])
    chosen = {"sgd": layerwise.optimizers.SGD(0.1, **clip),
              "adam": layerwise.optimizers.Adam(0.01, **clip)}
    model.compile(loss_fn="categorical_crossentropy", optimizer=chosen[optimizer],
                  metrics=list(metrics), dtype=dtype, distribute=distribute)
    return model


def graph_data(seed: int = 1, n: int = SAMPLES):
    """Two inputs (n, 4) and (n, 3); targets: three classes (one-hot) and one number."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(n, 4)), rng.normal(size=(n, 3))
    labels = (a[:, 0] + b[:, 1] > 0).astype(int) + (a[:, 2] > 1)
    return [a, b], [np.eye(3)[labels], (a[:, 1] * b[:, 0])[:, None]]


def two_headed(distribute=None, seed=0):
    """Two inputs, a shared trunk after Concatenate, a softmax head and a linear head, the second
    loss weighted 0.5; Adam, float64."""
    from layerwise.layers import Concatenate

    layerwise.set_seed(seed)
    first, second = Input(shape=(4,), name="first"), Input(shape=(3,), name="second")
    trunk = Dense(12, activation="tanh")(Concatenate()([Dense(6)(first), second]))
    classes = Dense(3, activation="softmax", name="classes")(trunk)
    value = Dense(1, name="value")(Dense(5, activation="relu")(trunk))
    model = Model([first, second], [classes, value], seed=seed)
    model.compile(loss=["categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5],
                  optimizer=layerwise.optimizers.Adam(0.01), metrics={"classes": ["accuracy"]},
                  dtype="float64", distribute=distribute)
    return model


def padded_text(seed: int = 2, n: int = SAMPLES):
    """Right-padded id sequences (n, 6) with 0 as padding, and 0/1 labels (n, 1)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 20, size=(n, 6))
    lengths = rng.integers(1, 7, size=n)
    ids[np.arange(6)[None, :] >= lengths[:, None]] = 0
    labels = (ids[:, 0] > 10).astype(float)[:, None]
    return ids, labels


def masked_text_model(distribute=None, seed=0):
    """Embedding(mask_zero) -> GlobalAveragePooling1D (mean over the unmasked steps) -> sigmoid:
    a mask that the layers consume, so the output itself is not masked."""
    from layerwise import Embedding, GlobalAveragePooling1D

    layerwise.set_seed(seed)
    ids = Input((6,), dtype="int32")
    pooled = GlobalAveragePooling1D()(Embedding(20, 4, mask_zero=True)(ids))
    model = Model(ids, Dense(1, activation="sigmoid")(Dense(8, activation="tanh")(pooled)),
                  seed=seed)
    model.compile(loss="binary_crossentropy", optimizer=layerwise.optimizers.Adam(0.01),
                  metrics=["accuracy"], dtype="float64", distribute=distribute)
    return model
