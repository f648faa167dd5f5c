"""The network scikit-learn's MLP trains, in NumPy with preallocated buffers.

scikit-learn keeps ``coefs_`` and ``intercepts_`` as lists of arrays and, at every batch, builds new
arrays for the gradients, the optimizer's moments and the updates. Here all parameters live in one
flat vector (``coefs_`` then ``intercepts_``, the order of scikit-learn's ``_pack``), and
``coefs_[i]`` / ``intercepts_[i]`` are views of it; the gradients live in a second flat vector of
the same layout. An optimizer then updates every parameter with a handful of whole-vector
operations, L-BFGS reads and writes the vector directly, and the batch loop allocates nothing.

The mathematics is scikit-learn's, operation for operation where it decides the result
(``sklearn/neural_network/_multilayer_perceptron.py``, ``_base.py``):

- forward: ``a[i+1] = f(a[i] @ W[i] + b[i])``, the output activation last;
- output error ``delta = output - y`` (the canonical link of each loss), times the sample weights;
- gradients ``(a[i].T @ delta + alpha * W[i]) / sum(w)`` and ``sum(delta) / sum(w)``;
- loss: the data term plus ``0.5 * alpha * sum(W**2) / sum(w)`` (``sum(w)`` is the batch size
  without sample weights), so the L2 term is scaled by the batch, as in scikit-learn.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, xlogy

from .. import activations as lw_activations
from ._threads import blas_threads

# scikit-learn's four hidden activations, applied in place on the layer's output.
SKLEARN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
# The same four in layerwise's names (for building ``model_``).
LAYERWISE_NAMES = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}


def _softmax(z: np.ndarray) -> None:
    # scikit-learn's inplace_softmax: subtract the row maximum, exponentiate, normalise.
    tmp = z - z.max(axis=1)[:, np.newaxis]
    np.exp(tmp, out=z)
    z /= z.sum(axis=1)[:, np.newaxis]


def apply_output(name: str, z: np.ndarray) -> None:
    """Apply the output activation ``name`` ('identity', 'logistic', 'softmax', 'exp') in place."""
    if name == "logistic":
        expit(z, out=z)
    elif name == "softmax":
        _softmax(z)
    elif name == "exp":
        np.exp(z, out=z)


class Layout:
    """Where each layer's weights sit in the flat parameter vector.

    Args:
        units: ``[n_features, *hidden_layer_sizes, n_outputs]``.
    """

    def __init__(self, units: list[int]) -> None:
        self.units = list(units)
        self.coef_slices, self.intercept_slices = [], []
        start = 0
        for fan_in, fan_out in zip(units[:-1], units[1:]):
            self.coef_slices.append((start, start + fan_in * fan_out, (fan_in, fan_out)))
            start += fan_in * fan_out
        self.n_coef = start
        for fan_out in units[1:]:
            self.intercept_slices.append((start, start + fan_out))
            start += fan_out
        self.size = start

    def views(self, flat: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """``(coefs, intercepts)``: views of ``flat`` in scikit-learn's shapes."""
        coefs = [flat[s:e].reshape(shape) for s, e, shape in self.coef_slices]
        intercepts = [flat[s:e] for s, e in self.intercept_slices]
        return coefs, intercepts

    def pack(self, coefs, intercepts, dtype) -> np.ndarray:
        """A new flat vector holding ``coefs`` and ``intercepts`` (checked against the layout)."""
        flat = np.empty(self.size, dtype=dtype)
        for (s, e, shape), array in zip(self.coef_slices, coefs):
            flat[s:e] = np.asarray(array, dtype=dtype).reshape(shape).ravel()
        for (s, e), array in zip(self.intercept_slices, intercepts):
            flat[s:e] = np.asarray(array, dtype=dtype).ravel()
        return flat


