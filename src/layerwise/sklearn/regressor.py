"""``NeuralNetRegressor``: scikit-learn's ``MLPRegressor``, parameter for parameter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils import column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import MLPBase
from ._docs import inherit_doc

__all__ = ["NeuralNetRegressor"]


@inherit_doc
class NeuralNetRegressor(RegressorMixin, MLPBase):
    """A multi-layer perceptron regressor: a drop-in replacement for scikit-learn's
    ``MLPRegressor``.

    Same parameters (names, defaults, meaning), same network (Glorot-uniform initialisation,
    half squared error, or half Poisson deviance with an ``exp`` output, plus the L2 term
    ``alpha``), same solvers, schedules and stopping rule, same fitted attributes. Targets may
    be ``(n,)`` (``predict`` returns ``(n,)``) or ``(n, n_outputs)``. As in scikit-learn, targets
    are not rescaled: standardise them (``TransformedTargetRegressor``) when far from unit scale.

    Args:
        loss: ``'squared_error'`` (identity output) or ``'poisson'`` (``exp`` output, for
            non-negative targets); the first positional parameter, as in ``MLPRegressor``.

    {parameters}

    Its fitted attributes ``loss_``, ``best_loss_``, ``loss_curve_``, ``t_``, ``coefs_``,
    ``intercepts_``, ``n_features_in_``, ``feature_names_in_``, ``n_iter_``, ``n_layers_``,
    ``n_outputs_`` and ``model_`` are those of :class:`NeuralNetClassifier`; also:

    Attributes:
        validation_scores_: R² on the held-out set after each epoch (``early_stopping``).
        best_validation_score_: the best of ``validation_scores_``.
        out_activation_: 'identity' (or 'exp' for the Poisson loss).

    ``score`` is the coefficient of determination R².

    Example::

        from sklearn.datasets import load_diabetes
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from layerwise.sklearn import NeuralNetRegressor    # was: MLPRegressor

        x, y = load_diabetes(return_X_y=True)
        reg = make_pipeline(StandardScaler(), NeuralNetRegressor(solver='lbfgs', random_state=0))
        reg.fit(x, y).score(x, y)                           # 0.97 (training data)
    """

    def __init__(
        self,
        loss: str = "squared_error",
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
        self.loss = loss
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
        return self.loss

    def _output_activation(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X, y, incremental, reset):
        if self.loss not in ("squared_error", "poisson"):
            raise ValueError(
                f"Argument 'loss' must be 'squared_error' or 'poisson'; received {self.loss!r}."
            )
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, r2_score)

    # ------------------------------------------------------------ public API
    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        return y_pred.ravel() if y_pred.shape[1] == 1 else y_pred

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted targets: ``(n_samples,)`` for one output, else ``(n_samples, n_outputs)``."""
        check_is_fitted(self)
        return self._predict(X)

    @available_if(lambda est: est._check_solver())
    def partial_fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> Any:
        """One epoch over ``X``, ``y`` (a new network on the first call); returns self."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
