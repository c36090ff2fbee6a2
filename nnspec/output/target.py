"""Checking an output path before anything is written: what it is, where, and whose.

Nothing here opens the target unless `os.stat` says it is a regular file, and then only with
O_NONBLOCK, so a FIFO, /dev/zero or a terminal can never make nnspec block or read forever.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path

READ_LIMIT = 64 * 1024 * 1024  # larger files are not nnspec's: never read them whole


class WriteError(Exception):
    """The output cannot or must not be written; the message says why and what to do."""


_KINDS = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket")]


def reason(exc: OSError) -> str:
    """An OSError as the cause a user can act on."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ENAMETOOLONG:
        return "the path is too long"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    if exc.errno == errno.ELOOP:
        return "too many levels of symbolic links"
    return exc.strerror or str(exc)


def kind(mode: int) -> str | None:
    """What a non-regular file is ("a FIFO (named pipe)", ...); None for a regular file."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a regular file"


def resolve(path: str | os.PathLike[str]) -> Path:
    """The file a write to `path` changes: symbolic links followed (the link is kept)."""
    return Path(os.path.realpath(os.fspath(path)))


def inspect(path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]] = ()) \
        -> os.stat_result | None:
    """Refuse (WriteError) an output that is not a regular file, sits in no writable
    directory, or is one of the command's inputs; the target's stat, or None if it is new."""
    shown = os.fspath(path)
    if not shown:
        raise WriteError("the output path is empty")
    if shown.endswith(("/", os.sep) + ((os.altsep,) if os.altsep else ())):
        raise WriteError(f"cannot write {shown}: it names a directory, not a file")
    try:
        info = os.stat(shown)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            raise WriteError(f"cannot write {shown}: a part of the path is not a directory") \
                from None
        raise WriteError(f"cannot write {shown}: {reason(exc)}") from None
    if info is not None:
        what = kind(info.st_mode)
        if what is not None:
            raise WriteError(f"cannot write {shown}: it is {what}, not a regular file")
    for source in inputs:
        if _same(shown, info, source):
            raise WriteError(f"refusing to write {shown}: it is an input of this command "
                             f"({os.fspath(source)}); choose another output file (--force "
                             "does not override this)")
    _check_directory(shown, resolve(shown).parent)
    return info


def _same(target: str, info: os.stat_result | None, source: str | os.PathLike[str]) -> bool:
    try:
        other = os.stat(source)
    except OSError:
        return resolve(target) == resolve(source)
    if info is not None:
        return (info.st_dev, info.st_ino) == (other.st_dev, other.st_ino)
    return resolve(target) == resolve(source)


def _check_directory(shown: str, directory: Path) -> None:
    try:
        info = os.stat(directory)
    except FileNotFoundError:
        raise WriteError(f"cannot write {shown}: no such directory: {directory}") from None
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            raise WriteError(f"cannot write {shown}: {directory} is not a directory") from None
        raise WriteError(f"cannot write {shown}: {directory}: {reason(exc)}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise WriteError(f"cannot write {shown}: {directory} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise WriteError(f"cannot write {shown}: permission denied: the directory "
                         f"{directory} is not writable")
    if len(os.path.basename(shown)) > _name_max(directory):
        raise WriteError(f"cannot write {shown}: the file name is too long")


def _name_max(directory: Path) -> int:
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def read_current(path: str | os.PathLike[str]) -> bytes | None:
    """The bytes of an existing regular file (None: missing), read without ever blocking;
    a file larger than READ_LIMIT is cut just past it (such a file is not nnspec's)."""
    shown = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
        | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(shown, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WriteError(f"cannot read {shown}: {reason(exc)}") from None
    try:
        what = kind(os.fstat(fd).st_mode)
        if what is not None:  # swapped for something else since it was inspected
            raise WriteError(f"cannot write {shown}: it is {what}, not a regular file")
        chunks, size = [], 0
        while size <= READ_LIMIT:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise WriteError(f"cannot read {shown}: {reason(exc)}") from None
    finally:
        os.close(fd)
