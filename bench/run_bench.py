"""Training speed, measured in one run on one machine.

    python bench/run_bench.py                 # all of it, ~2-3 minutes on 2 cores
    python bench/run_bench.py --repeats 1 --epochs 1   # a quick look

    python bench/run_bench.py --device cuda --out bench/results-cuda.json   # on a GPU

Measures, each `--repeats` times:
- epoch time and samples/s of our trainer: `stateful` (defaults; with
  truncation = step, the guide's own one-step gradient; with chunks of 128
  steps instead of 32) and `sequence`;
- the same for the guide's loop (bench/guide_reference.py);
- test MSE after the same number of epochs, for all of them;
- the floor: one fused LSTM forward and backward over the whole training
  streams in a single call plus one validation pass, the least time any
  loop can spend on an epoch of this model on this device;
- one update of full BPTT over 16 whole streams (the literal-stateful
  preset at full length): the heavy case, where a GPU can pay;
- `--precisions`: each training precision on the informative noise, epoch
  time and test MSE (scored in float32) after the same epochs;
- wall time from nothing (data generation included) to test MSE < 0.1 with
  the `informative-fast` preset, and the one-time cost of a fresh process.
Prints markdown tables and writes bench/results.json. The app's throughput
against the headless command's is measured by bench/tui_bench.py.

An epoch is one pass over the 40,000 training rows plus the validation pass,
for our trainer and the reference alike. The machine may be shared: each
figure is the median over repeats, with min and max beside it.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.guide_reference import train_reference  # noqa: E402
from lstm_core.config import build_config, load_preset  # noqa: E402
from lstm_core.data import splits_for  # noqa: E402
from lstm_core.evaluation import predict_signal  # noqa: E402
from lstm_core.events import EpochEnd  # noqa: E402
from lstm_core.files import atomic_write_json  # noqa: E402
from lstm_core.metrics import mse  # noqa: E402
from lstm_core.models import FrequencyLSTM  # noqa: E402
from lstm_core.trainer import StopFlag, Trainer  # noqa: E402

TARGET_MSE = 0.1


def machine(device: str) -> dict:
    model = platform.processor() or "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        out = ""
    fields = {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in out.splitlines())}
    model = fields.get("Model name", model)
    # Two CPUs of one name can differ by 2x here: "AMD EPYC" is both a Zen 3
    # without AVX-512 and a Zen 4 with it. The family/model and the widest
    # vector unit tell them apart in every figure.
    if "CPU family" in fields:
        model += f" (family {fields['CPU family']} model {fields.get('Model', '?')})"
    flags = fields.get("Flags", "").split()
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "other"
    facts = {"cpu": model, "cores": os.cpu_count(), "isa": isa, "torch": torch.__version__,
             "python": platform.python_version()}
    if torch.device(device).type == "cuda":
        facts["gpu"] = torch.cuda.get_device_name(torch.device(device))
        facts["cuda"] = torch.version.cuda
        facts["cudnn"] = torch.backends.cudnn.version()
    return facts


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def lstm_floor(splits, device: str, hidden_size: int, repeats: int) -> dict:
    """The least time an epoch of the default model can take here: the fused
    LSTM (plus the head) forward and backward over all training streams and
    a forward over the validation streams, nothing else: no optimizer, no
    clipping, no Python per update. The streams go through in chunks of 128
    steps, 1,000 steps or whole (the fused kernels run long calls slower on
    a CPU), and the fastest chunking counts. float32 as the trainer's
    default (TF32 off on CUDA)."""
    from lstm_core.feeding import detach
    from lstm_core.precision import full_precision
    from lstm_core.trainer import to_device

    device = torch.device(device)
    torch.manual_seed(0)
    model = FrequencyLSTM(splits["train"].n_frequencies, hidden_size).to(device)
    train_x, train_y = to_device(splits["train"], device)
    val_x, _ = to_device(splits["val"], device)
    n_samples = train_x.shape[1]

    def one_epoch(chunk: int) -> None:
        state = None
        for start in range(0, n_samples, chunk):
            out, state = model(train_x[:, start:start + chunk], detach(state))
            torch.nn.functional.mse_loss(out, train_y[:, start:start + chunk]).backward()
        with torch.no_grad():
            state = None
            for start in range(0, val_x.shape[1], chunk):
                _, state = model(val_x[:, start:start + chunk], state)

    best: dict[int, list[float]] = {}
    with full_precision(device):
        for chunk in sorted({min(128, n_samples), min(1000, n_samples), n_samples}):
            times = []
            for repeat in range(repeats + 1):  # the first is a warm-up
                synchronize(device)
                start = time.perf_counter()
                one_epoch(chunk)
                synchronize(device)
                if repeat:
                    times.append(time.perf_counter() - start)
            best[chunk] = times
    chunk = min(best, key=lambda c: statistics.median(best[c]))
    return {"epoch_times": best[chunk], "rows": train_y.numel(), "test_mse": None, "chunk": chunk,
            "by_chunk": {str(c): statistics.median(t) for c, t in best.items()}}


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def test_mse(trainer: Trainer, config, splits) -> float:
    test = splits["test"]
    return mse(predict_signal(trainer.model, config, test, trainer.device), test.targets)


def run_ours(overrides: dict, epochs: int, splits, threads: int, device: str) -> dict:
    """Our trainer for `epochs` epochs (no early stop, no run directory).
    Test MSE is taken from the weights after the last epoch, not the best
    epoch's, so it compares like for like with the reference."""
    config = build_config({"epochs": epochs, "patience": epochs + 1, "device": device,
                           "cpu_threads": threads, **overrides})
    after_last: dict = {}
    trainer: Trainer | None = None

    def on_event(event) -> None:
        if isinstance(event, EpochEnd) and event.record.epoch == epochs:
            after_last["test_mse"] = test_mse(trainer, config, splits)

    trainer = Trainer(config, on_event=on_event, splits=splits)
    result = trainer.fit()
    rows = splits["train"].n_frequencies * splits["train"].n_samples
    return {
        "epoch_times": [h.epoch_time for h in result.history],
        "train_losses": [h.train_loss for h in result.history],
        "val_losses": [h.val_loss for h in result.history],
        "test_mse": after_last["test_mse"],
        "rows": rows,
    }


