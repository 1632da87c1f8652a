"""The terminal going away under the app (an SSH drop without a SIGHUP
reaching the app, e.g. when a shell between them died first): writes to it
fail with EIO. Textual's writer thread would die on the first one and the
app would then block on its full queue; here a failed write is swallowed
and reported once as TerminalGone, which the app handles like a SIGHUP."""
from __future__ import annotations

from typing import Callable, TextIO, Type

from textual.driver import Driver
from textual.message import Message


class TerminalGone(Message):
    """A write to the terminal failed: it has hung up."""


class _TerminalFile:
    def __init__(self, file: TextIO, gone: Callable[[], None]) -> None:
        self._file = file
        self._gone = gone
        self._reported = False

    def _failed(self) -> None:
        if not self._reported:
            self._reported = True
            self._gone()

    def write(self, text: str) -> None:
        try:
            self._file.write(text)
        except OSError:
            self._failed()

    def flush(self) -> None:
        try:
            self._file.flush()
        except OSError:
            self._failed()

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return True


def hangup_aware(base: Type[Driver]) -> Type[Driver]:
    """`base` (Textual's driver for this system) writing through _TerminalFile."""

    class HangupAwareDriver(base):  # type: ignore[misc, valid-type]
        def __init__(self, app, **kwargs) -> None:
            super().__init__(app, **kwargs)
            if hasattr(self, "_file"):  # the POSIX driver's output stream
                self._file = _TerminalFile(self._file, lambda: app.post_message(TerminalGone()))

    return HangupAwareDriver
