"""``han-emu config example`` and ``han-emu config check FILE``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from han_emu.han.config import example_text, load


def add_config_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``config example`` and ``config check FILE``."""
    cfg = subparsers.add_parser("config", help="print the example configuration or check a file")
    actions = cfg.add_subparsers(dest="action", required=True)
    example = actions.add_parser("example", help="print the commented example configuration")
    example.set_defaults(handler=cmd_config_example)
    check = actions.add_parser("check", help="check a configuration file")
    check.add_argument("file")
    check.set_defaults(handler=cmd_config_check)
    return cfg


def cmd_config_example(args: argparse.Namespace) -> int:
    sys.stdout.write(example_text())
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    """0 when the file loads; a bad file raises ConfigError, which the dispatcher reports (status 2)."""
    load(args.file)
    print(f"{args.file}: OK")
    return 0
