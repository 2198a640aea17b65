"""Choosing and starting a radio backend: ``--radio virtual | znp:PORT | ezsp:PORT``.

The hardware backends are zigpy ControllerApplications from zigpy-znp and
bellows with the packet server mixed in (:mod:`han_emu.radio.znp.app`,
:mod:`han_emu.radio.ezsp.app`).  This module turns command-line choices (serial
URL, baud rate, flow control, network settings) into the zigpy configuration
those libraries take, starts them, and turns whatever goes wrong while
starting into one line a user can act on (:class:`RadioError`): a wrong port,
a port another program holds, or something on the port that is not a Zigbee
NCP must not end in a traceback.
"""

from __future__ import annotations

import asyncio
import errno
import importlib
import re
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

import zigpy.config as zconf
import zigpy.exceptions

from han_emu.crypto.keys import parse_key
from han_emu.meter.clock import Clock
from han_emu.server.contract import PacketServer

VIRTUAL = "virtual"
ZNP = "znp"
EZSP = "ezsp"
KINDS = (VIRTUAL, ZNP, EZSP)

#: What each stick kind is called in messages.
NCP_NAMES = {ZNP: "Z-Stack (ZNP) coordinator", EZSP: "EmberZNet (EZSP) coordinator"}

#: The module and class holding each hardware backend.
_BACKENDS = {
    ZNP: ("han_emu.radio.znp.app", "ZnpCoordinator"),
    EZSP: ("han_emu.radio.ezsp.app", "EzspCoordinator"),
}

FLOW_CONTROLS = ("hardware", "software", "none")

#: Seconds allowed for connecting, resuming or forming a network.  Forming on
#: a real stick takes a few seconds; an NCP that has not answered by then is
#: not going to.
DEFAULT_STARTUP_TIMEOUT = 90.0

#: Seconds a single NCP request may take before the link counts as dead.
DEFAULT_REQUEST_TIMEOUT = 10.0

_SOCKET_SCHEMES = ("socket://", "tcp://", "rfc2217://")


class RadioError(Exception):
    """A radio problem, worded for the user in one line."""


@dataclass(frozen=True)
class RadioSpec:
    """Which radio, and how to reach it."""

    kind: str
    port: str | None = None
    baudrate: int | None = None
    #: "hardware", "software" or None (no flow control).
    flow_control: str | None = None

    @property
    def hardware(self) -> bool:
        return self.kind != VIRTUAL

    @property
    def networked(self) -> bool:
        """True for a TCP URL (a serial bridge or an emulated NCP): no
        bootloader pins to toggle, and "port" means host and port."""
        return bool(self.port) and self.port.lower().startswith(_SOCKET_SCHEMES)  # type: ignore[union-attr]

    def describe(self) -> str:
        if not self.hardware:
            return "the virtual radio"
        return f"{NCP_NAMES[self.kind]} at {self.port}"


def parse_radio(
    text: str, *, baudrate: int | None = None, flow_control: str | None = None
) -> RadioSpec:
    """``virtual``, ``znp:PORT`` or ``ezsp:PORT``; PORT is a device path or a
    serial URL (``socket://host:port``).  Raises ValueError with a message
    naming what is wrong."""
    text = text.strip()
    if text.lower() == VIRTUAL:
        return RadioSpec(VIRTUAL)
    kind, sep, port = text.partition(":")
    kind = kind.lower()
    if not sep or kind not in (ZNP, EZSP):
        raise ValueError(f"--radio {text!r}: expected virtual, znp:PORT or ezsp:PORT")
    if not port:
        raise ValueError(f"--radio {text!r}: the port is missing (e.g. {kind}:/dev/ttyUSB0)")
    if baudrate is not None and baudrate <= 0:
        raise ValueError(f"--baudrate {baudrate}: must be positive")
    if flow_control is not None:
        flow_control = flow_control.lower()
        if flow_control not in FLOW_CONTROLS:
            raise ValueError(f"--flow-control {flow_control!r}: expected one of {', '.join(FLOW_CONTROLS)}")
        if flow_control == "none":
            flow_control = None
    return RadioSpec(kind, port, baudrate, flow_control)


