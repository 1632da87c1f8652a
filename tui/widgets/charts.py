"""Line charts drawn with plotext. A chart only redraws when it is given new
data; the screens decide how often that is (a few times per second at most).

Series differ by marker as well as colour, so they stay apart with NO_COLOR.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from .ansi import ansi_to_text


@dataclass
class Series:
    label: str
    y: Sequence[float]
    marker: str = "braille"
    color: str = "default"
    x: Sequence[float] | None = None  # defaults to the chart's x
    yside: str = "left"  # "right": a second y axis, for a series in other units


class LineChart(PlotextPlot):
    """A titled line chart; `show()` replaces everything it draws."""

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.draws = 0  # how many times data was set: tests check charts moved
        self.shown_title = title
        self.version = 0  # bumped on every change, data or not: keys the render cache
        self._cache: tuple[tuple, Text] | None = None
        self._empty()

    def render(self) -> RenderResult:
        # Building a plotext figure costs tens of milliseconds; a chart is
        # refreshed far more often (layout, toasts, screen switches) than its
        # data or size change, so the built figure is kept until they do.
        key = (self.version, self.size.width, self.size.height, self.app.theme)
        if self._cache is None or self._cache[0] != key:
            plot = self.plt
            plot.plotsize(self.size.width, self.size.height)
            plot._set_size(self.size.width, self.size.height)  # as PlotextPlot.render does
            plot.theme(self._get_plotext_theme_name(self.app.theme))
            self._cache = (key, ansi_to_text(plot.build()))
        return self._cache[1]

    def _empty(self, note: str = "no data yet") -> None:
        plt = self.plt
        plt.clear_figure()
        plt.title(f"{self.title}: {note}")

    def clear(self, note: str = "no data yet") -> None:
        self._empty(note)
        self.version += 1
        self.refresh()

    def show(self, x: Sequence[float], series: list[Series], *, title: str | None = None,
             xlabel: str = "", ylog: bool = False) -> None:
        plt = self.plt
        plt.clear_figure()
        self.shown_title = title or self.title
        plt.title(self.shown_title)
        if xlabel:
            plt.xlabel(xlabel)
        # Braille gives two dots per column: more points than that cannot
        # show, and plotext's build time grows with the point count.
        max_points = 2 * max(self.size.width, 40)
        for s in series:
            xs = np.asarray(s.x if s.x is not None else x, dtype=float)
            ys = np.asarray(s.y, dtype=float)
            if xs.shape[0] > max_points:
                keep_index = np.linspace(0, xs.shape[0] - 1, max_points).round().astype(int)
                xs, ys = xs[keep_index], ys[keep_index]
            keep = np.isfinite(ys) & np.isfinite(xs)
            if ylog:
                keep &= ys > 0
            if keep.any():
                plt.plot(xs[keep].tolist(), ys[keep].tolist(), label=s.label, marker=s.marker, color=s.color,
                         yside=s.yside)
        if ylog:
            plt.yscale("log")
        self.draws += 1
        self.version += 1
        self.refresh()
