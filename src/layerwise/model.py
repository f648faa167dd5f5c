"""``Model``: the layer graph in topological order, compile, predict, weights.

Training (``fit``, ``evaluate``, ``train_on_batch``) lives in :mod:`layerwise.training`.
"""

from __future__ import annotations

import numpy as np

from . import losses, optimizers
from . import metrics as metrics_module
from .data import as_features
from .exceptions import IncompatibleLayerError, ShapeMismatchError
from .graph import Graph, as_layer_list
from .layers.base import Layer, check_positive_int
from .seeding import make_rng
from .training import Trainer

__all__ = ["Model"]

_DTYPES = ("float32", "float64")
_PREDICT_BATCH = 4096  # rows per forward pass in predict: large for BLAS, bounded in memory


class Model(Trainer):
    """A network from its input layer to its output layer (the spec's ``Model``).

    Args:
        inputs: the first layer: an ``Input``, or a ``Dense`` created with ``input_size``.
        outputs: the last layer; the graph between them is found by walking back from it.
        name: the model's name (shown by ``summary``).
        seed: seed of the shuffling order in ``fit`` (default: from :func:`layerwise.set_seed`).

    Example::

        inputs = Input(shape=(2,))
        x = Dense(8, activation='relu')(inputs)
        outputs = Dense(1, activation='sigmoid')(x)
        model = Model(inputs, outputs)
        model.compile(loss_fn='mse')
        model.fit(x_train, y_train, epochs=500, learning_rate=0.05, print_loss=False)
        predictions = model.predict(x_test)
    """

    def __init__(self, inputs, outputs, name: str | None = None, seed: int | None = None) -> None:
        if inputs is None or outputs is None:
            which = "inputs" if inputs is None else "outputs"
            raise TypeError(f"Argument '{which}' of Model must be a Layer; received None.")
        input_layers = as_layer_list(inputs, "inputs")
        output_layers = as_layer_list(outputs, "outputs")
        for layer in input_layers:
            if layer.output_shape is None:
                raise IncompatibleLayerError(
                    f"The input layer {layer.name!r} has no shape; use Input(shape=...) or "
                    "a Dense with input_size=..."
                )
        self.input_layers, self.output_layers = input_layers, output_layers
        self.input_layer, self.output_layer = input_layers[0], output_layers[0]
        self.inputs, self.outputs = inputs, outputs
        self.name = name or "model"
        self._graph = Graph(input_layers, output_layers)
        self.layers = self._graph.layers
        self._parents = self._graph.parents
        self._check_unique_names()
        self.input_names = [layer.name for layer in input_layers]
        self.output_names = [layer.name for layer in output_layers]
        self.input_shapes = [tuple(layer.input_shape) for layer in input_layers]
        self.output_shapes = [tuple(layer.output_shape) for layer in output_layers]
        self.input_shape = self.input_shapes[0]
        self.output_shape = self.output_shapes[0]
        self.compiled = False
        self.loss = self.optimizer = None
        self.metrics: list = []
        self.dtype = np.dtype(np.float32)
        self.history = {}
        self.stop_training = False
        self._training = True  # unknown until _set_training: the first predict sets it
        self._rng = make_rng(seed)  # shuffling
        self.distribute = self._dist = None

    def _check_unique_names(self) -> None:
        seen: dict[str, Layer] = {}
        for layer in self.layers:
            if not (layer.parameters() or layer.state()):
                continue
            if layer.name in seen:
                raise ValueError(
                    f"Two layers of the model are named {layer.name!r}; layer names must be unique "
                    "because parameters are saved under them."
                )
            seen[layer.name] = layer

    # ------------------------------------------------------------------ compile
    def compile(
        self, loss_fn="mse", optimizer="sgd", metrics=None, dtype="float32", distribute=None
    ) -> None:
        """Choose the loss, optimizer, metrics and floating-point type.

        Args:
            loss_fn: loss name (``'mse'``, ``'categorical_crossentropy'``, ...), ``Loss`` or
                loss object.
            optimizer: optimizer name (``'sgd'``, ``'adam'``, ``'adamw'``, ``'rmsprop'``) or
                object.
            metrics: list of metric names or objects, e.g. ``['accuracy']``.
            dtype: ``'float32'`` (default) or ``'float64'``, for weights, activations and
                predictions.
            distribute: None, or a :class:`layerwise.distributed.MPIStrategy` (or ``'mpi'``
                for a new one) to train data-parallel on the processes of ``mpiexec``.

        Raises:
            IncompatibleLayerError: a loss that cannot train this output (e.g. categorical
                cross-entropy after a ReLU), with the fix in the message.
        """
        try:
            dtype_name = np.dtype(dtype).name
        except TypeError:
            dtype_name = None
        if dtype_name not in _DTYPES:
            raise ValueError(f"Argument 'dtype' must be one of {_DTYPES}; received {dtype!r}.")
        loss = losses.get(loss_fn, argument="loss_fn")
        optimizer = optimizers.get(optimizer, argument="optimizer")
        self._check_loss_fits_output(loss)
        metrics = metrics_module.get_list(metrics, loss, self.output_shape)
        distribute = _check_distribute(distribute, metrics)
        self.dtype = np.dtype(dtype)
        for layer in self.layers:
            layer.set_dtype(self.dtype)
        self.loss = loss
        self.optimizer = optimizer
        self.metrics = metrics
        self._fused = (
            not loss.from_logits
            and loss.partner is not None
            and getattr(self._output_activation(), "name", None) == loss.partner
        )
        self.optimizer.build(self._parameter_names(), self._parameter_arrays())
        self.distribute = distribute
        for layer in self.layers:  # fit attaches them again if distribute synchronizes them
            if getattr(layer, "cross_process", None) is not None:
                layer.cross_process = None
        # Several processes: fit, evaluate and saving take the distributed paths.
        self._dist = distribute if distribute is not None and distribute.size > 1 else None
        self.compiled = True

    def _output_activation(self):
        """The activation the output layer applies last, or None for layers without one."""
        return self.output_layer.output_activation

    def _check_loss_fits_output(self, loss) -> None:
        activation = self._output_activation()
        name = activation.name if activation is not None else "none"
        if loss.from_logits and activation is not None and name != "linear":
            raise IncompatibleLayerError(
                f"The loss {loss.name!r} has from_logits=True, so it applies {loss.partner} "
                f"itself, but the output layer already applies {name!r}. Use activation=None "
                f"(linear) on the output layer, or from_logits=False."
            )
        if loss.requires_probability and not loss.from_logits:
            if activation is None or not activation.output_is_probability:
                raise IncompatibleLayerError(
                    f"The loss {loss.name!r} needs probabilities, but the output layer "
                    f"{self.output_layer.name!r} has activation {name!r}. Use "
                    f"activation='{loss.partner}' on the output layer, or a linear output with "
                    f"Loss({loss.name!r}, from_logits=True)."
                )
            if activation.name != loss.partner:
                raise IncompatibleLayerError(
                    f"The loss {loss.name!r} needs a '{loss.partner}' output, but the output layer "
                    f"has activation {name!r}. Use activation='{loss.partner}'"
                    + (
                        ", or the loss 'binary_crossentropy' for independent sigmoid outputs."
                        if name == "sigmoid"
                        else ", or the loss 'categorical_crossentropy' for a softmax output."
                    )
                )

    # --------------------------------------------------------------- parameters
    def _trainable(self):
        return [(layer, name, p) for layer in self.layers for name, p in layer.parameters().items()]

    def _parameter_names(self) -> list[str]:
        return [f"{layer.name}/{name}" for layer, name, _ in self._trainable()]

    def _parameter_arrays(self) -> list[np.ndarray]:
        return [p for _, _, p in self._trainable()]

    def _gradient_arrays(self) -> list[np.ndarray]:
        return [g for layer in self.layers for g in layer.gradients().values()]

    def _weight_items(self) -> list[tuple[str, np.ndarray]]:
        """Every weight by name, layer by layer: parameters, then state (moving averages)."""
        return [
            (f"{layer.name}/{name}", array)
            for layer in self.layers
            for group in (layer.parameters(), layer.state())
            for name, array in group.items()
        ]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights in layer order, ``[W1, b1, W2, b2, ...]``, as Keras: a layer's
        trainable parameters, then its non-trainable state (batch norm's moving averages)."""
        return [array.copy() for _, array in self._weight_items()]

    def set_weights(self, weights) -> None:
        """Set all weights from a list in the order of :meth:`get_weights`.

        Raises:
            ShapeMismatchError: wrong number of arrays or a wrong shape; nothing is changed then.
        """
        items = self._weight_items()
        weights = list(weights)
        if len(weights) != len(items):
            raise ShapeMismatchError(
                f"Argument 'weights' holds {len(weights)} arrays, but the model has {len(items)} "
                f"weights ({', '.join(name for name, _ in items)})."
            )
        arrays = []
        for (name, target), value in zip(items, weights):
            value = np.asarray(value)
            if value.shape != target.shape:
                raise ShapeMismatchError(
                    f"Argument 'weights': the array for {name} has shape {value.shape}, "
                    f"expected {target.shape}."
                )
            arrays.append(value)
        for (_, target), value in zip(items, arrays):
            np.copyto(target, value, casting="unsafe")  # in place: optimizers keep references

    def summary(self, print_fn=print) -> None:
        """Print a table of layers, output shapes and parameter counts (trainable and not)."""
        from .summary import summary_text

        print_fn(summary_text(self))

    # ------------------------------------------------------------------ files
    def save(self, path, include_optimizer: bool = True) -> None:
        """Write the model to one ``.safetensors`` file: architecture, weights, compile
        settings and optimizer state (see :mod:`layerwise.saving`). Reload it with
        :func:`layerwise.load_model`. The write is atomic."""
        from .saving import save_model

        save_model(self, path, include_optimizer=include_optimizer)

    def save_weights(self, path) -> None:
        """Write only the weights (and layer state such as moving averages) to ``path``."""
        from .saving import save_weights

        save_weights(self, path)

    def load_weights(self, path) -> None:
        """Load weights written by :meth:`save_weights` or :meth:`save`, checking names and
        shapes; raises :class:`~layerwise.exceptions.ModelFileError` and changes nothing if
        they do not match."""
        from .saving import load_weights

        load_weights(self, path)

    def get_config(self) -> dict:
        """The architecture as JSON-friendly data (layers, their configs and connections)."""
        from .saving import model_config

        return model_config(self)

    @classmethod
    def from_config(cls, config: dict) -> Model:
        """A new, uncompiled model with the architecture of :meth:`get_config` (fresh weights)."""
        from .saving import model_from_config

        return model_from_config(config)

    def count_params(self) -> int:
        """Number of trainable parameters."""
        return int(sum(p.size for p in self._parameter_arrays()))

    # ------------------------------------------------------------------ running
    def _set_training(self, training: bool) -> None:
        self._training = training
        for layer in self.layers:
            layer.training = training

    def _run_forward(self, x: np.ndarray) -> np.ndarray:
        """Forward pass through the graph; each layer sees its parents' outputs."""
        return self._graph.forward([x])[0]

    def _run_backward(
        self, output_error, pre_activation: bool, all_inputs: bool = False, descend=False
    ):
        """Backward pass (see :meth:`Graph.backward`); returns the input's gradient."""
        return self._graph.backward([output_error], [pre_activation], all_inputs, descend)[0]

    def forward(self, x) -> np.ndarray:
        """The spec's forward pass: the model's output for a batch ``x`` (kept for ``backward``)."""
        self._require_compiled("forward")
        x = as_features(x, self.input_shape, self.dtype, "x")
        return self._run_forward(x)

    def backward(self, y) -> np.ndarray:
        """The spec's backward pass for labels ``y`` of the last ``forward``: stores every
        layer's gradients and returns the gradient with respect to the model's input."""
        self._require_compiled("backward")
        output = self.output_layer.output
        if output is None:
            raise RuntimeError("Call forward(x) before backward(y).")
        y = self.loss.targets(np.asarray(y), self.output_shape, self.dtype)
        error, pre_activation = self._loss_gradient(y, output)
        input_error = self._run_backward(error, pre_activation, all_inputs=True)
        self._add_penalty_gradients(1.0)
        return input_error

    def _add_penalty_gradients(self, scale: float) -> None:
        """Add the regularizers' gradients (times ``scale``) to the layers' gradients."""
        for layer in self.layers:
            if not layer.regularized:
                continue
            gradients = layer.gradients()
            for name, penalty in layer.regularization_gradients().items():
                if scale != 1.0:
                    penalty *= scale
                gradients[name] += penalty

    def update(self, learning_rate: float) -> None:
        """The spec's update: plain gradient descent on every layer with ``learning_rate``."""
        for layer in self.layers:
            layer.update(learning_rate)

    def _loss_gradient(self, y, output, out=None):
        """Gradient of the loss w.r.t. the output, or w.r.t. the output activation's input when
        the loss and activation are fused. Returns ``(gradient, pre_activation)``."""
        if self._fused:
            return self.loss.fused_gradient(y, output, out=out), True
        return self.loss.gradient(y, output, out=out), False

    def predict(self, x, batch_size: int | None = None) -> np.ndarray:
        """Outputs for samples ``x`` (shape ``(n, *input_shape)``): an array ``(n, *output_shape)``
        in the model's dtype. Large inputs run in batches of ``batch_size`` (default 4096)."""
        x = as_features(x, self.input_shape, self.dtype, "x")
        size = _PREDICT_BATCH if batch_size is None else check_positive_int(batch_size,
                                                                            "batch_size")
        if self._training:
            self._set_training(False)
        if len(x) <= size:  # the common small case: one pass, no copy of a fresh result
            output = self._run_forward(x)
            return output.copy() if np.may_share_memory(output, x) else output
        result = np.empty((len(x), *self.output_shape), dtype=self.dtype)
        for start in range(0, len(x), size):
            result[start : start + size] = self._run_forward(x[start : start + size])
        return result

    def _require_compiled(self, method: str, allow_uncompiled: bool = False) -> None:
        if not self.compiled and not allow_uncompiled:
            raise RuntimeError(f"Call model.compile(loss_fn=...) before model.{method}().")

    def __getstate__(self) -> dict:
        # Buffers and snapshots of the training loop are rebuilt by the next fit.
        state = dict(self.__dict__)
        state.update(distribute=None, _dist=None)  # a communicator belongs to its processes
        for name in ("_error_buffer", "_epoch_start", "_params", "_grads", "_packed",
                     "_allreduce_buffer"):
            state.pop(name, None)
        return state

    def __repr__(self) -> str:
        return f"<Model {self.name!r}: {' -> '.join(layer.name for layer in self.layers)}>"


def _check_distribute(distribute, metrics):
    """``compile``'s ``distribute``: None, ``'mpi'`` or a strategy whose metrics can merge."""
    if distribute is None:
        return None
    if isinstance(distribute, str) and distribute == "mpi":
        from .distributed import MPIStrategy

        distribute = MPIStrategy()
    from .distributed import MPIStrategy

    if not isinstance(distribute, MPIStrategy):
        raise TypeError(
            "Argument 'distribute' must be None, 'mpi' or a layerwise.distributed.MPIStrategy; "
            f"received {distribute!r:.80} of type {type(distribute).__name__}."
        )
    for metric in metrics:
        if type(metric).merge_state is metrics_module.Metric.merge_state:
            raise TypeError(
                f"Argument 'metrics': {type(metric).__name__} has no merge_state(other), which "
                "distributed training needs to combine the totals of the processes."
            )
    return distribute
