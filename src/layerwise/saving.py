"""Model files: one ``.safetensors`` file with the weights as tensors and everything else as JSON.

Layout of a file written by :func:`save_model`:

- tensors ``<layer>/<parameter>`` (e.g. ``dense_1/weights``), the layers' non-trainable state
  (e.g. ``batch_normalization_1/moving_mean``) and, unless left out, the optimizer's state as
  ``optimizer/<layer>/<parameter>/<slot>``. Any safetensors reader sees them by these names.
- metadata (strings): ``format`` = ``layerwise``, ``format_version``, ``layerwise_version``,
  ``model`` (the architecture: each layer's class, config and parents, as JSON), ``compile``
  (loss, optimizer with its step count, metrics, dtype) and, in checkpoints, ``training``
  (epoch, history, random-generator states).

Writing is atomic (temporary file in the same folder, fsync, rename), so a crash never destroys
the previous file. Reading trusts nothing: no pickle, no code, bounded header and nesting, every
name and shape checked against the architecture, and any problem is a
:class:`~layerwise.exceptions.ModelFileError`.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from typing import Any

import numpy as np

from . import initializers, registry
from .exceptions import ModelFileError
from .layers.base import Layer

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "atomic_write"]

FORMAT = "layerwise"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 16 * 2**20  # safetensors itself allows 100 MB; our configs are tiny
MAX_JSON_DEPTH = 32
MAX_LAYERS = 10_000
MAX_SAMPLE_ELEMENTS = 2**31
_DTYPES = {"F32": np.float32, "F64": np.float64}


# --------------------------------------------------------------------------- writing
def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a mix.

    The bytes go to a temporary file in the same folder, which is flushed and fsynced, then
    renamed over ``path`` (atomic on POSIX and Windows); the folder is fsynced where possible.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder
    )
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp makes the file private (0600); keep the old file's mode, or the usual default.
        os.chmod(temporary, _mode_for(path))
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        directory = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)
    except OSError:
        pass
    finally:
        os.close(directory)


def _mode_for(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def model_config(model) -> dict[str, Any]:
    """The architecture: every layer's class and config, and the indices of its parents."""
    return {
        "name": model.name,
        "layers": [
            {**registry.serialize(layer), "parents": list(parents)}
            for layer, parents in zip(model.layers, model._parents)
        ],
    }


def compile_config(model) -> dict[str, Any] | None:
    if not model.compiled:
        return None
    return {
        "loss": registry.serialize(model.loss),
        "optimizer": registry.serialize(model.optimizer),
        "iterations": model.optimizer.iterations,
        "metrics": [registry.serialize(metric) for metric in model.metrics],
        "dtype": model.dtype.name,
    }


def _weight_tensors(model) -> dict[str, np.ndarray]:
    tensors = {}
    for layer in model.layers:
        for group in (layer.parameters(), layer.state()):
            for name, array in group.items():
                tensors[f"{layer.name}/{name}"] = array
    return tensors


def _to_bytes(tensors: dict[str, np.ndarray], metadata: dict[str, Any]) -> bytes:
    from safetensors.numpy import save  # imported when saving, so `import layerwise` stays light

    strings = {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in metadata.items()
    }
    arrays = {name: np.ascontiguousarray(array) for name, array in tensors.items()}
    return save(arrays, metadata=strings)


def save_model(model, path, include_optimizer: bool = True, training: dict | None = None) -> None:
    """Write the model (architecture, weights, compile settings, optimizer state) to ``path``."""
    tensors = _weight_tensors(model)
    if include_optimizer and model.compiled:
        for key, array in model.optimizer.get_state().items():
            tensors[f"optimizer/{key}"] = array
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "layerwise_version": _version(),
        "model": model_config(model),
        "compile": compile_config(model),
        "weights_order": list(_weight_tensors(model)),
    }
    if training is not None:
        metadata["training"] = training
    atomic_write(path, _to_bytes(tensors, metadata))


def save_weights(model, path) -> None:
    """Write only the weights and layer state (no architecture, no optimizer)."""
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "layerwise_version": _version(),
        "content": "weights",
        "weights_order": list(_weight_tensors(model)),
        "layer_classes": [
            registry.serialize(layer)["class_name"]
            for layer in model.layers
            if layer.parameters() or layer.state()
        ],
    }
    atomic_write(path, _to_bytes(_weight_tensors(model), metadata))


def _version() -> str:
    from . import __version__

    return __version__


