"""An EmberZNet NCP speaking EZSP v13, without I/O.

Requests are parsed, and responses and callbacks built, with bellows' own v13
command schemas, so the bytes are exactly what bellows (and a real stick)
exchange.  The one deliberate exception is ``EmberDutyCycleLimits``: bellows 1.2
declares it as a vendor id and string (9 bytes), while the stack's struct is
three 16-bit thresholds in hundredths of a percent (6 bytes); the NCP sends what
firmware sends.

The class is fed whole EZSP frames (:meth:`EzspNcp.handle_frame`) and hands
frames for the host to ``emit``; the TCP server in :mod:`.ezsp` puts ASH under
it.  Host-visible behaviour follows UG100: the legacy ``version`` handshake,
configuration locked once the network is up, endpoints forgotten on reset,
``invalidCommand`` for frames the firmware does not know.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import bellows.types as bt
from bellows.ezsp.v13.commands import COMMANDS as V13_COMMANDS
import zigpy.types as zt

from han_emu.crypto.cbke import Suite

from han_emu.radio.fakencp.ezsp.cbke_library import CbkeFailure, NcpCbkeLibrary
from han_emu.radio.fakencp.ezsp.frame import VERSION_FRAME_ID, Command, FrameError, build_callback, build_response, parse_command
from han_emu.radio.fakencp.ezsp.state import DutyCycle, Endpoint, Ram, Tokens
from han_emu.radio.fakencp.ezsp import zdo as ezsp_zdo

_LOGGER = logging.getLogger(__name__)

PROTOCOL_VERSION = 13
STACK_TYPE = 2  # mesh stack
STACK_VERSION = (7, 3, 2, 0)  # EmberZNet 7.3.2.0, which speaks EZSP v13
STACK_BUILD = 0
MFG_STRING = b"han-emu"
MFG_BOARD_NAME = b"fake EZSP NCP"

EmberStatus = bt.EmberStatus
EzspStatus = bt.EzspStatus
SlStatus = bt.sl_Status


class DutyCycleLimits(bt.EzspStruct):
    """The stack's ``EmberDutyCycleLimits`` (hundredths of a percent)."""

    limitThresh: bt.uint16_t
    critThresh: bt.uint16_t
    suspLimit: bt.uint16_t


_SCHEMA_FIXES: dict[str, tuple[int, Any, Any]] = {
    "getDutyCycleLimits": (0x004B, {}, {"status": EmberStatus, "limits": DutyCycleLimits}),
    "setDutyCycleLimitsInStack": (0x0040, {"limits": DutyCycleLimits}, {"status": EmberStatus}),
}

COMMANDS: dict[str, tuple[int, Any, Any]] = {**V13_COMMANDS, **_SCHEMA_FIXES}
COMMANDS_BY_ID: dict[int, str] = {spec[0]: name for name, spec in COMMANDS.items()}

DUTY_CYCLE_ARRAY_BYTES = 134  # getCurrentDutyCycle returns a fixed uint8_t[134]

_DEFAULT_CONFIG: dict[bt.EzspConfigId, int] = {
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
    bt.EzspConfigId.CONFIG_KEY_TABLE_SIZE: 12,
    bt.EzspConfigId.CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE: 2,
    bt.EzspConfigId.CONFIG_SOURCE_ROUTE_TABLE_SIZE: 200,
    bt.EzspConfigId.CONFIG_SUPPORTED_NETWORKS: 1,
    bt.EzspConfigId.CONFIG_PAN_ID_CONFLICT_REPORT_THRESHOLD: 1,
}


@dataclasses.dataclass(frozen=True)
class SentMessage:
    """One sendUnicast / sendBroadcast / sendMulticast the host made.

    ``tsn`` is the APS sequence field as the host filled it (bellows puts the
    ZCL/ZDO transaction number there); ``aps_sequence`` is the APS counter the
    NCP actually used on air.
    """

    kind: str  # "unicast", "broadcast" or "multicast"
    destination: int  # NWK address, broadcast address or group id
    profile_id: int
    cluster_id: int
    src_ep: int
    dst_ep: int
    options: int
    group_id: int
    tsn: int
    aps_sequence: int
    message_tag: int
    radius: int
    data: bytes

    @property
    def encrypted(self) -> bool:
        """Whether the host asked for APS encryption."""
        return bool(self.options & bt.EmberApsOption.APS_OPTION_ENCRYPTION)


