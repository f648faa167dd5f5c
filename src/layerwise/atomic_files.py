"""Files written atomically: a temporary file in the same folder, fsync, rename (and an fsync
of the folder), so that a crash or a SIGTERM mid-write never leaves a half-written file nor
destroys the previous one; temporaries left by dead processes are cleaned up."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["atomic_write", "checked_path", "remove_stale_temporaries"]


def checked_path(path: Any, argument: str = "path") -> str:
    """``path`` as a string, or a TypeError/ValueError naming the argument."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"Argument '{argument}' must be a file path (str or os.PathLike); received "
            f"{path!r:.60} of type {type(path).__name__}."
        )
    path = os.fspath(path)
    if not isinstance(path, str) or not path or "\x00" in path:
        raise ValueError(f"Argument '{argument}' must be a non-empty path; received {path!r:.60}.")
    return path


class _Terminated(BaseException):
    """SIGTERM arrived while a file was being written (turned into an exception to clean up)."""


def _temporary_prefix(path: str) -> str:
    return f".{os.path.basename(path)}."


def remove_stale_temporaries(path: str) -> list[str]:
    """Delete the temporary files that earlier saves of ``path`` left behind when their process
    was killed (names ``.<file>.<pid>.<random>.tmp`` whose process no longer runs); returns
    their names. Temporaries of live processes, this one included, are left alone."""
    folder = os.path.dirname(os.path.abspath(path))
    prefix = _temporary_prefix(path)
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid_text = name[len(prefix) :].split(".", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        try:
            os.unlink(os.path.join(folder, name))
            removed.append(name)
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or not ours to judge
    return True


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a mix.

    The bytes go to a temporary file in the same folder (named after this process, so that a
    later save can remove it if this process is killed), which is flushed and fsynced, then
    renamed over ``path`` (atomic on POSIX and Windows); the folder is fsynced where possible.
    SIGTERM during the write removes the temporary file before the process ends as it would
    have; SIGKILL cannot be caught, and the next save of the same path removes what it left.
    """
    import signal  # on first save: `import layerwise` stays light
    import tempfile
    import threading

    path = checked_path(path)
    folder = os.path.dirname(os.path.abspath(path))
    remove_stale_temporaries(path)
    previous = None
    if threading.current_thread() is threading.main_thread():
        def _on_term(signum, frame):
            raise _Terminated()

        previous = signal.signal(signal.SIGTERM, _on_term)
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f"{_temporary_prefix(path)}{os.getpid()}.", suffix=".tmp", dir=folder
        )
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp makes the file private (0600); keep the old file's mode, or the usual default.
        os.chmod(temporary, _mode_for(path))
        os.replace(temporary, path)
    except BaseException as error:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass
        if isinstance(error, _Terminated):
            signal.signal(signal.SIGTERM, previous)
            previous = None
            os.kill(os.getpid(), signal.SIGTERM)  # end (or run the old handler) as intended
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    _sync_folder(folder)


def _sync_folder(folder: str) -> None:
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
