"""Stopping a run from outside: the StopFlag the trainer checks after every
batch, and the signals that set it (Ctrl+C, SIGTERM, SIGHUP), written once
for the headless commands and the workers of --jobs."""
from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from .status import RunStatus

STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


class StopFlag:
    """Cooperative stop: the trainer checks it after every batch."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = RunStatus.CANCELLED

    def request(self, reason: str = RunStatus.CANCELLED) -> None:
        self.reason = RunStatus(reason)
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


def install_stop_signals(request_stop: Callable[[str], None], on_hangup: str = "stop",
                         names: Sequence[str] = STOP_SIGNALS, keep_ignored: bool = True) -> dict[int, Any]:
    """The signals in `names` stop training at the end of the current batch,
    with checkpoints and metrics kept. A second signal stops at once
    (KeyboardInterrupt); the files are safe either way, since every write is
    atomic. SIGHUP (an SSH disconnect) sends further output nowhere and,
    with on_hangup = "stop", stops the same way; with "continue" the run
    goes on to its end. With `keep_ignored`, a signal inherited as ignored
    (nohup, a background job of a script) stays ignored. Returns the
    handlers it replaced (for `restore_signals`)."""
    received = []
    hangup = getattr(signal, "SIGHUP", None)

    def handler(signum, frame):
        if signum == hangup:
            detach_from_terminal()
            if on_hangup == "continue":
                return
        received.append(signum)
        if len(received) > 1:
            raise KeyboardInterrupt
        request_stop(RunStatus.INTERRUPTED)

    previous = {}
    for name in names:
        if hasattr(signal, name):
            signum = getattr(signal, name)
            if keep_ignored and signal.getsignal(signum) is signal.SIG_IGN:
                continue
            previous[signum] = signal.signal(signum, handler)
    return previous


def restore_signals(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


@contextmanager
def stop_signals(stop: StopFlag, on_hangup: str = "stop") -> Iterator[StopFlag]:
    """`install_stop_signals` for the length of a `with` block."""
    previous = install_stop_signals(stop.request, on_hangup)
    try:
        yield stop
    finally:
        restore_signals(previous)


def detach_from_terminal() -> None:
    """After a hang-up the terminal is gone and reading or writing it fails
    (EOF, EIO); point stdin, stdout and stderr at /dev/null so the run can
    still finish its files."""
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return
    for fd in (0, 1, 2):
        try:
            os.dup2(devnull, fd)
        except OSError:
            pass
    os.close(devnull)
