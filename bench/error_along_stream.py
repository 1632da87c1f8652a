"""Where along the stream a model's error is, frequency by frequency.

A run whose training loss stays above the curriculum's threshold usually
has one frequency whose oscillation dies (or runs away) some way into the
stream: this shows where. It reads a checkpoint (a run directory's
last.pt unless --checkpoint best.pt) and the run's validation set (another
noise seed with --seed), and prints the MSE of each frequency in windows
along the stream and the output's peak in each second of it. The test set
is not read unless asked for by its seed.

  python bench/error_along_stream.py RUN_DIR [--checkpoint best.pt] [--seed N] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lstm_core.errors import UserError  # noqa: E402

WINDOWS = 10  # equal windows along the stream


def along_stream(targets: np.ndarray, output: np.ndarray, fs: float, windows: int = WINDOWS) -> dict:
    """targets and output (K, N): per frequency the MSE in `windows` equal
    windows along the stream, and the largest |output| in each second."""
    n = targets.shape[1]
    edges = np.linspace(0, n, windows + 1).round().astype(int)
    error = (output - targets) ** 2
    second = max(1, int(round(fs)))
    return {
        "window_starts": edges[:-1].tolist(),
        "mse": [[float(row[a:b].mean()) for a, b in zip(edges[:-1], edges[1:])] for row in error],
        "peak_per_second": [[float(np.abs(row[a:a + second]).max()) for a in range(0, n, second)] for row in output],
    }


def measure(run_dir: Path, checkpoint: str, seed: Optional[int]) -> dict:
    import torch

    from lstm_core.checkpoint import model_from_checkpoint
    from lstm_core.data import generate_for
    from lstm_core.evaluation import predict_signal

    model, config, payload = model_from_checkpoint(run_dir / checkpoint)
    seed = config.val_seed if seed is None else seed
    signal = generate_for(config, seed)  # from the checkpoint's own config: its frequencies are the model's
    output = predict_signal(model, config, signal, torch.device("cpu"))
    measured = along_stream(signal.targets, output, config.fs)
    return {"run": str(run_dir), "checkpoint": checkpoint, "epoch": payload["epoch"], "seed": seed,
            "frequencies": signal.frequencies.tolist(), **measured}


def table(measured: dict) -> str:
    starts = measured["window_starts"]
    lines = [f"{measured['run']} {measured['checkpoint']} (epoch {measured['epoch']}), noise seed {measured['seed']}",
             "MSE in each window, from step:",
             " " * 9 + " ".join(f"{s:>6}" for s in starts)]
    for hz, row in zip(measured["frequencies"], measured["mse"]):
        lines.append(f"{hz:>5g} Hz  " + " ".join(f"{v:6.3f}" for v in row))
    lines.append("peak |output| in each second:")
    for hz, row in zip(measured["frequencies"], measured["peak_per_second"]):
        lines.append(f"{hz:>5g} Hz  " + " ".join(f"{v:.2f}" for v in row))
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--checkpoint", default="last.pt", choices=("last.pt", "best.pt"))
    parser.add_argument("--seed", type=int, help="noise seed of the data (default: the run's validation seed)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    try:
        measured = measure(args.run_dir, args.checkpoint, args.seed)
    except UserError as error:
        print(f"error_along_stream: error: {error}", file=sys.stderr)
        return error.exit_code
    print(table(measured))
    if args.json:
        args.json.write_text(json.dumps(measured, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
