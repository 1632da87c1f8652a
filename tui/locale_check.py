"""Can this terminal show the app? Its boxes, bars and braille charts need
UTF-8 all the way: Python's output encoding, and inside tmux the client's
(a tmux started under a non-UTF-8 locale draws them as `q x l k _`).
Checked before Textual starts, so the fix is a readable line, not garbage."""
from __future__ import annotations

import os
import subprocess
import sys
from typing import Mapping, Optional, TextIO


def _is_utf8(encoding: Optional[str]) -> bool:
    return (encoding or "").lower().replace("-", "").replace("_", "") == "utf8"


def utf8_problem(env: Mapping[str, str] = os.environ, stream: Optional[TextIO] = None) -> Optional[str]:
    """What stops the app from drawing, with the fix; None when nothing does."""
    stream = stream or sys.stdout
    encoding = getattr(stream, "encoding", None)
    if not _is_utf8(encoding):
        return (f"the terminal output is {encoding or 'not text'}, not UTF-8, so the app's boxes and charts "
                f"would draw as garbage: start it as LANG=C.UTF-8 freq-tui (or set LANG to a UTF-8 locale)")
    if env.get("TMUX"):
        try:
            answer = subprocess.run(["tmux", "display-message", "-p", "#{client_utf8}"], capture_output=True,
                                    text=True, timeout=3).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None  # cannot ask tmux: assume it draws
        if answer == "0":
            return ("this tmux client does not draw UTF-8 (tmux was attached under a non-UTF-8 locale), so the "
                    "app's boxes and charts would turn into q x l k _: reattach with tmux -u attach "
                    "(or export LANG=C.UTF-8 before starting tmux)")
    return None
