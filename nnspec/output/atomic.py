"""Replacing a file in one step, and removing the temporary files of writes that were killed.

The new content goes to `.NAME.RANDOM.nnspec-tmp` in the target's directory, is flushed to
disk (fsync), and is renamed over the target (`os.replace`); the directory is fsynced too. On
any error the temporary file is removed and the target is as it was. While it writes, a
process holds an exclusive `flock` on its temporary file; the lock goes away with the
process, so a temporary file nobody holds (older than a moment) was left by a killed write,
and the next write to the same target removes it.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

from nnspec.output.target import WriteError, reason

try:
    import fcntl
except ImportError:  # not POSIX: age alone says a temporary file is stale
    fcntl = None  # type: ignore[assignment]

SUFFIX = ".nnspec-tmp"
GRACE_S = 2.0  # a temporary file is created, then locked: never remove a younger one
STALE_UNLOCKABLE_S = 15 * 60.0  # without flock: this old means its writer is gone


def temp_name(name: str) -> str:
    return f".{name}.{secrets.token_hex(6)}{SUFFIX}"


def _pattern(name: str) -> re.Pattern[str]:
    # ours, and the `.NAME.XXXXXXXX.tmp` files of releases that wrote through mkstemp
    return re.compile(rf"\.{re.escape(name)}\.(?:[0-9a-f]{{12}}{re.escape(SUFFIX)}"
                      r"|[a-z0-9_]{8}\.tmp)")


def clean_stale(directory: Path, name: str, now: float | None = None) -> list[str]:
    """Remove the temporary files that killed writes to `directory/name` left; their names."""
    now = time.time() if now is None else now
    pattern = _pattern(name)
    removed = []
    try:
        entries = os.listdir(directory)
    except OSError:
        return removed
    for entry in entries:
        if pattern.fullmatch(entry) and _stale(directory / entry, now):
            try:
                os.unlink(directory / entry)
                removed.append(entry)
            except OSError:
                pass
    return removed


def _stale(path: Path, now: float) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if not os.path.isfile(path) or os.path.islink(path):
        return False
    age = now - info.st_mtime
    if age < GRACE_S:
        return False
    if fcntl is None:
        return age > STALE_UNLOCKABLE_S
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # a live write holds it
    finally:
        os.close(fd)
    return True


def replace(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to `path` atomically with permissions `mode`; WriteError on failure."""
    directory = path.parent
    clean_stale(directory, path.name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) \
        | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = directory / temp_name(path.name)
        try:
            fd = os.open(tmp, flags, 0o600)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise WriteError(f"cannot write {path}: {reason(exc)} (in {directory})") from None
    else:
        raise WriteError(f"cannot write {path}: no free temporary name in {directory}")
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        else:
            os.chmod(tmp, mode)
        os.fsync(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise WriteError(f"cannot write {path}: {reason(exc)}") from None
        raise
    os.close(fd)
    _sync_directory(directory)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable; not every system can open a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def default_mode(path: Path) -> int:
    """Keep an existing file's permissions; a new file gets the usual 0o666 less the umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
