"""Benchmark freq-tui while it trains: keypress-to-screen latency and
training throughput against the headless `run_training`.

    OMP_NUM_THREADS=1 python bench/tui_bench.py [--epochs 30] [--duration 4] [--keys 40] [--repeats 5] [--device cpu]

The app runs in a real pseudo-terminal (100x30), exactly as a user starts it
(`python -m tui app --config FILE`). A reader thread drains everything
the app writes to the terminal.

- Latency: on the Train screen, while training runs, press `f` (next
  frequency) and time until the terminal output contains the waveform
  chart's new title ("f2 3 Hz ..."). That is the whole path: key bytes in,
  Textual event, redraw, bytes out. Keys are sent 150 ms apart, all while
  the run trains (it is configured to train far longer and is stopped with
  `s` afterwards); presses while it then evaluates and writes its report
  are reported apart.
- Throughput: the same config trained by the app (no keys pressed) and by
  `run_training` with no event callback, alternating which goes first, after
  one warm-up run; `train_time_s` from each run's results is compared
  (median and spread over --repeats).

Targets: latency p95 <= 100 ms, app throughput >= 95% of headless.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lstm_core.config import build_config, save_toml  # noqa: E402
from lstm_core.runner import run_training  # noqa: E402

COLS, ROWS = 100, 30


def _take_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class TerminalApp:
    """freq-tui in a pseudo-terminal, with its output collected."""

    def __init__(self, config_path: Path, cwd: Path, controlling_terminal: bool = True):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        # this checkout first, then whatever else the caller put on the path
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": path}
        env.pop("NO_COLOR", None)
        # Its own session with the pty as controlling terminal, as a login
        # gives: closing the master then hangs it up (SIGHUP) like an SSH drop.
        # Without it, closing the master only makes reads and writes fail.
        self.proc = subprocess.Popen([sys.executable, "-m", "tui", "app", "--config", str(config_path)],
                                     stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                                     start_new_session=True,
                                     preexec_fn=_take_terminal if controlling_terminal else None)
        os.close(slave)
        self.output = bytearray()
        self.lock = threading.Lock()
        self.grew = threading.Condition(self.lock)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.5)
                if not ready:
                    if self.proc.poll() is not None:
                        return
                    continue
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self.grew:
                self.output += data
                self.grew.notify_all()

    def mark(self) -> int:
        with self.lock:
            return len(self.output)

    def wait_for(self, text: str, since: int = 0, timeout: float = 60.0) -> float:
        """Seconds until `text` appears in the output after offset `since`."""
        needle = text.encode()
        start = time.perf_counter()
        deadline = start + timeout
        with self.grew:
            while needle not in self.output[max(0, since - len(needle)):]:
                left = deadline - time.perf_counter()
                if left <= 0:
                    tail = self.output[-2000:].decode(errors="replace")
                    raise TimeoutError(f"{text!r} did not appear within {timeout:.0f}s; the terminal's last "
                                       f"output:\n{tail}")
                self.grew.wait(left)
        return time.perf_counter() - start

    def send(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def hang_up(self) -> None:
        """Close the terminal under the app, as an SSH drop does."""
        os.close(self.master)
        self.master = -1

    def quit(self) -> None:
        self.send(b"\x11")  # ctrl+q
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self.master)


def wait_results(cwd: Path, timeout: float = 600) -> dict:
    deadline = time.time() + timeout
    while not run_ended(cwd):
        if time.time() > deadline:
            raise TimeoutError(f"no results.json under {cwd / 'runs'} within {timeout:.0f}s")
        time.sleep(0.1)
    return json.loads((sorted((cwd / "runs").iterdir())[-1] / "results.json").read_text())


def run_ended(cwd: Path) -> bool:
    runs = sorted((cwd / "runs").iterdir()) if (cwd / "runs").is_dir() else []
    return bool(runs) and (runs[-1] / "results.json").exists()


def press_f(app: TerminalApp, k: int) -> float:
    """Press `f` and return the seconds until the chart shows the next frequency."""
    hz = [1, 3, 5, 7]
    since = app.mark()
    sent = time.perf_counter()
    app.send(b"f")
    app.wait_for(f"f{k + 1} {hz[k]} Hz", since, timeout=10)
    return time.perf_counter() - sent


def latency_run(config_path: Path, cwd: Path, keys: int) -> tuple[list[float], list[float]]:
    """Keypress latencies (s) while the app trains, then while it evaluates
    and writes the report after `s` stopped the run. The config trains far
    longer than the key presses take, so every press of the first list lands
    while training."""
    app = TerminalApp(config_path, cwd)
    app.wait_for("Ready:")
    app.send(b"\x12")  # ctrl+r: start
    app.wait_for("val window")  # the first epoch has drawn the waveform chart
    training, evaluating = [], []
    k = 0
    for _ in range(keys):
        k = (k + 1) % 4
        training.append(press_f(app, k))
        time.sleep(0.15)
    app.send(b"s")  # stop: the batch finishes, then evaluation and the report run on the worker
    while not run_ended(cwd):
        k = (k + 1) % 4
        try:
            evaluating.append(press_f(app, k))
        except TimeoutError:
            break
        time.sleep(0.05)
    wait_results(cwd)
    app.quit()
    return training, evaluating


def thread_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of a process, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    times = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        times[int(task.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return times


def epochs_written(cwd: Path) -> int:
    runs = sorted((cwd / "runs").iterdir()) if (cwd / "runs").is_dir() else []
    metrics = runs[-1] / "metrics.jsonl" if runs else None
    return len(metrics.read_text().splitlines()) if metrics is not None and metrics.exists() else 0


def app_training_time(config_path: Path, cwd: Path, epochs: int) -> tuple[float, float]:
    """The app's train_time_s, and the share of wall time its UI (main)
    thread was on a CPU from the end of the first epoch to the end of the
    last (the Train screen is built before training starts, so its one-off
    cost is not counted)."""
    app = TerminalApp(config_path, cwd)
    app.wait_for("Ready:")
    app.send(b"\x12")
    while epochs_written(cwd) < 1:
        time.sleep(0.01)
    before, started = thread_cpu_s(app.proc.pid).get(app.proc.pid, 0.0), time.monotonic()
    while epochs_written(cwd) < epochs:
        time.sleep(0.01)
    ui_share = (thread_cpu_s(app.proc.pid).get(app.proc.pid, 0.0) - before) / (time.monotonic() - started)
    results = wait_results(cwd)
    app.quit()
    return float(results["train_time_s"]), ui_share


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[index]


def describe_latency(values: list[float]) -> str:
    if not values:
        return "no presses"
    return (f"p50 {1000 * statistics.median(values):.1f} ms, p95 {1000 * percentile(values, 95):.1f} ms, "
            f"max {1000 * max(values):.1f} ms ({len(values)} presses)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="epochs of each throughput run")
    parser.add_argument("--duration", type=float, default=4.0, help="signal seconds at fs=1000")
    parser.add_argument("--keys", type=int, default=40, help="key presses per latency run")
    parser.add_argument("--repeats", type=int, default=5, help="latency runs and throughput pairs")
    parser.add_argument("--device", default="cpu", help="training device for the app and headless runs (default cpu)")
    parser.add_argument("--json", metavar="FILE", help="also write every measurement to FILE")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tui-bench-"))
    settings = {"duration": args.duration, "epochs": args.epochs, "patience": args.epochs + 1, "device": args.device}
    config = build_config(settings)
    config_path = work / "bench.toml"
    save_toml(config, config_path)
    # The latency runs train until they are stopped: far more epochs than the presses take.
    long_path = work / "long.toml"
    save_toml(build_config({**settings, "epochs": 100_000, "patience": 100_000}), long_path)
    print(f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"config: stateful, hidden {config.hidden_size}, {config.n_samples} samples x 4 frequencies, "
          f"{config.epochs} epochs, batch {config.batch_size}, device {args.device}, torch threads from "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    run_training(config, runs_root=work / "warm-up")  # imports, allocator and oneDNN primitives warmed up

    record = {"repeats": []}
    all_training, all_evaluating, ratios, ui_shares = [], [], [], []
    for repeat in range(args.repeats):
        (work / f"latency-{repeat}").mkdir()
        training, evaluating = latency_run(long_path, work / f"latency-{repeat}", args.keys)
        all_training += training
        all_evaluating += evaluating
        # headless and app alternate which goes first, so drift in the machine's load is shared
        order = ("headless", "app") if repeat % 2 == 0 else ("app", "headless")
        times = {}
        for kind in order:
            if kind == "headless":
                times[kind] = run_training(config, runs_root=work / f"headless-{repeat}").training.train_time_s
            else:
                (work / f"app-{repeat}").mkdir()
                times[kind], ui_share = app_training_time(config_path, work / f"app-{repeat}", config.epochs)
        ratios.append(times["headless"] / times["app"])
        ui_shares.append(ui_share)
        record["repeats"].append({"latency_training_s": training, "latency_evaluating_s": evaluating,
                                  "ui_thread_cpu_share": ui_share, **times})
        print(f"  repeat {repeat + 1}: training {describe_latency(training)}; evaluating "
              f"{describe_latency(evaluating)}; headless {times['headless']:.2f} s, app {times['app']:.2f} s "
              f"({100 * ratios[-1]:.0f}%), UI thread on a CPU {100 * ui_share:.1f}% of the time", flush=True)
    if not ratios:
        return
    p95s = [percentile(r["latency_training_s"], 95) for r in record["repeats"]]
    print(f"keypress-to-screen while training, all {args.repeats} repeats: {describe_latency(all_training)}; "
          f"p95 per repeat {1000 * min(p95s):.0f}-{1000 * max(p95s):.0f} ms")
    print(f"keypress-to-screen while evaluating and writing the report: {describe_latency(all_evaluating)}")
    print(f"app throughput, median of {args.repeats}: {100 * statistics.median(ratios):.1f}% of headless "
          f"(per repeat {100 * min(ratios):.0f}-{100 * max(ratios):.0f}%)")
    print(f"UI thread on a CPU while training, median of {args.repeats}: {100 * statistics.median(ui_shares):.1f}% "
          f"of the time (per repeat {100 * min(ui_shares):.1f}-{100 * max(ui_shares):.1f}%)")
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs "
          f"(other processes share the machine: the per-repeat spread shows how much)")
    if args.json:
        Path(args.json).write_text(json.dumps({**record, "config": settings, "ratios": ratios}, indent=1))


if __name__ == "__main__":
    main()
