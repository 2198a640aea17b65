"""The ``han-emu`` command: the parser of every subcommand, and the dispatch to its handler.

Each subcommand's module registers its parser and sets ``handler``, the
function that takes the parsed arguments and returns the exit status.  A
command line that names its subcommand first imports that subcommand's module
only (:data:`COMMANDS`), so ``han-emu replay`` does not wait for the modules
of the others.

:func:`main` is the last line of defence: whatever a handler lets through
ends in one line on stderr, never a traceback (unless ``--debug``), and
Ctrl-C in exit status 130.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys

from han_emu import __version__
from han_emu.cli.args import EXIT_INTERRUPTED, CommandParser, OptionError, check_files, command_prog, debugging

#: Each subcommand, the module that registers it and the function that does, in ``--help`` order.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("run", "han_emu.cli.run", "add_run_command"),
    ("permit", "han_emu.cli.stick", "add_permit_command"),
    ("doctor", "han_emu.cli.doctor", "add_doctor_command"),
    ("fake-ncp", "han_emu.cli.fakencp", "add_fake_ncp_command"),
    ("config", "han_emu.cli.config", "add_config_commands"),
    ("cert", "han_emu.cli.certs", "add_cert_commands"),
    ("cbke", "han_emu.cli.certs", "add_cbke_commands"),
    ("replay", "han_emu.cli.replay", "add_replay_command"),
    ("sniff", "han_emu.cli.sniff", "add_sniff_command"),
    ("state", "han_emu.cli.state", "add_state_commands"),
    ("dutycycle", "han_emu.cli.dutycycle", "add_dutycycle_command"),
    ("conform", "han_emu.cli.conform", "add_conform_command"),
)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand; given ``command``, of that one alone (its
    parser is the same: the parse of a command line that names it first is too)."""
    parser = CommandParser(
        prog="han-emu",
        description="Zigbee Smart Energy HAN emulator for GB smart metering (twin-element ESME, MP184).",
    )
    parser.add_argument("--version", action="version", version=f"han-emu {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module, adder in COMMANDS:
        if command is None or name == command:
            getattr(importlib.import_module(module), adder)(sub)
    return parser


def _named_command(argv: list[str] | None) -> str | None:
    """The subcommand a command line starts with, if it does."""
    first = (sys.argv[1:] if argv is None else argv)[:1]
    return first[0] if first and any(first[0] == name for name, _, _ in COMMANDS) else None


def main(argv: list[str] | None = None) -> int:
    args: argparse.Namespace | None = None
    try:
        args = build_parser(_named_command(argv)).parse_args(argv)
        check_files(args)
        return args.handler(args)
    except OptionError as exc:
        print(f"{command_prog(args)}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{command_prog(args)}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say to it
        _silence_stdout()
        return 0
    except Exception as exc:
        if _config_or_store_error(exc):
            print(f"han-emu: {exc}", file=sys.stderr)
            return 2
        if debugging(args):
            raise
        print(f"{command_prog(args)}: {_one_line(exc)}", file=sys.stderr)
        return 1


def _config_or_store_error(exc: Exception) -> bool:
    """Whether ``exc`` is a bad config file or state store (said as it is, exit 2).
    Their modules are not imported for this: one that raised is loaded."""
    config, store = sys.modules.get("han_emu.han.config"), sys.modules.get("han_emu.han.statefile")
    return ((config is not None and isinstance(exc, config.ConfigError))
            or (store is not None and isinstance(exc, store.StoreError)))


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
