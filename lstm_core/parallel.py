"""Runs in parallel: `--jobs J` keeps J runs going at once, each in its own
process (spawned, so nothing is shared but what is sent), for
`freq-tui train --repeats N` and `freq-tui sweep`.

A job is a module-level function `job(arg, emit, stop) -> (status, message,
value)`: `emit(update)` sends a progress update to the parent (a
RunStarted, an EpochRecord; the parent adds RunStatus.RUNNING when a worker
takes the job), `stop` is the
job's StopFlag. J worker processes are started once and each runs one job
after another (a spawned Python that imports torch costs about 3 CPU-seconds,
so one process per job would pay that N times instead of J). A job that
raises, or a worker that dies, is reported as failed under its label and the
other jobs go on (a dead worker is replaced). A stop (Ctrl+C, SIGTERM,
SIGHUP to the parent) starts no further job and asks the running ones to
stop at the end of their current batch (as one run does); the jobs never
started are reported as `not_started`.

Every child trains with the config it is given (one torch thread on a CPU
by default: `cpu_threads = 1`), so a job's numbers are those of the same run
with --jobs 1. On CUDA the runs are spread over the visible GPUs in turn,
several processes to a GPU where there are more jobs than GPUs.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from .errors import UserError
from .status import RunStatus
from .stopping import StopFlag, install_stop_signals

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


def progress_events(emit: Callable[[Any], None]) -> Callable[[Any], None]:
    """A trainer event callback, one more subscriber, that sends the parent
    what its table shows: the RunStarted, and each epoch's EpochRecord (the
    preview stays in the child)."""
    from .events import EpochEnd, RunStarted

    def on_event(event) -> None:
        if isinstance(event, RunStarted):
            emit(event)
        elif isinstance(event, EpochEnd):
            emit(event.record)

    return on_event


@dataclass
class JobReport:
    index: int
    label: str
    status: RunStatus  # what the job returned, or failed / interrupted / not_started
    message: str
    value: Any = None  # what the job returned (None when it failed or never ran)


def _worker(job: Callable, conn) -> None:
    """Worker process: runs the (index, arg) tasks it receives on `conn`
    until it gets None, and sends back ("update" | "done", index, payload).
    Each worker has a pipe of its own: a worker that dies mid-write (a crash,
    the OOM killer) can garble only its own channel, never hold a lock that
    others need. Ctrl+C (or a hang-up) at the terminal reaches the whole
    process group, so workers ignore SIGINT and SIGHUP and stop when the
    parent passes the stop on with SIGTERM; a second SIGTERM stops at once."""
    for name in ("SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    stop = StopFlag()
    install_stop_signals(stop.request, names=("SIGTERM",), keep_ignored=False)
    while (task := conn.recv()) is not None:
        index, arg = task
        try:
            status, message, value = job(arg, lambda update: conn.send(("update", index, update)), stop)
        except KeyboardInterrupt:
            status, message, value = RunStatus.INTERRUPTED, "stopped at once by a second signal", None
        except UserError as exc:
            status, message, value = RunStatus.FAILED, str(exc), None
        except Exception as exc:  # reported by label; the other jobs go on
            status, message, value = RunStatus.FAILED, f"{exc.__class__.__name__}: {exc}", None
        conn.send(("done", index, JobReport(index, "", status, message, value)))
        if stop.is_set():  # the parent hands out nothing more
            return


@dataclass
class _Worker:
    process: Any
    conn: Any  # the parent's end of this worker's pipe
    index: Optional[int] = None  # the job it runs
    open: bool = True  # False once its pipe has ended or garbled a message


def run_parallel(job: Callable, args: Sequence[Any], labels: Sequence[str], jobs: int,
                 should_stop: Callable[[], bool] = lambda: False,
                 on_update: Callable[[int, Any], None] = lambda index, update: None,
                 on_done: Callable[[JobReport], None] = lambda report: None) -> list[JobReport]:
    """Run `job` on every arg, at most `jobs` at once; one report per arg, in order."""
    context = multiprocessing.get_context("spawn")
    pending = list(range(len(args)))
    workers: list[_Worker] = []
    reports: dict[int, JobReport] = {}
    stopping = False

    def finish(report: JobReport) -> None:
        report.label = labels[report.index]
        reports[report.index] = report
        on_done(report)
        for worker in workers:
            if worker.index == report.index:
                worker.index = None

    def receive(timeout: float) -> None:
        """Handle what the workers sent, waiting up to `timeout` for the first."""
        ready = multiprocessing.connection.wait([w.conn for w in workers if w.open], timeout)
        for worker in [w for w in workers if w.conn in ready]:
            while worker.open and worker.conn.poll():
                try:
                    kind, index, payload = worker.conn.recv()
                except (EOFError, OSError, pickle.UnpicklingError, ValueError, TypeError, AttributeError):
                    worker.open = False  # it ended, or died mid-message
                    break
                if kind == "update":
                    on_update(index, payload)
                else:
                    finish(payload)

    def assign(worker: _Worker) -> None:
        worker.index = pending.pop(0)
        worker.conn.send((worker.index, args[worker.index]))
        on_update(worker.index, RunStatus.RUNNING)

    def start_worker() -> _Worker:
        parent_end, child_end = context.Pipe()
        process = context.Process(target=_worker, args=(job, child_end), daemon=True)
        process.start()
        child_end.close()
        workers.append(_Worker(process, parent_end))
        return workers[-1]

    try:
        while pending or any(w.index is not None for w in workers):
            if should_stop() and not stopping:
                stopping = True
                for worker in workers:
                    if worker.index is not None:
                        worker.process.terminate()  # SIGTERM: the job stops at the end of its batch
                for index in pending:
                    finish(JobReport(index, "", RunStatus.NOT_STARTED, "not started: the repeats were stopped"))
                pending = []
            for worker in [w for w in workers if w.index is None and w.open and w.process.is_alive()]:
                if pending:
                    assign(worker)
            while pending and len([w for w in workers if w.open and w.process.is_alive()]) < jobs:
                assign(start_worker())
            receive(POLL_S)
            for worker in [w for w in workers if not w.process.is_alive() or not w.open]:
                if worker.open:
                    receive(0)  # what it sent before it exited
                worker.process.join(timeout=None if not worker.process.is_alive() else 10)
                if worker.process.is_alive():  # its pipe broke but it runs on: it cannot report
                    worker.process.kill()
                    worker.process.join()
                workers.remove(worker)
                worker.conn.close()
                if worker.index is not None and worker.index not in reports:
                    code = worker.process.exitcode
                    why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                    # a stop that reached a worker still starting up ends it before its handler is in place
                    status = RunStatus.INTERRUPTED if stopping and code == -signal.SIGTERM else RunStatus.FAILED
                    finish(JobReport(worker.index, "", status, f"process ended without a result ({why})"))
    finally:
        for worker in workers:
            try:
                worker.conn.send(None)
            except (OSError, ValueError):  # already gone
                pass
        for worker in workers:
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
    return [reports[i] for i in range(len(args))]
