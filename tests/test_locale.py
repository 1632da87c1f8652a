"""A terminal that cannot show UTF-8 gets one line with the fix (exit 2)
before Textual starts, instead of boxes and charts drawn as garbage."""
import io
import os
import subprocess
import sys
from pathlib import Path

from tui.locale_check import utf8_problem

ROOT = Path(__file__).resolve().parents[1]


def test_a_non_utf8_output_is_refused_with_the_fix():
    latin = io.TextIOWrapper(io.BytesIO(), encoding="latin-1")
    assert "LANG=C.UTF-8" in utf8_problem({}, latin)
    assert utf8_problem({}, io.TextIOWrapper(io.BytesIO(), encoding="utf-8")) is None


def test_a_tmux_client_without_utf8_is_refused_with_the_fix(tmp_path):
    """tmux answers #{client_utf8} with 0 for a client attached under a
    non-UTF-8 locale (it then draws boxes as q x l k)."""
    fake = tmp_path / "tmux"
    fake.write_text("#!/bin/sh\necho \"$TMUX_ANSWER\"\n")
    fake.chmod(0o755)
    utf8 = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    env = {"TMUX": "/tmp/tmux-0/default,1,0", "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    old = dict(os.environ)
    try:
        os.environ.update(env, TMUX_ANSWER="0")
        assert "tmux -u attach" in utf8_problem(env, utf8)
        os.environ["TMUX_ANSWER"] = "1"
        assert utf8_problem(env, utf8) is None
    finally:
        os.environ.clear()
        os.environ.update(old)


def test_the_app_says_so_and_exits_2_before_drawing():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "latin-1"}
    env.pop("TMUX", None)
    proc = subprocess.run([sys.executable, "-m", "tui", "app"], env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert proc.stderr.startswith("freq-tui: error: the terminal output is ") and "not UTF-8" in proc.stderr
    assert "LANG=C.UTF-8" in proc.stderr and "\x1b[" not in proc.stdout + proc.stderr