class EzspNcp:
    """The NCP's command interpreter and state, transport-agnostic."""

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
        self.unreachable: set[int] = set()
        self.unknown_commands: list[int] = []
        self.address_book: dict[int, bt.EUI64] = {}
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
        name = COMMANDS_BY_ID.get(command.frame_id)
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
            response = _serialize(COMMANDS[name][2], result or {})
        except Exception:  # noqa: BLE001 - answer like firmware, never drop the link
            _LOGGER.exception("handler for %s failed", name)
            self._invalid(command, EzspStatus.ERROR_INVALID_VALUE)
            return
        self._emit(build_response(command.sequence, COMMANDS[name][0], response))
        for cb_name, fields in deferred:
            self.callback(cb_name, **fields)
        self.persist()

    def callback(self, name: str, **fields: Any) -> None:
        """Send an asynchronous callback to the host."""
        frame_id, _, schema = COMMANDS[name]
        self._emit(build_callback(self._last_seq, frame_id, _serialize(schema, fields)))

    # -- framing helpers ------------------------------------------------------------
    def _parse_params(self, name: str, params: bytes) -> dict[str, Any]:
        if name == "addEndpoint":
            return _parse_add_endpoint(params)
        _, schema, _ = COMMANDS[name]
        values, rest = bt.deserialize_dict(params, schema)
        if rest:
            _LOGGER.debug("%s carried %d trailing bytes", name, len(rest))
        return values

    def _invalid(self, command: Command, status: bt.EzspStatus) -> None:
        frame_id, _, schema = COMMANDS["invalidCommand"]
        self._emit(build_response(command.sequence, frame_id, _serialize(schema, {"status": status})))

    def _later(self, name: str, **fields: Any) -> None:
        """Queue a callback to follow the current command's response."""
        self._deferred.append((name, fields))

    def persist(self) -> None:
        """Report changed tokens (the server writes them to its state file)."""
        current = self.tokens.to_json()
        if current != self._saved:
            self._saved = current
            if self._on_tokens_changed is not None:
                self._on_tokens_changed(self.tokens)

    def _version(self, command: Command) -> None:
        frame_id, schema, rx = COMMANDS["version"]
        desired = command.params[0] if command.params else 0
        self._version_ok = desired == PROTOCOL_VERSION
        fields = {
            "protocolVersion": PROTOCOL_VERSION,
            "stackType": STACK_TYPE,
            "stackVersion": _stack_version_word(),
        }
        self._emit(build_response(command.sequence, frame_id, _serialize(rx, fields), legacy=True))

    @property
    def network_up(self) -> bool:
        return self.ram.network_up

    # -- version, configuration, values, policies, tokens --------------------------
    def cmd_version(self, desiredProtocolVersion: int) -> dict[str, Any]:
        self._version_ok = desiredProtocolVersion == PROTOCOL_VERSION
        return {
            "protocolVersion": PROTOCOL_VERSION,
            "stackType": STACK_TYPE,
            "stackVersion": _stack_version_word(),
        }

    def cmd_nop(self) -> None:
        return None

    def cmd_getConfigurationValue(self, configId: bt.EzspConfigId) -> dict[str, Any]:
        if not isinstance(configId, bt.EzspConfigId) or configId.name.startswith("undefined"):
            return {"status": EzspStatus.ERROR_INVALID_ID, "value": 0}
        value = self.ram.config.get(int(configId), _DEFAULT_CONFIG.get(configId, 0))
        return {"status": EzspStatus.SUCCESS, "value": value}

    def cmd_setConfigurationValue(self, configId: bt.EzspConfigId, value: int) -> dict[str, Any]:
        if self.ram.network_up:
            return {"status": EzspStatus.ERROR_INVALID_CALL}
        if not isinstance(configId, bt.EzspConfigId) or configId.name.startswith("undefined"):
            return {"status": EzspStatus.ERROR_INVALID_ID}
        self.ram.config[int(configId)] = int(value)
        return {"status": EzspStatus.SUCCESS}

    def cmd_getValue(self, valueId: bt.EzspValueId) -> dict[str, Any]:
        if valueId == bt.EzspValueId.VALUE_VERSION_INFO:
            major, minor, patch, special = STACK_VERSION
            value = STACK_BUILD.to_bytes(2, "little") + bytes((major, minor, patch, special))
        elif valueId == bt.EzspValueId.VALUE_FREE_BUFFERS:
            value = bytes((self.cmd_getConfigurationValue(
                bt.EzspConfigId.CONFIG_PACKET_BUFFER_COUNT)["value"] & 0xFF,))
        elif valueId == bt.EzspValueId.VALUE_NWK_FRAME_COUNTER:
            value = self.tokens.nwk_frame_counter.to_bytes(4, "little")
        elif valueId == bt.EzspValueId.VALUE_APS_FRAME_COUNTER:
            value = self.tokens.aps_frame_counter.to_bytes(4, "little")
        elif int(valueId) in self.ram.values:
            value = self.ram.values[int(valueId)]
        else:
            return {"status": EzspStatus.ERROR_INVALID_ID, "value": b""}
        return {"status": EzspStatus.SUCCESS, "value": value}

    def cmd_setValue(self, valueId: bt.EzspValueId, value: bytes) -> dict[str, Any]:
        if valueId in (bt.EzspValueId.VALUE_NWK_FRAME_COUNTER, bt.EzspValueId.VALUE_APS_FRAME_COUNTER):
            if self.ram.network_up or len(value) != 4:
                return {"status": EzspStatus.ERROR_INVALID_CALL}
            counter = int.from_bytes(value, "little")
            if valueId == bt.EzspValueId.VALUE_NWK_FRAME_COUNTER:
                self.tokens.nwk_frame_counter = counter
            else:
                self.tokens.aps_frame_counter = counter
        elif valueId == bt.EzspValueId.VALUE_VERSION_INFO:
            return {"status": EzspStatus.ERROR_INVALID_CALL}
        else:
            self.ram.values[int(valueId)] = bytes(value)
        return {"status": EzspStatus.SUCCESS}

    def cmd_setPolicy(self, policyId: bt.EzspPolicyId, decisionId: int) -> dict[str, Any]:
        self.ram.policies[int(policyId)] = int(decisionId)
        return {"status": EzspStatus.SUCCESS}

    def cmd_getPolicy(self, policyId: bt.EzspPolicyId) -> dict[str, Any]:
        return {"status": EzspStatus.SUCCESS, "decisionId": self.ram.policies.get(int(policyId), 0)}

    def cmd_getMfgToken(self, tokenId: bt.EzspMfgTokenId) -> dict[str, Any]:
        if tokenId == bt.EzspMfgTokenId.MFG_STRING:
            data = MFG_STRING.ljust(16, b"\x00")
        elif tokenId == bt.EzspMfgTokenId.MFG_BOARD_NAME:
            data = MFG_BOARD_NAME.ljust(16, b"\x00")
        elif tokenId == bt.EzspMfgTokenId.MFG_CUSTOM_EUI_64:
            data = b"\xff" * 8  # never burnt
        elif tokenId == bt.EzspMfgTokenId.MFG_MANUF_ID:
            data = (0x1002).to_bytes(2, "little")  # Silicon Labs
        else:
            data = b""
        return {"tokenData": data}

    def cmd_setMfgToken(self, tokenId: bt.EzspMfgTokenId, tokenData: bytes) -> dict[str, Any]:
        # manufacturing tokens are write-once flash: the emulator keeps them read-only
        return {"status": EmberStatus.INVALID_CALL}

    def cmd_getTokenData(self, token: int, index: int) -> dict[str, Any]:
        # the NV3 token interface is not emulated: answer as firmware without the key
        return {"status": EmberStatus.NOT_FOUND}

    def cmd_setTokenData(self, token: int, index: int, token_data: bytes) -> dict[str, Any]:
        return {"status": EmberStatus.NOT_FOUND}

    def cmd_customFrame(self, payload: bytes) -> dict[str, Any]:
        # stock firmware has no XNCP extension
        return {"status": EmberStatus.INVALID_CALL, "reply": b""}

    def cmd_readCounters(self) -> dict[str, Any]:
        return {"values": [zt.uint16_t(0)] * len(bt.EmberCounterType)}

    def cmd_readAndClearCounters(self) -> dict[str, Any]:
        return self.cmd_readCounters()

    def cmd_setManufacturerCode(self, code: int) -> None:
        self.ram.manufacturer_code = int(code)

    def cmd_setRadioPower(self, power: int) -> dict[str, Any]:
        if not -30 <= power <= 20:
            return {"status": EmberStatus.BAD_ARGUMENT}
        self.ram.radio_power = int(power)
        self.tokens.tx_power = int(power) & 0xFF
        return {"status": EmberStatus.SUCCESS}

    def cmd_setConcentrator(self, on: bool, **_: Any) -> dict[str, Any]:
        self.ram.concentrator = bool(on)
        return {"status": EmberStatus.SUCCESS}

    def cmd_setSourceRouteDiscoveryMode(self, mode: int) -> dict[str, Any]:
        return {"remainingTime": 0}

    # -- network -----------------------------------------------------------------
    def cmd_networkState(self) -> dict[str, Any]:
        status = bt.EmberNetworkStatus.JOINED_NETWORK if self.ram.network_up else bt.EmberNetworkStatus.NO_NETWORK
        return {"status": status}

    def cmd_networkInit(self, networkInitBitmask: int) -> dict[str, Any]:
        if self.ram.network_up:
            return {"status": EmberStatus.INVALID_CALL}
        if not self.tokens.formed:
            return {"status": EmberStatus.NOT_JOINED}
        self._network_up()
        return {"status": EmberStatus.SUCCESS}

    def cmd_formNetwork(self, parameters: bt.EmberNetworkParameters) -> dict[str, Any]:
        if self.ram.network_up:
            return {"status": EmberStatus.INVALID_CALL}
        if not 11 <= parameters.radioChannel <= 26:
            return {"status": EmberStatus.BAD_ARGUMENT}
        tokens = self.tokens
        tokens.formed = True
        tokens.node_type = bt.EmberNodeType.COORDINATOR
        tokens.node_id = 0x0000
        tokens.extended_pan_id = bytes(parameters.extendedPanId.serialize())
        tokens.pan_id = int(parameters.panId)
        tokens.channel = int(parameters.radioChannel)
        tokens.tx_power = int(parameters.radioTxPower)
        tokens.nwk_manager_id = 0x0000
        tokens.nwk_update_id = 0  # the stack ignores the host's value on forming
        tokens.channels = int(parameters.channels)
        self._network_up()
        return {"status": EmberStatus.SUCCESS}

    def cmd_leaveNetwork(self) -> dict[str, Any]:
        if not self.ram.network_up:
            return {"status": EmberStatus.INVALID_CALL}
        self.ram.network_up = False
        self.tokens.formed = False
        self._later("stackStatusHandler", status=EmberStatus.NETWORK_DOWN)
        return {"status": EmberStatus.SUCCESS}

    def _network_up(self) -> None:
        self.ram.network_up = True
        self._later("stackStatusHandler", status=EmberStatus.NETWORK_UP)

    def cmd_getNetworkParameters(self) -> dict[str, Any]:
        tokens = self.tokens
        params = bt.EmberNetworkParameters(
            extendedPanId=bt.ExtendedPanId.deserialize(tokens.extended_pan_id)[0],
            panId=tokens.pan_id,
            radioTxPower=tokens.tx_power,
            radioChannel=tokens.channel,
            joinMethod=bt.EmberJoinMethod.USE_MAC_ASSOCIATION,
            nwkManagerId=tokens.nwk_manager_id,
            nwkUpdateId=tokens.nwk_update_id,
            channels=bt.Channels(tokens.channels),
        )
        if not self.ram.network_up:
            return {"status": EmberStatus.NOT_JOINED, "nodeType": bt.EmberNodeType.UNKNOWN_DEVICE, "parameters": params}
        return {"status": EmberStatus.SUCCESS, "nodeType": tokens.node_type, "parameters": params}

    def cmd_getNodeId(self) -> dict[str, Any]:
        return {"nodeId": self.tokens.node_id if self.ram.network_up else 0xFFFE}

    def cmd_getEui64(self) -> dict[str, Any]:
        return {"eui64": self.tokens.eui64}

    def cmd_getParentChildParameters(self) -> dict[str, Any]:
        return {
            "childCount": len(self.tokens.children),
            "parentEui64": bt.EUI64.convert("00:00:00:00:00:00:00:00"),
            "parentNodeId": 0xFFFF,
        }

    def cmd_permitJoining(self, duration: int) -> dict[str, Any]:
        if not self.ram.network_up:
            return {"status": EmberStatus.INVALID_CALL}
        self.ram.permit_until = self._clock() + (duration if duration != 0xFF else float("inf"))
        return {"status": EmberStatus.SUCCESS}

    @property
    def permit_joining(self) -> bool:
        return self._clock() < self.ram.permit_until

    def cmd_startScan(self, scanType: bt.EzspNetworkScanType, channelMask: bt.Channels, duration: int) -> dict[str, Any]:
        channels = [c for c in range(11, 27) if channelMask & (1 << c)]
        if scanType == bt.EzspNetworkScanType.ENERGY_SCAN:
            for channel in channels:
                # a quiet band with a little noise, busier on Wi-Fi's channels
                rssi = -90 + (10 if channel in (17, 18, 19, 22, 23) else 0) + channel % 3
                self._later("energyScanResultHandler", channel=channel, maxRssiValue=rssi)
        self._later("scanCompleteHandler", channel=0, status=EmberStatus.SUCCESS)
        return {"status": EmberStatus.SUCCESS}

    # -- security --------------------------------------------------------------------
    def cmd_setInitialSecurityState(self, state: bt.EmberInitialSecurityState) -> dict[str, Any]:
        if self.ram.network_up:
            return {"status": EmberStatus.INVALID_CALL}
        self.tokens.security_bitmask = int(state.bitmask)
        self.tokens.tc_link_key = bytes(state.preconfiguredKey.serialize())
        self.tokens.network_key = bytes(state.networkKey.serialize())
        self.tokens.network_key_seq = int(state.networkKeySequenceNumber)
        return {"status": EmberStatus.SUCCESS}

    def cmd_getCurrentSecurityState(self) -> dict[str, Any]:
        if not self.ram.network_up:
            return {
                "status": EmberStatus.NOT_JOINED,
                "state": bt.EmberCurrentSecurityState(bitmask=0, trustCenterLongAddress=bt.EUI64(bytes(8))),
            }
        initial = bt.EmberInitialSecurityBitmask(self.tokens.security_bitmask)
        current = bt.EmberCurrentSecurityBitmask(0)
        if bt.EmberInitialSecurityBitmask.TRUST_CENTER_GLOBAL_LINK_KEY in initial:
            current |= bt.EmberCurrentSecurityBitmask.GLOBAL_LINK_KEY
        if bt.EmberInitialSecurityBitmask.HAVE_PRECONFIGURED_KEY in initial:
            current |= bt.EmberCurrentSecurityBitmask.HAVE_TRUST_CENTER_LINK_KEY
        if bt.EmberInitialSecurityBitmask.TRUST_CENTER_USES_HASHED_LINK_KEY in initial:
            current |= bt.EmberCurrentSecurityBitmask.TRUST_CENTER_USES_HASHED_LINK_KEY
        return {
            "status": EmberStatus.SUCCESS,
            "state": bt.EmberCurrentSecurityState(bitmask=current, trustCenterLongAddress=self.tokens.eui64),
        }

    def cmd_exportKey(self, context: bt.SecurityManagerContextV13) -> dict[str, Any]:
        key_type = context.core_key_type
        if key_type == bt.SecurityManagerKeyType.NETWORK:
            key = self.tokens.network_key
        elif key_type == bt.SecurityManagerKeyType.TC_LINK:
            key = self.tokens.tc_link_key
        elif key_type == bt.SecurityManagerKeyType.APP_LINK and context.key_index in self.tokens.link_keys:
            key = self.tokens.link_keys[context.key_index][1]
        else:
            return {"key": bt.KeyData(bytes(16)), "status": SlStatus.NOT_FOUND}
        return {"key": bt.KeyData(key), "status": SlStatus.OK}

    def cmd_importKey(self, context: bt.SecurityManagerContextV13, key: bt.KeyData) -> dict[str, Any]:
        if context.core_key_type == bt.SecurityManagerKeyType.NETWORK:
            self.tokens.network_key = bytes(key.serialize())
        elif context.core_key_type == bt.SecurityManagerKeyType.TC_LINK:
            self.tokens.tc_link_key = bytes(key.serialize())
        else:
            return {"status": SlStatus.INVALID_PARAMETER}
        return {"status": SlStatus.OK}

    def cmd_getNetworkKeyInfo(self) -> dict[str, Any]:
        info = bt.SecurityManagerNetworkKeyInfo(
            network_key_set=self.tokens.formed,
            alternate_network_key_set=False,
            network_key_sequence_number=self.tokens.network_key_seq,
            alt_network_key_sequence_number=0,
            network_key_frame_counter=self.tokens.nwk_frame_counter,
        )
        return {"status": SlStatus.OK, "network_key_info": info}

    def _key_table_size(self) -> int:
        return int(self.cmd_getConfigurationValue(bt.EzspConfigId.CONFIG_KEY_TABLE_SIZE)["value"])

    def cmd_exportLinkKeyByIndex(self, index: int) -> dict[str, Any]:
        entry = self.tokens.link_keys.get(int(index))
        meta = bt.SecurityManagerAPSKeyMetadata(
            bitmask=bt.EmberKeyStructBitmask(0), outgoing_frame_counter=0,
            incoming_frame_counter=0, ttl_in_seconds=0,
        )
        if entry is None:
            return {
                "eui64": bt.EUI64(bytes(8)), "plaintext_key": bt.KeyData(bytes(16)),
                "key_data": meta, "status": SlStatus.NOT_FOUND,
            }
        meta.bitmask = bt.EmberKeyStructBitmask.KEY_HAS_PARTNER_EUI64 | bt.EmberKeyStructBitmask.KEY_IS_AUTHORIZED
        return {"eui64": entry[0], "plaintext_key": bt.KeyData(entry[1]), "key_data": meta, "status": SlStatus.OK}

    def cmd_importLinkKey(self, index: int, address: bt.EUI64, key: bt.KeyData) -> dict[str, Any]:
        if not 0 <= index < self._key_table_size():
            return {"status": SlStatus.INVALID_INDEX}
        self.tokens.link_keys[int(index)] = (address, bytes(key.serialize()))
        return {"status": SlStatus.OK}

    def cmd_findKeyTableEntry(self, address: bt.EUI64, linkKey: bool) -> dict[str, Any]:
        for index, (eui64, _) in sorted(self.tokens.link_keys.items()):
            if eui64 == address:
                return {"index": index}
        return {"index": 0xFF}

    def cmd_eraseKeyTableEntry(self, index: int) -> dict[str, Any]:
        if self.tokens.link_keys.pop(int(index), None) is None:
            return {"status": EmberStatus.TABLE_ENTRY_ERASED}
        return {"status": EmberStatus.SUCCESS}

    def cmd_clearKeyTable(self) -> dict[str, Any]:
        self.tokens.link_keys.clear()
        return {"status": EmberStatus.SUCCESS}

    def cmd_importTransientKey(self, eui64: bt.EUI64, plaintext_key: bt.KeyData, flags: int) -> dict[str, Any]:
        return {"status": SlStatus.OK}

    def cmd_clearTransientLinkKeys(self) -> None:
        return None

    def cmd_tokenFactoryReset(self, excludeOutgoingFC: bool, excludeBootCounter: bool) -> None:
        counters = (self.tokens.nwk_frame_counter, self.tokens.aps_frame_counter)
        self.tokens.factory_reset()
        if excludeOutgoingFC:
            self.tokens.nwk_frame_counter, self.tokens.aps_frame_counter = counters
        self.ram.network_up = False

    def store_link_key(self, address: bt.EUI64, key: bytes) -> int | None:
        """Put ``key`` in the key table for ``address`` (its own entry, else the
        first free index); None when the table is full."""
        for index, (eui64, _) in self.tokens.link_keys.items():
            if eui64 == address:
                self.tokens.link_keys[index] = (address, bytes(key))
                return index
        for index in range(self._key_table_size()):
            if index not in self.tokens.link_keys:
                self.tokens.link_keys[index] = (address, bytes(key))
                return index
        return None

    # -- CBKE (the Smart Energy libraries) ----------------------------------------------
    def cmd_getLibraryStatus(self, libraryId: int) -> dict[str, Any]:
        return {"status": self.cbke.library_status(int(libraryId))}

    def _certificate(self, suite: Suite, size: int) -> dict[str, Any]:
        try:
            cert = self.cbke.certificate(suite)
        except CbkeFailure:
            return {"status": EmberStatus.LIBRARY_NOT_PRESENT, "localCert": [0] * size}
        return {"status": EmberStatus.SUCCESS, "localCert": list(cert)}

    def cmd_getCertificate(self) -> dict[str, Any]:
        return self._certificate(Suite.SUITE_1, 48)

    def cmd_getCertificate283k1(self) -> dict[str, Any]:
        return self._certificate(Suite.SUITE_2, 74)

    def _generate(self, suite: Suite, handler: str, size: int) -> dict[str, Any]:
        try:
            public = self.cbke.generate_keys(suite)
        except CbkeFailure:
            return {"status": EmberStatus.LIBRARY_NOT_PRESENT}
        # The key pair is made in the background; the handler brings it.
        self._later(handler, status=EmberStatus.SUCCESS, ephemeralPublicKey=list(public))
        return {"status": EmberStatus.OPERATION_IN_PROGRESS}

    def cmd_generateCbkeKeys(self) -> dict[str, Any]:
        return self._generate(Suite.SUITE_1, "generateCbkeKeysHandler", 22)

    def cmd_generateCbkeKeys283k1(self) -> dict[str, Any]:
        return self._generate(Suite.SUITE_2, "generateCbkeKeysHandler283k1", 37)

    def _smacs(self, suite: Suite, handler: str, am_initiator: Any, cert: Any, ephemeral: Any) -> dict[str, Any]:
        if suite not in self.cbke.identities:
            return {"status": EmberStatus.LIBRARY_NOT_PRESENT}
        try:
            smacs = self.cbke.calculate_smacs(suite, bool(am_initiator), bytes(cert), bytes(ephemeral))
        except CbkeFailure as exc:
            _LOGGER.debug("calculateSmacs failed: %s", exc)
            self._later(handler, status=EmberStatus.ERR_FATAL, initiatorSmac=[0] * 16, responderSmac=[0] * 16)
            return {"status": EmberStatus.OPERATION_IN_PROGRESS}
        self._later(handler, status=EmberStatus.SUCCESS, initiatorSmac=list(smacs.initiator),
                    responderSmac=list(smacs.responder))
        return {"status": EmberStatus.OPERATION_IN_PROGRESS}

    def cmd_calculateSmacs(self, amInitiator: Any, partnerCertificate: Any, partnerEphemeralPublicKey: Any) -> dict[str, Any]:
        return self._smacs(Suite.SUITE_1, "calculateSmacsHandler", amInitiator, partnerCertificate,
                           partnerEphemeralPublicKey)

    def cmd_calculateSmacs283k1(self, amInitiator: Any, partnerCertificate: Any, partnerEphemeralPublicKey: Any) -> dict[str, Any]:
        return self._smacs(Suite.SUITE_2, "calculateSmacsHandler283k1", amInitiator, partnerCertificate,
                           partnerEphemeralPublicKey)

    def _clear(self, suite: Suite, store: Any) -> dict[str, Any]:
        if suite not in self.cbke.identities:
            return {"status": EmberStatus.LIBRARY_NOT_PRESENT}
        try:
            smacs = self.cbke.clear(suite, bool(store))
        except CbkeFailure:
            return {"status": EmberStatus.INVALID_CALL}
        if smacs is not None:
            if self.store_link_key(bt.EUI64(smacs.partner_eui64), smacs.key_data) is None:
                return {"status": EmberStatus.KEY_TABLE_INVALID_ADDRESS}
        return {"status": EmberStatus.SUCCESS}

    def cmd_clearTemporaryDataMaybeStoreLinkKey(self, storeLinkKey: Any) -> dict[str, Any]:
        return self._clear(Suite.SUITE_1, storeLinkKey)

    def cmd_clearTemporaryDataMaybeStoreLinkKey283k1(self, storeLinkKey: Any) -> dict[str, Any]:
        return self._clear(Suite.SUITE_2, storeLinkKey)

    # -- endpoints, tables -----------------------------------------------------------
    def cmd_addEndpoint(self, endpoint: Endpoint) -> dict[str, Any]:
        if self.ram.network_up:
            return {"status": EzspStatus.ERROR_INVALID_CALL}
        if endpoint.endpoint in self.ram.endpoints or endpoint.endpoint in (0, 0xFF):
            return {"status": EzspStatus.ERROR_INVALID_VALUE}
        self.ram.endpoints[endpoint.endpoint] = endpoint
        self.endpoint_log.append(endpoint)
        return {"status": EzspStatus.SUCCESS}

    def cmd_setMulticastTableEntry(self, index: int, value: bt.EmberMulticastTableEntry) -> dict[str, Any]:
        self.ram.multicast[int(index)] = bytes(value.serialize())
        return {"status": EmberStatus.SUCCESS}

    def cmd_getMulticastTableEntry(self, index: int) -> dict[str, Any]:
        raw = self.ram.multicast.get(int(index))
        entry = (
            bt.EmberMulticastTableEntry.deserialize(raw)[0]
            if raw is not None
            else bt.EmberMulticastTableEntry(multicastId=0, endpoint=0, networkIndex=0)
        )
        return {"status": EmberStatus.SUCCESS, "value": entry}

    def cmd_getChildData(self, index: int) -> dict[str, Any]:
        children = list(self.tokens.children.items())
        if index >= len(children):
            return {"status": EmberStatus.NOT_JOINED, "child_data": _child_data(bt.EUI64(bytes(8)), 0xFFFF)}
        eui64, nwk = children[index]
        return {"status": EmberStatus.SUCCESS, "child_data": _child_data(eui64, nwk)}

    def cmd_setChildData(self, index: int, child_data: Any) -> dict[str, Any]:
        self.tokens.children[child_data.eui64] = int(child_data.id)
        return {"status": EmberStatus.SUCCESS}

    # the address table lives in RAM: index -> (node id, EUI64)
    def _address_index_ok(self, index: int) -> bool:
        size = self.cmd_getConfigurationValue(bt.EzspConfigId.CONFIG_ADDRESS_TABLE_SIZE)["value"]
        return 0 <= index < size

    def cmd_getAddressTableRemoteNodeId(self, addressTableIndex: int) -> dict[str, Any]:
        entry = self.ram.address_table.get(int(addressTableIndex))
        return {"nodeId": 0xFFFF if entry is None else entry[0]}

    def cmd_getAddressTableRemoteEui64(self, addressTableIndex: int) -> dict[str, Any]:
        entry = self.ram.address_table.get(int(addressTableIndex))
        return {"eui64": bt.EUI64(bytes(8)) if entry is None else entry[1]}

    def cmd_setAddressTableRemoteNodeId(self, addressTableIndex: int, id: int) -> None:
        index = int(addressTableIndex)
        if self._address_index_ok(index):
            _, eui64 = self.ram.address_table.get(index, (0xFFFF, bt.EUI64(bytes(8))))
            self.ram.address_table[index] = (int(id), eui64)

    def cmd_setAddressTableRemoteEui64(self, addressTableIndex: int, eui64: bt.EUI64) -> dict[str, Any]:
        index = int(addressTableIndex)
        if not self._address_index_ok(index):
            return {"status": EmberStatus.ADDRESS_TABLE_INDEX_OUT_OF_RANGE}
        self.ram.address_table[index] = (0xFFFD, eui64)
        return {"status": EmberStatus.SUCCESS}

    def cmd_replaceAddressTableEntry(
        self, addressTableIndex: int, newEui64: bt.EUI64, newId: int, newExtendedTimeout: bool
    ) -> dict[str, Any]:
        index = int(addressTableIndex)
        if not self._address_index_ok(index):
            return {
                "status": EmberStatus.ADDRESS_TABLE_INDEX_OUT_OF_RANGE, "oldEui64": bt.EUI64(bytes(8)),
                "oldId": 0xFFFF, "oldExtendedTimeout": False,
            }
        old_id, old_eui64 = self.ram.address_table.get(index, (0xFFFF, bt.EUI64(bytes(8))))
        old_ext = old_eui64 in self.ram.extended_timeout
        self.ram.address_table[index] = (int(newId), newEui64)
        self.cmd_setExtendedTimeout(newEui64, newExtendedTimeout)
        return {"status": EmberStatus.SUCCESS, "oldEui64": old_eui64, "oldId": old_id, "oldExtendedTimeout": old_ext}

    def _known_devices(self) -> dict[int, bt.EUI64]:
        known = dict(self.address_book)
        known.update({nwk: eui64 for eui64, nwk in self.tokens.children.items()})
        known.update({nwk: eui64 for nwk, eui64 in self.ram.address_table.values() if nwk < 0xFFF8})
        return known

    def cmd_lookupEui64ByNodeId(self, nodeId: int) -> dict[str, Any]:
        if nodeId == self.tokens.node_id and self.ram.network_up:
            return {"status": EmberStatus.SUCCESS, "eui64": self.tokens.eui64}
        eui64 = self._known_devices().get(int(nodeId))
        if eui64 is None:
            return {"status": EmberStatus.ERR_FATAL, "eui64": bt.EUI64(bytes(8))}
        return {"status": EmberStatus.SUCCESS, "eui64": eui64}

    def cmd_lookupNodeIdByEui64(self, eui64: bt.EUI64) -> dict[str, Any]:
        for nwk, known in self._known_devices().items():
            if known == eui64:
                return {"nodeId": nwk}
        return {"nodeId": 0xFFFF}

    def cmd_getExtendedTimeout(self, remoteEui64: bt.EUI64) -> dict[str, Any]:
        return {"extendedTimeout": remoteEui64 in self.ram.extended_timeout}

    def cmd_setExtendedTimeout(self, remoteEui64: bt.EUI64, extendedTimeout: bool) -> None:
        if extendedTimeout:
            self.ram.extended_timeout.add(remoteEui64)
        else:
            self.ram.extended_timeout.discard(remoteEui64)

    def cmd_gpSinkTableClearAll(self) -> None:
        return None

    def cmd_gpProxyTableGetEntry(self, proxyIndex: int) -> dict[str, Any]:
        return {"status": EmberStatus.INDEX_OUT_OF_RANGE, "entry": _empty(COMMANDS["gpProxyTableGetEntry"][2]["entry"])}

    def cmd_gpSinkTableGetEntry(self, index: int) -> dict[str, Any]:
        return {"status": EmberStatus.INDEX_OUT_OF_RANGE, "entry": _empty(COMMANDS["gpSinkTableGetEntry"][2]["entry"])}

    # -- messaging -------------------------------------------------------------------
    def record_outgoing(
        self, kind: str, destination: int, aps: bt.EmberApsFrame, tag: int, data: bytes, radius: int
    ) -> int:
        """Account for one transmission and hand it to the send listeners;
        returns the APS counter used."""
        seq = self.ram.aps_seq
        self.ram.aps_seq = (seq + 1) % 256
        self.tokens.nwk_frame_counter = (self.tokens.nwk_frame_counter + 1) & 0xFFFFFFFF
        if aps.options & bt.EmberApsOption.APS_OPTION_ENCRYPTION:
            self.tokens.aps_frame_counter = (self.tokens.aps_frame_counter + 1) & 0xFFFFFFFF
        message = SentMessage(
            kind=kind,
            destination=int(destination),
            profile_id=int(aps.profileId),
            cluster_id=int(aps.clusterId),
            src_ep=int(aps.sourceEndpoint),
            dst_ep=int(aps.destinationEndpoint),
            options=int(aps.options),
            group_id=int(aps.groupId),
            tsn=int(aps.sequence),
            aps_sequence=seq,
            message_tag=int(tag),
            radius=int(radius),
            data=bytes(data),
        )
        for listener in list(self.send_listeners):
            try:
                listener(message)
            except Exception:  # noqa: BLE001 - a listener must not break the NCP
                _LOGGER.exception("send listener failed")
        return seq

    def cmd_sendUnicast(
        self, type: bt.EmberOutgoingMessageType, indexOrDestination: int, apsFrame: bt.EmberApsFrame,
        messageTag: int, messageContents: bytes,
    ) -> dict[str, Any]:
        if not self.ram.network_up:
            return {"status": EmberStatus.NETWORK_DOWN, "sequence": 0}
        seq = self.record_outgoing("unicast", indexOrDestination, apsFrame, messageTag, messageContents, 0)
        status = EmberStatus.DELIVERY_FAILED if indexOrDestination in self.unreachable else EmberStatus.SUCCESS
        self._later(
            "messageSentHandler", type=type, indexOrDestination=indexOrDestination,
            apsFrame=apsFrame.replace(sequence=seq), messageTag=messageTag, status=status,
            messageContents=messageContents,
        )
        if indexOrDestination == self.tokens.node_id and apsFrame.profileId == ezsp_zdo.ZDO_PROFILE:
            self._zdo_loopback(apsFrame, messageContents)
        return {"status": EmberStatus.SUCCESS, "sequence": seq}

    def zdo_answer(self, cluster_id: int, data: bytes) -> tuple[int, bytes] | None:
        """The stack's own answer to a ZDO request about this node, if it gives one."""
        return ezsp_zdo.answer(
            cluster_id, data, nwk=self.tokens.node_id, ieee=self.tokens.eui64, endpoints=self.ram.endpoints
        )

    def _zdo_loopback(self, aps: bt.EmberApsFrame, data: bytes) -> None:
        """The host asked the coordinator about itself: the stack answers locally
        and the response reaches the host as an incoming message."""
        answer = self.zdo_answer(int(aps.clusterId), bytes(data))
        if answer is None:
            return
        cluster, payload = answer
        self._later(
            "incomingMessageHandler",
            type=bt.EmberIncomingMessageType.INCOMING_UNICAST,
            apsFrame=bt.EmberApsFrame(
                profileId=ezsp_zdo.ZDO_PROFILE, clusterId=cluster, sourceEndpoint=0,
                destinationEndpoint=0, options=bt.EmberApsOption.APS_OPTION_NONE, groupId=0,
                sequence=self.ram.aps_seq,
            ),
            lastHopLqi=255, lastHopRssi=0, sender=self.tokens.node_id,
            bindingIndex=0xFF, addressIndex=0xFF, messageContents=payload,
        )

    def cmd_sendBroadcast(
        self, destination: int, apsFrame: bt.EmberApsFrame, radius: int, messageTag: int, messageContents: bytes,
    ) -> dict[str, Any]:
        if not self.ram.network_up:
            return {"status": EmberStatus.NETWORK_DOWN, "sequence": 0}
        if destination < 0xFFF8:
            return {"status": EmberStatus.BAD_ARGUMENT, "sequence": 0}
        seq = self.record_outgoing("broadcast", destination, apsFrame, messageTag, messageContents, radius)
        self._later(
            "messageSentHandler", type=bt.EmberOutgoingMessageType.OUTGOING_BROADCAST,
            indexOrDestination=destination, apsFrame=apsFrame.replace(sequence=seq),
            messageTag=messageTag, status=EmberStatus.SUCCESS, messageContents=messageContents,
        )
        return {"status": EmberStatus.SUCCESS, "sequence": seq}

    def cmd_sendMulticast(
        self, apsFrame: bt.EmberApsFrame, hops: int, nonmemberRadius: int, messageTag: int, messageContents: bytes,
    ) -> dict[str, Any]:
        if not self.ram.network_up:
            return {"status": EmberStatus.NETWORK_DOWN, "sequence": 0}
        seq = self.record_outgoing("multicast", apsFrame.groupId, apsFrame, messageTag, messageContents, hops)
        self._later(
            "messageSentHandler", type=bt.EmberOutgoingMessageType.OUTGOING_MULTICAST,
            indexOrDestination=apsFrame.groupId, apsFrame=apsFrame.replace(sequence=seq),
            messageTag=messageTag, status=EmberStatus.SUCCESS, messageContents=messageContents,
        )
        return {"status": EmberStatus.SUCCESS, "sequence": seq}

    def cmd_sendReply(self, sender: int, apsFrame: bt.EmberApsFrame, messageContents: bytes) -> dict[str, Any]:
        if not self.ram.network_up:
            return {"status": EmberStatus.NETWORK_DOWN}
        self.record_outgoing("unicast", sender, apsFrame, 0, messageContents, 0)
        return {"status": EmberStatus.SUCCESS}

    # -- duty cycle ------------------------------------------------------------------
    def cmd_getDutyCycleState(self) -> dict[str, Any]:
        return {"status": EmberStatus.SUCCESS, "returnedState": self.duty_cycle.state}

    def cmd_getDutyCycleLimits(self) -> dict[str, Any]:
        dc = self.duty_cycle
        limits = DutyCycleLimits(limitThresh=dc.limit_thresh, critThresh=dc.crit_thresh, suspLimit=dc.susp_limit)
        return {"status": EmberStatus.SUCCESS, "limits": limits}

    def cmd_setDutyCycleLimitsInStack(self, limits: DutyCycleLimits) -> dict[str, Any]:
        if not (limits.suspLimit > limits.critThresh > limits.limitThresh):
            return {"status": EmberStatus.BAD_ARGUMENT}
        self.duty_cycle.limit_thresh = int(limits.limitThresh)
        self.duty_cycle.crit_thresh = int(limits.critThresh)
        self.duty_cycle.susp_limit = int(limits.suspLimit)
        return {"status": EmberStatus.SUCCESS}

    def cmd_getCurrentDutyCycle(self, maxDevices: int) -> dict[str, Any]:
        entries = b"".join(
            bt.EmberPerDeviceDutyCycle(nodeId=nwk, dutyCycleConsumed=min(used, 0xFFFF)).serialize()
            for nwk, used in list(self.duty_cycle.consumed.items())[:maxDevices]
        )
        array = entries[:DUTY_CYCLE_ARRAY_BYTES].ljust(DUTY_CYCLE_ARRAY_BYTES, b"\xff")
        return {"status": EmberStatus.SUCCESS, "arrayOfDeviceDutyCycles": list(array)}

    def duty_cycle_callback(self) -> None:
        """Tell the host the duty-cycle state (dutyCycleHandler, 0x4D)."""
        dc = self.duty_cycle
        self.callback(
            "dutyCycleHandler",
            channelPage=dc.channel_page,
            channel=dc.channel,
            state=dc.state,
            arrayOfDeviceDutyCycles=[
                bt.EmberPerDeviceDutyCycle(nodeId=nwk, dutyCycleConsumed=min(used, 0xFFFF))
                for nwk, used in dc.consumed.items()
            ],
        )


