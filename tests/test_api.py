"""The app reaches the core through lstm_core.api and the value types only,
and opening it loads no torch."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lstm_core import api
from lstm_core.config import build_config
from lstm_core.status import RunStatus

ROOT = Path(__file__).resolve().parents[1]
# What tui/ may import from the core: the API and the value-type modules.
ALLOWED_CORE = {"lstm_core.api", "lstm_core.config", "lstm_core.events", "lstm_core.results", "lstm_core.errors",
                "lstm_core.status", "lstm_core.formatting"}
FORBIDDEN = {"torch", "matplotlib"}
TINY = {"duration": 0.2, "fs": 100.0, "epochs": 2, "hidden_size": 8, "device": "cpu"}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, at any depth (a function's too);
    `from lstm_core import api` counts as lstm_core.api."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "lstm_core":
                found += [(node.lineno, f"lstm_core.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def test_tui_imports_only_the_api_and_value_types():
    files = sorted((ROOT / "tui").rglob("*.py"))
    assert len(files) > 10
    wrong = []
    for path in files:
        for line, module in imported_modules(path):
            top = module.split(".")[0]
            if (top == "lstm_core" and module not in ALLOWED_CORE) or top in FORBIDDEN or module in FORBIDDEN:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {module}")
    assert wrong == []


def test_the_import_check_sees_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from lstm_core.trainer import StopFlag\n    import torch\nfrom lstm_core import cli\n")
    assert sorted(m for _, m in imported_modules(bad)) == ["lstm_core.cli", "lstm_core.trainer", "torch"]


@pytest.mark.parametrize("module", ["tui.app", "tui.cli", "lstm_core.api"])
def test_opening_the_app_loads_no_torch(module):
    code = f"import sys, {module}; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_start_run_without_evaluation_trains_only(tmp_path):
    events = []
    outcome = api.start_run(build_config(TINY), runs_root=tmp_path, on_event=events.append, evaluate=False)
    assert outcome.training.epochs_run == 2 and outcome.results is None and outcome.evaluation is None
    assert any(isinstance(e, api.EpochEnd) for e in events)
    files = {p.name for p in outcome.run_dir.path.iterdir()}
    assert {"config.toml", "metrics.jsonl", "best.pt", "last.pt", "status.json"} <= files
    assert not files & {"results.json", "report.md", "report.html"}
    assert outcome.run_dir.read_status()["status"] == outcome.training.status == RunStatus.FINISHED
    assert outcome.run_dir.read_status().get("test_mse") is None


def test_start_run_carries_its_evaluation(tmp_path):
    outcome = api.start_run(build_config(TINY), runs_root=tmp_path)
    evaluated = outcome.evaluated
    assert evaluated is not None and evaluated.results is outcome.results
    assert evaluated.evaluation.scores == outcome.results.scores
    assert api.preview(outcome.run_dir).output.shape[0] == 4
    records, ended = api.follow_run(outcome.run_dir.path).poll()
    assert records == list(outcome.training.history) and ended.training.status == RunStatus.FINISHED
    assert [r.path for r in api.list_runs(tmp_path)] == [outcome.run_dir.path]
