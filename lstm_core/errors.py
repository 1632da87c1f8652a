"""Errors a user can act on. The CLI prints them as one line and exits 2."""
from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input (a value, a file, a directory)."""

    exit_code = 2

    def __init__(self, subject: str, reason: str):
        super().__init__(f"{subject}: {reason}")
        self.subject = subject
        self.reason = reason


class ConfigError(UserError):
    """A configuration value that breaks a rule; `field` names it."""

    @property
    def field(self) -> str:
        return self.subject

