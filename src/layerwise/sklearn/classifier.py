"""``NeuralNetClassifier``: a layerwise network with scikit-learn's classifier API."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from ._base import _NeuralNetBase


class NeuralNetClassifier(ClassifierMixin, _NeuralNetBase):
    """A feed-forward neural-network classifier (a layerwise ``Model``) with scikit-learn's API.

    The network is ``Input -> Dense(size, activation) [-> Dropout] ... -> Dense(n_classes,
    softmax)``, trained on sparse categorical cross-entropy; binary problems use two softmax units.
    Labels may be any values scikit-learn accepts for classification (strings, integers, ...);
    ``classes_`` holds them in sorted order, and the network predicts their index.

    Args:
        hidden_layer_sizes: units of each hidden layer, e.g. ``(64, 32)``; ``()`` gives
            multinomial logistic regression.
        activation: activation of the hidden layers: a layerwise activation name (``'relu'``,
            ``'tanh'``, ``'sigmoid'``, ``'gelu'``, ...) or object. ReLU-like activations start
            from He-normal weights, the others from Glorot-uniform weights.
        optimizer: ``'adam'``, ``'adamw'``, ``'sgd'``, ``'rmsprop'``, or a
            :mod:`layerwise.optimizers` object (copied at each ``fit``).
        learning_rate: the optimizer's learning rate (a number or a layerwise schedule); None
            keeps the rate of the given optimizer object.
        epochs: maximum number of passes over the training data.
        batch_size: samples per update, or ``'auto'`` for ``min(200, n_samples)`` (as MLP).
        shuffle: reshuffle the training data each epoch.
        l2: L2 penalty factor on every weight matrix (``l2 * sum(W**2)`` added to the loss, as
            Keras' ``l2`` regularizer; biases are not penalised).
        dropout: dropout rate after each hidden layer (0 for none).
        validation_split: fraction of the training data held out (stratified, drawn with
            ``random_state``) to report ``val_loss`` / ``val_accuracy`` each epoch.
        early_stopping: stop when the monitored loss has not improved by ``tol`` for
            ``patience`` epochs, and restore the best weights. The monitored loss is the
            validation loss when ``validation_split > 0``, else the training loss.
        patience: epochs without improvement before early stopping.
        tol: smallest decrease of the loss that counts as an improvement.
        dtype: ``'float64'`` (default, as scikit-learn) or ``'float32'`` (faster).
        random_state: None, an int, a ``RandomState`` or a ``Generator``: seeds the initial
            weights, the shuffling, the dropout masks and the validation split. With an int, two
            fits are bit-for-bit identical. With None, layerwise's generator is used, so
            :func:`layerwise.set_seed` applies.
        verbose: 0 silent, 1 a progress bar, 2 one line per epoch.

    Attributes:
        classes_: the class labels, sorted.
        n_features_in_: number of features seen in ``fit``.
        feature_names_in_: column names, when ``fit`` was given a data frame with string names.
        model_: the trained :class:`layerwise.Model`.
        history_: per-epoch lists: ``loss``, ``accuracy`` and, with validation, ``val_loss``,
            ``val_accuracy``.
        loss_curve_: ``history_['loss']``, the mean training loss of each epoch.
        loss_: the last epoch's training loss.
        n_iter_: number of epochs run (fewer than ``epochs`` after early stopping).

    scikit-learn's ``check_estimator`` passes in full; no check is skipped or expected to fail.

    Example::

        from sklearn.datasets import load_iris
        from layerwise.sklearn import NeuralNetClassifier

        x, y = load_iris(return_X_y=True)
        names = load_iris().target_names[y]          # string labels
        clf = NeuralNetClassifier((16,), learning_rate=0.01, epochs=100, random_state=0)
        clf.fit(x, names)
        clf.predict(x[:2])                           # array(['setosa', 'setosa'], ...)
        clf.predict_proba(x[:2]).sum(axis=1)         # array([1., 1.])
    """

    def fit(self, X, y):
        """Train a new network on samples ``X`` ``(n, n_features)`` and labels ``y`` ``(n,)``.

        Returns:
            self.

        Raises:
            ValueError: invalid hyperparameters (the message names the argument), non-finite
                ``X``, continuous ``y``, or ``y`` with a single class.
        """
        X, y = validate_data(self, X, y, dtype=self._model_dtype())
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                "NeuralNetClassifier needs samples of at least 2 classes in 'y'; received 1 "
                f"class: {classes[0]!r}."
            )
        self.classes_ = classes
        return self._fit_network(
            X,
            codes,
            n_outputs=len(classes),
            output_activation="softmax",
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            stratify=True,
        )

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``, columns in the order of ``classes_``."""
        return self._network_output(X)

    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample, as a label from ``classes_``."""
        probabilities = self.predict_proba(X)  # first: it raises NotFittedError before fit
        return self.classes_[np.argmax(probabilities, axis=1)]
