"""A one-line text widget that redraws without a layout pass.

`Static.update` asks for a new layout (its size may change), which re-renders
the whole screen, charts included. Progress text changes several times a
second while training, and its line never changes size, so it only refreshes
itself.
"""
from __future__ import annotations

from textual.app import RenderResult
from textual.reactive import reactive
from textual.widget import Widget


class InfoLine(Widget):
    DEFAULT_CSS = """
    InfoLine {
        height: 1;
        width: 1fr;
    }
    """

    text: reactive[str] = reactive("", layout=False)

    def render(self) -> RenderResult:
        return self.text