def time_to_target(preset: str, threads: int, device: str) -> dict:
    """Wall time from generating the data to the end of the first epoch
    whose weights give test MSE < 0.1. The test check after each epoch is
    inside the clock (and so is a validation pass per epoch)."""
    started = time.perf_counter()
    raw = load_preset(preset)
    config = build_config(raw, {"device": device, "cpu_threads": threads})
    splits = splits_for(config)
    stop = StopFlag()
    trace: list[dict] = []
    trainer: Trainer | None = None

    def on_event(event) -> None:
        if isinstance(event, EpochEnd):
            value = test_mse(trainer, config, splits)
            trace.append({"epoch": event.record.epoch, "wall_s": time.perf_counter() - started, "test_mse": value})
            if value < TARGET_MSE:
                stop.request("target reached")

    trainer = Trainer(config, on_event=on_event, stop=stop, splits=splits)
    trainer.fit()
    hit = next((t for t in trace if t["test_mse"] < TARGET_MSE), None)
    return {"reached": hit is not None, "wall_s": hit["wall_s"] if hit else None,
            "epochs": hit["epoch"] if hit else None, "trace": trace,
            "best_test_mse": min(t["test_mse"] for t in trace)}


def first_optimizer_seconds() -> float:
    """The one-time cost a fresh process pays when it builds its first torch
    optimizer (torch imports torch._dynamo then). Measured in a subprocess
    because this process has paid it already; not part of time to target."""
    code = ("import time, torch; m = torch.nn.Linear(1, 1); t = time.perf_counter(); "
            "torch.optim.Adam(m.parameters()); print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out.strip())


def full_bptt_update(device: str, threads: int, repeats: int, duration: float) -> dict:
    """One update of the literal-stateful preset at full length: full BPTT
    over its rows (each frequency stream with its own shuffle of S) x all
    10,000 steps. An epoch of 2 such updates and a validation pass,
    timed; the update time is (epoch - validation) / 2."""
    config = build_config(load_preset("literal-stateful"), {
        "curriculum_start": 0, "updates_per_epoch": 2, "epochs": 1, "device": device, "cpu_threads": threads,
        "duration": duration})
    splits = splits_for(config)
    epoch_times, val_times = [], []
    for _ in range(repeats):
        trainer = Trainer(config, splits=splits)
        result = trainer.fit()
        epoch_times.append(result.history[0].epoch_time)
        synchronize(trainer.device)
        start = time.perf_counter()
        trainer.validation_loss()
        val_times.append(time.perf_counter() - start)
    updates = [(e - v) / config.updates_per_epoch for e, v in zip(epoch_times, val_times)]
    rows = len(config.frequencies)
    return {"rows": rows, "steps": config.n_samples, "epoch_s": spread(epoch_times), "update_s": spread(updates)}


def precision_runs(preset: str, precisions: list[str], epochs: int, device: str, threads: int) -> list[dict]:
    """The same preset trained for `epochs` in each precision; test MSE is
    scored in float32 from the weights after the last epoch."""
    rows = []
    for setting in precisions:
        print(f"precision {setting} ({preset}, {epochs} epochs) ...", file=sys.stderr, flush=True)
        # the preset's own epochs and patience give way to the bench's
        preset_settings = {k: v for k, v in load_preset(preset).items() if k not in ("epochs", "patience")}
        overrides = {**preset_settings, "precision": setting}
        splits = splits_for(build_config(overrides))
        run = run_ours(overrides, epochs, splits, threads, device)
        rows.append({"precision": setting, "preset": preset, "epochs": epochs,
                     "epoch_s": spread(run["epoch_times"]), "test_mse": run["test_mse"],
                     "val_losses": run["val_losses"]})
    return rows


def summarise(name: str, runs: list[dict]) -> dict:
    times = [t for run in runs for t in run["epoch_times"]]
    rows = runs[0]["rows"]
    return {
        "name": name,
        "epoch_s": spread(times),
        "samples_per_s": spread([rows / t for t in times]),
        "test_mse": runs[0]["test_mse"],  # deterministic: the same in every repeat
        "test_mse_all": [run["test_mse"] for run in runs],
        "runs": runs,
    }


def markdown(results: dict) -> str:
    reference = results["throughput"].get("guide reference")
    ref = reference["epoch_s"]["median"] if reference else None
    epochs = results["settings"]["epochs"]
    lines = [
        f"| loop | epoch s (median, min-max) | samples/s | speed-up vs reference "
        f"| test MSE after {epochs} epoch(s), {results['settings']['noise']} noise |",
        "|---|---|---|---|---|",
    ]
    for name, row in results["throughput"].items():
        e, s = row["epoch_s"], row["samples_per_s"]
        speedup = f"{ref / e['median']:.1f}x" if ref else "n/a"
        lines.append(f"| {name} | {e['median']:.3f} ({e['min']:.3f}-{e['max']:.3f}) | {s['median']:,.0f} "
                     f"| {speedup} | {row['test_mse']:.4f} |")
    floor = results.get("floor")
    if floor and ref:
        lines.append("")
        lines.append(f"Floor (fused LSTM forward+backward over the training streams, plus one "
                     f"validation pass; no optimizer; best chunking: {floor['runs'][0]['chunk']} steps): "
                     f"{floor['epoch_s']['median']:.3f} s per epoch, "
                     f"so no loop of this model can be more than {ref / floor['epoch_s']['median']:.1f}x faster "
                     f"than the reference here.")
    heavy = results.get("full_bptt")
    if heavy:
        lines.append("")
        lines.append(f"Full BPTT over {heavy['rows']} rows x {heavy['steps']:,} steps (the literal-stateful preset on whole streams): "
                     f"{heavy['update_s']['median']:.3f} s per update (min {heavy['update_s']['min']:.3f}), "
                     f"epoch of 2 updates + validation {heavy['epoch_s']['median']:.3f} s.")
    if results.get("precision"):
        rows = results["precision"]
        lines += ["", f"| precision ({rows[0]['preset']}, {rows[0]['epochs']} epochs) | epoch s (median) | "
                      f"test MSE after the last epoch (scored in fp32) |", "|---|---|---|"]
        for row in rows:
            lines.append(f"| {row['precision']} | {row['epoch_s']['median']:.3f} | {row['test_mse']:.5f} |")
    ttt = results.get("time_to_target")
    if ttt:
        lines.append("")
        walls = [r["wall_s"] for r in ttt["runs"] if r["reached"]]
        if walls:
            w = spread(walls)
            lines.append(f"Time to test MSE < {TARGET_MSE} (preset `{ttt['preset']}`): median {w['median']:.2f} s "
                         f"(min {w['min']:.2f}, max {w['max']:.2f}; reached in {len(walls)}/{len(ttt['runs'])} runs, "
                         f"{ttt['runs'][0]['epochs']} epoch(s)), in a process that has built an optimizer before; "
                         f"a fresh process pays {ttt['first_optimizer_s']:.2f} s once more for its first "
                         f"optimizer (torch imports torch._dynamo).")
        else:
            lines.append(f"Time to test MSE < {TARGET_MSE} (preset `{ttt['preset']}`): not reached; best test MSE "
                         f"{min(r['best_test_mse'] for r in ttt['runs']):.4f}.")
    m = results["machine"]
    lines.append("")
    if m.get("gpu"):
        lines.append(f"Device: {results['settings']['device']} = {m['gpu']} (CUDA {m['cuda']}, cuDNN {m['cudnn']}).")
    lines.append(f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, {results['settings']['threads']} "
                 f"torch thread(s); load average {results['load_before'][0]:.2f} before, "
                 f"{results['load_after'][0]:.2f} after.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs per measured run (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each loop (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for every loop (default 1)")
    parser.add_argument("--device", default="cpu", help="device for our trainer and the reference (default cpu)")
    parser.add_argument("--preset", default="informative-fast", help="preset for the time-to-target run ('' skips it)")
    parser.add_argument("--noise", default="literal", choices=["literal", "informative"],
                        help="noise of the throughput runs (default literal, the defaults; under it every "
                             "model's MSE stays near 0.5, so informative is the one that compares MSE)")
    parser.add_argument("--duration", type=float, default=10.0, help="signal seconds for the throughput runs (default 10)")
    parser.add_argument("--skip-reference", action="store_true", help="leave out the (slow) guide loop")
    parser.add_argument("--skip-full-bptt", action="store_true", help="leave out the full-BPTT update (heavy on a CPU)")
    parser.add_argument("--precisions", default="",
                        help="comma-separated training precisions to compare, e.g. fp32,tf32,bf16 ('' skips)")
    parser.add_argument("--precision-preset", default="informative-stateful", help="preset of the precision runs")
    parser.add_argument("--precision-epochs", type=int, default=10, help="epochs of each precision run")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    results: dict = {"machine": machine(args.device), "load_before": list(os.getloadavg()),
                     "settings": {"epochs": args.epochs, "duration": args.duration, "noise": args.noise, "repeats": args.repeats, "threads": args.threads,
                                  "device": args.device,
                                  "command": "python bench/run_bench.py " + " ".join(sys.argv[1:] if argv is None else argv)}}
    data = {"duration": args.duration, "noise": args.noise}
    splits = splits_for(build_config(data))  # by default 4 x 10,000 rows
    loops = {
        "stateful (defaults)": {"model": "stateful"},
        "stateful, truncation = step": {"model": "stateful", "truncation": "step"},
        "stateful, batch_size = 128": {"model": "stateful", "batch_size": 128},
        "sequence (defaults)": {"model": "sequence"},
    }
    if torch.device(args.device).type == "cuda":  # what the CUDA graphs (cuda_graph.py) are worth
        loops["stateful (defaults), cuda_graphs = false"] = {"model": "stateful", "cuda_graphs": False}
    runs: dict[str, list[dict]] = {name: [] for name in loops}
    if not args.skip_reference:
        runs = {"guide reference": [], **runs}
    for repeat in range(args.repeats):  # interleaved, so a busy spell hits every loop alike
        for name in runs:
            print(f"[{repeat + 1}/{args.repeats}] {name} ...", file=sys.stderr, flush=True)
            if name == "guide reference":
                runs[name].append(train_reference(splits["train"], splits["val"], splits["test"],
                                                  epochs=args.epochs, device=args.device))
            else:
                runs[name].append(run_ours({**data, **loops[name]}, args.epochs, splits, args.threads, args.device))
    results["throughput"] = {name: summarise(name, r) for name, r in runs.items()}
    print("floor ...", file=sys.stderr, flush=True)
    results["floor"] = summarise("floor", [lstm_floor(splits, args.device, build_config({}).hidden_size, args.repeats)])
    if not args.skip_full_bptt:
        print("full BPTT update ...", file=sys.stderr, flush=True)
        results["full_bptt"] = full_bptt_update(args.device, args.threads, args.repeats, args.duration)
    if args.precisions:
        results["precision"] = precision_runs(args.precision_preset, args.precisions.split(","),
                                              args.precision_epochs, args.device, args.threads)

    if args.preset:
        target_runs = []
        for repeat in range(args.repeats):
            print(f"[{repeat + 1}/{args.repeats}] time to target ({args.preset}) ...", file=sys.stderr, flush=True)
            target_runs.append(time_to_target(args.preset, args.threads, args.device))
        results["time_to_target"] = {"preset": args.preset, "target_mse": TARGET_MSE, "runs": target_runs,
                                     "first_optimizer_s": first_optimizer_seconds()}

    results["load_after"] = list(os.getloadavg())
    text = markdown(results)
    results["table"] = text
    atomic_write_json(Path(args.out), results)
    print(text)
    print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
