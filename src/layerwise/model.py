"""``Model``: the layer graph in topological order, compile, saving, the manual forward and
backward.

Training (``fit``, ``train_on_batch``) lives in :mod:`layerwise.training`, ``evaluate`` in
:mod:`layerwise.evaluation`, ``predict`` in :mod:`layerwise.predicting` and the weights
(``get_weights``, ``trainable``, ...) in :mod:`layerwise.model_weights`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from . import optimizers, registry
from .checkpoints import save_checkpoint
from .compiling import check_loss_fits_output, resolve_loss_weights, resolve_losses, resolve_metrics
from .distributed import check_distribute
from .evaluation import sequence_mask
from .exceptions import IncompatibleLayerError
from .graph import Graph, as_layer_list
from .layers.base import Layer
from .model_weights import ModelWeights
from .predicting import Predicting
from .saving import (
    load_weights,
    model_config,
    model_from_config,
    model_json,
    save_model,
    save_weights,
)
from .seeding import make_rng
from .summary import print_summary
from .training import Trainer

__all__ = ["Model"]

_DTYPES = ("float32", "float64")


class Model(ModelWeights, Predicting, Trainer):
    """A network from its input layers to its output layers (each layer called on its parents).

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

    def __init__(
        self, inputs: Any, outputs: Any, name: str | None = None, seed: int | None = None
    ) -> None:
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
        self._inside_fit = False
        self._epoch_validated = True  # False in fit's epochs that validation_freq skips
        self.distribute = self._dist = None
        if getattr(self, "_rng", None) is None:  # a Sequential growing by add() keeps its own
            self._rng = make_rng(seed)  # shuffling

    @classmethod
    def _from_graph(cls, inputs, outputs, name: str) -> Model:
        """The model of this class over wired layers (how files rebuild it)."""
        return cls(inputs, outputs, name=name)

    # ------------------------------------------------------------------ compile
    def compile(
        self,
        loss_fn: Any = None,
        optimizer: Any = "sgd",
        metrics: Any = None,
        dtype: DTypeLike = "float32",
        *,
        loss: Any = None,
        loss_weights: Any = None,
        distribute: Any = None,
    ) -> None:
        """Choose the loss, optimizer, metrics and floating-point type.

        Args:
            loss_fn: loss name (``'mse'``, ``'categorical_crossentropy'``, ...), ``Loss`` or
                loss object (default ``'mse'``); for several outputs one loss for all, a list
                (in the order of ``outputs``) or a dict by output layer name. Keras' keyword
                ``loss=`` is the same argument.
            optimizer: optimizer name (``'sgd'``, ``'adam'``, ``'adamw'``, ``'rmsprop'``) or
                object.
            metrics: list of metric names or objects, e.g. ``['accuracy']``; with several
                outputs the list applies to each, or a dict by output name gives each its own.
            dtype: ``'float32'`` (default) or ``'float64'``, for weights, activations and
                predictions.
            loss_weights: with several outputs, the weight of each output's loss in the total
                ``loss`` (a list or a dict by output name; default 1 each).
            distribute: None, or a :class:`layerwise.distributed.MPIStrategy` (or ``'mpi'``
                for a new one) to train data-parallel on the processes of ``mpiexec``.

        Raises:
            IncompatibleLayerError: a loss that cannot train this output (e.g. categorical
                cross-entropy after a ReLU), with the fix in the message.
            TypeError, ValueError: an unknown name or a malformed argument; nothing changes.
        """
        self._graph.check_trainable()
        if loss is not None and loss_fn is not None:
            raise ValueError(
                "Give the loss once: 'loss_fn' and 'loss' are the same argument; received "
                f"loss_fn={loss_fn!r:.60} and loss={loss!r:.60}."
            )
        argument = "loss" if loss is not None else "loss_fn"
        spec = loss if loss is not None else ("mse" if loss_fn is None else loss_fn)
        try:
            dtype_name = np.dtype(dtype).name if isinstance(dtype, (str, type, np.dtype)) else None
        except Exception:  # NumPy's parser raises TypeError, ValueError, even SyntaxError
            dtype_name = None
        if dtype_name not in _DTYPES:
            raise ValueError(f"Argument 'dtype' must be one of {_DTYPES}; received {dtype!r}.")
        names = self.output_names
        losses_list = resolve_losses(spec, argument, names)
        weights = resolve_loss_weights(loss_weights, names)
        optimizer = optimizers.get(optimizer, argument="optimizer")
        for loss_function, layer in zip(losses_list, self.output_layers):
            check_loss_fits_output(loss_function, layer)
        metric_lists = resolve_metrics(metrics, losses_list, names, self.output_shapes)
        distribute = check_distribute(distribute, [m for group in metric_lists for m in group])
        # Everything is checked: from here on, the model changes.
        self.dtype = np.dtype(dtype)
        for layer in self.layers:
            layer.set_dtype(self.dtype)
        self.losses = losses_list
        self.loss_weights = weights
        self.loss = losses_list[0] if len(losses_list) == 1 else list(losses_list)
        self.optimizer = optimizer
        self._output_metrics = metric_lists
        self.metrics = [metric for group in metric_lists for metric in group]
        several = len(self.output_layers) > 1
        self._metric_names = [
            [f"{name}_{m.name}" if several else m.name for m in group]
            for name, group in zip(self.output_names, metric_lists)
        ]
        self._fused_outputs = [
            not f.from_logits
            and f.partner is not None
            and getattr(layer.output_activation, "name", None) == f.partner
            and self._graph.children[i] == 0
            for f, layer, i in zip(losses_list, self.output_layers, self._graph.output_indices)
        ]
        self._fused = self._fused_outputs[0]
        self._graph.find_gradient_paths()
        self.optimizer.build(self._parameter_names(), self._parameter_arrays())
        self._use_distribute(distribute)
        self.compiled = True

    def _output_activation(self):
        """The activation the (first) output layer applies last, or None."""
        return self.output_layer.output_activation

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called ``name`` (or at position ``index`` of :attr:`layers`), as Keras.

        Raises:
            ValueError: no layer has that name, or neither or both arguments were given.
        """
        if (name is None) == (index is None):
            raise ValueError("Give exactly one of 'name' and 'index' to get_layer.")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Argument 'name' must be a layer's name; received {name!r:.60}.")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int):
                raise TypeError(f"Argument 'index' must be an int; received {index!r}.")
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(
                    f"Argument 'index' is {index}, but the model has {len(self.layers)} layers."
                )
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"No layer named {name!r:.80} in model {self.name!r}; its layers are "
            f"{[layer.name for layer in self.layers]}."
        )

    def summary(
        self,
        line_length: int | None = None,
        print_fn: Callable[[str], Any] | None = None,
        show_trainable: bool = False,
    ) -> None:
        """Print a table of layers, output shapes and parameter counts (trainable and not),
        with Keras' arguments: the table is at least ``line_length`` characters wide (80),
        ``print_fn`` receives it (``print`` by default) and ``show_trainable`` adds a column
        saying which layers train (Y), are frozen (N) or have no weights (-)."""
        print_summary(self, line_length, print_fn, show_trainable)

    # ------------------------------------------------------------------ files
    def save(
        self,
        path: str | os.PathLike,
        include_optimizer: bool = True,
        *,
        allow_other_extension: bool = False,
    ) -> None:
        """Write the model to one ``.safetensors`` file: architecture, weights, compile
        settings and optimizer state (see :mod:`layerwise.saving`). Reload it with
        :func:`layerwise.load_model`. The write is atomic.

        A name for another format (``.keras``, ``.h5``, ``.pt``, ``.pkl``, ...) raises
        ``ValueError`` unless ``allow_other_extension=True`` (the file is safetensors anyway).
        """
        save_model(
            self, path, include_optimizer=include_optimizer,
            allow_other_extension=allow_other_extension,
        )

    def save_checkpoint(
        self,
        path: str | os.PathLike,
        epoch: int,
        logs: dict | None = None,
        *,
        allow_other_extension: bool = False,
    ) -> None:
        """Write the full training state after ``epoch`` (what ``fit(resume_from=path)``
        reads): the model file plus the epoch, history and random-generator states."""
        save_checkpoint(self, path, epoch, logs, allow_other_extension=allow_other_extension)

    def save_weights(self, path: str | os.PathLike, *, allow_other_extension: bool = False) -> None:
        """Write only the weights (and layer state such as moving averages) to ``path``; a name
        for another format is refused as in :meth:`save`."""
        save_weights(self, path, allow_other_extension=allow_other_extension)

    def load_weights(self, path: str | os.PathLike) -> None:
        """Load weights written by :meth:`save_weights` or :meth:`save`, checking names and
        shapes; raises :class:`~layerwise.exceptions.ModelFileError` and changes nothing if
        they do not match."""
        load_weights(self, path)

    def get_config(self) -> dict:
        """The architecture as JSON-friendly data (layers, their configs and connections)."""
        return model_config(self)

    @classmethod
    def from_config(cls, config: dict) -> Model:
        """A new, uncompiled model with the architecture of :meth:`get_config` (fresh weights)."""
        return model_from_config(config)

    def to_json(self, **kwargs: Any) -> str:
        """The architecture as a JSON string, as Keras' ``to_json`` (``kwargs`` go to
        ``json.dumps``, e.g. ``indent=2``); :func:`layerwise.models.model_from_json` rebuilds
        it with fresh weights. No weights are in it: save those with :meth:`save`."""
        return model_json(self, **kwargs)

    # ------------------------------------------------------------------ running
    def _set_training(self, training: bool) -> None:
        self._training = training
        for layer in self.layers:
            layer.training = training

    def _run_forward(self, x: np.ndarray) -> np.ndarray:
        """Forward pass of a one-input, one-output model."""
        return self._graph.forward([x])[0]

    def _run_backward(
        self, output_error, pre_activation: bool, all_inputs: bool = False, descend=False
    ):
        """Backward pass (see :meth:`Graph.backward`); returns the first input's gradient."""
        return self._graph.backward([output_error], [pre_activation], all_inputs, descend)[0]

    def _single_or_list(self, arrays: list):
        """One array for one output, the list for several (Keras' convention)."""
        return arrays[0] if len(arrays) == 1 else arrays

    def forward(self, x: Any) -> np.ndarray:
        """The model's output for a batch ``x`` (kept for ``backward``): an array, or a list for
        several outputs. ``x`` is an array, or a list/dict for several inputs."""
        self._require_compiled("forward")
        self._last_outputs = self._graph.forward(self._input_arrays(x, "x"))
        return self._single_or_list(self._last_outputs)

    def backward(self, y: Any) -> np.ndarray:
        """Backward pass for labels ``y`` of the last ``forward``: stores every layer's
        gradients and returns the gradient with respect to the model's input (a list for
        several inputs)."""
        self._require_compiled("backward")
        outputs = getattr(self, "_last_outputs", None)
        if outputs is None:
            raise RuntimeError("Call forward(x) before backward(y).")
        targets = self._target_arrays(y, "y", len(outputs[0]))
        errors, fused = [], []
        for k, (target, output) in enumerate(zip(targets, outputs)):
            mask = sequence_mask(self._graph.output_masks[k], output)
            if mask is not None:  # only the unmasked steps of a sequence output count (Keras)
                error = np.zeros_like(output)
                pre = self._fused_outputs[k]
                if mask.any():
                    error[mask], pre = self._loss_gradient(target[mask], output[mask], k=k)
            else:
                error, pre = self._loss_gradient(target, output, k=k)
            if self.loss_weights[k] != 1.0:
                error = error * self.loss_weights[k]
            errors.append(error)
            fused.append(pre)
        input_errors = self._graph.backward(errors, fused, all_inputs=True)
        self._add_penalty_gradients(1.0)
        return self._single_or_list(input_errors)

    def _add_penalty_gradients(self, scale: float) -> None:
        """Add the regularizers' gradients (times ``scale``) to the layers' gradients."""
        for layer in self.layers:
            if not (layer.regularized and layer.trainable):
                continue
            gradients = layer.gradients()
            for name, penalty in layer.regularization_gradients().items():
                if scale != 1.0:
                    penalty *= scale
                gradients[name] += penalty

    def update(self, learning_rate: float) -> None:
        """Plain gradient descent on every trainable layer with ``learning_rate``."""
        for layer in self.layers:
            if layer.trainable:
                layer.update(learning_rate)

    def _loss_gradient(self, y, output, out=None, k: int = 0):
        """Gradient of output ``k``'s loss w.r.t. the output, or w.r.t. the output
        activation's input when the loss and activation are fused. Returns
        ``(gradient, pre_activation)``."""
        loss = self.losses[k]
        if self._fused_outputs[k]:
            return loss.fused_gradient(y, output, out=out), True
        return loss.gradient(y, output, out=out), False

    def _require_compiled(self, method: str, allow_uncompiled: bool = False) -> None:
        if not self.compiled and not allow_uncompiled:
            raise RuntimeError(f"Call model.compile(loss_fn=...) before model.{method}().")

    def __getstate__(self) -> dict:
        # Buffers and snapshots of the training loop are rebuilt by the next fit.
        state = dict(self.__dict__)
        state.update(distribute=None, _dist=None)  # a communicator belongs to its processes
        for name in (
            "_error_buffers", "_epoch_start", "_params", "_grads", "_packed", "_last_outputs",
            "_fit_start", "_training_arrays", "_fit_callbacks", "_allreduce_buffer",
        ):
            state.pop(name, None)
        return state

    def __repr__(self) -> str:
        return f"<Model {self.name!r}: {' -> '.join(layer.name for layer in self.layers)}>"


registry.register_kind("model", Model)
registry.register()(Model)
