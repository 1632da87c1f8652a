"""Console output is best effort; the run is not.

A headless command's stdout and stderr may go away under it: a pipe whose
reader quit (`| head -2`, a `less` closed), a full device (`> /dev/full`), a
stream closed before it started (`>&-`). None of that may fail a run: the
first write that fails is remembered (`first_failure`), the stream is pointed
at /dev/null, and every later write goes nowhere. A command notes the failure
in its run directory's console.log (`note_into`) and ends as its work earned:
a training run with the status training gave it, `runs`, `report` or
`compare` with 0 once their files are written.
"""
from __future__ import annotations

import io
import os
import sys
import threading
from pathlib import Path
from typing import Any, Optional, TextIO

_lock = threading.Lock()
_failure: Optional[str] = None
_noted: set[str] = set()


def first_failure() -> Optional[str]:
    """What the first failed console write was, e.g. "stdout: Broken pipe"."""
    return _failure


def _record(text: str) -> None:
    global _failure
    with _lock:
        if _failure is None:
            _failure = text


def _to_devnull(fd: int) -> None:
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return
    try:
        if devnull != fd:
            os.dup2(devnull, fd)
    except OSError:
        pass
    finally:
        if devnull != fd:
            os.close(devnull)


class BestEffortStream(io.TextIOBase):
    """A text stream whose writes never raise: on the first failure its file
    descriptor is pointed at /dev/null and the failure is recorded once."""

    def __init__(self, stream: TextIO, name: str, fd: int) -> None:
        super().__init__()
        self._stream, self._name, self._fd = stream, name, fd
        self.dropped = False

    def _failed(self, exc: BaseException) -> None:
        if not self.dropped:
            self.dropped = True
            _record(f"{self._name}: {getattr(exc, 'strerror', None) or exc.__class__.__name__}")
            _to_devnull(self._fd)  # what is still buffered then goes nowhere, quietly

    def write(self, text: str) -> int:
        if not self.dropped:
            try:
                self._stream.write(text)
            except (OSError, ValueError) as exc:  # ValueError: the stream was closed
                self._failed(exc)
        return len(text)

    def flush(self) -> None:
        if not self.dropped:
            try:
                self._stream.flush()
            except (OSError, ValueError) as exc:
                self._failed(exc)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        try:
            return not self.dropped and self._stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        return self._fd

    def __getattr__(self, name: str) -> Any:  # encoding, errors, buffer, ...
        return getattr(self._stream, name)


def _open_std(fd: int) -> None:
    """Give a closed descriptor 0, 1 or 2 /dev/null, so that no file this
    process opens later becomes its stdout (and prints land in a checkpoint)."""
    try:
        os.fstat(fd)
    except OSError:
        _to_devnull(fd)


def guard_std_streams() -> None:
    """Make stdout and stderr best effort for the rest of the process."""
    _open_std(0)
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, name)
        if isinstance(stream, BestEffortStream):
            continue
        if stream is None:  # closed when Python started (`>&-`): its descriptor may be another file's by now
            _record(f"{name}: closed when the command started")
            _open_std(fd)
            stream = open(os.devnull, "w", encoding="utf-8")
            fd = stream.fileno()
        setattr(sys, name, BestEffortStream(stream, name, fd))


def note_into(folder: str | Path) -> None:
    """Note the first failed console write, once, in `folder`/console.log
    (a run directory); nothing when every write went through."""
    from .errors import UserError
    from .rundir import RunDir

    failure = first_failure()
    if failure is None or str(folder) in _noted:
        return
    _noted.add(str(folder))
    try:
        RunDir(folder).note_console(f"console output stopped: {failure}; the run went on, its output was dropped")
    except (UserError, OSError):
        pass
