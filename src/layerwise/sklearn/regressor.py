"""``NeuralNetRegressor``: a layerwise network with scikit-learn's regressor API."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.validation import validate_data

from ._base import _NeuralNetBase


class NeuralNetRegressor(RegressorMixin, _NeuralNetBase):
    """A feed-forward neural-network regressor (a layerwise ``Model``) with scikit-learn's API.

    The network is ``Input -> Dense(size, activation) [-> Dropout] ... -> Dense(n_outputs)``
    (linear output), trained on the mean squared error. Targets may be 1-D ``(n,)`` (then
    ``predict`` returns 1-D) or 2-D ``(n, n_outputs)``. Targets are not rescaled: standardise
    them (e.g. with ``TransformedTargetRegressor``) when their scale is far from 1.

    Its parameters (``hidden_layer_sizes``, ``activation``, ``optimizer``, ``learning_rate``,
    ``epochs``, ``batch_size``, ``shuffle``, ``l2``, ``dropout``, ``validation_split``,
    ``early_stopping``, ``patience``, ``tol``, ``dtype``, ``random_state``, ``verbose``) are
    those of :class:`NeuralNetClassifier` (the validation split is not stratified).

    Attributes:
        n_features_in_, feature_names_in_, model_, loss_curve_, loss_, n_iter_: as in
            :class:`NeuralNetClassifier`.
        history_: per-epoch ``loss`` and, with validation, ``val_loss``.
        n_outputs_: number of targets.

    ``score`` is the coefficient of determination R² (``sklearn.metrics.r2_score``).
    scikit-learn's ``check_estimator`` passes in full; no check is skipped or expected to fail.

    Example::

        import numpy as np
        from layerwise.sklearn import NeuralNetRegressor

        x = np.linspace(-1, 1, 200).reshape(-1, 1)
        y = np.sin(3 * x).ravel()
        reg = NeuralNetRegressor((32,), activation='tanh', learning_rate=0.01, epochs=300,
                                 random_state=0).fit(x, y)
        reg.score(x, y)                              # close to 1
    """

    def fit(self, X, y):
        """Train a new network on samples ``X`` ``(n, n_features)`` and targets ``y``
        ``(n,)`` or ``(n, n_outputs)``.

        Returns:
            self.
        """
        X, y = validate_data(
            self, X, y, multi_output=True, y_numeric=True, dtype=self._model_dtype()
        )
        self._target_ndim = y.ndim
        targets = y.reshape(len(y), -1)
        self.n_outputs_ = targets.shape[1]
        return self._fit_network(
            X,
            targets,
            n_outputs=self.n_outputs_,
            output_activation=None,
            loss="mse",
            metrics=None,
            stratify=False,
        )

    def predict(self, X) -> np.ndarray:
        """Predicted targets: ``(n,)`` when ``fit`` got 1-D targets, else ``(n, n_outputs)``."""
        output = self._network_output(X)
        return output.ravel() if self._target_ndim == 1 else output

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
