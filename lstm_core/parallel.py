"""Runs in parallel: `--jobs J` keeps J runs going at once, each in its own
process (spawned, so nothing is shared but what is sent), for
`freq-tui train --repeats N` and `freq-tui sweep`.

A job is a module-level function `job(arg, emit, stop) -> (status, message,
value)`: `emit(dict)` sends a progress update to the parent, `stop` is the
child's StopFlag. Each child runs one job and ends; a job that raises, or a
process that dies, is reported as failed under its label and the other jobs
go on. A stop (Ctrl+C, SIGTERM, SIGHUP to the parent) starts no further job
and asks the running ones to stop at the end of their current batch (as one
run does); the jobs never started are reported as `not_started`.

Every child trains with the config it is given (one torch thread on a CPU
by default: `cpu_threads = 1`), so a job's numbers are those of the same run
with --jobs 1. On CUDA the runs are spread over the visible GPUs in turn,
several processes to a GPU where there are more jobs than GPUs.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import queue as queue_module
import signal
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from .errors import UserError

MAX_JOBS_PER_CORE = 4
POLL_S = 0.2


def max_jobs() -> int:
    return (os.cpu_count() or 1) * MAX_JOBS_PER_CORE


def check_jobs(jobs: int) -> int:
    if not 1 <= jobs <= max_jobs():
        raise UserError("--jobs", f"must be between 1 and {max_jobs()} ({MAX_JOBS_PER_CORE} per CPU core; got {jobs})")
    return jobs


def spread_devices(configs: Sequence[Any]) -> list[Any]:
    """Configs asking for `auto` or `cuda` on a CUDA machine get cuda:0,
    cuda:1, ... in turn; any other device is kept as it is."""
    import torch

    n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if n_gpus == 0:
        return list(configs)
    return [dataclasses.replace(c, device=f"cuda:{i % n_gpus}") if c.device in ("auto", "cuda") else c
            for i, c in enumerate(configs)]


def progress_events(emit: Callable[[dict], None]) -> Callable[[Any], None]:
    """A trainer event callback that sends the parent what its table shows."""
    from .events import EpochEnd, RunStarted

    def on_event(event) -> None:
        if isinstance(event, RunStarted):
            emit({"epochs": event.total_epochs})
        elif isinstance(event, EpochEnd):
            emit({"epoch": event.record.epoch, "val_loss": event.record.val_loss})

    return on_event


@dataclass
class JobReport:
    index: int
    label: str
    status: str  # what the job returned, or failed / interrupted / not_started
    message: str
    value: Any = None  # what the job returned (None when it failed or never ran)


def _child(index: int, job: Callable, arg: Any, messages) -> None:
    """Child process: Ctrl+C (or a hang-up) at the terminal reaches the whole
    process group, so children ignore SIGINT and SIGHUP and stop when the
    parent passes the stop on with SIGTERM; a second SIGTERM stops at once."""
    from .trainer import StopFlag

    for name in ("SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    stop = StopFlag()
    received = []

    def handler(signum, frame):
        received.append(signum)
        if len(received) > 1:
            raise KeyboardInterrupt
        stop.request("interrupted")

    signal.signal(signal.SIGTERM, handler)
    try:
        status, message, value = job(arg, lambda update: messages.put(("update", index, update)), stop)
    except KeyboardInterrupt:
        status, message, value = "interrupted", "stopped at once by a second signal", None
    except UserError as exc:
        status, message, value = "failed", str(exc), None
    except Exception as exc:  # reported by label; the other jobs go on
        status, message, value = "failed", f"{exc.__class__.__name__}: {exc}", None
    messages.put(("done", index, JobReport(index, "", status, message, value)))


def run_parallel(job: Callable, args: Sequence[Any], labels: Sequence[str], jobs: int,
                 should_stop: Callable[[], bool] = lambda: False,
                 on_update: Callable[[int, dict], None] = lambda index, update: None,
                 on_done: Callable[[JobReport], None] = lambda report: None) -> list[JobReport]:
    """Run `job` on every arg, at most `jobs` at once; one report per arg, in order."""
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    pending = list(range(len(args)))
    running: dict[int, Any] = {}
    reports: dict[int, JobReport] = {}
    stopping = False

    def finish(report: JobReport) -> None:
        report.label = labels[report.index]
        reports[report.index] = report
        on_done(report)

    def receive(timeout: Optional[float]) -> bool:
        try:
            kind, index, payload = messages.get(timeout=timeout) if timeout else messages.get_nowait()
        except queue_module.Empty:
            return False
        if kind == "update":
            on_update(index, payload)
        else:
            finish(payload)
        return True

    while pending or running:
        if should_stop() and not stopping:
            stopping = True
            for process in running.values():
                process.terminate()  # SIGTERM: the child stops at the end of its batch
            for index in pending:
                finish(JobReport(index, "", "not_started", "not started: the repeats were stopped"))
            pending = []
        while pending and len(running) < jobs:
            index = pending.pop(0)
            process = context.Process(target=_child, args=(index, job, args[index], messages), daemon=True)
            process.start()
            running[index] = process
            on_update(index, {"state": "running"})
        receive(POLL_S)
        for index, process in list(running.items()):
            if process.is_alive():
                continue
            while receive(None):  # what it sent before it exited
                pass
            process.join()
            del running[index]
            if index not in reports:
                code = process.exitcode
                why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                # a stop that reached a child still starting up ends it before its handler is in place
                status = "interrupted" if stopping and code == -signal.SIGTERM else "failed"
                finish(JobReport(index, "", status, f"process ended without a result ({why})"))
    while receive(None):
        pass
    return [reports[i] for i in range(len(args))]
