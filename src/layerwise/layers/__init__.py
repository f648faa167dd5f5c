"""Layers: the base class, core layers, merge and shape layers, dropout and normalization."""

from .activation import Activation
from .base import Layer
from .bidirectional import Bidirectional
from .convolutional import Conv1D, Conv2D
from .core import Dense, Input
from .embedding import Embedding, Masking
from .merge import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from .normalization import BatchNormalization, LayerNormalization
from .pooling import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from .recurrent import GRU, LSTM, SimpleRNN
from .regularization import Dropout
from .reshaping import Flatten, Reshape
from .spatial import (
    Cropping1D,
    Cropping2D,
    Permute,
    RepeatVector,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)

__all__ = [
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
    "Embedding",
    "Masking",
    "SimpleRNN",
    "LSTM",
    "GRU",
    "Bidirectional",
    "LayerNormalization",
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
]