def _stack_version_word() -> int:
    major, minor, patch, special = STACK_VERSION
    return major << 12 | minor << 8 | patch << 4 | special


def _serialize(schema: Any, fields: dict[str, Any]) -> bytes:
    if isinstance(schema, dict):
        return bt.serialize_dict([], fields, schema)
    return schema(**fields).serialize()


def _parse_add_endpoint(params: bytes) -> dict[str, Any]:
    """addEndpoint's two cluster lists are sized by the counts before them,
    which a schema of anonymous lists cannot express."""
    endpoint, rest = zt.uint8_t.deserialize(params)
    profile, rest = zt.uint16_t.deserialize(rest)
    device_id, rest = zt.uint16_t.deserialize(rest)
    version, rest = zt.uint8_t.deserialize(rest)
    n_in, rest = zt.uint8_t.deserialize(rest)
    n_out, rest = zt.uint8_t.deserialize(rest)
    clusters: list[int] = []
    for _ in range(n_in + n_out):
        cluster, rest = zt.uint16_t.deserialize(rest)
        clusters.append(int(cluster))
    return {
        "endpoint": Endpoint(
            endpoint=int(endpoint),
            profile_id=int(profile),
            device_id=int(device_id),
            device_version=int(version),
            input_clusters=tuple(clusters[:n_in]),
            output_clusters=tuple(clusters[n_in:]),
        )
    }


def _child_data(eui64: bt.EUI64, nwk: int) -> Any:
    cls = COMMANDS["getChildData"][2]["child_data"]
    return cls(eui64=eui64, type=bt.EmberNodeType.SLEEPY_END_DEVICE, id=nwk, phy=0, power=0, timeout=0, timeout_remaining=0)


def _empty(struct_cls: Any) -> Any:
    """An all-zero instance of a bellows struct (what firmware returns beside an error)."""
    size = len(struct_cls.deserialize(b"\x00" * 512)[0].serialize())
    return struct_cls.deserialize(b"\x00" * size)[0]
