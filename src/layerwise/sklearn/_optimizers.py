"""scikit-learn's two stochastic solvers, ``'sgd'`` and ``'adam'``, on one flat parameter vector.

The update rules, learning-rate schedules and stopping decisions are those of
``sklearn/neural_network/_stochastic_optimizers.py`` (attribute names included:
``learning_rate``, ``learning_rate_init``, ``t``), written as in-place operations on the whole
vector instead of new arrays per layer and step. Each arithmetic step is the one scikit-learn
takes, in the same order, so a step rounds as scikit-learn's does.
"""

from __future__ import annotations

import numpy as np


class _Solver:
    """What both solvers share: the current rate, the end-of-epoch hook, the stopping rule."""

    def __init__(self, size: int, dtype, learning_rate_init: float) -> None:
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self._scratch = np.empty(size, dtype)
        self._scratch2 = np.empty(size, dtype)

    def __getstate__(self) -> dict:
        # The scratch vectors are workspace, not state: pickles do not carry them.
        state = dict(self.__dict__)
        state.pop("_scratch", None)
        state.pop("_scratch2", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        moments = self.velocity if hasattr(self, "velocity") else self.m
        self._scratch = np.empty_like(moments)
        self._scratch2 = np.empty_like(moments)

    def iteration_ends(self, time_step: int) -> None:
        """Called after each epoch with the number of samples seen so far (``t_``)."""

    def trigger_stopping(self, msg: str, verbose) -> bool:
        """Whether training stops now that ``n_iter_no_change`` epochs brought no improvement."""
        if verbose:
            print(msg + " Stopping.")
        return True


class SGDOptimizer(_Solver):
    """Stochastic gradient descent with (Nesterov) momentum and the 'constant', 'invscaling'
    and 'adaptive' learning-rate schedules, as scikit-learn's ``SGDOptimizer``.

    ``velocity = momentum * velocity - lr * grad``; the parameters move by ``velocity``, or with
    Nesterov's momentum by ``momentum * velocity - lr * grad``.
    """

    def __init__(self, size, dtype, learning_rate_init=0.1, lr_schedule="constant",
                 momentum=0.9, nesterov=True, power_t=0.5) -> None:
        super().__init__(size, dtype, learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.velocity = np.zeros(size, dtype)

    def update_params(self, params: np.ndarray, grad: np.ndarray) -> None:
        """One step on ``params`` (in place) from the gradient ``grad``."""
        step = np.multiply(grad, self.learning_rate, out=self._scratch)
        velocity = self.velocity
        velocity *= self.momentum
        velocity -= step
        if self.nesterov:
            update = np.multiply(velocity, self.momentum, out=self._scratch2)
            update -= step
            params += update
        else:
            params += velocity

    def iteration_ends(self, time_step: int) -> None:
        if self.lr_schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg: str, verbose) -> bool:
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(f"{msg} Setting learning rate to {self.learning_rate:f}")
        return False


class AdamOptimizer(_Solver):
    """Adam as scikit-learn's ``AdamOptimizer``: ``m = b1 m + (1 - b1) g``,
    ``v = b2 v + (1 - b2) g**2``, ``lr_t = lr sqrt(1 - b2**t) / (1 - b1**t)``,
    ``params -= lr_t m / (sqrt(v) + epsilon)``."""

    def __init__(self, size, dtype, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8) -> None:
        super().__init__(size, dtype, learning_rate_init)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.t = 0
        self.m = np.zeros(size, dtype)
        self.v = np.zeros(size, dtype)

    def update_params(self, params: np.ndarray, grad: np.ndarray) -> None:
        """One step on ``params`` (in place) from the gradient ``grad``."""
        self.t += 1
        scratch, m, v = self._scratch, self.m, self.v
        m *= self.beta_1
        m += np.multiply(grad, 1 - self.beta_1, out=scratch)
        np.multiply(grad, grad, out=scratch)
        scratch *= 1 - self.beta_2
        v *= self.beta_2
        v += scratch
        self.learning_rate = (
            self.learning_rate_init
            * np.sqrt(1 - self.beta_2**self.t)
            / (1 - self.beta_1**self.t)
        )
        denominator = np.sqrt(v, out=self._scratch2)
        denominator += self.epsilon
        update = np.multiply(m, -self.learning_rate, out=scratch)
        update /= denominator
        params += update
