"""The estimator's network as a :class:`layerwise.Model`: ``Input -> Dense ... -> Dense``.

Built with the public API only (``Input``, ``Dense``, ``Dropout``, ``Model``, ``compile``,
``set_weights``), so ``estimator.model_`` saves, loads, summarises and exports to ONNX like any
layerwise model. The Poisson regressor's ``exp`` output becomes the activation
``'exponential'`` (registered here, with its ONNX converter ``Exp``).
"""

from __future__ import annotations

import numpy as np

from ..activations import ActivationFunction
from ..export.onnx_graph import register_activation_converter
from ..layers import Dense, Dropout, Input
from ..model import Model
from ..registry import register
from ._engine import LAYERWISE_NAMES

_OUTPUTS = {"identity": None, "logistic": "sigmoid", "softmax": "softmax", "exp": "exponential"}
_LOSSES = {
    "softmax": "categorical_crossentropy",
    "logistic": "binary_crossentropy",
    "identity": "mse",
    "exp": "mse",
}


@register("exponential")
class Exponential(ActivationFunction):
    """``f(x) = exp(x)``: the output of scikit-learn's Poisson ``MLPRegressor``."""

    name = "exponential"

    def forward(self, x, out=None):
        return np.exp(x, out=out)

    def backward(self, x, y, output_error):
        output_error *= y
        return output_error


@register_activation_converter("exponential")
def _exponential(graph, activation, x, scope):
    return graph.node("Exp", [x], scope)


def build_model(est) -> Model:
    """A compiled :class:`~layerwise.Model` holding copies of ``est``'s fitted weights.

    Args:
        est: a fitted :class:`NeuralNetClassifier` or :class:`NeuralNetRegressor`.

    Example::

        model = build_model(clf)          # what ``clf.model_`` returns
        model.predict(x)                  # == clf.predict_proba(x) (multiclass)
    """
    coefs, intercepts = est.coefs_, est.intercepts_
    dtype = np.dtype(coefs[0].dtype)
    hidden = LAYERWISE_NAMES.get(est.activation, est.activation)
    x = inputs = Input(shape=(coefs[0].shape[0],), name="input")
    for i, coef in enumerate(coefs[:-1], start=1):
        x = Dense(coef.shape[1], activation=hidden, name=f"hidden_{i}")(x)
        if getattr(est, "dropout", 0.0):
            x = Dropout(est.dropout, name=f"dropout_{i}")(x)
    output_activation = _OUTPUTS[est.out_activation_]
    outputs = Dense(coefs[-1].shape[1], activation=output_activation, name="output")(x)
    model = Model(inputs, outputs, name=type(est).__name__)
    model.compile(_LOSSES[est.out_activation_], optimizer="adam", dtype=dtype.name)
    weights = []
    for coef, intercept in zip(coefs, intercepts):
        weights += [np.asarray(coef, dtype), np.asarray(intercept, dtype).ravel()]
    model.set_weights(weights)
    return model
