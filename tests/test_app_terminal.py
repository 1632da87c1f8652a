"""The app as a user starts it: `freq-tui app` in a real pseudo-terminal
(Textual's real driver and event loop, which Pilot tests do not use)."""
import sys

from bench.tui_bench import TerminalApp
from lstm_core.config import build_config, save_toml


def test_app_starts_in_a_terminal_shows_the_form_and_quits(tmp_path):
    config_path = tmp_path / "tiny.toml"
    save_toml(build_config({"duration": 0.2, "fs": 100.0, "epochs": 1, "device": "cpu"}), config_path)
    app = TerminalApp(config_path, tmp_path)
    try:
        app.wait_for("Ready:", timeout=60)
        app.quit()
    finally:
        if app.proc.poll() is None:
            app.proc.kill()
    screen = app.output.decode(errors="replace")
    assert app.proc.returncode == 0, screen[-2000:]
    assert "Traceback" not in screen and "errors shown" not in screen, f"Python {sys.version}: {screen[-2000:]}"
