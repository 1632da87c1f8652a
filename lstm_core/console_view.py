"""Rich output for the headless command: progress bars with ETA, one line
per epoch, and the guide's evaluation block."""
from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .events import BatchProgress, EpochEnd, EpochRecord, RunEnded, RunStarted, TrainerEvent
from . import tables
from .formatting import mse, seconds
from .results import Results
from .sysmon import summary_line
from .tables import TextTable


def epoch_line(record: EpochRecord) -> str:
    """One epoch as the console and the app's log print it."""
    prefix = "" if record.trained_length is None else f"  prefix {record.trained_length}"
    best = "  best" if record.is_best else ""
    return (f"epoch {record.epoch:>4}  train {mse(record.train_loss):<9}  val {mse(record.val_loss):<9}  "
            f"lr {record.lr:.2e}  {seconds(record.epoch_time)}s{prefix}{best}")


class TrainingView:
    """Consumes trainer events on the training thread and draws them."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console()
        self.progress = Progress(
            TextColumn("{task.description:<7}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=self.console, transient=False,
        )
        self.epoch_task = None
        self.batch_task = None

    def __enter__(self) -> "TrainingView":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def handle(self, event: TrainerEvent) -> None:
        if isinstance(event, RunStarted):
            self.console.print(f"Training on [bold]{event.device}[/], {event.batches_per_epoch} updates per epoch")
            self.epoch_task = self.progress.add_task("epochs", total=event.total_epochs,
                                                     completed=event.start_epoch - 1, info="")
            self.batch_task = self.progress.add_task("batches", total=event.batches_per_epoch, info="")
        elif isinstance(event, BatchProgress):
            self.progress.update(self.batch_task, completed=event.batch, info=f"loss {mse(event.loss)}")
        elif isinstance(event, EpochEnd):
            record = event.record
            self.progress.update(self.epoch_task, completed=record.epoch, info=f"val {mse(record.val_loss)}")
            self.progress.reset(self.batch_task, info="")
            self.console.print(epoch_line(record).replace("  best", "  [green]best[/]"))
        elif isinstance(event, RunEnded):
            self.console.print(f"[bold]{event.status}[/]: {event.message}")




VERDICT_COLOURS = {"uses_signal": "green", "ignores_signal": "yellow", "learned_nothing": "red"}


def _rich_table(title: str, text: TextTable) -> Table:
    table = Table(title=title)
    for i, column in enumerate(text.header):
        table.add_column(column[:1].upper() + column[1:], justify="left" if i == 0 and not column.startswith("#") else "right")
    for row in text.rows:
        table.add_row(*row)
    return table


def print_results(console: Console, results: Results) -> None:
    """Headline first, as in report.md: the verdict, test MSE next to the
    baselines, per-frequency MSE and correlation; then the rest."""
    scores = results.scores
    console.rule("EVALUATION RESULTS")
    colour = VERDICT_COLOURS.get(scores.verdict.code, "white")
    console.print(f"[bold {colour}]Verdict ({scores.verdict.code}):[/] {scores.verdict.text}", highlight=False)
    console.print(_rich_table("Test MSE against the baselines", tables.baselines(scores)))
    console.print(_rich_table("Per-frequency performance (correlation on the test set)", tables.per_frequency(scores)))
    console.print(f"Training MSE:     {mse(scores.train_mse)}")
    console.print(f"Test MSE:         {mse(scores.test_mse)}")
    console.print(f"Test/Train ratio: {scores.ratio_text()}", highlight=False)
    snr = results.training.augment_snr_db
    console.print(_rich_table(f"Input ablation (test MSE; training augmentation: {f'{snr:g} dB' if snr else 'off'})",
                              tables.ablation(scores)))


def print_system(console: Console, summary) -> None:
    """The machine while the run trained (peak memory, mean loads), one line."""
    line = summary_line(summary)
    if line:
        console.print(f"Machine while training: {line}", highlight=False)