# --------------------------------------------------------------------------- reading
class _File:
    """A safetensors file opened for checking: metadata parsed, tensors read on demand."""

    def __init__(self, path) -> None:
        self.path = os.fspath(path)
        try:
            size = os.path.getsize(self.path)
            with open(self.path, "rb") as file:
                prefix = file.read(8)
        except OSError as error:
            if isinstance(error, FileNotFoundError):
                raise
            raise ModelFileError(f"Cannot read {self.path!r}: {error}") from None
        if len(prefix) < 8:
            raise ModelFileError(f"{self.path!r} is truncated: {size} bytes, not a model file.")
        header_length = int.from_bytes(prefix, "little")
        if header_length > MAX_HEADER_BYTES or header_length + 8 > size:
            raise ModelFileError(
                f"{self.path!r} has a bad header length ({header_length} bytes for a file of "
                f"{size}): it is truncated, corrupted or not a safetensors file."
            )
        try:
            from safetensors import safe_open

            self.handle = safe_open(self.path, framework="numpy")
            self.metadata = self.handle.metadata() or {}
            self.names = set(self.handle.keys())
        except Exception as error:  # safetensors' own checks of the header and offsets
            raise ModelFileError(
                f"{self.path!r} is not a valid safetensors file: {error}"
            ) from None
        if self.metadata.get("format") != FORMAT:
            raise ModelFileError(
                f"{self.path!r} is a safetensors file but not a layerwise model file "
                f"(format {self.metadata.get('format')!r:.40})."
            )
        version = self.metadata.get("format_version")
        if version != str(FORMAT_VERSION):
            raise ModelFileError(
                f"{self.path!r} has format version {version!r:.20}; this layerwise "
                f"({_version()}) reads version {FORMAT_VERSION}. Upgrade layerwise to read it."
            )

    def json(self, key: str, required: bool = True):
        text = self.metadata.get(key)
        if text is None:
            if required:
                raise ModelFileError(f"{self.path!r} lacks the {key!r} entry.")
            return None
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise ModelFileError(
                f"The {key!r} entry of {self.path!r} is not valid JSON: {str(error)[:200]}"
            ) from None
        _check_depth(value, key)
        return value

    def tensor(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        if name not in self.names:
            raise ModelFileError(f"{self.path!r} lacks the tensor {name!r}.")
        view = self.handle.get_slice(name)
        found = tuple(view.get_shape())
        if found != tuple(shape):
            raise ModelFileError(
                f"Tensor {name!r} in {self.path!r} has shape {found}, but the architecture needs "
                f"{tuple(shape)}."
            )
        if _DTYPES.get(view.get_dtype()) is not np.dtype(dtype).type:
            raise ModelFileError(
                f"Tensor {name!r} in {self.path!r} has dtype {view.get_dtype()}, but the model "
                f"is {np.dtype(dtype).name}."
            )
        array = self.handle.get_tensor(name)
        if not np.isfinite(array).all():
            raise ModelFileError(f"Tensor {name!r} in {self.path!r} holds NaN or infinity.")
        return array


def _check_depth(value, key: str) -> None:
    """Refuse JSON nested deeper than any file we write (iteratively: no recursion limit)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ModelFileError(
                f"The {key!r} entry is nested deeper than {MAX_JSON_DEPTH} levels."
            )
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


@contextmanager
def _file_errors(path):
    """Turn anything that goes wrong while rebuilding from a file into a ModelFileError."""
    try:
        yield
    except (ModelFileError, FileNotFoundError):
        raise
    except Exception as error:  # the file's content is untrusted: report, never crash oddly
        raise ModelFileError(
            f"{os.fspath(path)!r} describes a model that cannot be built: "
            f"{type(error).__name__}: {str(error)[:300]}"
        ) from None


def model_from_config(config: dict[str, Any]):
    """Rebuild an (uncompiled) model from :func:`model_config`'s output."""
    from .model import Model

    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ModelFileError("The model config must be an object with a list of 'layers'.")
    entries = config["layers"]
    if not 0 < len(entries) <= MAX_LAYERS:
        raise ModelFileError(f"The model config lists {len(entries)} layers.")
    layers: list[Layer] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ModelFileError(f"Layer entry {i} is not an object.")
        parents = entry.get("parents", [])
        if not isinstance(parents, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) and 0 <= p < i for p in parents
        ):
            raise ModelFileError(f"Layer entry {i} has invalid parents {parents!r:.80}.")
        layer = registry.deserialize(
            {k: entry[k] for k in ("class_name", "config") if k in entry}, "layer"
        )
        if not isinstance(layer, Layer):
            raise ModelFileError(
                f"Layer entry {i} ({entry.get('class_name')!r:.60}) is not a layer."
            )
        if parents:
            parent_layers = [layers[p] for p in parents]
            layer(parent_layers[0] if len(parent_layers) == 1 else parent_layers)
        elif i > 0 and layer.output_shape is None:
            raise ModelFileError(f"Layer entry {i} has no parents and no input shape.")
        layers.append(layer)
    model = Model(layers[0], layers[-1], name=str(config.get("name", "model"))[:200])
    if math.prod(model.input_shape) > MAX_SAMPLE_ELEMENTS:
        raise ModelFileError(f"The model's input shape {model.input_shape} is implausibly large.")
    return model


