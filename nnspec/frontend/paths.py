"""Opening a spec path safely: say what is wrong with it (a directory, a FIFO, permission
denied) without blocking on it, and read at most a byte limit from it.

A FIFO or device is never opened for reading, and a file's size is checked before its bytes are
read, so neither a huge file nor a pipe can make nnspec wait or fill memory.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class SpecPathError(Exception):
    """The spec path cannot be read as a spec file; `str()` says why, in a few words."""

    def __init__(self, reason: str, missing: bool = False, too_large: bool = False):
        super().__init__(reason)
        self.missing, self.too_large = missing, too_large


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        return "the file name is too long"
    if exc.errno == errno.ELOOP:
        return "a loop of symbolic links"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return (exc.strerror or str(exc)).lower()


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a regular file"


def _regular(text: str) -> None:
    """Raise SpecPathError unless `text` names an existing regular file (checked by stat)."""
    if "\0" in text:
        raise SpecPathError("the path contains a NUL byte")
    try:
        kind = _kind(os.stat(text).st_mode)
    except FileNotFoundError:
        raise SpecPathError("no such file", missing=True) from None
    except OSError as exc:
        raise SpecPathError(_reason(exc), missing=exc.errno == errno.ENOTDIR) from None
    if kind:
        raise SpecPathError(f"it is {kind}, not a spec file")


def _open(text: str) -> int:
    try:
        return os.open(text, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise SpecPathError(_reason(exc)) from None


def check_readable(path: str | Path) -> None:
    """Raise SpecPathError unless `path` is a regular file this process can open."""
    text = os.fspath(path)
    _regular(text)
    os.close(_open(text))


def read_limited(path: str | Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; SpecPathError otherwise.

    The size is checked before reading and at most `limit + 1` bytes are read (a file growing
    meanwhile is still refused). Opened non-blocking, and checked again through the descriptor,
    so a FIFO swapped in after the check cannot block.
    """
    text = os.fspath(path)
    _regular(text)
    with os.fdopen(_open(text), "rb") as f:
        info = os.fstat(f.fileno())
        kind = _kind(info.st_mode)
        if kind:
            raise SpecPathError(f"it is {kind}, not a spec file")
        if info.st_size > limit:
            raise SpecPathError(f"the file is {info.st_size:,} bytes, over the {limit:,}-byte "
                                "limit", too_large=True)
        try:
            raw = f.read(limit + 1)
        except OSError as exc:
            raise SpecPathError(_reason(exc)) from None
    if len(raw) > limit:
        raise SpecPathError(f"the file is over the {limit:,}-byte limit", too_large=True)
    return raw
