"""The Train screen's charts, log and progress bars. Each is handed the part
of the TrainingSession it shows and does nothing when that is what it
already shows, so the screen can hand them everything on every change.

Each keeps the list or preview it shows (not a copy): a session's history
and log only grow, and a new run is a new session with new ones.
"""
from __future__ import annotations

from typing import Optional, Sequence

from textual.events import Mount
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import ProgressBar, RichLog

from lstm_core.events import EpochRecord, Preview

from .charts import LineChart, Series

WAITING = "waiting for the first epoch"


class LossChart(LineChart):
    """Train and validation loss per epoch, on a linear or log y axis."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("Loss (MSE)", id=id)
        self.shown: Optional[tuple[list[EpochRecord], int, bool]] = None  # (history, its length, log y)

    def plot(self, history: list[EpochRecord], log_y: bool) -> None:
        if self.shown is not None and self.shown[0] is history and self.shown[1:] == (len(history), log_y):
            return
        self.shown = (history, len(history), log_y)
        if not history:
            self.clear(WAITING)
            return
        self.show([r.epoch for r in history], [
            Series("train", [r.train_loss for r in history], marker="dot", color="cyan"),
            Series("val", [r.val_loss for r in history], marker="x", color="orange"),
        ], title=f"Loss (MSE), {'log' if log_y else 'linear'} y (l)", xlabel="epoch", ylog=log_y)


class WaveChart(LineChart):
    """Model output against target on the validation window, one frequency."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("Output vs target", id=id)
        self.shown: Optional[tuple[Optional[Preview], int]] = None  # (preview, frequency index)

    def plot(self, preview: Optional[Preview], index: int, frequencies: Sequence[float]) -> None:
        if self.shown is not None and self.shown[0] is preview and self.shown[1] == index:
            return
        self.shown = (preview, index)
        if preview is None or preview.output.size == 0:
            self.clear(WAITING)
            return
        k = min(index, preview.output.shape[0] - 1)
        hz = f"{frequencies[k]:g} Hz" if k < len(frequencies) else ""
        self.show(preview.t, [
            Series("output", preview.output[k], marker="braille", color="magenta"),
            Series("target", preview.target[k], marker="dot", color="green"),
        ], title=f"f{k + 1} {hz} val window (1-4, f)", xlabel="t [s]")


class RunLog(RichLog):
    """The run's log lines, appended as the list grows.

    RichLog.write grows `virtual_size`, which Textual declares as asking for a
    layout of the whole screen: every widget is measured and repainted, the
    charts too, for each new line. A log's lines change nothing outside it,
    so here they only update its scrollbars and repaint it; showing or hiding
    a scrollbar still asks for a layout (that reactive does so itself).
    """

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=500, wrap=False, markup=False)
        self.shown: Optional[tuple[list[str], int]] = None  # (lines, how many are written)

    def watch_virtual_size(self, size: Size) -> None:
        self._scroll_update(size)  # what the layout pass would do for this widget: its scrollbars

    def show(self, lines: list[str]) -> None:
        if self.shown is None or self.shown[0] is not lines:
            self.clear()
            self.shown = (lines, 0)
        new = lines[self.shown[1]:]
        if new:  # one write: one scrollbar update and one scroll to the end
            self.write("\n".join(new))
        self.shown = (lines, len(lines))


class RunProgress(ProgressBar):
    """A ProgressBar that changes only when it is updated. ProgressBar's own
    on_mount starts a once-a-second update that moves an ETA shown only
    with show_eta (the screen writes its ETAs beside the bar), repainting
    the bar for nothing."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, show_eta=False)

    def on_mount(self, event: Mount) -> None:
        event.prevent_default()  # not ProgressBar.on_mount
        self.update()
