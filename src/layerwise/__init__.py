"""layerwise: a readable, fast, Keras-style neural-network library on NumPy.

Build a model by calling each layer on the previous one, compile it with a loss, train it with
``fit`` and use it with ``predict``::

    from layerwise import Input, Dense, Model

    inputs = Input(shape=(2,))
    hidden = Dense(8, activation='tanh')(inputs)
    outputs = Dense(1, activation='sigmoid')(hidden)
    model = Model(inputs, outputs)
    model.compile(loss_fn='mse')
    model.fit(x_train, y_train, epochs=500, learning_rate=0.05, print_loss=False)
    predictions = model.predict(x_test)
"""

import gc as _gc
from typing import TYPE_CHECKING, Any

import numpy as _numpy  # noqa: F401 - first, with the collector on: NumPy's import is its own

# The collector is off while layerwise's modules load: they create many objects and no garbage,
# and the full collections that the allocations trigger in mid-import cost about as much as
# the modules themselves (python -X importtime). It is switched back on however this ends.
_collecting = _gc.isenabled()
_gc.disable()
try:
    from . import (
        activations,
        callbacks,
        exceptions,
        initializers,
        losses,
        metrics,
        optimizers,
        regularizers,
        schedules,
    )
    from ._version import __version__
    from .layers import (
        GRU,
        LSTM,
        Activation,
        Add,
        Average,
        AveragePooling1D,
        AveragePooling2D,
        BatchNormalization,
        Bidirectional,
        Concatenate,
        Conv1D,
        Conv2D,
        Cropping1D,
        Cropping2D,
        Dense,
        Dropout,
        Embedding,
        Flatten,
        GlobalAveragePooling1D,
        GlobalAveragePooling2D,
        GlobalMaxPooling1D,
        GlobalMaxPooling2D,
        Input,
        Layer,
        LayerNormalization,
        Masking,
        Maximum,
        MaxPooling1D,
        MaxPooling2D,
        Minimum,
        Multiply,
        Permute,
        RepeatVector,
        Reshape,
        SimpleRNN,
        Subtract,
        UpSampling1D,
        UpSampling2D,
        ZeroPadding1D,
        ZeroPadding2D,
    )
    from .losses import Loss
    from .model import Model
    from .registry import register_serializable
    from .seeding import set_seed
    from .sequential import Sequential
finally:
    if _collecting:
        _gc.enable()
    del _collecting, _numpy, _gc

if TYPE_CHECKING:  # type checkers see the lazily imported names with their real types
    from . import models, saving, sklearn, utils  # noqa: F401
    from .export.onnx import export_onnx
    from .plotting import plot_history
    from .saving import load_model

# Optional and heavier parts are imported on first use, so `import layerwise` stays light.
_LAZY = {
    "load_model": ("layerwise.saving", "load_model"),
    "export_onnx": ("layerwise.export.onnx", "export_onnx"),
    "plot_history": ("layerwise.plotting", "plot_history"),
    "sklearn": ("layerwise.sklearn", None),
    "saving": ("layerwise.saving", None),
    "models": ("layerwise.models", None),
    "utils": ("layerwise.utils", None),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'layerwise' has no attribute {name!r}")
    import importlib

    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Embedding",
    "Masking",
    "SimpleRNN",
    "LSTM",
    "GRU",
    "Bidirectional",
    "LayerNormalization",
    "Layer",
    "Input",
    "Dense",
    "Activation",
    "Dropout",
    "BatchNormalization",
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Concatenate",
    "Flatten",
    "Reshape",
    "Conv1D",
    "Conv2D",
    "MaxPooling1D",
    "MaxPooling2D",
    "AveragePooling1D",
    "AveragePooling2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "RepeatVector",
    "Permute",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "Cropping1D",
    "Cropping2D",
    "UpSampling1D",
    "UpSampling2D",
    "Model",
    "Sequential",
    "Loss",
    "set_seed",
    "register_serializable",
    "activations",
    "callbacks",
    "exceptions",
    "initializers",
    "losses",
    "metrics",
    "optimizers",
    "regularizers",
    "schedules",
    "load_model",
    "export_onnx",
    "plot_history",
    "saving",
    "models",
    "utils",
    "__version__",
]
# Not in __all__: `sklearn` (lazy, needs scikit-learn): `from layerwise import *` must work
# without the optional extras; `import layerwise.sklearn` says which extra to install.
