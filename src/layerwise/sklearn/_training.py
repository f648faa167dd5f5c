"""The three solvers' training loops, as scikit-learn runs them.

``_fit_stochastic`` is scikit-learn's ``_fit_stochastic`` (epochs of shuffled minibatches, the
``tol`` / ``n_iter_no_change`` stopping rule on the training loss or, with ``early_stopping``,
on the score of a held-out ``validation_fraction``, the best weights restored, a
``ConvergenceWarning`` at ``max_iter``) and ``_fit_lbfgs`` its L-BFGS-B run through
``scipy.optimize.minimize``. Random numbers are drawn from ``self._random_state`` in
scikit-learn's order (initial weights, then the validation split, then one permutation per
epoch), so an estimator seeded like an ``MLPClassifier`` trains the same network.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.optimize
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from ._optimizers import AdamOptimizer, SGDOptimizer
from ._threads import SMALL_PRODUCT, one_blas_thread


def _permute(sample_idx: np.ndarray, random_state) -> np.ndarray:
    # sklearn.utils.shuffle(sample_idx, random_state=rs): shuffle an arange, then index by it.
    order = np.arange(len(sample_idx))
    random_state.shuffle(order)
    return sample_idx[order]


class TrainingMixin:
    """``_fit_stochastic``, ``_fit_lbfgs`` and the stopping rule of the estimators."""

    def _make_optimizer(self, size: int, dtype):
        if self.solver == "sgd":
            return SGDOptimizer(size, dtype, self.learning_rate_init, self.learning_rate,
                                self.momentum, self.nesterovs_momentum, self.power_t)
        return AdamOptimizer(size, dtype, self.learning_rate_init, self.beta_1, self.beta_2,
                             self.epsilon)

    def _split_validation(self, X, y, sample_weight):
        """Hold out ``validation_fraction`` of the data, stratified for single-output
        classifiers (as scikit-learn: multilabel targets are not stratified)."""
        stratify = y if is_classifier(self) and self.n_outputs_ == 1 else None
        arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
        parts = train_test_split(*arrays, random_state=self._random_state,
                                 test_size=self.validation_fraction, stratify=stratify)
        X_train, X_val, y_train, y_val = parts[:4]
        sw_train, sw_val = (None, None) if sample_weight is None else parts[4:]
        if X_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                f"(received {self.validation_fraction!r}) or the size of your dataset "
                f"({X.shape[0]} samples)."
            )
        if is_classifier(self):
            y_val = self._label_binarizer.inverse_transform(y_val)
        return X_train, y_train, sw_train, X_val, y_val, sw_val

    def _fit_stochastic(self, network, X, y, sample_weight, incremental: bool) -> None:
        params = network.params
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._make_optimizer(params.size, params.dtype)
        if self.early_stopping and incremental:
            raise ValueError(
                "partial_fit does not support early_stopping=True; received "
                "early_stopping=True."
            )
        early_stopping = self.early_stopping
        if early_stopping:
            X_train, y_train, sw_train, X_val, y_val, sw_val = self._split_validation(
                X, y, sample_weight
            )
        else:
            X_train, y_train, sw_train = X, y, sample_weight
            X_val = y_val = sw_val = None
        targets = np.asarray(y_train, dtype=params.dtype)

        n_samples = X_train.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than sample size. It is going to "
                    "be clipped", stacklevel=3,
                )
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        dense = isinstance(X_train, np.ndarray)
        units = network.layout.units
        small = batch_size * max(a * b for a, b in zip(units[:-1], units[1:])) < SMALL_PRODUCT
        with one_blas_thread(small):
            network.check_threads()
            self._run_epochs(network, X_train, targets, sw_train, X_val, y_val, sw_val,
                             batch_size, incremental, dense and self.shuffle)
        if early_stopping:
            np.copyto(params, self._best_params)

    def _run_epochs(self, network, X_train, targets, sw_train, X_val, y_val, sw_val,
                    batch_size, incremental, gather) -> None:
        params, optimizer = network.params, self._optimizer
        early_stopping = X_val is not None
        n_samples = X_train.shape[0]
        sample_idx = np.arange(n_samples, dtype=int)
        starts = range(0, n_samples, batch_size)
        if gather:
            x_buffer = np.empty((batch_size, X_train.shape[1]), X_train.dtype)
            y_buffer = np.empty((batch_size, targets.shape[1]), targets.dtype)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    sample_idx = _permute(sample_idx, self._random_state)
                accumulated_loss = 0.0
                for start in starts:
                    stop = min(start + batch_size, n_samples)
                    if self.shuffle:
                        batch_idx = sample_idx[start:stop]
                        if gather:  # into reused buffers: no allocation per batch
                            x_batch = X_train.take(batch_idx, axis=0,
                                                   out=x_buffer[: stop - start])
                            y_batch = targets.take(batch_idx, axis=0,
                                                   out=y_buffer[: stop - start])
                        else:
                            x_batch, y_batch = X_train[batch_idx], targets[batch_idx]
                    else:
                        batch_idx = slice(start, stop)
                        x_batch, y_batch = X_train[batch_idx], targets[batch_idx]
                    sw_batch = None if sw_train is None else sw_train[batch_idx]
                    batch_loss = network.loss_and_gradient(x_batch, y_batch, sw_batch)
                    accumulated_loss += batch_loss * (stop - start)
                    optimizer.update_params(params, network.grad)

                self.n_iter_ += 1
                self.loss_ = accumulated_loss / n_samples
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_:d}, loss = {self.loss_:.8f}")
                self._update_no_improvement_count(early_stopping, X_val, y_val, sw_val)
                optimizer.iteration_ends(self.t_)

                if self._no_improvement_count > self.n_iter_no_change:
                    if early_stopping:
                        msg = (
                            f"Validation score did not improve more than tol={self.tol:f} for "
                            f"{self.n_iter_no_change:d} consecutive epochs."
                        )
                    else:
                        msg = (
                            f"Training loss did not improve more than tol={self.tol:f} for "
                            f"{self.n_iter_no_change:d} consecutive epochs."
                        )
                    if optimizer.trigger_stopping(msg, self.verbose):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter:d}) reached "
                        "and the optimization hasn't converged yet.",
                        ConvergenceWarning, stacklevel=4,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=4)

    def _update_no_improvement_count(self, early_stopping, X_val, y_val, sw_val) -> None:
        if early_stopping:
            score = self._score(X_val, y_val, sample_weight=sw_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {self.validation_scores_[-1]:f}")
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = self._flat.copy()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def _fit_lbfgs(self, network, X, y, sample_weight) -> None:
        params = network.params
        targets = np.asarray(y, dtype=params.dtype)

        def loss_and_gradient(theta):
            np.copyto(params, theta)
            loss = network.loss_and_gradient(X, targets, sample_weight)
            return loss, network.grad.copy()  # scipy keeps the arrays it is given

        result = scipy.optimize.minimize(
            loss_and_gradient,
            params.copy(),
            method="L-BFGS-B",
            jac=True,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol},
        )
        if result.status != 0:
            message = result.message
            if isinstance(message, bytes):
                message = message.decode("latin1")
            warnings.warn(
                f"lbfgs failed to converge after {result.nit} iteration(s) "
                f"(status={result.status}):\n{message}\n\nIncrease the number of iterations "
                "to improve the convergence (max_iter="
                f"{self.max_iter}).\nYou might also want to scale the data as shown in:\n"
                "    https://scikit-learn.org/stable/modules/preprocessing.html",
                ConvergenceWarning, stacklevel=3,
            )
        self.n_iter_ = min(int(result.nit), self.max_iter)
        self.loss_ = float(result.fun)
        np.copyto(params, result.x)
