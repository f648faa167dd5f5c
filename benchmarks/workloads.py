"""The work being timed: the data, the three contenders' models and one epoch of each.

Every contender trains the same MLP 784-256-128-10 (ReLU, softmax + categorical cross-entropy,
float32 weights) on the same samples, in a new random order each epoch, computing the loss at
every step. PyTorch and scikit-learn are imported only when their workload is built, so that the
benchmark runs (and skips them with a note) where they are not installed.
"""

from __future__ import annotations

import numpy as np

FEATURES = 784
HIDDEN = (256, 128)
CLASSES = 10
SGD_RATE = 0.01
ADAM_RATE = 0.001
# Keras' epsilon, given to every contender so that all do the same arithmetic.
ADAM_EPSILON = 1e-7


class Data:
    """Synthetic, learnable classification data: standard-normal features, labels from a random
    linear teacher, generated in place so that no transient copy inflates the peak memory."""

    def __init__(self, samples: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.x = np.empty((samples, FEATURES), dtype=np.float32)
        rng.standard_normal(out=self.x, dtype=np.float32)
        teacher = rng.standard_normal((FEATURES, CLASSES), dtype=np.float32)
        self.labels = np.empty(samples, dtype=np.int64)
        for start in range(0, samples, 8192):
            block = slice(start, start + 8192)
            self.labels[block] = np.argmax(self.x[block] @ teacher, axis=1)
        self.y_onehot = np.zeros((samples, CLASSES), dtype=np.float32)
        self.y_onehot[np.arange(samples), self.labels] = 1.0

    @property
    def samples(self) -> int:
        return len(self.x)

    @property
    def megabytes(self) -> float:
        """Size of the features and one-hot labels, the arrays that layerwise's fit receives."""
        return (self.x.nbytes + self.y_onehot.nbytes) / 2**20


# ----------------------------------------------------------------------------- layerwise
def layerwise_model(optimizer: str = "sgd"):
    """The MLP as a compiled layerwise ``Model``; ``optimizer`` is ``'sgd'`` or ``'adam'``."""
    import layerwise
    from layerwise import Dense, Input, Model

    layerwise.set_seed(0)
    inputs = Input(shape=(FEATURES,))
    hidden = Dense(HIDDEN[0], activation="relu")(inputs)
    hidden = Dense(HIDDEN[1], activation="relu")(hidden)
    outputs = Dense(CLASSES, activation="softmax")(hidden)
    model = Model(inputs, outputs)
    if optimizer == "sgd":
        chosen = layerwise.optimizers.SGD(learning_rate=SGD_RATE)
    else:
        chosen = layerwise.optimizers.Adam(learning_rate=ADAM_RATE, epsilon=ADAM_EPSILON)
    model.compile(loss_fn="categorical_crossentropy", optimizer=chosen)
    return model


def layerwise_epoch(model, data: Data, batch_size: int, samples: int | None = None) -> float:
    """One shuffled epoch of ``model.fit``; returns its mean training loss."""
    x, y = data.x, data.y_onehot
    if samples is not None:
        x, y = x[:samples], y[:samples]
    return float(model.fit(x, y, epochs=1, batch_size=batch_size, shuffle=True, verbose=0))


# ----------------------------------------------------------------------------- PyTorch
class TorchTrainer:
    """The idiomatic fast PyTorch CPU loop: data already as tensors, a ``randperm`` per epoch,
    batches gathered by indexing (no DataLoader), ``CrossEntropyLoss`` on the logits with
    integer targets, and the epoch's mean loss accumulated with ``loss.item()``."""

    def __init__(self, data: Data, optimizer: str = "sgd") -> None:
        import torch
        from torch import nn

        self.torch = torch
        torch.manual_seed(0)
        self.model = nn.Sequential(
            nn.Linear(FEATURES, HIDDEN[0]),
            nn.ReLU(),
            nn.Linear(HIDDEN[0], HIDDEN[1]),
            nn.ReLU(),
            nn.Linear(HIDDEN[1], CLASSES),
        )
        if optimizer == "sgd":
            self.optimizer = torch.optim.SGD(self.model.parameters(), lr=SGD_RATE)
        else:
            self.optimizer = torch.optim.Adam(
                self.model.parameters(), lr=ADAM_RATE, eps=ADAM_EPSILON
            )
        self.loss_fn = nn.CrossEntropyLoss()
        # from_numpy shares memory with the NumPy arrays: no copy of the data set.
        self.x = torch.from_numpy(data.x)
        self.y = torch.from_numpy(data.labels)
        self.generator = torch.Generator().manual_seed(0)

    def epoch(self, batch_size: int, samples: int | None = None) -> float:
        """One shuffled epoch; returns its mean training loss."""
        torch = self.torch
        n = len(self.x) if samples is None else samples
        model, optimizer, loss_fn = self.model, self.optimizer, self.loss_fn
        model.train()
        order = torch.randperm(n, generator=self.generator)
        total = 0.0
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            x_batch, y_batch = self.x[index], self.y[index]
            optimizer.zero_grad()
            loss = loss_fn(model(x_batch), y_batch)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
        return total / n

    def load_layerwise_weights(self, weights: list[np.ndarray]) -> None:
        """Copy ``[W1, b1, W2, b2, W3, b3]`` (layerwise layout, W as (in, out)) into the model."""
        torch = self.torch
        linears = [m for m in self.model if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for layer, kernel, bias in zip(linears, weights[0::2], weights[1::2]):
                layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.T)))
                layer.bias.copy_(torch.from_numpy(bias.reshape(-1)))

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode():
            return self.torch.softmax(self.model(self.torch.from_numpy(x)), dim=1).numpy()


