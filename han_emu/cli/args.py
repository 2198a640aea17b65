"""The command line's shared argument parsers: each kind of option value is read here once.

Every parser is an argparse ``type=``: it returns the value or raises
:class:`argparse.ArgumentTypeError`, whose message argparse prints after the
option's name.  Rules that belong to a lower layer are checked there and only
worded here: a 16-byte key by :func:`han_emu.crypto.keys.parse_key`, an
install code by zigpy.  A radio's channel, PAN ids and network key are read by
:mod:`han_emu.radio.backend` when a stick is started (they mean nothing to the
virtual radio).
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import sys
from typing import Any, NoReturn

from han_emu.crypto.keys import DEFAULT_TC_LINK_KEY, KeyTextError, parse_key
from han_emu.frames.zep import ZEP_PORT

MAX_SPEED = 3600
"""The fastest virtual time or replay runs against the wall clock (seconds per second)."""

LISTEN_ANY = "0.0.0.0"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EUI64_EXAMPLE = "00:0d:6f:00:0a:bc:de:f1"


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line: what is wrong, and where help is.

    Every ``han-emu`` subcommand parser is one (subparsers take their parent's
    class).  Arguments nobody knows are blamed on the innermost subcommand that
    was given them, so the hint names its help."""

    def error(self, message: str) -> NoReturn:
        _usage_error(self.prog, message)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        namespace, extras = super().parse_known_args(args, namespace)
        if extras and not hasattr(namespace, _LEFT_OVER_BY):  # a subcommand's parser runs first
            setattr(namespace, _LEFT_OVER_BY, self.prog)
        return namespace, extras

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        namespace, extras = self.parse_known_args(args, namespace)
        prog = vars(namespace).pop(_LEFT_OVER_BY, self.prog)
        if extras:
            _usage_error(prog, f"unrecognized arguments: {' '.join(extras)}")
        return namespace


_LEFT_OVER_BY = "_han_emu_unrecognized_by"


def _usage_error(prog: str, message: str) -> NoReturn:
    sys.stderr.write(f"{prog}: error: {message} (see '{prog} --help')\n")
    raise SystemExit(2)


def _fail(message: str) -> NoReturn:
    raise argparse.ArgumentTypeError(message)


# -- time -------------------------------------------------------------------------------------


def duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``15m``, ``24h`` or ``3d``; more than zero."""
    clean = text.strip().lower()
    scale = _UNITS.get(clean[-1:])
    try:
        value = float(clean[:-1] if scale else clean) * (scale or 1)
    except ValueError:
        _fail(f"not a duration: {text!r} (try 90, 90s, 15m, 24h or 3d)")
    if not 0 < value < math.inf:
        _fail(f"{text!r}: a duration must be more than zero (and finite)")
    return value


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