@contextmanager
def _allocation_budget(elements: int):
    """While loading, initializers may not create more numbers than the file holds: a file that
    declares a huge layer fails fast instead of allocating it."""
    previous = initializers._allocation_budget
    initializers._allocation_budget = [elements]
    try:
        yield
    finally:
        initializers._allocation_budget = previous


def _file_elements(file: _File) -> int:
    total = 0
    for name in file.names:
        shape = file.handle.get_slice(name).get_shape()
        total += int(np.prod(shape, dtype=np.int64)) if shape else 1
    return total


def _weight_targets(model) -> dict[str, np.ndarray]:
    return {
        f"{layer.name}/{name}": array
        for layer in model.layers
        for group in (layer.parameters(), layer.state())
        for name, array in group.items()
    }


def _match_names(model, file: _File, order) -> dict[str, str]:
    """Map each of the model's weight names to the file's: by name, or else by structure."""
    names = list(_weight_targets(model))
    saved = [n for n in order or [] if isinstance(n, str)]
    if not set(names) - file.names:
        return {n: n for n in names}
    # Auto-generated layer names differ between processes (dense_1 vs dense_4): fall back to
    # the structure, i.e. the same parameters in the same order (shapes are checked after).
    if [n.rsplit("/", 1)[-1] for n in saved] == [n.rsplit("/", 1)[-1] for n in names]:
        return dict(zip(names, saved))
    missing = [n for n in names if n not in file.names]
    raise ModelFileError(
        f"{file.path!r} does not match the model: it lacks {missing[:6]} and its weights "
        f"{saved[:6]} do not match the model's {names[:6]} by structure either."
    )


def _read_weights(model, file: _File, sources: dict[str, str]) -> dict[str, np.ndarray]:
    """Every weight of the model from the file, checked for shape, dtype and finiteness."""
    targets = _weight_targets(model)
    arrays = {n: file.tensor(sources[n], a.shape, a.dtype) for n, a in targets.items()}
    known = set(sources.values())
    unexpected = sorted(n for n in file.names if n not in known and not n.startswith("optimizer/"))
    if unexpected:
        raise ModelFileError(
            f"{file.path!r} holds tensors the model does not have: {unexpected[:10]}."
        )
    return arrays


def _read_optimizer_state(model, file: _File, sources: dict[str, str]) -> dict[str, np.ndarray]:
    """The optimizer's slots from the file, renamed to the model's parameter names."""
    saved_to_model = {saved: name for name, saved in sources.items()}
    expected = model.optimizer.get_state()
    state = {}
    for key in sorted(n for n in file.names if n.startswith("optimizer/")):
        parameter, _, slot = key[len("optimizer/") :].rpartition("/")
        model_key = f"{saved_to_model.get(parameter, parameter)}/{slot}"
        if model_key not in expected:
            raise ModelFileError(f"Optimizer tensor {key!r} does not belong to this model.")
        reference = expected[model_key]
        state[model_key] = file.tensor(key, reference.shape, reference.dtype)
    return {**expected, **state} if state else {}


def _apply_weights(model, arrays: dict[str, np.ndarray]) -> None:
    targets = _weight_targets(model)
    for name, array in arrays.items():
        np.copyto(targets[name], array)


def load_model(path, compile: bool = True):
    """Rebuild a model saved with ``model.save(path)``: architecture, weights and, if it was
    compiled, its loss, optimizer (with its state) and metrics.

    The loaded model predicts bit-for-bit like the saved one and can go on training.

    Raises:
        ModelFileError: the file is truncated, corrupted, of another version, or describes a
            model that does not match its tensors.
        FileNotFoundError: no file at ``path``.
    """
    file = _File(path)
    with _file_errors(path):
        if file.metadata.get("content") == "weights":
            raise ModelFileError(
                f"{os.fspath(path)!r} holds weights only; build the model and "
                "call model.load_weights(path)."
            )
        architecture = file.json("model")
        settings = file.json("compile", required=False)
        order = file.json("weights_order", required=False)
        with _allocation_budget(_file_elements(file)):
            model = model_from_config(architecture)
        if settings is not None and compile:
            _compile_from(model, settings)
        else:
            dtype = settings.get("dtype", "float32") if isinstance(settings, dict) else "float32"
            for layer in model.layers:
                layer.set_dtype(dtype)
            model.dtype = np.dtype(dtype)
        sources = _match_names(model, file, order)
        arrays = _read_weights(model, file, sources)
        if model.compiled:
            state = _read_optimizer_state(model, file, sources)
            if state:
                model.optimizer.set_state(state, model.optimizer.iterations)
        _apply_weights(model, arrays)
    return model


