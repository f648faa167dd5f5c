"""The parameters' documentation, shared by both estimators' docstrings."""

from __future__ import annotations

PARAMETERS = """Args:
        hidden_layer_sizes: units of each hidden layer, e.g. ``(100,)`` or ``(64, 32)``.
        activation: of the hidden layers: ``'identity'``, ``'logistic'``, ``'tanh'``,
            ``'relu'`` (scikit-learn's), or a layerwise activation (``'gelu'``, ``'elu'``,
            ``'leaky_relu'``, ``'softplus'``, ``'swish'``/``'silu'``).
        solver: ``'adam'``, ``'sgd'`` or ``'lbfgs'`` (L-BFGS-B of ``scipy.optimize``, on the
            whole data at each step; good for small data sets).
        alpha: strength of the L2 penalty ``0.5 * alpha * sum(W**2) / n_batch`` added to the
            loss (weights only, not intercepts).
        batch_size: samples per minibatch; ``'auto'`` is ``min(200, n_samples)``.
        learning_rate: schedule of 'sgd': ``'constant'``; ``'invscaling'``
            (``learning_rate_init / (t + 1) ** power_t`` after each epoch, ``t`` the samples
            seen); ``'adaptive'`` (divided by 5 each time ``n_iter_no_change`` epochs bring no
            improvement of ``tol``, until below 1e-6).
        learning_rate_init: the initial step size ('sgd', 'adam').
        power_t: exponent of 'invscaling'.
        max_iter: at most this many epochs ('sgd', 'adam') or iterations ('lbfgs'); reaching it
            without converging emits a ``ConvergenceWarning``.
        shuffle: reshuffle the samples each epoch.
        random_state: None (NumPy's global generator, as scikit-learn), an int or a
            ``RandomState``: seeds the weights, the validation split, the shuffling (and the
            dropout masks). Seeded like an MLP estimator, it draws the same numbers in the
            same order, so it starts from the same weights.
        tol: the improvement that counts: training stops when the loss (or, with
            ``early_stopping``, the validation score) has not improved by ``tol`` for
            ``n_iter_no_change`` consecutive epochs; for 'lbfgs' the gradient tolerance.
        verbose: print the loss of each epoch.
        warm_start: ``fit`` continues from the previous fit's weights.
        momentum: momentum of 'sgd', in [0, 1].
        nesterovs_momentum: use Nesterov's momentum ('sgd', momentum > 0).
        early_stopping: hold out ``validation_fraction`` of the training data (stratified for
            single-output classifiers), stop when its score (accuracy or R²) stops improving,
            and keep the weights of the best epoch.
        validation_fraction: the held-out fraction with ``early_stopping``, in [0, 1).
        beta_1, beta_2: decay rates of Adam's moment estimates, in [0, 1).
        epsilon: Adam's numerical-stability term.
        n_iter_no_change: epochs without improvement of ``tol`` before stopping (or, with
            'adaptive', before dividing the rate); ``numpy.inf`` never stops early.
        max_fun: at most this many loss evaluations ('lbfgs').
        dtype: layerwise's extra: None (default, as scikit-learn: float32 data trains in
            float32, anything else in float64), ``'float32'`` or ``'float64'`` to convert.
        dropout: layerwise's extra: rate of dropout after each hidden layer while training
            ('sgd', 'adam'); 0 (default) for none."""


def inherit_doc(cls):
    """Put the shared parameter documentation in place of ``{parameters}``."""
    cls.__doc__ = cls.__doc__.replace("{parameters}", PARAMETERS)
    return cls
