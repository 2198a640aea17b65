"""``han-emu config example``, ``han-emu config check FILE`` and ``han-emu config clusters [FILE]``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from han_emu.han.config import example_text, load
from han_emu.server.catalogue import as_json, entries, full_server, markdown


def add_config_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``config example`` and ``config check FILE``."""
    cfg = subparsers.add_parser("config", help="print the example configuration or check a file")
    actions = cfg.add_subparsers(dest="action", required=True)
    example = actions.add_parser("example", help="print the commented example configuration")
    example.set_defaults(handler=cmd_config_example)
    check = actions.add_parser("check", help="check a configuration file")
    check.add_argument("file")
    check.set_defaults(handler=cmd_config_check)
    clusters = actions.add_parser(
        "clusters", help="list every cluster, attribute and command the ESIs serve, with its source",
        description="List every cluster, attribute and command the twin ESME's ESIs serve with this "
                    "configuration (its endpoints and manufacturer codes), each with its source: "
                    "ZCL, ZSE, GBCS, MP184 or provisional. Key Establishment and Sub-GHz are listed "
                    "although a run serves them only with CBKE and on a sub-GHz PHY.")
    clusters.add_argument("file", nargs="?", help="configuration file (default: the built-in defaults)")
    clusters.add_argument("--format", choices=("markdown", "json"), default="markdown",
                          help="a Markdown table per endpoint (default), or JSON rows")
    clusters.set_defaults(handler=cmd_config_clusters)
    return cfg


def cmd_config_example(args: argparse.Namespace) -> int:
    sys.stdout.write(example_text())
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    """0 when the file loads; a bad file raises ConfigError, which the dispatcher reports (status 2)."""
    load(args.file)
    print(f"{args.file}: OK")
    return 0


def cmd_config_clusters(args: argparse.Namespace) -> int:
    config = load(args.file)
    rows = entries(full_server(config.meter, config.endpoints))
    if args.format == "json":
        json.dump(as_json(rows), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(markdown(rows))
    return 0
