"""Atomic file writes: a temporary file in the same folder, then a rename, so
a process killed at any moment leaves either the old file or the new one.

A write that fails (full disk, unwritable folder) removes its temporary file,
leaves the old file as it was, and raises a UserError naming the file."""
from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable

from .errors import UserError

TEMP_SUFFIX = ".tmp"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp makes files 0600; a renamed file gets the mode a plain open() would
# have given it (or keeps the mode of the file it replaces).
NEW_FILE_MODE = 0o666 & ~_umask()


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    except OSError as exc:
        raise UserError(str(path), f"cannot write ({exc.strerror or exc.__class__.__name__})") from None
    try:
        try:
            file_mode = stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            file_mode = NEW_FILE_MODE
        if hasattr(os, "fchmod"):
            os.fchmod(fd, file_mode)
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise UserError(str(path), f"cannot write ({exc.strerror or exc.__class__.__name__}); "
                                       "the previous version, if any, is unchanged") from None
        raise
    # (No fsync of the folder: after a power cut the rename may be lost, which
    # leaves the previous version, still a whole file.)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=True) + "\n")


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Temporary files a killed writer left behind (never the real files)."""
    removed = []
    for tmp in Path(folder).glob(f".*{TEMP_SUFFIX}"):
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            pass
    return removed