# -- network settings ------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkSettings:
    """What to form a new network with; None lets the stack choose.

    A stick that already holds a network resumes it as it is: these apply only
    when a network is formed.
    """

    channel: int | None = None
    pan_id: int | None = None
    extended_pan_id: bytes | None = None
    network_key: bytes | None = None

    def zigpy_network(self) -> dict[str, Any]:
        """The ``network`` section of a zigpy configuration."""
        out: dict[str, Any] = {}
        if self.channel is not None:
            out[zconf.CONF_NWK_CHANNEL] = self.channel
        if self.pan_id is not None:
            out[zconf.CONF_NWK_PAN_ID] = self.pan_id
        if self.extended_pan_id is not None:
            # zigpy reads an EUI-64 string: most significant byte first.
            out[zconf.CONF_NWK_EXTENDED_PAN_ID] = ":".join(f"{b:02x}" for b in self.extended_pan_id)
        if self.network_key is not None:
            out[zconf.CONF_NWK_KEY] = list(self.network_key)
        return out


def _hex(text: str, what: str, size: int) -> bytes:
    clean = re.sub(r"[\s:\-]", "", text.strip())
    if clean.lower().startswith("0x"):
        clean = clean[2:]
    try:
        raw = bytes.fromhex(clean)
    except ValueError:
        raise ValueError(f"{what} {text!r}: not hexadecimal") from None
    if len(raw) != size:
        raise ValueError(f"{what} {text!r}: expected {size} bytes, got {len(raw)}")
    return raw


def parse_channel(text: str) -> int:
    """A 2.4 GHz channel, 11 to 26."""
    try:
        value = int(text, 0)
    except ValueError:
        raise ValueError(f"--channel {text!r}: not a number") from None
    if not 11 <= value <= 26:
        raise ValueError(f"--channel {value}: 2.4 GHz channels are 11 to 26")
    return value


def parse_pan_id(text: str) -> int:
    """A PAN ID in hexadecimal (``0x1A62`` or ``1A62``), 0x0001 to 0xFFFE."""
    raw = _hex(text, "--pan-id", 2)
    value = int.from_bytes(raw, "big")
    if value in (0x0000, 0xFFFF):
        raise ValueError(f"--pan-id {text!r}: 0x0000 and 0xFFFF are reserved")
    return value


def parse_extended_pan_id(text: str) -> bytes:
    """Eight bytes in hexadecimal, most significant first (as an EUI-64 is written)."""
    raw = _hex(text, "--extended-pan-id", 8)
    if raw in (bytes(8), b"\xff" * 8):
        raise ValueError(f"--extended-pan-id {text!r}: all zeros and all ones are reserved")
    return raw


def parse_network_key(text: str) -> bytes:
    """Sixteen bytes in hexadecimal (the one key parser: :func:`han_emu.crypto.keys.parse_key`)."""
    return parse_key(text, "network key")


# -- building and starting -------------------------------------------------------------


def backend_class(kind: str) -> type:
    """The ControllerApplication class (carrying a packet server) for ``kind``."""
    try:
        module_name, name = _BACKENDS[kind]
    except KeyError:
        raise RadioError(f"no hardware backend called {kind!r}") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RadioError(f"the {kind} backend is not available: {exc}") from exc
    return getattr(module, name)


def zigpy_config(
    spec: RadioSpec,
    network: NetworkSettings | None = None,
    *,
    request_timeout: float | None = None,
) -> dict[str, Any]:
    """The zigpy configuration for ``spec``.

    zigpy's own database, network backups, topology scans and OTA are off:
    the meter keeps its state in its own store, and the stick in its NVRAM.
    """
    if not spec.hardware or spec.port is None:
        raise RadioError("the virtual radio has no zigpy serial configuration")
    device: dict[str, Any] = {zconf.CONF_DEVICE_PATH: spec.port}
    if spec.baudrate is not None:
        device[zconf.CONF_DEVICE_BAUDRATE] = spec.baudrate
    if spec.flow_control is not None:
        device[zconf.CONF_DEVICE_FLOW_CONTROL] = spec.flow_control
    config: dict[str, Any] = {
        zconf.CONF_DEVICE: device,
        zconf.CONF_NWK: (network or NetworkSettings()).zigpy_network(),
        zconf.CONF_NWK_BACKUP_ENABLED: False,
        zconf.CONF_TOPO_SCAN_ENABLED: False,
        zconf.CONF_OTA: {zconf.CONF_OTA_ENABLED: False},
    }
    module = importlib.import_module(_BACKENDS[spec.kind][0])
    timeout = DEFAULT_REQUEST_TIMEOUT if request_timeout is None else request_timeout
    config.update(module.radio_config(spec, request_timeout=timeout))
    return config


