"""The ``han-emu`` command: the parser of every subcommand, and the dispatch to its handler.

Each subcommand's module registers its parser and sets ``handler``, the
function that takes the parsed arguments and returns the exit status.

:func:`main` is the last line of defence: whatever a handler lets through
ends in one line on stderr, never a traceback (unless ``--debug``), and
Ctrl-C in exit status 130.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from han_emu import __version__
from han_emu.cli.args import EXIT_INTERRUPTED, CommandParser, OptionError, check_files, command_prog, debugging
from han_emu.cli.certs import add_cbke_commands, add_cert_commands
from han_emu.cli.config import add_config_commands
from han_emu.cli.conform import add_conform_command
from han_emu.cli.doctor import add_doctor_command
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
    add_doctor_command(sub)
    add_fake_ncp_command(sub)
    add_config_commands(sub)
    add_cert_commands(sub)
    add_cbke_commands(sub)
    add_replay_command(sub)
    add_sniff_command(sub)
    add_state_commands(sub)
    add_dutycycle_command(sub)
    add_conform_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args: argparse.Namespace | None = None
    try:
        args = build_parser().parse_args(argv)
        check_files(args)
        return args.handler(args)
    except OptionError as exc:
        print(f"{command_prog(args)}: {exc}", file=sys.stderr)
        return 2
    except (ConfigError, StoreError) as exc:
        print(f"han-emu: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{command_prog(args)}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say to it
        _silence_stdout()
        return 0
    except Exception as exc:
        if debugging(args):
            raise
        print(f"{command_prog(args)}: {_one_line(exc)}", file=sys.stderr)
        return 1


def _one_line(exc: Exception) -> str:
    """An unexpected error in one line: a file problem as the file and what went wrong, anything else
    as an internal error, with the way to see its traceback."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    text = " ".join(str(exc).split()) or "(no message)"
    return f"internal error: {type(exc).__name__}: {text} (run with --debug for the traceback)"


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush does not complain about the pipe."""
    with contextlib.suppress(OSError, ValueError):  # no stdout left to point anywhere: nothing to do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
