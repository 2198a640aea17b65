"""The EZSP command interpreter every emulated protocol version shares.

An NCP class is fed whole EZSP frames (:meth:`EzspNcpBase.handle_frame`) and
hands frames for the host to ``emit``; the TCP server puts ASH under it.
Requests are parsed, and responses and callbacks built, with the command
schemas of the class's protocol version (``COMMANDS``, bellows' own), so the
bytes are exactly what bellows (and a real stick) exchange.  A frame named
``foo`` is answered by the method ``cmd_foo``; the frame sections of UG100 are
mixins over this base, composed per protocol version (see :mod:`.v13`).

Host-visible behaviour follows UG100: the legacy ``version`` handshake,
``invalidCommand`` for frames the firmware does not know, callbacks following
the response of the command that caused them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import bellows.types as bt

from han_emu.radio.fakencp.ezsp.cbke_library import NcpCbkeLibrary
from han_emu.radio.fakencp.ezsp.frame import (
    VERSION_FRAME_ID,
    Command,
    FrameError,
    build_callback,
    build_response,
    parse_command,
)
from han_emu.radio.fakencp.ezsp.state import DutyCycle, Endpoint, Ram, Tokens

if TYPE_CHECKING:
    from han_emu.radio.fakencp.ezsp.ncp.messaging_frames import SentMessage

_LOGGER = logging.getLogger(__name__)

EmberStatus = bt.EmberStatus
EzspStatus = bt.EzspStatus
SlStatus = bt.sl_Status

#: One command's (frame id, parameter schema, response schema), as bellows declares it.
CommandSpec = tuple[int, Any, Any]

DEFAULT_CONFIG: dict[bt.EzspConfigId, int] = {
    bt.EzspConfigId.CONFIG_PACKET_BUFFER_COUNT: 75,
    bt.EzspConfigId.CONFIG_NEIGHBOR_TABLE_SIZE: 16,
    bt.EzspConfigId.CONFIG_APS_UNICAST_MESSAGE_COUNT: 10,
    bt.EzspConfigId.CONFIG_BINDING_TABLE_SIZE: 32,
    bt.EzspConfigId.CONFIG_ADDRESS_TABLE_SIZE: 16,
    bt.EzspConfigId.CONFIG_MULTICAST_TABLE_SIZE: 16,
    bt.EzspConfigId.CONFIG_ROUTE_TABLE_SIZE: 16,
    bt.EzspConfigId.CONFIG_DISCOVERY_TABLE_SIZE: 8,
    bt.EzspConfigId.CONFIG_STACK_PROFILE: 2,
    bt.EzspConfigId.CONFIG_SECURITY_LEVEL: 5,
    bt.EzspConfigId.CONFIG_MAX_HOPS: 30,
    bt.EzspConfigId.CONFIG_MAX_END_DEVICE_CHILDREN: 32,
    bt.EzspConfigId.CONFIG_INDIRECT_TRANSMISSION_TIMEOUT: 7680,
    bt.EzspConfigId.CONFIG_END_DEVICE_POLL_TIMEOUT: 8,
    bt.EzspConfigId.CONFIG_KEY_TABLE_SIZE: 12,  # EzspNcpBase.KEY_TABLE_SIZE
    bt.EzspConfigId.CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE: 2,
    bt.EzspConfigId.CONFIG_SOURCE_ROUTE_TABLE_SIZE: 200,
    bt.EzspConfigId.CONFIG_SUPPORTED_NETWORKS: 1,
    bt.EzspConfigId.CONFIG_PAN_ID_CONFLICT_REPORT_THRESHOLD: 1,
}
"""The configuration values the stack runs with until the host sets its own."""


class EzspNcpBase:
    """The NCP's state and command dispatch, transport-agnostic.

    A protocol version sets ``PROTOCOL_VERSION``, the stack it reports and its
    ``COMMANDS``; the frame sections supply the ``cmd_*`` handlers.
    """

    PROTOCOL_VERSION: ClassVar[int]
    STACK_TYPE: ClassVar[int] = 2  # mesh stack
    STACK_VERSION: ClassVar[tuple[int, int, int, int]]
    STACK_BUILD: ClassVar[int] = 0
    COMMANDS: ClassVar[dict[str, CommandSpec]] = {}
    #: Link-key table entries, fixed when the image is built: the table is
    #: kept in tokens (NV), so its entries and the gaps between them survive
    #: resets.  12 is SL_ZIGBEE_KEY_TABLE_SIZE in Nabu Casa's and SMLIGHT's
    #: NCP builds (NabuCasa/silabs-firmware-builder manifests).
    KEY_TABLE_SIZE: ClassVar[int] = 12
    #: Parameters a plain schema cannot parse, by command name.
    PARAMETER_PARSERS: ClassVar[dict[str, Callable[[bytes], dict[str, Any]]]] = {}

    def __init__(
        self,
        emit: Callable[[bytes], None],
        *,
        tokens: Tokens | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_tokens_changed: Callable[[Tokens], None] | None = None,
        cbke: NcpCbkeLibrary | None = None,
    ) -> None:
        self._emit = emit
        #: The CBKE/ECC libraries (stubs unless given certificate sets).
        self.cbke = cbke if cbke is not None else NcpCbkeLibrary()
        self._clock = clock
        self._on_tokens_changed = on_tokens_changed
        self.tokens = tokens if tokens is not None else Tokens()
        self.ram = Ram()
        self.duty_cycle = DutyCycle()
        self.endpoint_log: list[Endpoint] = []
        self.send_listeners: list[Callable[[SentMessage], None]] = []
        #: Told (name, parameters) of every command the NCP answered (the radio
        #: side on an air follows transient keys through it).
        self.command_listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self.unreachable: set[int] = set()
        #: Set by a radio side: given the APS counter of the unicast just sent
        #: and a function to call with whether it was acknowledged, True when
        #: it will call it (messageSentHandler then waits for the air).
        self.sent_when_done: Callable[[int, Callable[[bool], None]], bool] | None = None
        self.unknown_commands: list[int] = []
        self.address_book: dict[int, bt.EUI64] = {}
        self._commands_by_id = {spec[0]: name for name, spec in self.COMMANDS.items()}
        self._version_ok = False
        self._last_seq = 0
        self._deferred: list[tuple[str, dict[str, Any]]] = []
        self._saved = self.tokens.to_json()
        self._handlers: dict[str, Callable[..., dict[str, Any] | None]] = {
            name[4:]: getattr(self, name) for name in dir(self) if name.startswith("cmd_")
        }

    # -- entry points ------------------------------------------------------------
    def reset(self) -> None:
        """What a reset does to an NCP: RAM is gone, tokens stay."""
        self.ram = Ram()
        self._version_ok = False

    def handle_frame(self, frame: bytes) -> None:
        """Interpret one EZSP frame from the host and emit the response."""
        try:
            command = parse_command(frame)
        except FrameError as exc:
            _LOGGER.debug("dropping EZSP frame: %s", exc)
            return
        self._last_seq = command.sequence
        if command.legacy:
            self._version(command)
            return
        if not self._version_ok and command.frame_id != VERSION_FRAME_ID:
            self._invalid(command, EzspStatus.ERROR_VERSION_NOT_SET)
            return
        name = self._commands_by_id.get(command.frame_id)
        handler = self._handlers.get(name) if name is not None else None
        if name is None or handler is None:
            _LOGGER.debug("unknown EZSP frame 0x%04X (%s)", command.frame_id, name)
            self.unknown_commands.append(command.frame_id)
            self._invalid(command, EzspStatus.ERROR_INVALID_FRAME_ID)
            return
        try:
            args = self._parse_params(name, command.params)
        except Exception:  # noqa: BLE001 - malformed parameters
            _LOGGER.debug("malformed parameters for %s: %s", name, command.params.hex())
            self._invalid(command, EzspStatus.ERROR_INVALID_VALUE)
            return
        deferred: list[tuple[str, dict[str, Any]]] = []
        self._deferred = deferred
        try:
            result = handler(**args)
            schema = self.COMMANDS[name][2]
            response = serialize(schema, self.wire_fields(schema, result or {}))
        except Exception:  # noqa: BLE001 - answer like firmware, never drop the link
            _LOGGER.exception("handler for %s failed", name)
            self._invalid(command, EzspStatus.ERROR_INVALID_VALUE)
            return
        self._emit(build_response(command.sequence, self.COMMANDS[name][0], response))
        for listener in list(self.command_listeners):
            try:
                listener(name, args)
            except Exception:  # noqa: BLE001 - a listener must not break the NCP
                _LOGGER.exception("command listener failed on %s", name)
        for cb_name, fields in deferred:
            self.callback(cb_name, **fields)
        self.persist()

    def callback(self, name: str, **fields: Any) -> None:
        """Send an asynchronous callback to the host."""
        frame_id, _, schema = self.COMMANDS[name]
        self._emit(build_callback(self._last_seq, frame_id, serialize(schema, self.wire_fields(schema, fields))))

    def persist(self) -> None:
        """Report changed tokens (the server writes them to its state file)."""
        current = self.tokens.to_json()
        if current != self._saved:
            self._saved = current
            if self._on_tokens_changed is not None:
                self._on_tokens_changed(self.tokens)

    @property
    def network_up(self) -> bool:
        return self.ram.network_up

    def wire_fields(self, schema: Any, fields: dict[str, Any]) -> dict[str, Any]:
        """The fields as this protocol version puts them on the wire (a later
        version turns the stack's statuses into ``sl_Status``)."""
        return fields

    # -- helpers for the frame sections --------------------------------------------
    def _later(self, name: str, **fields: Any) -> None:
        """Queue a callback to follow the current command's response."""
        self._deferred.append((name, fields))

    def config_value(self, config_id: bt.EzspConfigId) -> int:
        """The configuration value the stack runs with."""
        return self.ram.config.get(int(config_id), DEFAULT_CONFIG.get(config_id, 0))

    def stack_version_word(self) -> int:
        """The stack version as the legacy ``version`` response packs it."""
        major, minor, patch, special = self.STACK_VERSION
        return major << 12 | minor << 8 | patch << 4 | special

    def version_fields(self, desired: int) -> dict[str, Any]:
        """Answer a ``version`` request: only the NCP's own protocol version unlocks it."""
        self._version_ok = desired == self.PROTOCOL_VERSION
        return {
            "protocolVersion": self.PROTOCOL_VERSION,
            "stackType": self.STACK_TYPE,
            "stackVersion": self.stack_version_word(),
        }

    # -- framing -------------------------------------------------------------------
    def _parse_params(self, name: str, params: bytes) -> dict[str, Any]:
        parser = self.PARAMETER_PARSERS.get(name)
        if parser is not None:
            return parser(params)
        _, schema, _ = self.COMMANDS[name]
        values, rest = bt.deserialize_dict(params, schema)
        if rest:
            _LOGGER.debug("%s carried %d trailing bytes", name, len(rest))
        return values

    def _invalid(self, command: Command, status: bt.EzspStatus) -> None:
        frame_id, _, schema = self.COMMANDS["invalidCommand"]
        fields = self.wire_fields(schema, {"status": status})
        self._emit(build_response(command.sequence, frame_id, serialize(schema, fields)))

    def _version(self, command: Command) -> None:
        frame_id, _, rx = self.COMMANDS["version"]
        fields = self.version_fields(command.params[0] if command.params else 0)
        self._emit(build_response(command.sequence, frame_id, serialize(rx, fields), legacy=True))


def serialize(schema: Any, fields: dict[str, Any]) -> bytes:
    """Serialize a response or callback with its bellows schema."""
    if isinstance(schema, dict):
        return bt.serialize_dict([], fields, schema)
    return schema(**fields).serialize()


def empty_struct(struct_cls: Any) -> Any:
    """An all-zero instance of a bellows struct (what firmware returns beside an error)."""
    size = len(struct_cls.deserialize(b"\x00" * 512)[0].serialize())
    return struct_cls.deserialize(b"\x00" * size)[0]
