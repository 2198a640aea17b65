"""The command line's shared argument parsers: each kind of option value is read here once.

Every parser is an argparse ``type=``: it returns the value or raises
:class:`argparse.ArgumentTypeError`, whose message argparse prints after the
option's name.  Rules that belong to a lower layer are checked there and only
worded here: a 16-byte key by :func:`han_emu.crypto.keys.parse_key`, an
install code by zigpy.  A radio's channel, PAN ids and network key are read by
:mod:`han_emu.radio.backend` as a command starts.

Files are checked once the whole command line is read, before any work
starts (:func:`check_files`): every file a command reads exists, every file
it writes can be written, and no capture or key log is overwritten unless
``--force`` says so.  :class:`OptionError` carries what is wrong in one line.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from han_emu.crypto.keys import DEFAULT_TC_LINK_KEY, KeyTextError, parse_key
from han_emu.frames.zep import ZEP_PORT
from han_emu.meter.clock import parse_duration

MAX_SPEED = 3600
"""The fastest virtual time or replay runs against the wall clock (seconds per second)."""

EXIT_INTERRUPTED = 130
"""Ctrl-C: 128 + SIGINT, as a shell reports a command the signal stopped.  A
command stopped by Ctrl-C still says what it had done so far."""

LISTEN_ANY = "0.0.0.0"
_EUI64_EXAMPLE = "00:0d:6f:00:0a:bc:de:f1"


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line: what is wrong, and where help is.

    Every ``han-emu`` subcommand parser is one (subparsers take their parent's
    class).  Arguments nobody knows are blamed on the innermost subcommand that
    was given them, so the hint names its help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                          help="on an unexpected error, show its traceback")

    def error(self, message: str) -> NoReturn:
        _usage_error(self.prog, message)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        namespace, extras = super().parse_known_args(args, namespace)
        if extras and not hasattr(namespace, _LEFT_OVER_BY):  # a subcommand's parser runs first
            setattr(namespace, _LEFT_OVER_BY, self.prog)
        if not hasattr(namespace, _PROG):
            setattr(namespace, _PROG, self.prog)
        return namespace, extras

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        namespace, extras = self.parse_known_args(args, namespace)
        prog = vars(namespace).pop(_LEFT_OVER_BY, self.prog)
        if extras:
            _usage_error(prog, f"unrecognized arguments: {' '.join(extras)}")
        return namespace


_LEFT_OVER_BY = "_han_emu_unrecognized_by"
_PROG = "_han_emu_prog"


class OptionError(Exception):
    """Options that cannot be honoured as given, found once the command line is
    read: options that contradict or would be ignored, a file that cannot be
    read or written.  The dispatcher prints it as one line (exit status 2)."""


def command_prog(args: argparse.Namespace | None) -> str:
    """The name of the (innermost) command ``args`` were parsed for, e.g. ``han-emu run``."""
    return getattr(args, _PROG, "han-emu")


def debugging(args: argparse.Namespace | None) -> bool:
    """``--debug`` was given (anywhere on the command line)."""
    return bool(getattr(args, "debug", False))


def _usage_error(prog: str, message: str) -> NoReturn:
    sys.stderr.write(f"{prog}: error: {message} (see '{prog} --help')\n")
    raise SystemExit(2)


def _fail(message: str) -> NoReturn:
    raise argparse.ArgumentTypeError(message)


# -- time -------------------------------------------------------------------------------------


def duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``15m``, ``24h`` or ``3d``; more than zero
    (:func:`~han_emu.meter.clock.parse_duration`, which the configuration uses too)."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        _fail(str(exc))


def speed(text: str) -> float:
    """A factor of virtual (or capture) time over wall time, 1 to :data:`MAX_SPEED`."""
    return _speed(text, "")


def speed_or_max(text: str) -> float | None:
    """:func:`speed`, or ``max`` (as fast as possible: None)."""
    return None if text.strip().lower() == "max" else _speed(text, ", or max")


def _speed(text: str, alternatives: str) -> float:
    try:
        value = float(text)
    except ValueError:
        _fail(f"not a speed: {text!r} (a factor from 1 to {MAX_SPEED}{alternatives})")
    if not 1 <= value <= MAX_SPEED:
        _fail(f"{text!r}: must be between 1 and {MAX_SPEED}{alternatives}")
    return value


def permit_seconds(text: str) -> int:
    """How long a network stays open to joining: 1 to 254 whole seconds (the Zigbee limit)."""
    try:
        value = int(text)
    except ValueError:
        _fail(f"not a whole number of seconds: {text!r}")
    if not 1 <= value <= 254:
        _fail(f"{value}: joining can be open 1 to 254 seconds at a time")
    return value


# -- network addresses --------------------------------------------------------------------------


def host_port(text: str, *, default_host: str | None = None, default_port: int | None = None,
              zero_port: bool = True) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` as (host, port).

    With ``default_port`` the port may be left out (bare text is a host); with
    ``default_host`` the host may (bare text is a port).  ``zero_port`` allows
    port 0 (a listener's "pick a free one")."""
    clean = text.strip()
    if clean.startswith("["):
        host, sep, rest = clean[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            _fail(f"{text!r}: an IPv6 address is written [ADDRESS]:PORT")
        port_text = rest[1:]
    elif ":" in clean:
        host, _, port_text = clean.rpartition(":")
    elif default_port is not None:
        host, port_text = clean, ""
    elif default_host is not None:
        host, port_text = "", clean
    else:
        _fail(f"{text!r}: expected HOST:PORT, e.g. 127.0.0.1:8765")
    host = host or default_host or ""
    if not host:
        _fail(f"{text!r}: no host")
    if port_text:
        try:
            port = int(port_text)
        except ValueError:
            _fail(f"{text!r}: port {port_text!r} is not a number")
    elif default_port is not None:
        port = default_port
    else:
        _fail(f"{text!r}: no port")
    low = 0 if zero_port else 1
    if not low <= port <= 65535:
        _fail(f"{text!r}: port {port} is out of range {low}-65535")
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            _fail(f"{text!r}: {host!r} is not an IPv6 address")
    return host, port


def zep_address(text: str) -> tuple[str, int]:
    """Where to send ZEP: ``HOST[:PORT]``, the port defaulting to ZEP's 17754."""
    return host_port(text, default_port=ZEP_PORT, zero_port=False)


def listen_address(text: str) -> tuple[str, int]:
    """Where to listen: ``[HOST:]PORT``, every interface unless a host is given."""
    return host_port(text, default_host=LISTEN_ANY)


def endpoint(text: str) -> tuple[str, int]:
    """``HOST:PORT``, both given (port 0 picks a free port)."""
    return host_port(text)


# -- keys and devices ----------------------------------------------------------------------------


def key(text: str) -> bytes:
    """A 16-byte Zigbee key in hex."""
    try:
        return parse_key(text)
    except KeyTextError as exc:
        _fail(str(exc))


def _eui64_and_hex(text: str, what: str, example: str) -> tuple[str, str]:
    """``EUI64:HEX`` as (the EUI-64 written canonically, the hex text after it)."""
    import zigpy.types as zt

    ieee, sep, value = text.rpartition(":")
    try:
        if not sep or not ieee:
            raise ValueError
        eui = zt.EUI64.convert(ieee)
    except (ValueError, AssertionError):  # zigpy asserts the length
        _fail(f"{text!r}: expected EUI64:{what}, e.g. {_EUI64_EXAMPLE}:{example}")
    return str(eui), value


def eui64_key(text: str) -> tuple[str, bytes]:
    """``EUI64:KEY``: a device and its pre-configured 16-byte link key."""
    ieee, value = _eui64_and_hex(text, "KEY", DEFAULT_TC_LINK_KEY.hex().upper())
    try:
        return ieee, parse_key(value, "link key")
    except KeyTextError as exc:
        _fail(str(exc))


def install_code(text: str) -> tuple[str, bytes]:
    """``EUI64:CODE``: a device and its install code, length and CRC checked."""
    import zigpy.util

    ieee, value = _eui64_and_hex(text, "CODE", "83FED3407A939723A5C639B26916D505C3B5")
    try:
        code = bytes.fromhex(value.replace("-", "").replace(" ", ""))
        zigpy.util.convert_install_code(code)
    except ValueError as exc:
        _fail(f"{text!r}: {exc}")
    return ieee, code


def warn(line: str) -> None:
    """One warning line on stderr, as every command words them."""
    print(f"han-emu: warning: {line}", file=sys.stderr, flush=True)


def inform(line: str) -> None:
    """One line on stderr saying what a command did on its own (not a warning)."""
    print(f"han-emu: {line}", file=sys.stderr, flush=True)


# -- files ------------------------------------------------------------------------------------------
#
# A subcommand declares the files it reads and writes with add_input and
# add_output; check_files checks them all before the command's handler runs.

_FILES = "_han_emu_files"
READ = "read"
"""An input: it must exist and be a readable file (a named pipe will do)."""
REPLACE = "replace"
"""An output written whole (JSON, a table, a chart): replaced if it exists."""
KEEP = "keep"
"""A capture or key log: an existing one is kept unless ``--force`` is given."""
UPDATE = "update"
"""A file read if it exists and written back (an emulator's non-volatile memory)."""


@dataclass(frozen=True)
class FileOption:
    """An option (or positional argument) that names a file, and what the command does with it."""

    dest: str
    name: str
    """The option as the user writes it; empty for a positional argument."""
    use: str
    """:data:`READ`, :data:`REPLACE`, :data:`KEEP` or :data:`UPDATE`."""
    metavar: str = "FILE"


def add_input(parser: argparse.ArgumentParser, *flags: str, **kwargs: Any) -> argparse.Action:
    """``parser.add_argument`` for a file the command reads, checked by :func:`check_files`."""
    return _add_file(parser, READ, flags, kwargs)


def add_output(parser: argparse.ArgumentParser, *flags: str, use: str = REPLACE, **kwargs: Any) -> argparse.Action:
    """``parser.add_argument`` for a file the command writes, checked by :func:`check_files`.

    ``use=KEEP`` (a capture, a key log) also gives the parser ``--force``."""
    if use == KEEP and not any(f.use == KEEP for f in parser.get_default(_FILES) or ()):
        parser.add_argument("--force", action="store_true", help="overwrite an existing capture or key log")
    return _add_file(parser, use, flags, kwargs)


def _add_file(parser: argparse.ArgumentParser, use: str, flags: tuple[str, ...], kwargs: dict[str, Any]
              ) -> argparse.Action:
    action = parser.add_argument(*flags, **kwargs)
    name = action.option_strings[0] if action.option_strings else ""
    files = parser.get_default(_FILES) or ()
    option = FileOption(action.dest, name, use, str(action.metavar or action.dest.upper()))
    parser.set_defaults(**{_FILES: (*files, option)})
    return action


def _named(name: str, text: str | os.PathLike[str]) -> str:
    """A file as the user gave it: ``--pcap x.pcap``, or just ``x.pcap`` for an argument."""
    return f"{name} {text}" if name else str(text)


def check_files(args: argparse.Namespace) -> None:
    """Check every file the parsed command reads or writes; OptionError names the first problem.

    Runs before the command starts, so a file that cannot be written is not
    found out after an hour's work."""
    force = bool(getattr(args, "force", False))
    named: dict[str, FileOption] = {}
    for option in getattr(args, _FILES, ()):
        value = getattr(args, option.dest, None)
        if value is None:
            continue
        if option.use == READ:
            check_input(value, option.name)
        else:
            check_output(value, option.name, use=option.use, force=force)
        if os.path.exists(value) and not os.path.isfile(value):
            continue  # /dev/null, a named pipe: nothing there to overwrite
        real = os.path.realpath(value)
        other = named.get(real)
        if other is None or READ == other.use == option.use:
            named.setdefault(real, option)
            continue
        if READ in (other.use, option.use):
            writer, reader = (option, other) if other.use == READ else (other, option)
            raise OptionError(f"{_named(writer.name, value)}: cannot write: it is the {reader.name or reader.metavar} "
                              "being read")
        raise OptionError(f"{other.name or other.metavar} and {option.name or option.metavar} both name {value}")


def check_input(text: str, name: str) -> None:
    """``text`` names a file that can be read (OptionError otherwise)."""
    path = Path(text)
    if not text:
        raise OptionError(f"{name or 'FILE'}: no file name given")
    if not path.exists():
        raise OptionError(f"{_named(name, text)}: no such file")
    if path.is_dir():
        raise OptionError(f"{_named(name, text)}: is a directory, not a file")
    if not os.access(path, os.R_OK):
        raise OptionError(f"{_named(name, text)}: cannot be read (permission denied)")


def check_output(text: str | os.PathLike[str], name: str, *, use: str = REPLACE, force: bool = False) -> None:
    """``text`` names a file that can be written (OptionError otherwise).

    A :data:`KEEP` file (a capture, a key log) that exists with something in
    it is refused unless ``force``; an :data:`UPDATE` file must also be readable."""
    verb = "record" if use == KEEP else "write"
    path = Path(text)

    def fail(reason: str) -> NoReturn:
        raise OptionError(f"{_named(name, text)}: cannot {verb}: {reason}")

    if not str(text):
        raise OptionError(f"{name or 'FILE'}: no file name given")
    if path.is_dir():
        fail("it is a directory")
    if path.exists():
        if use == KEEP and not force and path.is_file() and path.stat().st_size > 0:
            fail("the file exists (--force overwrites it)")
        if not os.access(path, os.W_OK) or (use == UPDATE and not os.access(path, os.R_OK)):
            fail("permission denied")
        return
    parent = path.parent
    if not parent.exists():
        fail(f"no directory {parent}")
    if not parent.is_dir():
        fail(f"{parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        fail(f"cannot create files in {parent} (permission denied)")
