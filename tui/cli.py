"""The `freq-tui` console script: the core's headless commands (`api.main`)
plus `app`, which is also what no command at all opens."""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from lstm_core import api


def add_app_command(subparsers) -> None:
    app = subparsers.add_parser("app", help="open the terminal app (the default with no command)")
    app.add_argument("--config", metavar="FILE", help="TOML config to start the form with")
    app.set_defaults(handler=cmd_app)


def cmd_app(args: argparse.Namespace) -> int:
    from .app import run_app  # Textual is imported only when the app opens

    return run_app(config_path=args.config)


def main(argv: Optional[Sequence[str]] = None) -> int:
    process = argv is None  # the console script: the process ends after this
    argv = list(sys.argv[1:] if argv is None else argv)
    return api.main(argv or ["app"], add_commands=add_app_command, process=process)