class Network:
    """Forward pass, loss and gradients of an MLP whose parameters are the flat vector ``params``.

    Args:
        layout: the :class:`Layout`.
        params: the flat parameter vector (read at every call: the optimizer updates it in place).
        activation: hidden activation, one of :data:`SKLEARN_ACTIVATIONS` or a layerwise
            activation name.
        out_activation: 'identity', 'logistic', 'softmax' or 'exp'.
        loss: 'squared_error', 'poisson', 'log_loss' (softmax) or 'binary_log_loss' (logistic).
        alpha: the L2 factor.
        dropout: rate of the inverted dropout after each hidden layer while training (0: none).
        rng: generator of the dropout masks.
    """

    def __init__(self, layout, params, activation, out_activation, loss, alpha,
                 dropout=0.0, rng=None) -> None:
        self.layout, self.params = layout, params
        self.coefs, self.intercepts = layout.views(params)
        self.grad = np.zeros_like(params)
        self.coef_grads, self.intercept_grads = layout.views(self.grad)
        self.activation, self.out_activation = activation, out_activation
        self.loss_name, self.alpha = loss, float(alpha)
        self.dropout, self.rng = float(dropout), rng
        self._custom = None if activation in SKLEARN_ACTIVATIONS else lw_activations.get(activation)
        self._rows = 0
        self.check_threads()

    def check_threads(self) -> None:
        """Choose the column sums for the BLAS threads now in force: ``ones @ delta`` (one BLAS
        call, 3x faster than ``sum(axis=0)``) only with one thread, since OpenBLAS threads that
        product above ~9,000 elements and on a busy machine a threaded call waits for a core."""
        self._gemv_sums = blas_threads() == 1

    # ------------------------------------------------------------- buffers
    def _buffers(self, n: int) -> None:
        """Activation buffers for batches of up to ``n`` rows (grown, never shrunk)."""
        if n <= self._rows:
            return
        dtype = self.params.dtype
        units = self.layout.units[1:]
        self._z = [np.empty((n, u), dtype) for u in units]  # pre-activations (custom only)
        self._a = [np.empty((n, u), dtype) for u in units]
        self._d = [np.empty((n, u), dtype) for u in units]
        self._mask = [np.empty((n, u), dtype) for u in units[:-1]] if self.dropout else None
        self._kept = [np.empty((n, u), dtype) for u in units[:-1]] if self.dropout else None
        self._tmp = np.empty((n, units[-1]), dtype)
        self._ones = np.ones(n, dtype)
        self._rows = n

    # ------------------------------------------------------------- passes
    def forward(self, x, training: bool = False) -> np.ndarray:
        """The network's output for ``x`` ``(n, n_features)`` (dense or sparse), in a buffer."""
        n = x.shape[0]
        self._buffers(n)
        last = len(self.coefs) - 1
        self._inputs = inputs = [x]
        for i, (w, b) in enumerate(zip(self.coefs, self.intercepts)):
            a = self._a[i][:n]
            if i == last or self._custom is None:
                z = a
            else:
                z = self._z[i][:n]
            if isinstance(inputs[i], np.ndarray):
                np.matmul(inputs[i], w, out=z)
            else:  # scipy sparse
                z[...] = inputs[i] @ w
            z += b
            if i == last:
                apply_output(self.out_activation, a)
                break
            self._hidden(z, a)
            if training and self.dropout:
                keep = 1.0 - self.dropout
                mask = self._mask[i][:n]
                np.less(self.rng.random(mask.shape), keep, out=mask, casting="unsafe")
                mask /= keep
                kept = np.multiply(a, mask, out=self._kept[i][:n])
                inputs.append(kept)
            else:
                inputs.append(a)
        return self._a[last][:n]

    def _hidden(self, z, a) -> None:
        name = self.activation
        if name == "relu":
            np.maximum(a, 0, out=a)
        elif name == "tanh":
            np.tanh(a, out=a)
        elif name == "logistic":
            expit(a, out=a)
        elif self._custom is not None:
            self._custom.forward(z, out=a)

    def _derivative(self, i: int, n: int, delta: np.ndarray) -> np.ndarray:
        """``delta`` (gradient w.r.t. the output of hidden layer ``i``) taken back through its
        activation (and dropout), in place where possible."""
        a = self._a[i][:n]
        if self.dropout and self._training:
            delta *= self._mask[i][:n]
        name = self.activation
        if name == "relu":
            # scikit-learn writes delta[a == 0] = 0; a multiplication by the mask is 5x faster.
            np.multiply(delta, a > 0, out=delta)
        elif name == "tanh":
            delta *= 1 - a**2
        elif name == "logistic":
            delta *= a
            delta *= 1 - a
        elif self._custom is not None:
            delta = self._custom.backward(self._z[i][:n], a, delta)
        return delta

    def loss_and_gradient(self, x, y, sample_weight=None, training: bool = True) -> float:
        """The batch loss; fills :attr:`grad` (and so ``coef_grads`` / ``intercept_grads``).

        Args:
            x: ``(n, n_features)`` samples; y: ``(n, n_outputs)`` targets (0/1 for classifiers);
            sample_weight: ``(n,)`` or None.
        """
        self._training = training
        n = x.shape[0]
        output = self.forward(x, training=training)
        delta = np.subtract(output, y, out=self._d[-1][:n])
        loss = self._data_loss(y, output, delta, sample_weight)
        if sample_weight is None:
            weight_sum = n
        else:
            weight_sum = float(sample_weight.sum())
            delta *= sample_weight.reshape(-1, 1)
        coefs_flat = self.params[: self.layout.n_coef]
        loss += (0.5 * self.alpha) * float(np.dot(coefs_flat, coefs_flat)) / weight_sum

        last = len(self.coefs) - 1
        for i in range(last, -1, -1):
            a_in = self._inputs[i]
            if isinstance(a_in, np.ndarray):
                np.matmul(a_in.T, delta, out=self.coef_grads[i])
            else:
                self.coef_grads[i][...] = a_in.T @ delta
            if self._gemv_sums:
                np.dot(self._ones[:n], delta, out=self.intercept_grads[i])
            else:
                delta.sum(axis=0, out=self.intercept_grads[i])
            if i > 0:
                previous = np.matmul(delta, self.coefs[i].T, out=self._d[i - 1][:n])
                delta = self._derivative(i - 1, n, previous)
        coef_grads_flat = self.grad[: self.layout.n_coef]
        if self.alpha:
            coef_grads_flat += self.alpha * coefs_flat
        self.grad /= weight_sum
        return loss

    def _data_loss(self, y, output, delta, sample_weight) -> float:
        """scikit-learn's loss functions (``_base.LOSS_FUNCTIONS``) on the batch."""
        name = self.loss_name
        if name == "squared_error":
            # 0.5 * average over samples of (y - p)**2, then mean over outputs.
            if sample_weight is None:
                return 0.5 * float(np.vdot(delta, delta)) / delta.size
            rows = np.einsum("ij,ij->i", delta, delta)
            return 0.5 * float(np.dot(sample_weight, rows)) / (
                float(sample_weight.sum()) * delta.shape[1]
            )
        if name == "poisson":
            terms = xlogy(y, y / output) - y + output
        else:
            eps = np.finfo(output.dtype).eps
            n = output.shape[0]
            # np.clip(output, eps, 1 - eps) as its two ufuncs, without np.clip's wrappers.
            clipped = np.maximum(output, eps, out=self._tmp[:n])
            np.minimum(clipped, 1 - eps, out=clipped)
            if name == "log_loss":
                terms = np.log(clipped, out=clipped)
                terms *= y
            else:  # binary_log_loss: y log p + (1 - y) log(1 - p), y in {0, 1}
                log_q = np.log(1 - clipped)
                log_p = np.log(clipped, out=clipped)
                log_p -= log_q
                log_p *= y
                terms = np.add(log_q, log_p, out=log_p)
            if sample_weight is None:
                return -float(terms.sum()) / terms.shape[0]
            return -float(np.dot(sample_weight, terms.sum(axis=1))) / float(sample_weight.sum())
        if sample_weight is None:
            return float(terms.sum()) / terms.shape[0]
        return float(np.dot(sample_weight, terms.sum(axis=1))) / float(sample_weight.sum())


