"""Drop-in replacements for scikit-learn's ``MLPClassifier`` and ``MLPRegressor``.

``NeuralNetClassifier`` and ``NeuralNetRegressor`` take exactly the parameters of scikit-learn's
MLP estimators (names, defaults, meaning), build and train the same network (initialisation,
loss, solvers 'adam' / 'sgd' / 'lbfgs', learning-rate schedules, stopping rule), and set the same
fitted attributes; only the import changes. On top: faster training, the ``dtype`` and
``dropout`` extras, and ``model_``, the network as a :class:`layerwise.Model` (save it, export it
to ONNX; ``layerwise.export_onnx(estimator, path)`` works too).

This package needs scikit-learn >= 1.6: ``pip install "layerwise[sklearn]"``; ``import
layerwise`` never imports it.

Example::

    # from sklearn.neural_network import MLPClassifier as NeuralNetClassifier
    from layerwise.sklearn import NeuralNetClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), NeuralNetClassifier(hidden_layer_sizes=(32,)))
    clf.fit(x_train, y_train)          # y may hold strings, e.g. ['cat', 'dog', ...]
    clf.score(x_test, y_test)          # accuracy
"""

from __future__ import annotations

try:
    import scipy  # noqa: F401
    import sklearn  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "layerwise.sklearn needs scikit-learn (>= 1.6), which is not installed: "
        'pip install "layerwise[sklearn]"'
    ) from error

from .classifier import NeuralNetClassifier
from .regressor import NeuralNetRegressor

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor"]
