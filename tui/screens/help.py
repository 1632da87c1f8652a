"""F1: the keys of every screen and what the numbers mean."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# freq-tui

Train an LSTM to pull each pure sinusoid out of a noisy mixed signal.

| Key | Where | Does |
|---|---|---|
| F2 / F3 / F4 / F5 / F6 | anywhere | Configure / Train / Evaluate / Runs / Tune |
| ctrl+p | anywhere | command palette (start, stop, export, extract audio, load, save) |
| ctrl+q | anywhere | quit (asks first while training runs) |
| Tab, shift+Tab | Configure | move between fields |
| ctrl+r | Configure | start training (disabled while a field is invalid) |
| ctrl+o / ctrl+s | Configure | load / save the form as a TOML config |
| ctrl+d | Configure | restore the defaults |
| s | Train | stop: finishes the batch, keeps checkpoints, marks the run cancelled |
| 1-4, f | Train, Evaluate | pick the frequency the waveform chart shows |
| e | Train | evaluate the run on screen |
| x / v | Evaluate | export the report and PNG figures into the run directory / show the whole verdict |
| r | Evaluate / Runs | re-evaluate / rescan the runs folder |
| a | Evaluate | run the model on a WAV file: components (npz, csv, png) into the run directory |
| Enter or o / a | Runs | evaluate the run / attach to a run another process is writing |
| space / c | Runs | mark runs / compare the marked runs side by side (Compare: l log y, Escape back) |
| l | Train, Compare | loss chart on a log / linear y axis |
| d | Evaluate | right chart: amplitude spectrum / phase and frequency drift |
| R | Runs | resume an interrupted or stale run from its last.pt (palette: Resume run) |
| ctrl+r / ctrl+t | Tune | start an Optuna study from Configure's values / stop it (resumable) |

Under the literal noise (phase uniform in 0..2pi per sample) the input carries no
information about the targets: predicting zero gives MSE 0.5. Compare the model
with the baselines on Evaluate before believing a low test MSE.

Escape closes this help.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close help")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Markdown(HELP)

    def action_dismiss(self) -> None:
        self.dismiss(None)
