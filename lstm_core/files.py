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
from typing import Any, BinaryIO, Callable

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


# What each kind of input file may weigh at most (bytes).
MAX_CONFIG_BYTES = 1 << 20  # a TOML config: a few hundred bytes in practice
MAX_JSON_BYTES = 64 << 20  # results.json / status.json
MAX_METRICS_BYTES = 1 << 30  # metrics.jsonl: a line per epoch
MAX_AUDIO_BYTES = 1 << 30  # a WAV file: about 1.5 h of 48 kHz 24-bit stereo
MAX_CHECKPOINT_BYTES = 40 << 30  # the largest model (4096 x 16 layers) with its training state
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def open_regular(path: str | Path, what: str, max_bytes: int) -> BinaryIO:
    """Open `path` for reading if it is a regular file of at most `max_bytes`,
    else a UserError naming it: a named pipe, a device (/dev/zero) or a folder
    is refused without blocking or reading a byte. `what` says what the file
    was meant to be ("config file")."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise UserError(str(path), f"{what} not found") from None
    except OSError as exc:
        raise UserError(str(path), f"cannot read {what} ({exc.strerror or exc.__class__.__name__})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a plain file")
            raise UserError(str(path), f"cannot read {what} (it is {kind}, not a regular file)")
        if info.st_size > max_bytes:
            raise UserError(str(path), f"{what} is {_size(info.st_size)}, more than the {_size(max_bytes)} "
                                       f"one may be")
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_regular(path: str | Path, what: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes` (see open_regular);
    never more than that, even from a file that grows while it is read."""
    with open_regular(path, what, max_bytes) as handle:
        try:
            # read(n) sets n bytes aside first: ask for the size the file has
            # (and a byte more), then go on in steps only if it grew.
            parts = [handle.read(os.fstat(handle.fileno()).st_size + 1)]
            while parts[-1] and sum(map(len, parts)) <= max_bytes:
                parts.append(handle.read(1 << 20))
        except OSError as exc:
            raise UserError(str(path), f"cannot read {what} ({exc.strerror or exc.__class__.__name__})") from None
    data = b"".join(parts)
    if len(data) > max_bytes:
        raise UserError(str(path), f"{what} grew past {_size(max_bytes)} while it was read")
    return data


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
