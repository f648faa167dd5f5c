"""Layers: the base class, the core layers, dropout and batch normalization."""

from .base import Layer
from .core import Activation, Dense, Input
from .normalization import BatchNormalization
from .regularization import Dropout

__all__ = ["Layer", "Input", "Dense", "Activation", "Dropout", "BatchNormalization"]