def _compile_from(model, settings: dict) -> None:
    if not isinstance(settings, dict):
        raise ModelFileError("The 'compile' entry must be an object.")
    saved_metrics = settings.get("metrics") or []
    model.compile(
        loss_fn=registry.deserialize(settings["loss"], "loss"),
        optimizer=registry.deserialize(settings["optimizer"], "optimizer"),
        metrics=[registry.deserialize(m, "metric") for m in saved_metrics],
        dtype=settings.get("dtype", "float32"),
    )
    model.optimizer.iterations = _count(settings.get("iterations", 0), "optimizer step count")


def _count(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ModelFileError(f"Invalid {what} {value!r:.40}.")
    return value


def load_weights(model, path) -> None:
    """Load weights saved by ``save_weights`` or ``save`` into ``model``, checking names and
    shapes; nothing changes if anything does not match."""
    file = _File(path)
    with _file_errors(path):
        sources = _match_names(model, file, file.json("weights_order", required=False))
        _apply_weights(model, _read_weights(model, file, sources))


# ----------------------------------------------------------------------- checkpoints
def _generators(model) -> list[np.random.Generator]:
    """The random generators that training draws from: shuffling, then each layer's (dropout)."""
    layer_generators = [
        layer.rng
        for layer in model.layers
        if isinstance(getattr(layer, "rng", None), np.random.Generator)
    ]
    return [model._rng, *layer_generators]


def training_state(model, epoch: int, logs: dict | None = None) -> dict[str, Any]:
    """What a checkpoint needs beyond the model file to resume bit-for-bit after ``epoch``."""
    history = {key: list(values) for key, values in model.history.items()}
    for key, value in (logs or {}).items():
        history.setdefault(key, []).append(value)
    return {
        "epoch": epoch,
        "history": history,
        "learning_rate": model.optimizer.get_config()["learning_rate"],
        "generators": [g.bit_generator.state for g in _generators(model)],
    }


def save_checkpoint(model, path, epoch: int, logs: dict | None = None) -> None:
    """The full training state after ``epoch``: model file plus epoch, history and generators."""
    save_model(model, path, include_optimizer=True, training=training_state(model, epoch, logs))


def restore_checkpoint(model, path) -> int:
    """Load a checkpoint's training state into ``model`` (same architecture, compiled with the
    same optimizer class); returns the epoch to continue from. Nothing changes on error."""
    file = _File(path)
    with _file_errors(path):
        training = file.json("training")
        settings = file.json("compile")
        if not isinstance(training, dict) or not isinstance(settings, dict):
            raise ModelFileError(f"{file.path!r} is not a training checkpoint.")
        epoch = _count(training.get("epoch"), "epoch")
        saved_optimizer = settings.get("optimizer") or {}
        if saved_optimizer.get("class_name") != registry.serialize(model.optimizer)["class_name"]:
            raise ModelFileError(
                f"{file.path!r} was written while training with "
                f"{saved_optimizer.get('class_name')!r:.40}, but the model is compiled with "
                f"{type(model.optimizer).__name__}."
            )
        iterations = _count(settings.get("iterations", 0), "optimizer step count")
        learning_rate = registry.deserialize(saved_optimizer, "optimizer").learning_rate
        sources = _match_names(model, file, file.json("weights_order", required=False))
        arrays = _read_weights(model, file, sources)
        state = _read_optimizer_state(model, file, sources)
        history = training.get("history", {})
        if not isinstance(history, dict) or not all(
            isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)
            for v in history.values()
        ):
            raise ModelFileError(f"{file.path!r} holds an invalid training history.")
        generators = _generators(model)
        states = training.get("generators", [])
        if not isinstance(states, list) or len(states) != len(generators):
            raise ModelFileError(
                f"{file.path!r} holds {len(states)} random-generator states; "
                f"the model has {len(generators)}."
            )
        fresh = [np.random.Generator(np.random.PCG64()) for _ in generators]
        for generator, saved in zip(fresh, states):
            generator.bit_generator.state = saved  # validated by NumPy before anything changes
        # Everything was read and checked: now change the model.
        _apply_weights(model, arrays)
        if state:
            model.optimizer.set_state(state, iterations)
        else:
            model.optimizer.iterations = iterations
        model.optimizer.learning_rate = learning_rate
        for generator, source in zip(generators, fresh):
            generator.bit_generator.state = source.bit_generator.state
        model._restored_history = history
    return epoch + 1
