"""A fast ANSI-to-Text conversion for plotext output.

plotext returns its figure as text with SGR colour codes. `Text.from_ansi`
decodes every code from scratch and costs tens of milliseconds per chart,
most of a keypress's redraw. A figure only uses a handful of distinct codes,
so each (style, code) step is decoded once with rich's own decoder and
cached, and the Text is built from spans in one go.
"""
from __future__ import annotations

import re

from rich.ansi import AnsiDecoder
from rich.style import Style
from rich.text import Span, Text

_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_steps: dict[tuple[Style, str], Style] = {}


def _step(style: Style, codes: str) -> Style:
    key = (style, codes)
    found = _steps.get(key)
    if found is None:
        decoder = AnsiDecoder()
        decoder.style = style
        decoder.decode_line(f"\x1b[{codes}m")
        found = _steps[key] = decoder.style
        if len(_steps) > 4096:  # themes change rarely; keep the cache bounded anyway
            _steps.clear()
    return found


def ansi_to_text(ansi: str) -> Text:
    parts = _SGR.split(ansi)  # text, codes, text, codes, ..., text
    plain: list[str] = []
    spans: list[Span] = []
    position = 0
    style = Style.null()
    for index, part in enumerate(parts):
        if index % 2:
            style = _step(style, part)
            continue
        if not part:
            continue
        plain.append(part)
        end = position + len(part)
        if style:
            spans.append(Span(position, end, style))
        position = end
    return Text("".join(plain), spans=spans, end="")
