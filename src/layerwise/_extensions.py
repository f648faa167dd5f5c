"""File names that promise another library's format are refused on save (layerwise writes
safetensors), unless the caller says that is what they want."""

from __future__ import annotations

import os

__all__ = ["OTHER_FORMATS", "check_extension"]

OTHER_FORMATS = {
    ".keras": "Keras",
    ".h5": "HDF5 (Keras 2)",
    ".hdf5": "HDF5 (Keras 2)",
    ".pt": "PyTorch",
    ".pth": "PyTorch",
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".joblib": "joblib",
}


def check_extension(
    path: str | os.PathLike, allow_other_extension: bool = False, argument: str = "path"
) -> None:
    """Raise ``ValueError`` when ``path`` ends in another format's extension (``.keras``,
    ``.h5``, ``.hdf5``, ``.pt``, ``.pth``, ``.pkl``, ``.pickle``, ``.joblib``) and
    ``allow_other_extension`` is False. Any other name, ``.safetensors`` above all, passes.

    Example::

        check_extension('model.safetensors')   # passes
        check_extension('model.keras')         # ValueError: ... layerwise writes safetensors
    """
    if not isinstance(allow_other_extension, bool):
        raise TypeError(
            "Argument 'allow_other_extension' must be True or False; received "
            f"{allow_other_extension!r}."
        )
    name = os.fspath(path)
    stem, extension = os.path.splitext(str(name))
    format_name = OTHER_FORMATS.get(extension.lower())
    if format_name is None or allow_other_extension:
        return
    raise ValueError(
        f"Argument '{argument}' is {str(name)!r}, a name for the {format_name} format "
        f"({extension}), but layerwise writes .safetensors files. Name it "
        f"{os.path.basename(stem) + '.safetensors'!r}, or pass allow_other_extension=True to "
        "write safetensors under this name anyway."
    )
