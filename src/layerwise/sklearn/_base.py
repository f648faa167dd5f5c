"""What both estimators share: checking, initialising, fitting, predicting, ``model_``.

The fitted state is scikit-learn's: ``coefs_`` and ``intercepts_`` (views of one flat vector, see
:mod:`._engine`), ``n_layers_``, ``n_outputs_``, ``out_activation_``, ``t_``, ``n_iter_``,
``loss_``, ``loss_curve_``, ``best_loss_``, ``validation_scores_``, ``best_validation_score_``.
``model_`` is the same network as a :class:`layerwise.Model` (built from the weights on first
access after each fit), for saving, ONNX export and everything else layerwise does.
"""

from __future__ import annotations

from itertools import chain

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, validate_data

from ._engine import Layout, Network, predict_output
from ._export import build_model
from ._params import check_params, hidden_layer_sizes
from ._training import TrainingMixin

_STOCHASTIC_SOLVERS = ("sgd", "adam")


class MLPBase(TrainingMixin, BaseEstimator):
    """The shared half of :class:`NeuralNetClassifier` and :class:`NeuralNetRegressor`."""

    # ------------------------------------------------------------ fitting
    def _fit(self, X, y, sample_weight=None, incremental: bool = False):
        check_params(self)
        hidden = hidden_layer_sizes(self.hidden_layer_sizes)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if self.dtype is not None:
            X = X.astype(self.dtype, copy=False)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        self.n_outputs_ = y.shape[1]
        units = [X.shape[1], *hidden, self.n_outputs_]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, units, X.dtype)
        layout = Layout(units)
        self._check_weight_shapes(layout)
        self._flat = flat = layout.pack(self.coefs_, self.intercepts_, X.dtype)
        self.coefs_, self.intercepts_ = layout.views(flat)
        if first_pass or getattr(self, "_best_params", np.empty(0)).shape != flat.shape:
            self._best_params = flat.copy()
        rng = None
        if self.dropout:  # drawn only then: without dropout the random stream is scikit-learn's
            rng = np.random.default_rng(self._random_state.randint(2**31 - 1))
        network = Network(layout, flat, self.activation, self.out_activation_, self._loss_name(),
                          self.alpha, dropout=self.dropout, rng=rng)
        self._model_cache = None
        if self.solver in _STOCHASTIC_SOLVERS:
            self._fit_stochastic(network, X, y, sample_weight, incremental)
        else:
            self._fit_lbfgs(network, X, y, sample_weight)
        if not all(np.isfinite(w).all() for w in chain(self.coefs_, self.intercepts_)):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain large "
                "values and need to be preprocessed."
            )
        return self

    def _initialize(self, y, layer_units, dtype) -> None:
        """Fresh weights and training state, as scikit-learn's ``_initialize``."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation()
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            coef, intercept = self._init_coef(fan_in, fan_out, dtype)
            self.coefs_.append(coef)
            self.intercepts_.append(intercept)
        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _init_coef(self, fan_in: int, fan_out: int, dtype):
        # Glorot's uniform initialisation, as scikit-learn: bound sqrt(6 / (fan_in + fan_out)),
        # sqrt(2 / ...) for logistic units, for the weights and the intercepts alike.
        factor = 2.0 if self.activation == "logistic" else 6.0
        bound = np.sqrt(factor / (fan_in + fan_out))
        coef = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
        intercept = self._random_state.uniform(-bound, bound, fan_out)
        return coef.astype(dtype, copy=False), intercept.astype(dtype, copy=False)

    def _check_weight_shapes(self, layout: Layout) -> None:
        expected = [shape for _, _, shape in layout.coef_slices]
        found = [np.shape(c) for c in self.coefs_]
        if found != expected or [np.size(b) for b in self.intercepts_] != layout.units[1:]:
            raise ValueError(
                f"The weights of the previous fit have shapes {found}, but the data and "
                f"'hidden_layer_sizes'={self.hidden_layer_sizes!r} need {expected}; fit again "
                "with warm_start=False to start a new network."
            )

    def fit(self, X, y, sample_weight=None):
        """Fit the network to samples ``X`` ``(n_samples, n_features)`` (dense or sparse) and
        targets ``y``: class labels, a 0/1 label matrix, or real values ``(n,)`` /
        ``(n, n_outputs)``. ``sample_weight`` ``(n_samples,)`` weights each sample's loss.

        Returns:
            self.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def _check_solver(self) -> bool:
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is not "
                "stochastic."
            )
        return True

    # ------------------------------------------------------------ predicting
    def _forward_pass_fast(self, X, check_input: bool = True, output: bool = True):
        """The network's output for ``X`` (with ``output=False``, before the output
        activation)."""
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                              dtype=(np.float64, np.float32))
        if self.dtype is not None:
            X = X.astype(self.dtype, copy=False)
        return predict_output(self.coefs_, self.intercepts_, X, self.activation,
                              self.out_activation_ if output else "identity")

    def _score_with_function(self, X, y, sample_weight, score_function) -> float:
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    # ------------------------------------------------------------ compatibility
    def _loss_grad_lbfgs(self, packed_coef_inter, X, y, sample_weight, *buffers):
        """scikit-learn's private ``(loss, gradient)`` of a flat parameter vector (the order of
        ``coefs_`` then ``intercepts_``), kept so that code written against it runs."""
        layout = Layout([self.coefs_[0].shape[0], *(c.shape[1] for c in self.coefs_)])
        flat = np.array(packed_coef_inter, dtype=np.result_type(X.dtype, np.float32))
        network = Network(layout, flat, self.activation, self.out_activation_,
                          self._loss_name(), self.alpha)
        y = np.asarray(y, dtype=flat.dtype).reshape(X.shape[0], -1)
        loss = network.loss_and_gradient(X, y, sample_weight)
        return loss, network.grad.copy()

    # ------------------------------------------------------------ layerwise
    @property
    def model_(self):
        """The fitted network as a :class:`layerwise.Model` (its weights are copies of
        ``coefs_`` / ``intercepts_`` at the end of the last fit): save it, export it to ONNX,
        print its summary. Output: class probabilities (softmax, or sigmoid for binary and
        multilabel problems) or the regression targets."""
        if not hasattr(self, "coefs_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet: call 'fit' before "
                "using 'model_'."
            )
        if getattr(self, "_model_cache", None) is None:
            self._model_cache = build_model(self)
        return self._model_cache

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_model_cache", None)  # rebuilt from the weights on first access
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _is_fitted(self) -> bool:
        return hasattr(self, "coefs_")

    def __sklearn_is_fitted__(self) -> bool:
        return self._is_fitted()

