"""The parts of `bash bench/gpu_checks.sh OUT_DIR` that are Python: each
writes OUT_DIR/parts/<part>.json as soon as it has something, so a part
cut short by its time limit still leaves what it measured; `table` puts
every part into OUT_DIR/gpu_checks.md (one markdown table) and
OUT_DIR/gpu_checks.json.

    python bench/gpu_checks.py machine OUT_DIR --device cuda
    python bench/gpu_checks.py presets OUT_DIR --device cuda [--smoke]
    python bench/gpu_checks.py jobs OUT_DIR --device cuda --runs 4 --jobs 1,2,4 --flags "TRAIN FLAGS"
    python bench/gpu_checks.py table OUT_DIR --wall SECONDS --argv "THE SCRIPT'S ARGUMENTS"
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The seed set of these checks (model seed, validation noise seed, test
# noise seed): none of the recipes' development seeds, none of
# bench/time_to_target.py's held-out sets.
SEED_SET = (16, 36, 26)
# Time to the target stop on one GPU: the goals of these checks.
TIME_GOALS_S = {"literal-stateful": 30.0}
INFORMATIVE_GOAL_S = 10.0
# A run still training after this many times its goal is stopped, so one slow
# preset cannot use up the part's time limit.
LIMIT_FACTOR = 2.0
SMOKE = {"duration": 0.5, "epochs": 2}  # --smoke: every path on a CPU, no research value
LATENCY_GOAL_MS = 50.0
THROUGHPUT_GOAL = 0.95


def parts_dir(out: Path) -> Path:
    path = out / "parts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_part(out: Path, name: str, record: dict) -> None:
    target = parts_dir(out) / f"{name}.json"
    temporary = target.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(record, indent=1, default=str))
    os.replace(temporary, target)


def read_part(out: Path, name: str) -> Optional[dict]:
    try:
        return json.loads((parts_dir(out) / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None


# ---- machine and the system figures ------------------------------------------------
def cmd_machine(args: argparse.Namespace) -> int:
    import torch

    from lstm_core.sysmon import SystemSampler, timed_sample_cost

    record: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "device": args.device,
                              "python": platform.python_version(), "torch": torch.__version__,
                              "cpu_cores": os.cpu_count(), "load_before": list(os.getloadavg())}
    if shutil.which("nvidia-smi"):
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,mig.mode.current",
                              "--format=csv,noheader"], capture_output=True, text=True, timeout=30)
        record["nvidia_smi"] = smi.stdout.strip() or smi.stderr.strip()
    if torch.cuda.is_available():
        record.update(gpu=torch.cuda.get_device_name(0), cuda=torch.version.cuda,
                      cudnn=torch.backends.cudnn.version(), gpus=torch.cuda.device_count())
    sampler = SystemSampler(args.device)
    sampler.start()
    time.sleep(1.0)
    sample = sampler.sample()
    record["sample"] = {**sample.figures(), "unread": dict(sample.unread), "gpu_reason": sample.gpu_reason()}
    record["sample_cost_us"] = round(1e6 * timed_sample_cost(sampler, 200), 1)
    sampler.close()
    write_part(Path(args.out), "machine", record)
    print(json.dumps(record, indent=1))
    return 0


# ---- every preset once to its target stop -------------------------------------------
def preset_goals() -> dict[str, dict]:
    """The presets with a target stop, each with its validation target (from
    bench/time_to_target.py where it has one, else the preset's own), its
    test-MSE goal and its time goal here."""
    from bench.time_to_target import GOALS
    from lstm_core.config import list_presets, load_preset

    goals = {}
    for name in list_presets():
        preset = load_preset(name)
        if not preset.get("target_mse"):
            continue
        goal = GOALS.get(name)
        goals[name] = {
            "target_mse": goal.val_target if goal else preset["target_mse"],
            "target_patience": goal.patience if goal else preset.get("target_patience", 1),
            "test_mse_goal": goal.test_mse if goal else None,
            "time_goal_s": TIME_GOALS_S.get(name, INFORMATIVE_GOAL_S),
        }
    # the quick ones first: a slow one at the end cannot starve them of the part's time
    return dict(sorted(goals.items(), key=lambda item: item[1]["time_goal_s"]))


def cmd_presets(args: argparse.Namespace) -> int:
    from lstm_core.api import StopFlag, start_run
    from lstm_core.config import build_config, load_preset

    out = Path(args.out)
    seed, val_seed, test_seed = SEED_SET
    record: dict[str, Any] = {"seed_set": SEED_SET, "device": args.device, "smoke": args.smoke, "runs": []}
    for name, goal in preset_goals().items():
        settings = {"seed": seed, "val_seed": val_seed, "test_seed": test_seed, "device": args.device,
                    "target_mse": goal["target_mse"], "target_patience": goal["target_patience"],
                    **(SMOKE if args.smoke else {})}
        config = build_config(load_preset(name), settings)
        limit = LIMIT_FACTOR * goal["time_goal_s"]
        stop = StopFlag()
        timer = threading.Timer(limit, stop.request, args=("cancelled",))
        timer.start()
        row: dict[str, Any] = {"preset": name, **goal, "limit_s": limit}
        started = time.monotonic()
        try:
            outcome = start_run(config, runs_root=out / "work" / "presets", stop=stop)
        except Exception as exc:  # the other presets still run
            row.update(status="failed", message=f"{exc.__class__.__name__}: {exc}")
        else:
            training, results = outcome.training, outcome.results
            row.update(status=training.status, message=training.message, epochs=training.epochs_run,
                       train_time_s=training.train_time_s)
            if stop.is_set() and training.status == "cancelled":
                row["status"] = f"stopped at its {limit:.0f} s limit"
            if results is not None:
                target = results.training.target or {}
                row.update(test_mse=results.scores.test_mse, worst_frequency_mse=results.scores.worst_frequency_mse,
                           verdict=results.scores.verdict.code, time_to_target_s=target.get("time_to_target_s"),
                           target_reached=bool(target.get("reached")), system=results.training.system,
                           device=results.training.device)
            row["time_goal_met"] = bool(row.get("target_reached")) and training.train_time_s <= goal["time_goal_s"]
            row["test_goal_met"] = (goal["test_mse_goal"] is None or
                                    (row.get("test_mse") is not None and row["test_mse"] <= goal["test_mse_goal"]))
        finally:
            timer.cancel()
        row["wall_s"] = time.monotonic() - started
        record["runs"].append(row)
        write_part(out, "presets", record)
        print(f"{name}: {row['status']}, {row.get('train_time_s', float('nan')):.1f} s, "
              f"test MSE {row.get('test_mse', float('nan')):.5f}", flush=True)
    return 0


# ---- --jobs on the device ----------------------------------------------------------------
def cmd_jobs(args: argparse.Namespace) -> int:
    out = Path(args.out)
    record: dict[str, Any] = {"runs": args.runs, "flags": args.flags, "device": args.device, "walls": []}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    for jobs in [int(j) for j in args.jobs.split(",")]:
        parent = out / "work" / f"jobs-{jobs}"
        command = [sys.executable, "-m", "lstm_core", "train", *args.flags, "--device", args.device,
                   "--repeats", str(args.runs), "--jobs", str(jobs), "--run-dir", str(parent)]
        started = time.monotonic()
        proc = subprocess.run(command, capture_output=True, text=True, env=env)
        wall = time.monotonic() - started
        summaries = []
        for seed_dir in sorted(parent.glob("seed-*")):
            try:
                summaries.append(json.loads((seed_dir / "results.json").read_text()).get("system") or {})
            except (OSError, ValueError):
                pass
        utils = [s["gpu_util_percent_mean"] for s in summaries if s.get("gpu_util_percent_mean") is not None]
        memory = [s["gpu_mem_used_mb_peak"] for s in summaries if s.get("gpu_mem_used_mb_peak") is not None]
        record["walls"].append({"jobs": jobs, "wall_s": wall, "exit": proc.returncode, "runs_done": len(summaries),
                                "gpu_util_percent_mean": statistics.mean(utils) if utils else None,
                                "gpu_mem_used_mb_peak": max(memory) if memory else None,
                                "stderr_tail": proc.stderr.strip()[-400:] if proc.returncode else ""})
        write_part(out, f"jobs{args.tag}", record)
        print(f"--jobs {jobs}: {wall:.1f} s wall for {args.runs} runs (exit {proc.returncode})", flush=True)
    return 0


# ---- the table -----------------------------------------------------------------------------
def _n(value: Any, digits: int = 1, unit: str = "") -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}"


def _met(flag: Optional[bool]) -> str:
    return "" if flag is None else ("yes" if flag else "**no**")


def tests_row(out: Path) -> list[tuple[str, str, str, str]]:
    path = parts_dir(out) / "tests.xml"
    if not path.is_file():
        return [("GPU tests (tests/test_cuda.py)", "did not run or was cut off (see gpu-checks.log)", "all pass", "**no**")]
    suite = ElementTree.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    text = (f"{passed} passed, {counts['failures'] + counts['errors']} failed, {counts['skipped']} skipped "
            f"in {float(suite.get('time', 0)):.0f} s")
    return [("GPU tests (tests/test_cuda.py)", text, "all pass", _met(passed > 0 and not counts["failures"]
                                                                        and not counts["errors"]))]


def preset_rows(out: Path) -> list[tuple[str, str, str, str]]:
    part = read_part(out, "presets")
    if not part:
        return [("presets to their target stop", "did not run or was cut off", "", "**no**")]
    rows = []
    seeds = "/".join(map(str, part["seed_set"]))
    for run in part["runs"]:
        system = run.get("system") or {}
        gpu = (f"; GPU {_n(system.get('gpu_util_percent_mean'), 0, '%')}, peak "
               f"{_n(system.get('gpu_mem_used_mb_peak'), 0, ' MB')}" if system.get("gpu_util_percent_mean") is not None
               or system.get("gpu_mem_used_mb_peak") is not None else "")
        text = (f"{run['status']} after {run.get('epochs', '-')} epochs, {_n(run.get('train_time_s'))} s; test MSE "
                f"{_n(run.get('test_mse'), 5)}, {run.get('verdict', '-')}{gpu}")
        goal = f"<= {run['time_goal_s']:g} s" + (f", test MSE <= {run['test_mse_goal']:g}" if run.get("test_mse_goal") else "")
        met = run.get("time_goal_met") and run.get("test_goal_met") if "time_goal_met" in run else False
        rows.append((f"{run['preset']}, seeds {seeds}", text, goal, _met(met)))
    return rows


def tui_rows(out: Path) -> list[tuple[str, str, str, str]]:
    part = read_part(out, "tui")
    if not part or not part.get("repeats"):
        return [("app while training (bench/tui_bench.py)", "did not run or was cut off", "", "**no**")]
    from bench.tui_bench import percentile

    presses = [x for r in part["repeats"] for x in r["latency_training_s"]]
    p95 = 1000 * percentile(presses, 95) if presses else None
    ratio = statistics.median(part["ratios"]) if part.get("ratios") else None
    return [("app: keypress to screen while training, p95", f"{_n(p95)} ms ({len(presses)} presses)",
             f"<= {LATENCY_GOAL_MS:g} ms", _met(p95 is not None and p95 <= LATENCY_GOAL_MS)),
            ("app: training throughput against headless", f"{_n(None if ratio is None else 100 * ratio)}% "
             f"(median of {len(part['ratios'])})", f">= {100 * THROUGHPUT_GOAL:g}%",
             _met(ratio is not None and ratio >= THROUGHPUT_GOAL))]


def jobs_rows(out: Path, tag: str = "", label: str = "--jobs") -> list[tuple[str, str, str, str]]:
    part = read_part(out, f"jobs{tag}")
    if not part or not part["walls"]:
        return [] if tag else [(f"{label} on the device", "did not run or was cut off", "", "**no**")]
    walls = {w["jobs"]: w for w in part["walls"]}
    base = walls.get(1, {}).get("wall_s")
    cells = []
    for jobs, w in walls.items():
        speed = f" ({w['wall_s'] / base:.2f}x J=1's wall)" if base and jobs != 1 else ""
        util = f", GPU {w['gpu_util_percent_mean']:.0f}%" if w.get("gpu_util_percent_mean") is not None else ""
        failed = "" if w["exit"] == 0 else f" (exit {w['exit']}, {w['runs_done']} done)"
        cells.append(f"J={jobs} {w['wall_s']:.1f} s{speed}{util}{failed}")
    return [(f"{label}: wall of {part['runs']} runs (`{' '.join(part['flags'])}`)", "; ".join(cells), "",
             _met(all(w["exit"] == 0 for w in part["walls"])))]


def system_rows(out: Path) -> list[tuple[str, str, str, str]]:
    part = read_part(out, "machine")
    if not part:
        return [("system figures", "did not run", "", "**no**")]
    sample = part["sample"]
    if sample.get("gpu_reason"):
        gpu = f"GPU figures not read: {sample['gpu_reason']}"
    elif sample.get("gpu_util_percent") is not None or sample.get("gpu_mem_used_mb") is not None:
        gpu = (f"GPU {_n(sample.get('gpu_util_percent'), 0, '%')}, {_n(sample.get('gpu_mem_used_mb'), 0)}/"
               f"{_n(sample.get('gpu_mem_total_mb'), 0, ' MB')}, {_n(sample.get('gpu_temp_c'), 0, ' °C')}, "
               f"{_n(sample.get('gpu_power_w'), 0, ' W')} (idle)")
    else:
        gpu = "no GPU in use"
    return [("system figures: one look", f"CPU {_n(sample.get('cpu_percent'), 0, '%')}, RSS "
             f"{_n(sample.get('rss_mb'), 0, ' MB')}; {gpu}; {part['sample_cost_us']:.0f} µs a look", "", "")]


def cmd_table(args: argparse.Namespace) -> int:
    out = Path(args.out)
    machine = read_part(out, "machine") or {}
    rows = [*tests_row(out), *preset_rows(out), *tui_rows(out), *jobs_rows(out),
            *jobs_rows(out, "-mps", "--jobs with the MPS daemon"), *system_rows(out)]
    where = machine.get("gpu") or "no GPU"
    smi = f" ({machine['nvidia_smi']})" if machine.get("nvidia_smi") else ""
    header = (f"`bash bench/gpu_checks.sh {args.argv}`, {machine.get('date', '?')}: {where}{smi}, "
              f"torch {machine.get('torch', '?')}, CUDA {machine.get('cuda', '-')}, "
              f"{machine.get('cpu_cores', '?')} CPU cores; {args.wall:.0f} s in all.")
    lines = [header, "", "| check | result | goal | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    text = "\n".join(lines) + "\n"
    (out / "gpu_checks.md").write_text(text)
    parts = {p.stem: read_part(out, p.stem) for p in sorted(parts_dir(out).glob("*.json"))}
    (out / "gpu_checks.json").write_text(json.dumps({"table": text, "wall_s": args.wall, "rows": rows,
                                                     "parts": parts}, indent=1, default=str))
    print(text)
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="part", required=True)
    for name in ("machine", "presets", "jobs", "table"):
        p = sub.add_parser(name)
        p.add_argument("out")
        p.add_argument("--device", default="cuda")
        p.add_argument("--smoke", action="store_true")
    jobs = sub.choices["jobs"]
    jobs.add_argument("--runs", type=int, default=4)
    jobs.add_argument("--jobs", default="1,2,4")
    jobs.add_argument("--tag", default="", help="a suffix for the part's name (-mps)")
    jobs.add_argument("--flags", type=shlex.split, default=[], help="training flags, one string")
    table = sub.choices["table"]
    table.add_argument("--wall", type=float, default=0.0)
    table.add_argument("--argv", default="", help="the script's arguments, for the table's first line")
    args = parser.parse_args(argv)
    return {"machine": cmd_machine, "presets": cmd_presets, "jobs": cmd_jobs, "table": cmd_table}[args.part](args)


if __name__ == "__main__":
    raise SystemExit(main())
