"""Rich output for the headless command: progress bars with ETA, one line
per epoch, and the guide's evaluation block."""
from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .events import BatchProgress, EpochEnd, EpochRecord, RunEnded, RunStarted, TrainerEvent
from .formatting import number
from .results import Results
from .sysmon import summary_line


def epoch_line(record: EpochRecord) -> str:
    """One epoch as the console and the app's log print it."""
    prefix = "" if record.trained_length is None else f"  prefix {record.trained_length}"
    best = "  best" if record.is_best else ""
    return (f"epoch {record.epoch:>4}  train {record.train_loss:.6f}  val {record.val_loss:.6f}  "
            f"lr {record.lr:.2e}  {record.epoch_time:.1f}s{prefix}{best}")


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
            self.progress.update(self.batch_task, completed=event.batch, info=f"loss {event.loss:.5f}")
        elif isinstance(event, EpochEnd):
            record = event.record
            self.progress.update(self.epoch_task, completed=record.epoch, info=f"val {record.val_loss:.5f}")
            self.progress.reset(self.batch_task, info="")
            self.console.print(epoch_line(record).replace("  best", "  [green]best[/]"))
        elif isinstance(event, RunEnded):
            self.console.print(f"[bold]{event.status}[/]: {event.message}")




VERDICT_COLOURS = {"uses_signal": "green", "ignores_signal": "yellow", "learned_nothing": "red"}


def _mse_table(title: str, rows: list[tuple[str, str, float]]) -> Table:
    table = Table(title=title)
    table.add_column("Predictor")
    table.add_column("Test MSE", justify="right")
    for label, _, value in rows:
        table.add_row(label, number(value))
    return table


def print_results(console: Console, results: Results) -> None:
    """Headline first, as in report.md: the verdict, test MSE next to the
    baselines, per-frequency MSE and correlation; then the rest."""
    scores = results.scores
    console.rule("EVALUATION RESULTS")
    colour = VERDICT_COLOURS.get(scores.verdict.code, "white")
    console.print(f"[bold {colour}]Verdict ({scores.verdict.code}):[/] {scores.verdict.text}", highlight=False)
    console.print(_mse_table("Test MSE against the baselines", scores.baseline_rows()))
    table = Table(title="Per-frequency performance (correlation on the test set)")
    for column in ("#", "Hz", "Train MSE", "Test MSE", "Correlation"):
        table.add_column(column, justify="right")
    for i, row in enumerate(scores.per_frequency, 1):
        table.add_row(str(i), f"{row.hz:g}", number(row.train_mse), number(row.test_mse), number(row.correlation, 4))
    console.print(table)
    console.print(f"Training MSE:     {number(scores.train_mse)}")
    console.print(f"Test MSE:         {number(scores.test_mse)}")
    console.print(f"Test/Train ratio: {scores.ratio_text()}", highlight=False)
    snr = results.training.augment_snr_db
    console.print(_mse_table(f"Input ablation (test MSE; training augmentation: {f'{snr:g} dB' if snr else 'off'})",
                             scores.ablation_rows()))


def print_system(console: Console, summary) -> None:
    """The machine while the run trained (peak memory, mean loads), one line."""
    line = summary_line(summary)
    if line:
        console.print(f"Machine while training: {line}", highlight=False)
