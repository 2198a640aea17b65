"""The ``han-emu`` command: the parser of every subcommand, and the dispatch to its handler.

Each subcommand's module registers its parser and sets ``handler``, the
function that takes the parsed arguments and returns the exit status.
"""

from __future__ import annotations

import argparse
import sys

from han_emu import __version__
from han_emu.cli.args import CommandParser
from han_emu.cli.certs import add_cbke_commands, add_cert_commands
from han_emu.cli.config import add_config_commands
from han_emu.cli.dutycycle import add_dutycycle_command
from han_emu.cli.fakencp import add_fake_ncp_command
from han_emu.cli.replay import add_replay_command
from han_emu.cli.run import add_run_command
from han_emu.cli.sniff import add_sniff_command
from han_emu.cli.state import add_state_commands
from han_emu.cli.stick import add_permit_command
from han_emu.han.config import ConfigError
from han_emu.han.store import StoreError


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="han-emu",
        description="Zigbee Smart Energy HAN emulator for GB smart metering (twin-element ESME, MP184).",
    )
    parser.add_argument("--version", action="version", version=f"han-emu {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_command(sub)
    add_permit_command(sub)
    add_fake_ncp_command(sub)
    add_config_commands(sub)
    add_cert_commands(sub)
    add_cbke_commands(sub)
    add_replay_command(sub)
    add_sniff_command(sub)
    add_state_commands(sub)
    add_dutycycle_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ConfigError, StoreError) as exc:
        print(f"han-emu: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
