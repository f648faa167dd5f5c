"""``NeuralNetClassifier``: scikit-learn's ``MLPClassifier``, parameter for parameter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import MLPBase
from ._docs import inherit_doc

__all__ = ["NeuralNetClassifier"]


@inherit_doc
class NeuralNetClassifier(ClassifierMixin, MLPBase):
    """A multi-layer perceptron classifier: a drop-in replacement for scikit-learn's
    ``MLPClassifier``.

    Same parameters (names, defaults, meaning), same network (Glorot-uniform initialisation,
    log-loss with the L2 term ``alpha``), same solvers, schedules and stopping rule, same fitted
    attributes; change the import and keep the rest of the code. Binary problems have one
    logistic output, multiclass problems a softmax over ``n_classes`` outputs, multilabel
    problems (``y`` a 0/1 matrix) one logistic output per label.

    {parameters}

    Attributes:
        classes_: the class labels (for multilabel targets, ``arange(n_labels)``).
        loss_: the loss of the last epoch (data term plus the L2 term).
        best_loss_: the lowest ``loss_curve_`` value (None with ``early_stopping``; not set by
            'lbfgs').
        loss_curve_: the loss of each epoch (stochastic solvers).
        validation_scores_: the accuracy on the held-out set after each epoch
            (``early_stopping`` only, else None).
        best_validation_score_: the best of ``validation_scores_`` (else None).
        t_: the number of training samples seen (``n_iter_ * n_samples``).
        coefs_: weight matrices ``(units[i], units[i + 1])``, views of the parameters.
        intercepts_: bias vectors ``(units[i + 1],)``.
        n_features_in_, feature_names_in_: the features seen in ``fit``.
        n_iter_: epochs run ('lbfgs': iterations).
        n_layers_: number of layers, input and output included.
        n_outputs_: number of outputs.
        out_activation_: 'logistic' or 'softmax'.
        model_: the network as a :class:`layerwise.Model` (see :mod:`layerwise.sklearn`).

    Example::

        from sklearn.datasets import load_iris
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from layerwise.sklearn import NeuralNetClassifier   # was: MLPClassifier

        x, y = load_iris(return_X_y=True)
        clf = make_pipeline(StandardScaler(), NeuralNetClassifier(random_state=0)).fit(x, y)
        clf.score(x, y)                                     # 0.967
    """

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        dtype: DTypeLike = None,
        dropout: float = 0.0,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.dropout = dropout

    # ------------------------------------------------------------ the parts MLPBase asks for
    def _loss_name(self) -> str:
        return "binary_log_loss" if self.out_activation_ == "logistic" else "log_loss"

    def _output_activation(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        # New classes on a first fit (or a fit without warm_start); on warm_start or
        # partial_fit the classes must be those already known, as scikit-learn requires.
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {classes}."
                )
        return X, self._label_binarizer.transform(y).astype(bool)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, accuracy_score)

    # ------------------------------------------------------------ public API
    @available_if(lambda est: est._check_solver())
    def partial_fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        classes: ArrayLike | None = None,
    ) -> Any:
        """One epoch over ``X``, ``y`` (a new network on the first call).

        Args:
            X: samples ``(n_samples, n_features)``; y: labels ``(n_samples,)`` or a 0/1 matrix.
            sample_weight: ``(n_samples,)`` or None.
            classes: every class of the whole data set; required on the first call.

        Returns:
            self.
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _predict(self, X, check_input=True):
        binarizer = self._label_binarizer
        if binarizer.y_type_ == "multiclass" or (binarizer.y_type_ == "binary"
                                                 and len(self.classes_) == 2):
            # The class from the output layer's values before softmax / logistic: the largest
            # (softmax keeps the order), or the sign (logistic(z) > 0.5 exactly when z > 0).
            scores = self._forward_pass_fast(X, check_input=check_input, output=False)
            if binarizer.y_type_ == "multiclass":
                return self.classes_[np.argmax(scores, axis=1)]
            return self.classes_[(scores.ravel() > 0).astype(int)]
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        return binarizer.inverse_transform(y_pred)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The predicted class of each sample ``(n_samples,)`` (a 0/1 matrix for multilabel)."""
        check_is_fitted(self)
        return self._predict(X)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities ``(n_samples, n_classes)`` in the order of ``classes_``."""
        check_is_fitted(self)
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """The output layer's values before its logistic or softmax: ``(n_samples,)`` for binary
        problems (the log-odds of ``classes_[1]``), else ``(n_samples, n_outputs)``. Not in
        ``MLPClassifier``; ranks samples as ``predict_proba`` does."""
        check_is_fitted(self)
        scores = self._forward_pass_fast(X, output=False)
        return scores.ravel() if self.n_outputs_ == 1 else scores

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """``log(predict_proba(X))``."""
        y_prob = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(y_prob, out=y_prob)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
