"""Checks of the estimators' hyperparameters, run at the start of ``fit`` / ``partial_fit``.

The accepted values are those of scikit-learn's ``_parameter_constraints`` for the MLP, plus
layerwise's hidden activations and the extras ``dtype`` and ``dropout``. A refused value raises a
``ValueError`` naming the argument and the value received, before anything is changed.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import activations  # noqa: F401  (registers the activations listed below)
from ..registry import valid_names

_STRINGS = {
    "solver": ("lbfgs", "sgd", "adam"),
    "learning_rate": ("constant", "invscaling", "adaptive"),
}


def _fail(name: str, expected: str, value) -> None:
    raise ValueError(f"Argument '{name}' must be {expected}; received {value!r}.")


def _real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _boolean(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def hidden_layer_sizes(value) -> list[int]:
    """The hidden sizes as a list: an int is one layer, any sequence of positive ints is several
    (empty: no hidden layer)."""
    iterable = hasattr(value, "__iter__") and not isinstance(value, str) and np.ndim(value) > 0
    sizes = list(value) if iterable else [value.item() if isinstance(value, np.ndarray) else value]
    if not all(_integer(s) and s > 0 for s in sizes):
        _fail("hidden_layer_sizes", "a positive integer or a sequence of positive integers", value)
    return [int(s) for s in sizes]


def activation_names() -> tuple[str, ...]:
    """scikit-learn's four hidden activations, then layerwise's others."""
    sklearn = ("identity", "logistic", "tanh", "relu")
    # softmax and exponential are output activations; linear and sigmoid are identity and
    # logistic under scikit-learn's names.
    ours = set(valid_names("activation")) - {*sklearn, "softmax", "exponential", "linear",
                                             "sigmoid"}
    return (*sklearn, *sorted(ours))


def check_params(est) -> None:
    """Raise ``ValueError`` for the first hyperparameter of ``est`` outside its allowed values."""
    hidden_layer_sizes(est.hidden_layer_sizes)
    if not isinstance(est.activation, str) or est.activation not in activation_names():
        _fail("activation", f"one of {activation_names()}", est.activation)
    for name, options in _STRINGS.items():
        value = getattr(est, name)
        if not isinstance(value, str) or value not in options:
            _fail(name, f"one of {options}", value)
    # Strings are compared only once known to be strings: an array would compare elementwise.
    loss = getattr(est, "loss", "squared_error")
    if not isinstance(loss, str) or loss not in ("squared_error", "poisson"):
        _fail("loss", "'squared_error' or 'poisson'", loss)
    auto = isinstance(est.batch_size, str) and est.batch_size == "auto"
    if not auto and not (_integer(est.batch_size) and est.batch_size >= 1):
        _fail("batch_size", "'auto' or an integer >= 1", est.batch_size)
    for name, low, high, closed in (
        ("alpha", 0, np.inf, "left"),
        ("learning_rate_init", 0, np.inf, "neither"),
        ("power_t", 0, np.inf, "left"),
        ("tol", 0, np.inf, "left"),
        ("momentum", 0, 1, "both"),
        ("validation_fraction", 0, 1, "left"),
        ("beta_1", 0, 1, "left"),
        ("beta_2", 0, 1, "left"),
        ("epsilon", 0, np.inf, "neither"),
        ("dropout", 0, 1, "left"),
    ):
        value = getattr(est, name)
        ok = _real(value) and not np.isnan(value)
        if ok:
            ok = (value >= low if closed in ("left", "both") else value > low) and (
                value <= high if closed in ("right", "both") else value < high
            )
        if not ok:
            left = "[" if closed in ("left", "both") else "("
            right = "]" if closed in ("right", "both") else ")"
            _fail(name, f"a number in {left}{low}, {high}{right}", value)
    for name in ("max_iter", "max_fun"):
        value = getattr(est, name)
        if not (_integer(value) and value >= 1):
            _fail(name, "an integer >= 1", value)
    n = est.n_iter_no_change
    if not ((_integer(n) and n >= 1) or (_real(n) and n == np.inf)):
        _fail("n_iter_no_change", "an integer >= 1 or numpy.inf", n)
    for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping"):
        if not _boolean(getattr(est, name)):
            _fail(name, "True or False", getattr(est, name))
    if not (_boolean(est.verbose) or (_integer(est.verbose) and est.verbose >= 0)):
        _fail("verbose", "a boolean or an integer >= 0", est.verbose)
    dtype_ok = est.dtype is None or (
        isinstance(est.dtype, (str, type)) and est.dtype in ("float32", "float64", np.float32,
                                                             np.float64))
    if not dtype_ok:
        _fail("dtype", "None (the dtype of X, as scikit-learn), 'float32' or 'float64'", est.dtype)
    if est.dropout and est.solver == "lbfgs":
        # L-BFGS needs one deterministic objective; fresh dropout masks at every evaluation
        # would break its line search.
        raise ValueError(
            f"Argument 'dropout' must be 0 with solver='lbfgs'; received {est.dropout!r} (use "
            "solver='adam' or 'sgd' for dropout)."
        )
    random_state = est.random_state
    if not (random_state is None or _integer(random_state)
            or isinstance(random_state, np.random.RandomState)):
        _fail("random_state", "None, an integer or a numpy.random.RandomState", random_state)
