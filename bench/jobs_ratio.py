"""Wall time of `freq-tui train --repeats N --jobs J` against `--jobs 1`,
and whether every seed's numbers are the same.

    python bench/jobs_ratio.py                       # 4 seeds of the informative noise, 4 s, 50 epochs
    python bench/jobs_ratio.py --rounds 2 -- --noise informative --duration 10 --epochs 20

Each round runs `--jobs 1` and `--jobs J` once, in alternating order, as
separate `freq-tui` commands with OMP_NUM_THREADS=1, so process start,
evaluation and report are in the figure as a user waits for them. Prints
one line per run, the median ratio and whether each seed's results.json
(test MSE and per-frequency MSE) matched to the last digit. For a quiet
machine: the ratio needs J free cores.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FLAGS = ["--noise", "informative", "--duration", "4", "--epochs", "50", "--patience", "100",
                 "--device", "cpu"]


def run(flags: list[str], repeats: int, jobs: int, parent: Path) -> tuple[float, dict]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "lstm_core", "train", *flags, "--repeats", str(repeats),
                           "--jobs", str(jobs), "--run-dir", str(parent)],
                          capture_output=True, text=True, env=env)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"--jobs {jobs} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    numbers = {}
    for seed_dir in sorted(parent.glob("seed-*")):
        results = json.loads((seed_dir / "results.json").read_text())
        numbers[seed_dir.name] = (results["test_mse"], [row["test_mse"] for row in results["per_frequency"]])
    return wall, numbers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("flags", nargs="*", help="training flags after --, e.g. -- --duration 10")
    args = parser.parse_args(argv)
    flags = args.flags or DEFAULT_FLAGS
    load_before = os.getloadavg()[0]
    ratios, same = [], True
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            order = (1, args.jobs) if i % 2 == 0 else (args.jobs, 1)
            walls, numbers = {}, {}
            for jobs in order:
                walls[jobs], numbers[jobs] = run(flags, args.repeats, jobs, Path(tmp) / f"r{i}-j{jobs}")
                print(f"round {i + 1}: --jobs {jobs}: {walls[jobs]:.1f} s wall", flush=True)
            ratios.append(walls[args.jobs] / walls[1])
            same &= numbers[1] == numbers[args.jobs] and len(numbers[1]) == args.repeats
    print(f"`freq-tui train {' '.join(flags)} --repeats {args.repeats}`: --jobs {args.jobs} / --jobs 1 = "
          f"{statistics.median(ratios):.2f}x median ({', '.join(f'{r:.2f}' for r in ratios)} per round); "
          f"same results for every seed: {'yes' if same else 'NO'}; load average {load_before:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after, {os.cpu_count()} cores")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
