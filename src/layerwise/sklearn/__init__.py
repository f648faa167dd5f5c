"""scikit-learn estimators around a layerwise ``Model``: ``NeuralNetClassifier`` and
``NeuralNetRegressor``.

They are configured like scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` (hidden layer sizes,
activation, optimizer, learning rate, epochs, batch size, early stopping, ``random_state``), drop
into ``Pipeline`` and ``GridSearchCV``, clone and pickle, and pass ``check_estimator``. The trained
network is ``model_``, an ordinary :class:`layerwise.Model` (save it, export it, inspect it).

This package needs scikit-learn >= 1.6 (``pip install "layerwise[sklearn]"``);
``import layerwise`` never imports it.

Example::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from layerwise.sklearn import NeuralNetClassifier

    clf = make_pipeline(StandardScaler(), NeuralNetClassifier(hidden_layer_sizes=(32,)))
    clf.fit(x_train, y_train)          # y may hold strings, e.g. ['cat', 'dog', ...]
    clf.score(x_test, y_test)          # accuracy
"""

from __future__ import annotations

from .._optional import require

# Before anything imports scikit-learn: without it, say which extra installs it.
require("sklearn", "sklearn", "layerwise.sklearn")

from .classifier import NeuralNetClassifier  # noqa: E402
from .regressor import NeuralNetRegressor  # noqa: E402

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor"]
