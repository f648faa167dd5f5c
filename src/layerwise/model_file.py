"""The bytes of model files, and reading them back trusting nothing.

:mod:`layerwise.saving` decides what goes into a file; this module lays the tensors and metadata
out as safetensors (written atomically by :mod:`layerwise.atomic_files`: temporary file in the
same folder, fsync, rename, so a crash never destroys the previous file) and reads them back
without trusting them: no pickle, no code, bounded header and nesting, every name, shape, dtype
and value checked, and any problem a :class:`~layerwise.exceptions.ModelFileError`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from . import initializers
from ._version import __version__
from .atomic_files import atomic_write, checked_path, remove_stale_temporaries
from .exceptions import ModelFileError

__all__ = [
    "atomic_write",
    "weight_tensors",
    "to_bytes",
    "layerwise_version",
    "ModelFile",
    "file_errors",
    "allocation_budget",
    "file_elements",
    "match_names",
    "read_weights",
    "read_optimizer_state",
    "apply_weights",
    "checked_count",
    "remove_stale_temporaries",
    "checked_path",
]


FORMAT = "layerwise"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 16 * 2**20  # safetensors itself allows 100 MB; our configs are tiny
MAX_JSON_DEPTH = 32
MAX_LAYERS = 10_000
MAX_SAMPLE_ELEMENTS = 2**31
_DTYPES = {"F32": np.float32, "F64": np.float64}


def weight_tensors(model: Any) -> dict[str, np.ndarray]:
    """The model's weights and layer state by file name, ``<layer>/<parameter>``, in order."""
    tensors = {}
    for layer in model.layers:
        for group in (layer.parameters(), layer.state()):
            for name, array in group.items():
                tensors[f"{layer.name}/{name}"] = array
    return tensors


def to_bytes(tensors: dict[str, np.ndarray], metadata: dict[str, Any]) -> bytes:
    """The safetensors bytes of ``tensors``, with ``metadata``'s values as (JSON) strings."""
    import json  # imported with files, like safetensors: 1.7 ms of every import otherwise

    from safetensors.numpy import save  # imported when saving, so `import layerwise` stays light

    strings = {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in metadata.items()
    }
    arrays = {name: np.ascontiguousarray(array) for name, array in tensors.items()}
    return save(arrays, metadata=strings)


def layerwise_version() -> str:
    """The installed layerwise's version, written into every file."""
    return __version__


# --------------------------------------------------------------------------- reading
class ModelFile:
    """A safetensors file opened for checking: metadata parsed, tensors read on demand."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = checked_path(path)
        try:
            info = os.stat(self.path)
            if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
                raise ModelFileError(
                    f"{self.path!r} is not a regular file (a folder, FIFO, socket or device); "
                    "model files are regular files."
                )
            size = info.st_size
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
                f"({layerwise_version()}) reads version {FORMAT_VERSION}. "
                "Upgrade layerwise to read it."
            )

    def json(self, key: str, required: bool = True) -> Any:
        """The metadata entry ``key`` parsed from JSON (None if absent and not required)."""
        import json as json_module  # on first use (see to_bytes)

        text = self.metadata.get(key)
        if text is None:
            if required:
                raise ModelFileError(f"{self.path!r} lacks the {key!r} entry.")
            return None
        try:
            value = json_module.loads(text)
        except (ValueError, RecursionError) as error:
            raise ModelFileError(
                f"The {key!r} entry of {self.path!r} is not valid JSON: {str(error)[:200]}"
            ) from None
        _check_depth(value, key)
        return value

    def tensor(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """The tensor ``name``, checked to have ``shape``, ``dtype`` and finite values."""
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
def file_errors(path: str | os.PathLike) -> Iterator[None]:
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


@contextmanager
def allocation_budget(elements: int) -> Iterator[None]:
    """While loading, initializers may not create more numbers than the file holds: a file that
    declares a huge layer fails fast instead of allocating it."""
    previous = initializers._allocation_budget
    initializers._allocation_budget = [elements]
    try:
        yield
    finally:
        initializers._allocation_budget = previous


def file_elements(file: ModelFile) -> int:
    """How many numbers the file's tensors hold together (the loading allocation budget)."""
    total = 0
    for name in file.names:
        shape = file.handle.get_slice(name).get_shape()
        total += int(np.prod(shape, dtype=np.int64)) if shape else 1
    return total


def match_names(model: Any, file: ModelFile, order: Any) -> dict[str, str]:
    """Map each of the model's weight names to the file's: by name, or else by structure."""
    names = list(weight_tensors(model))
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


def read_weights(model: Any, file: ModelFile, sources: dict[str, str]) -> dict[str, np.ndarray]:
    """Every weight of the model from the file, checked for shape, dtype and finiteness."""
    targets = weight_tensors(model)
    arrays = {n: file.tensor(sources[n], a.shape, a.dtype) for n, a in targets.items()}
    owners = {f"{layer.name}/{w}": (layer, w) for layer in model.layers
              for w in (*layer.parameters(), *layer.state())}
    for name, array in arrays.items():
        layer, weight = owners[name]
        problem = layer.check_weight(weight, array)
        if problem:
            raise ModelFileError(f"Tensor {sources[name]!r} in {file.path!r} {problem}.")
    known = set(sources.values())
    unexpected = sorted(
        n for n in file.names
        if n not in known and not n.startswith(("optimizer/", "callbacks/"))
    )
    if unexpected:
        raise ModelFileError(
            f"{file.path!r} holds tensors the model does not have: {unexpected[:10]}."
        )
    return arrays


def read_optimizer_state(
    model: Any, file: ModelFile, sources: dict[str, str]
) -> dict[str, np.ndarray]:
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
        if slot in model.optimizer.non_negative_slots and (state[model_key] < 0).any():
            raise ModelFileError(
                f"Optimizer tensor {key!r} in {file.path!r} holds negative values, but it is an "
                "average of squares."
            )
    return {**expected, **state} if state else {}


def apply_weights(model: Any, arrays: dict[str, np.ndarray]) -> None:
    """Copy ``arrays`` (already checked) into the model's weights, in place."""
    targets = weight_tensors(model)
    for name, array in arrays.items():
        np.copyto(targets[name], array)


def checked_count(value: Any, what: str) -> int:
    """``value`` if it is an integer from 0 to 2**53 (not a bool), else a ModelFileError."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**53:
        raise ModelFileError(f"Invalid {what} {value!r:.40}.")
    return value
