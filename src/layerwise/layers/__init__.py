"""Layers: the base class, core layers, merge and shape layers, dropout and normalization."""

from .base import Layer
from .core import Activation, Dense, Input
from .merge import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from .normalization import BatchNormalization
from .regularization import Dropout
from .reshaping import Flatten, Reshape

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
]
