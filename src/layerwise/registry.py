"""One registry that resolves names to objects and objects to configs, for every kind of thing.

Activations, losses, initializers, regularizers, optimizers, schedules, metrics and layers are all
looked up the same way (Keras' ``get(identifier)``): an identifier may be a registered name, an
instance, a class, or a config ``{"class_name": ..., "config": {...}}``. Every registered class
can turn itself into such a config (``get_config``) and back (``from_config``), which is what model
files store. A user's own subclass is registered once with :func:`register_serializable` and then
compiles, saves and loads like a built-in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = [
    "ConfigValue",
    "Serializable",
    "register",
    "register_kind",
    "register_serializable",
    "get",
    "serialize",
    "deserialize",
    "valid_names",
    "lookup",
    "registered_name",
]

_BASES: dict[str, type] = {}  # kind -> base class of that kind
_ALIASES: dict[str, dict[str, type]] = {}  # kind -> user-facing name -> class
_CLASSES: dict[str, dict[str, type]] = {}  # kind -> registered class name -> class
_NAMES: dict[type, str] = {}  # class -> registered class name


class Serializable:
    """Mixin: ``get_config`` returns the constructor's keyword arguments as JSON-friendly values."""

    def get_config(self) -> dict[str, Any]:
        """Return the keyword arguments that rebuild this object with ``from_config``."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        """Build an object from the dict returned by ``get_config``."""
        return cls(**config)


class ConfigValue(Serializable):
    """Mixin for small value-like objects (activations, losses, initializers, regularizers):
    equal when their type and config are equal, and shown by their config."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self), repr(sorted(self.get_config().items()))))


def register_kind(kind: str, base: type) -> None:
    """Declare a kind of object (``"activation"``, ``"loss"``, ...) and its base class."""
    _BASES[kind] = base
    _ALIASES.setdefault(kind, {})
    _CLASSES.setdefault(kind, {})


def _kind_of(cls: type) -> str:
    for kind, base in _BASES.items():
        if issubclass(cls, base):
            return kind
    raise TypeError(
        f"{cls.__name__} is not a subclass of any registrable base class "
        f"({', '.join(b.__name__ for b in _BASES.values())})."
    )


def register(*aliases: str, name: str | None = None) -> Callable[[type], type]:
    """Class decorator: register a class under its class name and the given short names."""

    def decorator(cls: type) -> type:
        kind = _kind_of(cls)
        class_name = name or cls.__name__
        _CLASSES[kind][class_name] = cls
        _NAMES[cls] = class_name
        for alias in aliases:
            _ALIASES[kind][alias.lower()] = cls
        return cls

    return decorator


def register_serializable(
    cls: type | None = None, *, name: str | None = None, aliases: tuple[str, ...] = ()
) -> Any:
    """Register a user's own layer, activation, loss, optimizer, metric, ... for use by name
    and for saving and loading.

    Use as a decorator, with or without arguments::

        @layerwise.register_serializable
        class Cube(layerwise.activations.ActivationFunction): ...

    Args:
        name: the name stored in model files (defaults to the class name).
        aliases: extra short names accepted wherever a name of that kind is; the class name in
            snake case and the class's own ``name`` attribute are always accepted.
    """

    def decorate(c: type) -> type:
        # Usable by its class name in snake case and by its own `name` attribute, if any.
        names = [re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", c.__name__).lower(), *aliases]
        if isinstance(c.__dict__.get("name"), str):
            names.append(c.__dict__["name"])
        return register(*names, name=name)(c)

    return decorate if cls is None else decorate(cls)


def valid_names(kind: str) -> list[str]:
    """The short names registered for a kind, sorted."""
    return sorted(_ALIASES[kind])


def get(kind: str, identifier: Any, argument: str | None = None, **kwargs: Any) -> Any:
    """Resolve ``identifier`` (name, instance, class or config) to an object of ``kind``.

    ``argument`` names the user's argument in error messages; ``kwargs`` are passed to the class
    when a name or a class is given.
    """
    base = _BASES[kind]
    argument = argument or kind
    if isinstance(identifier, base):
        return identifier
    if isinstance(identifier, str):
        cls = _ALIASES[kind].get(identifier.strip().lower())
        if cls is None:
            cls = _CLASSES[kind].get(identifier)
            if cls is None or not issubclass(cls, base):
                raise ValueError(
                    f"Unknown {kind} {identifier!r} for argument '{argument}'. "
                    f"Valid names: {', '.join(valid_names(kind))}."
                )
        return cls(**kwargs)
    if isinstance(identifier, dict) and "class_name" in identifier:
        obj = deserialize(identifier, kind)
        if not isinstance(obj, base):
            raise ValueError(
                f"Argument '{argument}' is a config of {identifier['class_name']!r}, "
                f"which is not a {kind}."
            )
        return obj
    if isinstance(identifier, type) and issubclass(identifier, base):
        return identifier(**kwargs)
    raise TypeError(
        f"Argument '{argument}' must be a {kind} name (one of {', '.join(valid_names(kind))}), "
        f"a {base.__name__} instance or a config dict; received {identifier!r} "
        f"of type {type(identifier).__name__}."
    )


def lookup(kind: str, class_name: Any) -> type:
    """The class registered under ``class_name`` for ``kind``, or a ``ValueError``."""
    cls = _CLASSES[kind].get(class_name) if isinstance(class_name, str) else None
    if cls is None:
        raise ValueError(
            f"Unknown {kind} class {class_name!r:.60}; known: {', '.join(sorted(_CLASSES[kind]))}."
        )
    return cls


def registered_name(cls: type) -> str:
    """The name ``cls`` is registered under (what files store)."""
    return _NAMES[cls]


def serialize(obj: Any) -> dict[str, Any] | None:
    """``{"class_name": ..., "config": ...}`` for a registered object; ``None`` stays ``None``."""
    if obj is None:
        return None
    cls = type(obj)
    if cls not in _NAMES:
        raise TypeError(
            f"{cls.__name__} is not registered, so it cannot be saved; decorate it with "
            "@layerwise.register_serializable."
        )
    return {"class_name": _NAMES[cls], "kind": _kind_of(cls), "config": obj.get_config()}


def deserialize(config: Any, kind: str | None = None) -> Any:
    """Rebuild an object from :func:`serialize`'s output (``kind`` defaults to the config's)."""
    if config is None:
        return None
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(f"Expected a config dict with a 'class_name'; received {config!r:.200}.")
    name = config["class_name"]
    kind = kind or config.get("kind")
    if kind is not None and kind not in _CLASSES:
        raise ValueError(f"Unknown kind {kind!r:.40} in config of {name!r:.100}.")
    candidates = [k for k in ([kind] if kind else _CLASSES) if name in _CLASSES[k]]
    if len(candidates) != 1:
        problem = "Ambiguous" if candidates else "Unknown"
        raise ValueError(
            f"{problem} class {name!r:.100} in config; register custom classes "
            "with @layerwise.register_serializable."
        )
    inner = config.get("config", {})
    if not isinstance(inner, dict):
        raise ValueError(f"The config of {name!r:.100} must be a dict.")
    return _CLASSES[candidates[0]][name].from_config(inner)
