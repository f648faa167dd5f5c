"""What both estimators share: hyperparameter checks, seeding, building the network, training."""

from __future__ import annotations

import copy
import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import activations, optimizers, regularizers
from ..callbacks import EarlyStopping
from ..layers import Dense, Dropout, Input
from ..model import Model
from ..seeding import make_rng

# Activations whose hidden layers start best from He initialisation; others get Glorot's.
_RELU_LIKE = {"relu", "leaky_relu", "elu", "gelu", "swish", "silu"}
_SEED_BOUND = 2**31 - 1


def _check_int(value, argument: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(
            f"Argument '{argument}' must be an integer >= {minimum}; received {value!r}."
        )
    return int(value)


def _check_fraction(value, argument: str) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 <= value < 1
    if not ok:
        raise ValueError(f"Argument '{argument}' must be a number in [0, 1); received {value!r}.")
    return float(value)


def _seed_source(random_state) -> np.random.Generator:
    """The generator every seed of one ``fit`` is drawn from.

    ``None`` uses layerwise's own seed sequence (so :func:`layerwise.set_seed` governs it, and
    NumPy's global state is never touched); an int or a ``RandomState`` follows scikit-learn's
    convention; a ``numpy.random.Generator`` is used as it is.
    """
    if random_state is None:
        return make_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    try:
        state = check_random_state(random_state)
    except ValueError:
        raise ValueError(
            "Argument 'random_state' must be None, an int, a numpy RandomState or Generator; "
            f"received {random_state!r}."
        ) from None
    return np.random.default_rng(state.randint(_SEED_BOUND))


def _seed_stream(source: np.random.Generator):
    """Seeds for the layers, drawn in the order they are built."""
    while True:
        yield int(source.integers(_SEED_BOUND))


def _check_non_negative(value, argument: str) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 <= value < np.inf:
        raise ValueError(f"Argument '{argument}' must be a number >= 0; received {value!r}.")
    return float(value)


class _NeuralNetBase(BaseEstimator):
    """Hyperparameters, model building and the training loop shared by both estimators."""

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        optimizer="adam",
        learning_rate=0.001,
        epochs=200,
        batch_size="auto",
        shuffle=True,
        l2=0.0,
        dropout=0.0,
        validation_split=0.0,
        early_stopping=False,
        patience=10,
        tol=1e-4,
        dtype="float64",
        random_state=None,
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.l2 = l2
        self.dropout = dropout
        self.validation_split = validation_split
        self.early_stopping = early_stopping
        self.patience = patience
        self.tol = tol
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------ checking
    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        if not isinstance(sizes, (tuple, list, np.ndarray)) or any(
            isinstance(s, bool) or not isinstance(s, numbers.Integral) or s <= 0 for s in sizes
        ):
            raise ValueError(
                "Argument 'hidden_layer_sizes' must be a tuple of positive integers (one per "
                f"hidden layer, () for none); received {self.hidden_layer_sizes!r}."
            )
        return tuple(int(s) for s in sizes)

    def _model_dtype(self) -> np.dtype:
        if self.dtype not in ("float32", "float64", np.float32, np.float64):
            raise ValueError(
                f"Argument 'dtype' must be 'float32' or 'float64'; received {self.dtype!r}."
            )
        return np.dtype(self.dtype)

    def _check_training_params(self) -> None:
        """Validate what ``fit`` uses besides the architecture, before any work is done."""
        _check_int(self.epochs, "epochs", 1)
        _check_int(self.patience, "patience", 0)
        if self.batch_size != "auto":
            _check_int(self.batch_size, "batch_size", 1)
        if self.verbose not in (0, 1, 2) or isinstance(self.verbose, bool):
            raise ValueError(f"Argument 'verbose' must be 0, 1 or 2; received {self.verbose!r}.")
        for name in ("shuffle", "early_stopping"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(
                    f"Argument '{name}' must be True or False; received {getattr(self, name)!r}."
                )
        _check_fraction(self.validation_split, "validation_split")
        _check_fraction(self.dropout, "dropout")
        _check_non_negative(self.tol, "tol")
        _check_non_negative(self.l2, "l2")

    # ------------------------------------------------------------ building
    def _make_optimizer(self):
        if isinstance(self.optimizer, str):
            return optimizers.get(self.optimizer, argument="optimizer")
        # A copy: the hyperparameter must not carry optimizer state from one fit to the next.
        return optimizers.get(copy.deepcopy(self.optimizer), argument="optimizer")

    def _build_model(self, n_features, n_outputs, output_activation, loss, metrics, seeds):
        """A fresh network: Input -> (Dense [-> Dropout]) * hidden -> Dense output."""
        sizes = self._hidden_sizes()
        hidden_activation = activations.get(self.activation, argument="activation")
        init = "he_normal" if hidden_activation.name in _RELU_LIKE else "xavier_uniform"
        regularizer = regularizers.L2(float(self.l2)) if self.l2 else None
        x = inputs = Input(shape=(n_features,), name="input")
        for i, units in enumerate(sizes, start=1):
            x = Dense(
                units,
                activation=hidden_activation,
                weights_initializer=init,
                kernel_regularizer=regularizer,
                seed=next(seeds),
                name=f"hidden_{i}",
            )(x)
            if self.dropout:
                x = Dropout(self.dropout, seed=next(seeds), name=f"dropout_{i}")(x)
        outputs = Dense(
            n_outputs,
            activation=output_activation,
            weights_initializer="xavier_uniform",
            kernel_regularizer=regularizer,
            seed=next(seeds),
            name="output",
        )(x)
        model = Model(inputs, outputs, seed=next(seeds))
        model.compile(loss, optimizer=self._make_optimizer(), metrics=metrics, dtype=self.dtype)
        return model

    def _fit_network(self, x, y, n_outputs, output_activation, loss, metrics, stratify):
        """Build a network and train it on ``x``, ``y`` (already encoded); set fitted attributes."""
        self._check_training_params()
        self._model_dtype()
        source = _seed_source(self.random_state)
        split_seed = int(source.integers(_SEED_BOUND))
        seeds = _seed_stream(source)
        model = self._build_model(x.shape[1], n_outputs, output_activation, loss, metrics, seeds)

        validation_data = None
        if self.validation_split:
            x, y, validation_data = self._split(x, y, split_seed, stratify)
        callbacks = []
        if self.early_stopping:
            callbacks.append(
                EarlyStopping(
                    monitor="val_loss" if validation_data is not None else "loss",
                    patience=int(self.patience),
                    min_delta=float(self.tol),
                    restore_best_weights=True,
                )
            )
        batch_size = min(200, len(x)) if self.batch_size == "auto" else int(self.batch_size)
        model.fit(
            x,
            y,
            epochs=int(self.epochs),
            learning_rate=self.learning_rate,
            print_loss=False,
            batch_size=batch_size,
            shuffle=bool(self.shuffle),
            validation_data=validation_data,
            callbacks=callbacks,
            verbose=self.verbose,
        )
        self.model_ = model
        self.history_ = {key: list(values) for key, values in model.history.items()}
        self.loss_curve_ = list(self.history_["loss"])
        self.loss_ = self.loss_curve_[-1]
        self.n_iter_ = len(self.loss_curve_)
        return self

    def _split(self, x, y, seed, stratify):
        n_validation = int(np.ceil(len(x) * self.validation_split))
        if n_validation >= len(x):
            raise ValueError(
                f"Argument 'validation_split'={self.validation_split} leaves no samples to train "
                f"on out of {len(x)}."
            )
        try:
            x_train, x_val, y_train, y_val = train_test_split(
                x, y, test_size=n_validation, random_state=seed, stratify=y if stratify else None
            )
        except ValueError:
            # Too few samples of some class to stratify (tiny folds in a grid search).
            x_train, x_val, y_train, y_val = train_test_split(
                x, y, test_size=n_validation, random_state=seed
            )
        return x_train, y_train, (x_val, y_val)

    def _network_output(self, x) -> np.ndarray:
        check_is_fitted(self, "model_")
        x = validate_data(self, x, reset=False, dtype=self._model_dtype())
        return self.model_.predict(x)
