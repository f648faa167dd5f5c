"""scikit-learn estimators around a layerwise ``Model``: ``NeuralNetClassifier`` and
``NeuralNetRegressor``.

They are configured like scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` (hidden layer sizes,
activation, optimizer, learning rate, epochs, batch size, early stopping, ``random_state``), drop
into ``Pipeline`` and ``GridSearchCV``, clone and pickle, and pass ``check_estimator``. The trained
network is ``model_``, an ordinary :class:`layerwise.Model` (save it, export it, inspect it).

This module needs scikit-learn >= 1.6 (``pip install layerwise[sklearn]``); ``import layerwise``
never imports it.

Example::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from layerwise.sklearn import NeuralNetClassifier

    clf = make_pipeline(StandardScaler(), NeuralNetClassifier(hidden_layer_sizes=(32,)))
    clf.fit(x_train, y_train)          # y may hold strings, e.g. ['cat', 'dog', ...]
    clf.score(x_test, y_test)          # accuracy
"""

from __future__ import annotations

import copy
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import activations, optimizers, regularizers
from .callbacks import EarlyStopping
from .layers import Dense, Dropout, Input
from .model import Model
from .seeding import make_rng

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor"]

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


class NeuralNetRegressor(RegressorMixin, _NeuralNetBase):
    """A feed-forward neural-network regressor (a layerwise ``Model``) with scikit-learn's API.

    The network is ``Input -> Dense(size, activation) [-> Dropout] ... -> Dense(n_outputs)``
    (linear output), trained on the mean squared error. Targets may be 1-D ``(n,)`` (then
    ``predict`` returns 1-D) or 2-D ``(n, n_outputs)``. Targets are not rescaled: standardise
    them (e.g. with ``TransformedTargetRegressor``) when their scale is far from 1.

    Args:
        hidden_layer_sizes, activation, optimizer, learning_rate, epochs, batch_size, shuffle,
        l2, dropout, validation_split, early_stopping, patience, tol, dtype, random_state,
        verbose: as in :class:`NeuralNetClassifier` (the validation split is not stratified).

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
