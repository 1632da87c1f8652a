"""A run directory and the files in it. Every file is written atomically."""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any, Optional

from .config import RunConfig, load_config_file
from .errors import UserError
from .files import atomic_write_json, atomic_write_text

CONFIG = "config.toml"
METRICS = "metrics.jsonl"
RESULTS = "results.json"
STATUS = "status.json"
BEST = "best.pt"
LAST = "last.pt"


def _safe_name(text: str) -> str:
    """Only letters, digits, '-', '_' and '.', never a path separator."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(".-") or "run"


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._metrics: Optional[list[dict[str, Any]]] = None

    # ---- creation -----------------------------------------------------------
    @classmethod
    def create(cls, config: RunConfig, runs_root: str | Path = "runs") -> "RunDir":
        """`config.run_dir` names the directory exactly; it must not exist or
        be empty. Otherwise a new `runs_root/<timestamp>-<model>[-N]` is made;
        mkdir is atomic, so two runs started at once never share one."""
        if config.run_dir:
            path = Path(config.run_dir)
            if path.exists() and (not path.is_dir() or any(path.iterdir())):
                raise UserError(str(path), "run directory already exists and is not empty (choose a new --run-dir)")
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(str(path), f"cannot create run directory ({exc.strerror})") from None
            return cls(path)
        root = Path(runs_root)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(str(root), f"cannot create runs directory ({exc.strerror})") from None
        stem = _safe_name(f"{time.strftime('%Y%m%d-%H%M%S')}-{config.model}")
        for n in range(1, 10_000):
            path = root / (stem if n == 1 else f"{stem}-{n}")
            try:
                path.mkdir()
                return cls(path)
            except FileExistsError:
                continue
            except OSError as exc:
                raise UserError(str(path), f"cannot create run directory ({exc.strerror})") from None
        raise UserError(str(root), "too many runs with the same timestamp")

    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        path = Path(path)
        if not path.is_dir():
            raise UserError(str(path), "run directory not found")
        if not (path / CONFIG).is_file():
            raise UserError(str(path), f"not a freq-lstm run directory (no {CONFIG})")
        return cls(path)

    # ---- files ----------------------------------------------------------------
    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def best_checkpoint(self) -> Path:
        return self.path / BEST

    @property
    def last_checkpoint(self) -> Path:
        return self.path / LAST

    def write_config(self, config: RunConfig) -> None:
        atomic_write_text(self.path / CONFIG, config.to_toml())

    def read_config(self) -> RunConfig:
        return load_config_file(self.path / CONFIG)

    def read_metrics(self) -> list[dict[str, Any]]:
        """One dict per epoch. Tolerates a missing file and skips a line that
        is not JSON (a file being followed while another process writes)."""
        records = []
        try:
            text = (self.path / METRICS).read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        for line in text.splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def append_metrics(self, record: dict[str, Any]) -> None:
        # Rewritten whole and atomically: a kill never leaves half a line.
        if self._metrics is None:
            self._metrics = self.read_metrics()
        self._metrics.append(record)
        atomic_write_text(self.path / METRICS, "".join(json.dumps(r) + "\n" for r in self._metrics))

    def truncate_metrics(self, last_epoch: int) -> None:
        """Keep the records up to `last_epoch` (used when resuming)."""
        self._metrics = [r for r in self.read_metrics() if r.get("epoch", 0) <= last_epoch]
        atomic_write_text(self.path / METRICS, "".join(json.dumps(r) + "\n" for r in self._metrics))

    def write_status(self, status: str, **extra: Any) -> None:
        record = {**self.read_status(), **extra, "status": status, "updated": time.time(), "pid": os.getpid()}
        atomic_write_json(self.path / STATUS, record)

    def read_status(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / STATUS).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def write_results(self, results: dict[str, Any]) -> None:
        atomic_write_json(self.path / RESULTS, results)

    def read_results(self) -> Optional[dict[str, Any]]:
        try:
            return json.loads((self.path / RESULTS).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