def predict_output(coefs, intercepts, x, activation: str, out_activation: str,
                   chunk: int | None = None) -> np.ndarray:
    """The network's output for ``x`` from ``coefs`` / ``intercepts`` (inference, no dropout).

    With one BLAS thread, rows go through in chunks of 2048 (``chunk``) so that a chunk's hidden
    activations stay in the CPU cache between the product, the bias and the activation (10-20%
    faster). With several threads every layer is one product over all rows, as in scikit-learn:
    each BLAS call wakes the thread pool, and on a busy machine the waits of many small calls
    cost more than the cache saves.
    """
    if chunk is None:
        chunk = 2048 if blas_threads() == 1 else max(x.shape[0], 1)
    # Products are np.matmul, not np.dot: for these shapes OpenBLAS runs them 5-40% faster
    # (measured with 1 and 2 threads), and as fast at one thread.
    n = x.shape[0]
    dtype = np.result_type(x.dtype, *(w.dtype for w in coefs))
    result = np.empty((n, coefs[-1].shape[1]), dtype=dtype)
    custom = None if activation in SKLEARN_ACTIVATIONS else lw_activations.get(activation)
    last = len(coefs) - 1
    for start in range(0, n, chunk):
        a = x[start : start + chunk]
        for i, (w, b) in enumerate(zip(coefs, intercepts)):
            dense = isinstance(a, np.ndarray)
            if i == last:
                z = result[start : start + a.shape[0]]
                if dense and a.dtype == w.dtype == dtype:
                    np.matmul(a, w, out=z)
                else:
                    z[...] = a @ w
            else:
                z = np.matmul(a, w) if dense else np.asarray(a @ w)
            z += b
            if i != last:
                if activation == "relu":
                    np.maximum(z, 0, out=z)
                elif activation == "tanh":
                    np.tanh(z, out=z)
                elif activation == "logistic":
                    expit(z, out=z)
                elif custom is not None:
                    z = custom.forward(z)
            a = z
    apply_output(out_activation, result)
    return result
