"""Line charts drawn with plotext. A chart only redraws when it is given new
data; the screens decide how often that is (a few times per second at most).

Series differ by marker as well as colour, so they stay apart with NO_COLOR.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from textual_plotext import PlotextPlot


@dataclass
class Series:
    label: str
    y: Sequence[float]
    marker: str = "braille"
    color: str = "default"
    x: Sequence[float] | None = None  # defaults to the chart's x


class LineChart(PlotextPlot):
    """A titled line chart; `show()` replaces everything it draws."""

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.draws = 0  # how many times data was set: tests check charts moved
        self._empty()

    def _empty(self, note: str = "no data yet") -> None:
        plt = self.plt
        plt.clear_figure()
        plt.title(f"{self.title}: {note}")

    def clear(self, note: str = "no data yet") -> None:
        self._empty(note)
        self.refresh()

    def show(self, x: Sequence[float], series: list[Series], *, title: str | None = None,
             xlabel: str = "", ylog: bool = False) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.title(title or self.title)
        if xlabel:
            plt.xlabel(xlabel)
        for s in series:
            xs = np.asarray(s.x if s.x is not None else x, dtype=float)
            ys = np.asarray(s.y, dtype=float)
            keep = np.isfinite(ys) & np.isfinite(xs)
            if ylog:
                keep &= ys > 0
            if keep.any():
                plt.plot(xs[keep].tolist(), ys[keep].tolist(), label=s.label, marker=s.marker, color=s.color)
        if ylog:
            plt.yscale("log")
        self.draws += 1
        self.refresh()
