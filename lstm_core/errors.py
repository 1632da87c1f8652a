"""Errors a user can act on. The CLI prints them as one line and exits 2."""
from __future__ import annotations

from typing import Any

SUBJECT_LIMIT = 200  # characters of a file name or field a message repeats
REASON_LIMIT = 300
ECHO_LIMIT = 40  # characters of a value the user gave that a message repeats
# The exit statuses of every command: a user mistake is EXIT_USAGE.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def clip(text: str, limit: int) -> str:
    """`text` on one line and at most about `limit` characters: a longer one
    keeps its start and its end (where a path's file name is) around a note
    of how long it was."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    keep = max(limit - 20, 8)
    head, tail = keep // 2, keep - keep // 2
    return f"{text[:head]}…{text[-tail:]} ({len(text):,} chars)"


def echo(value: Any, limit: int = ECHO_LIMIT) -> str:
    """A value the user gave, as a message repeats it: text quoted, a whole
    number of more than 12 digits in scientific notation, all of it cut to
    a readable length."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**12:
        return f"{value:.3e}"
    if isinstance(value, float):
        return f"{value:g}"
    return clip(repr(value), limit)


class UserError(Exception):
    """A mistake in the user's input (a value, a file, a directory)."""

    exit_code = EXIT_USAGE

    def __init__(self, subject: str, reason: str):
        subject, reason = clip(subject, SUBJECT_LIMIT), clip(reason, REASON_LIMIT)
        super().__init__(f"{subject}: {reason}")
        self.subject = subject
        self.reason = reason


class ConfigError(UserError):
    """A configuration value that breaks a rule; `field` names it."""

    @property
    def field(self) -> str:
        return self.subject

