"""Errors raised by layerwise.

Every error caused by bad input is a subclass of :class:`ValueError`, so code that already
catches ``ValueError`` keeps working, and code that wants to tell causes apart can catch the
specific class.
"""

__all__ = [
    "IncompatibleLayerError",
    "DisconnectedLayersError",
    "ShapeMismatchError",
    "TrainingDivergedError",
    "ModelFileError",
    "DistributedError",
]


class IncompatibleLayerError(ValueError):
    """Layers, activations or losses that cannot work together (e.g. CCE after a ReLU output)."""


class DisconnectedLayersError(ValueError):
    """The layer graph between a model's inputs and outputs is not connected."""


class ShapeMismatchError(ValueError):
    """An array's shape disagrees with the shape the model or a layer expects."""


class TrainingDivergedError(ValueError):
    """The training loss became NaN or infinite; the weights of the last finite step are kept."""


class ModelFileError(ValueError):
    """A model or weights file is truncated, corrupted, hostile or of an unsupported version."""


class DistributedError(RuntimeError):
    """Another process of a distributed run failed; the message names its rank and its error.

    Raised on every process but the one that failed (which raises its own error), so that all of
    them leave ``fit`` or ``evaluate`` together instead of waiting for each other forever.
    """
