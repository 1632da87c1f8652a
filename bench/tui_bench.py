"""Benchmark freq-tui while it trains: keypress-to-screen latency and
training throughput against the headless `run_training`.

    OMP_NUM_THREADS=1 python bench/tui_bench.py [--epochs 10] [--duration 10] [--keys 60] [--repeats 2] [--device cpu]

The app runs in a real pseudo-terminal (100x30), exactly as a user starts it
(`python -m lstm_core app --config FILE`). A reader thread drains everything
the app writes to the terminal.

- Latency: on the Train screen, while training runs, press `f` (next
  frequency) and time until the terminal output contains the waveform
  chart's new title ("f2 3 Hz ..."). That is the whole path: key bytes in,
  Textual event, redraw, bytes out. Keys are sent 150 ms apart.
- Throughput: the same config trained by the app (no keys pressed) and by
  `run_training` with no event callback, alternately; `train_time_s` from each
  run's results is compared (median over --repeats).

Targets (issue 4): latency p95 < 100 ms, app throughput >= 90% of headless.
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
        self.proc = subprocess.Popen([sys.executable, "-m", "lstm_core", "app", "--config", str(config_path)],
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


def app_run(config_path: Path, cwd: Path, keys: int) -> tuple[list[float], dict]:
    """Train in the app; press `f` `keys` times while it trains. Returns the
    latencies (s) and the run's results.json."""
    app = TerminalApp(config_path, cwd)
    app.wait_for("Ready:")
    app.send(b"\x12")  # ctrl+r: start
    app.wait_for("val window")  # the first epoch has drawn the waveform chart
    latencies = []
    hz = [1, 3, 5, 7]
    k = 0
    for _ in range(keys):
        k = (k + 1) % 4
        since = app.mark()
        sent = time.perf_counter()
        app.send(b"f")
        app.wait_for(f"f{k + 1} {hz[k]} Hz", since, timeout=10)
        latencies.append(time.perf_counter() - sent)
        time.sleep(0.15)
    runs = sorted((cwd / "runs").iterdir())
    results_path = runs[-1] / "results.json"
    deadline = time.time() + 600
    while not results_path.exists() and time.time() < deadline:
        time.sleep(0.2)
    app.quit()
    return latencies, json.loads(results_path.read_text())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--duration", type=float, default=10.0, help="signal seconds at fs=1000")
    parser.add_argument("--keys", type=int, default=60, help="key presses for the latency measurement")
    parser.add_argument("--repeats", type=int, default=2, help="throughput runs of each kind")
    parser.add_argument("--device", default="cpu", help="training device for the app and headless runs (default cpu)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tui-bench-"))
    settings = {"duration": args.duration, "epochs": args.epochs, "patience": args.epochs + 1, "device": args.device}
    config = build_config(settings)
    config_path = work / "bench.toml"
    save_toml(config, config_path)
    print(f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"config: stateful, hidden {config.hidden_size}, {config.n_samples} samples x 4 frequencies, "
          f"{config.epochs} epochs, batch {config.batch_size}, torch threads from OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}")

    (work / "latency").mkdir()
    latencies, _ = app_run(config_path, work / "latency", args.keys)
    print(f"keypress-to-screen latency while training ({len(latencies)} presses): "
          f"p50 {1000 * statistics.median(latencies):.1f} ms, p95 {1000 * percentile(latencies, 95):.1f} ms, "
          f"max {1000 * max(latencies):.1f} ms")

    headless, in_app = [], []
    for repeat in range(args.repeats):
        outcome = run_training(config, runs_root=work / f"headless-{repeat}")
        headless.append(outcome.training.train_time_s)
        (work / f"app-{repeat}").mkdir()
        _, results = app_run(config_path, work / f"app-{repeat}", keys=0)
        in_app.append(float(results["train_time_s"]))
        print(f"  repeat {repeat + 1}: headless {headless[-1]:.2f} s, app {in_app[-1]:.2f} s "
              f"({100 * headless[-1] / in_app[-1]:.0f}%)")
    if not headless:
        return
    h, a = statistics.median(headless), statistics.median(in_app)
    print(f"training time, median of {args.repeats}: headless {h:.2f} s, app {a:.2f} s; "
          f"app throughput = {100 * h / a:.1f}% of headless")
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs "
          f"(other processes share the machine: the per-repeat spread shows how much)")


if __name__ == "__main__":
    main()