async def start_radio(
    spec: RadioSpec,
    server: PacketServer | None,
    clock: Clock | None = None,
    *,
    network: NetworkSettings | None = None,
    auto_form: bool = True,
    startup_timeout: float | None = None,
    request_timeout: float | None = None,
    on_step: Callable[[str], None] | None = None,
    addresses: Any = None,
) -> Any:
    """Connect to the stick, resume its network (or form one with
    ``network``), register the server's endpoints and start carrying it.
    ``on_step`` hears each step as it begins (see :mod:`han_emu.radio.coordinator`);
    ``addresses`` (an :class:`~han_emu.radio.addresses.AddressBook`) is the
    NWK <-> IEEE map the coordinator keeps, e.g. one saved with the meter.

    Returns the running ControllerApplication; raises :class:`RadioError`.
    """
    if startup_timeout is None:
        startup_timeout = DEFAULT_STARTUP_TIMEOUT
    if request_timeout is None:
        request_timeout = DEFAULT_REQUEST_TIMEOUT
    cls = backend_class(spec.kind)
    config = zigpy_config(spec, network, request_timeout=request_timeout)
    try:
        app = cls(config)
    except Exception as exc:  # voluptuous rejects what the CLI let through
        raise RadioError(f"{spec.describe()}: bad settings: {exc}") from exc
    if server is not None:
        app.attach_server(server, clock)
    app.on_step = on_step
    if addresses is not None:
        app.addresses = addresses
    try:
        async with asyncio.timeout(startup_timeout):
            await app.startup(auto_form=auto_form)
            if getattr(app, "needs_restart", lambda: False)():
                await app.shutdown(db=False)
                app = cls(config)
                if server is not None:
                    app.attach_server(server, clock)
                app.on_step = on_step
                if addresses is not None:
                    app.addresses = addresses
                await app.startup(auto_form=False)
    except asyncio.CancelledError:
        await _quiet_shutdown(app)
        raise
    except BaseException as exc:
        await _quiet_shutdown(app)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise RadioError(explain(exc, spec)) from exc
    return app


async def _quiet_shutdown(app: Any) -> None:
    try:
        await app.shutdown(db=False)
    except Exception:  # the link is already broken: nothing more to say
        pass


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        if isinstance(current, BaseExceptionGroup):
            seen.extend(current.exceptions)
        # Explicit causes only: an error raised while handling another is
        # about the second problem, not the first.
        current = current.__cause__
    return seen


def explain(exc: BaseException, spec: RadioSpec) -> str:
    """One line saying what went wrong with ``spec`` and what to try."""
    where = spec.describe()
    port = spec.port
    ncp = NCP_NAMES.get(spec.kind, "Zigbee coordinator")
    chain = _causes(exc)
    # zigpy words a locked port as a PermissionError: look for the EBUSY under it first.
    if any(isinstance(err, OSError) and err.errno == errno.EBUSY for err in chain):
        return f"{where}: {port} is busy, another program holds it (stop it and try again)"
    for err in chain:
        if isinstance(err, ConnectionRefusedError):
            return f"{where}: nothing is listening at {port} (connection refused)"
        if isinstance(err, FileNotFoundError):
            return f"{where}: no such port {port} (is the stick plugged in? try ls /dev/serial/by-id/)"
        if isinstance(err, PermissionError):
            return f"{where}: no permission to open {port} (add your user to the dialout group)"
        if isinstance(err, zigpy.exceptions.NetworkNotFormed):
            return f"{where}: the stick holds no network yet (run `han-emu run --radio {spec.kind}:{port}` to form one)"
        if isinstance(err, zigpy.exceptions.FormationFailure):
            return f"{where}: forming the network failed ({err})"
    for err in chain:
        if isinstance(err, TimeoutError):
            return (
                f"{where}: no {ncp} answered on {port} (check the port, --radio type, "
                "baud rate and that the stick runs coordinator firmware)"
            )
        if isinstance(err, (ConnectionError, EOFError)):
            return f"{where}: the link to {port} closed while starting ({err or type(err).__name__}); is it a {ncp}?"
        if isinstance(err, OSError):
            return f"{where}: cannot open {port}: {err.strerror or err}"
    detail = str(exc) or type(exc).__name__
    return f"{where}: {type(exc).__name__}: {detail}"
