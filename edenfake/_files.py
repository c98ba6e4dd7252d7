"""Files a user names (a catalog, a document to validate, a cassette's): regular files only, read within a
bound. A FIFO or a device is refused without blocking on it, and a symlink is not followed."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import IO, Any

__all__ = ["open_regular", "read_json", "read_regular"]


def open_regular(path: str | os.PathLike[str]) -> IO[bytes]:
    """``path`` opened for reading when it is a regular file and not a symlink; OSError otherwise. A FIFO or
    a device is refused without blocking on it."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{os.fspath(path)} is not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file ``path``; OSError when it cannot be read, ValueError past ``limit``."""
    with open_regular(Path(path)) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit // (1024 * 1024)} MiB, the most edenfake reads")
    return data


def read_json(path: str | os.PathLike[str], limit: int) -> Any:
    """The strict JSON (UTF-8, no NaN or Infinity) of the regular file ``path``; OSError when it cannot be
    read, ValueError naming what is wrong with it."""
    try:
        return json.loads(read_regular(path, limit).decode("utf-8"), parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("it nests too deep to be read") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
