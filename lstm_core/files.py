"""Every file the product writes, written one way.

Whole files (status, results, reports, figures, checkpoints, ...) are written
atomically: a new temporary file in the same folder (created with O_EXCL, so
never through a link), then a rename over the name. A process killed at any
moment leaves either the old file or the new one; and the rename replaces
the directory entry itself, so a symbolic link or a hard link in the file's
place is replaced by the new file and whatever it pointed to is left as it
was. Files kept open or appended to (the run's lock, a log line) are opened
with O_NOFOLLOW and refused, by name, when they are a link, have other hard
links or are not regular files. Folders the product writes into are refused
when they are links (`ensure_folder`).

A write that fails (full disk, unwritable folder) removes its temporary file,
leaves the old file as it was, and raises a UserError naming the file."""
from __future__ import annotations

import errno
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
            info = os.lstat(path)  # never the mode of what a link points to
            file_mode = stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else NEW_FILE_MODE
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


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
LINK_REFUSED = "is a symbolic link; refused (nothing is written through a link)"


def open_own_file(path: Path, flags: int, mode: int = 0o600) -> int:
    """A file descriptor for writing `path` in place (the lock, an append),
    never through a link: a symbolic link (O_NOFOLLOW), a file with other
    hard links, a named pipe, a device or a folder in its place is refused
    with a UserError naming it, and nothing is written."""
    path = Path(path)
    try:
        fd = os.open(path, flags | _NOFOLLOW | _NONBLOCK | _CLOEXEC | getattr(os, "O_NOCTTY", 0), mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK) and os.path.islink(path):  # EMLINK: the BSDs
            raise UserError(str(path), LINK_REFUSED) from None
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            mode = stat.S_IFREG
        if not stat.S_ISREG(mode):  # a named pipe without a reader, a device
            kind = _kind(mode)
            raise UserError(str(path), f"is {kind}, not a regular file; refused") from None
        raise UserError(str(path), f"cannot write ({exc.strerror or exc.__class__.__name__})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _kind(info.st_mode)
            raise UserError(str(path), f"is {kind}, not a regular file; refused")
        if info.st_nlink > 1:
            raise UserError(str(path), f"has {info.st_nlink - 1} other hard link(s); refused (nothing is "
                                       "written through a link)")
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_own_file(path: Path) -> None:
    """For a file a library opens itself (Optuna's study journal): refused,
    by name, when a symbolic link, a file with other hard links or anything
    but a regular file is in its place; nothing when it is missing."""
    path = Path(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UserError(str(path), f"cannot write ({exc.strerror or exc.__class__.__name__})") from None
    if stat.S_ISLNK(info.st_mode):
        raise UserError(str(path), LINK_REFUSED)
    if not stat.S_ISREG(info.st_mode):
        kind = _kind(info.st_mode)
        raise UserError(str(path), f"is {kind}, not a regular file; refused")
    if info.st_nlink > 1:
        raise UserError(str(path), f"has {info.st_nlink - 1} other hard link(s); refused (nothing is "
                                   "written through a link)")


def append_text(path: Path, text: str) -> None:
    """Append `text` to `path` (made if missing, 0600), never through a link
    (open_own_file)."""
    fd = open_own_file(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        data = text.encode("utf-8")
        while data:
            data = data[os.write(fd, data):]
    except OSError as exc:
        raise UserError(str(path), f"cannot write ({exc.strerror or exc.__class__.__name__})") from None
    finally:
        os.close(fd)


def ensure_folder(path: Path, what: str = "folder", mode: int = 0o777) -> Path:
    """Make the folder `path` (and the folders above it) unless it exists;
    one that is a symbolic link, or not a folder, is refused by name: files
    are never written through a link into another folder. (The folders
    above may be links: a runs root on another disk.)"""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True, mode=mode)
    except FileExistsError:
        pass  # a file or a dangling link: named below
    except OSError as exc:
        raise UserError(str(path), f"cannot create {what} ({exc.strerror or exc.__class__.__name__})") from None
    check_real_folder(path, what)
    return path


def check_real_folder(path: Path, what: str = "folder") -> None:
    """UserError unless `path` is a folder itself, not a link to one."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise UserError(str(path), f"cannot use {what} ({exc.strerror or exc.__class__.__name__})") from None
    if stat.S_ISLNK(info.st_mode):
        raise UserError(str(path), f"{what} is a symbolic link (to {os.readlink(path)}); refused: give the "
                                   "folder it points to, or a new path")
    if not stat.S_ISDIR(info.st_mode):
        raise UserError(str(path), f"{what} exists and is not a folder")


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


def _kind(mode: int) -> str:
    """What a file of this mode is, in words ("a named pipe")."""
    return next((name for test, name in _KINDS if test(mode)), "not a plain file")


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
            kind = _kind(info.st_mode)
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