# ----------------------------------------------------------------------------- scikit-learn
def sklearn_epoch(data: Data, batch_size: int, samples: int | None = None):
    """One epoch of ``MLPClassifier`` with plain SGD (constant rate, no momentum, no L2, no early
    stopping); returns ``(mean loss, dtype of its weights)``. Each call is a fresh ``fit``, as a
    user would run it: the weight initialisation (microseconds here) is part of the time."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x, labels = data.x, data.labels
    if samples is not None:
        x, labels = x[:samples], labels[:samples]
    classifier = MLPClassifier(
        hidden_layer_sizes=HIDDEN,
        activation="relu",
        solver="sgd",
        alpha=0.0,
        batch_size=batch_size,
        learning_rate="constant",
        learning_rate_init=SGD_RATE,
        momentum=0.0,
        nesterovs_momentum=False,
        max_iter=1,
        shuffle=True,
        tol=0.0,
        n_iter_no_change=10**9,
        early_stopping=False,
        random_state=0,
    )
    with warnings.catch_warnings():
        # max_iter=1 always "fails to converge"; that is the point of a one-epoch timing.
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(x, labels)
    return float(classifier.loss_), classifier.coefs_[0].dtype.name


# ----------------------------------------------------------------------------- BLAS bound
class MatmulEpoch:
    """The matrix products of one training epoch and nothing else: per batch the 3 forward
    products, the 3 weight-gradient products and the 2 input-gradient products (the first
    layer's input gradient is never needed), into preallocated arrays with ``np.matmul(out=)``.

    Batches are contiguous slices of the data: gathering, activations, the loss and the updates
    are exactly what this bound leaves out.
    """

    def __init__(self, batch_size: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        sizes = (FEATURES, *HIDDEN, CLASSES)
        self.batch_size = batch_size
        self.weights = [
            (rng.standard_normal((fan_in, fan_out), dtype=np.float32) / np.sqrt(fan_in)).astype(
                np.float32
            )
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:])
        ]
        self.activations = [np.empty((batch_size, size), np.float32) for size in sizes[1:]]
        self.input_errors = [np.empty((batch_size, size), np.float32) for size in HIDDEN]
        self.gradients = [np.empty_like(w) for w in self.weights]

    def epoch(self, x: np.ndarray) -> None:
        w1, w2, w3 = self.weights
        a1, a2, a3 = self.activations
        e1, e2 = self.input_errors
        g1, g2, g3 = self.gradients
        size = self.batch_size
        for start in range(0, len(x), size):
            batch = x[start : start + size]
            n = len(batch)
            # Leading rows of a C-contiguous buffer are contiguous, so `out=` takes the views.
            h1, h2, out = a1[:n], a2[:n], a3[:n]
            d1, d2 = e1[:n], e2[:n]
            np.matmul(batch, w1, out=h1)
            np.matmul(h1, w2, out=h2)
            np.matmul(h2, w3, out=out)
            # The output error stands in for `out`'s gradient; its values do not change the time.
            np.matmul(h2.T, out, out=g3)
            np.matmul(out, w3.T, out=d2)
            np.matmul(h1.T, d2, out=g2)
            np.matmul(d2, w2.T, out=d1)
            np.matmul(batch.T, d1, out=g1)
