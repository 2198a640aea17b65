"""EZSP protocol version 14, as EmberZNet 7.4 speaks it: v13's frames with
what changed, read from bellows' v14 schemas (``bellows/ezsp/v14/commands.py``)
and host code (``bellows/ezsp/v14/__init__.py``):

- every status the stack returns is an ``sl_status_t`` (32 bits) instead of
  an EmberStatus or EzspStatus byte;
- incomingMessageHandler carries the sender's EUI-64 (where the stack knows
  it) and a timestamp; messageSentHandler starts with the status and names
  the destination ``nwk``; message tags are 16 bits;
- sendBroadcast and sendMulticast take an alias and a sequence (APS alias
  sending), sendMulticast a broadcast address instead of a non-member radius;
- exportLinkKeyByIndex answers with a security-manager context (holding the
  partner's EUI-64) instead of the EUI-64 itself; exportKey and importKey
  return the context too;
- the address table is read and written with getAddressTableInfo /
  setAddressTableInfo; bellows reads indexes beyond CONFIG_ADDRESS_TABLE_SIZE
  (``read_address_table`` asks ``size + 100`` of them): the NCP's address
  associations continue there with the trust-centre address cache, which
  UG100 counts with the address table ("the total number of such address
  associations maintained by the NCP is the sum" of the two sizes);
- lookupNodeIdByEui64 and getExtendedTimeout return a status (FAIL: not
  found / normal timeout), leaveNetwork takes options.
"""

from __future__ import annotations

from typing import Any

import bellows.types as bt
from bellows.ezsp.v14.commands import COMMANDS as V14_COMMANDS

from han_emu.radio.fakencp.ezsp.ncp.interpreter import CommandSpec
from han_emu.radio.fakencp.ezsp.ncp.networking_frames import DutyCycleLimits
from han_emu.radio.fakencp.ezsp.ncp.v13 import EzspNcpV13

SCHEMA_FIXES: dict[str, CommandSpec] = {
    "getDutyCycleLimits": (0x004B, {}, {"status": bt.sl_Status, "limits": DutyCycleLimits}),
    "setDutyCycleLimitsInStack": (0x0040, {"limits": DutyCycleLimits}, {"status": bt.sl_Status}),
}
_NO_EUI64 = bt.EUI64(bytes(8))


def sl_status(value: Any) -> bt.sl_Status:
    """A v13 status (EmberStatus or EzspStatus) as the sl_Status v14 sends."""
    if isinstance(value, bt.sl_Status):
        return value
    if isinstance(value, (bt.EmberStatus, bt.EzspStatus)):
        if int(value) == 0:
            return bt.sl_Status.OK
        return bt.sl_Status.from_ember_status(value)
    return bt.sl_Status(int(value))


class EzspNcpV14(EzspNcpV13):
    """An EmberZNet 7.4.4.0 NCP speaking EZSP v14."""

    PROTOCOL_VERSION = 14
    STACK_VERSION = (7, 4, 4, 0)
    COMMANDS = {**V14_COMMANDS, **SCHEMA_FIXES}

    def wire_fields(self, schema: Any, fields: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(schema, dict):
            return fields
        return {
            name: sl_status(value) if schema.get(name) is bt.sl_Status else value
            for name, value in fields.items()
        }

    # -- messaging -------------------------------------------------------------------
    def incoming_fields(
        self, kind: bt.EmberIncomingMessageType, aps: bt.EmberApsFrame, lqi: int, rssi: int,
        sender: int, data: bytes,
    ) -> dict[str, Any]:
        eui64 = self.sender_eui64(sender) if sender != self.tokens.node_id else self.tokens.eui64
        return {
            "message_type": kind, "aps_frame": aps, "nwk": sender, "eui64": eui64 or _NO_EUI64,
            "binding_index": 0xFF, "address_index": 0xFF, "lqi": lqi, "rssi": rssi,
            "timestamp": int(self._clock() * 1000) & 0xFFFFFFFF, "message": data,
        }

    def sent_fields(
        self, kind: bt.EmberOutgoingMessageType, destination: int, aps: bt.EmberApsFrame, tag: int,
        status: bt.EmberStatus, data: bytes,
    ) -> dict[str, Any]:
        return {
            "status": sl_status(status), "message_type": kind, "nwk": destination, "aps_frame": aps,
            "message_tag": tag, "message": data,
        }

    def cmd_sendUnicast(  # type: ignore[override]
        self, message_type: bt.EmberOutgoingMessageType, nwk: int, aps_frame: bt.EmberApsFrame,
        message_tag: int, message: bytes,
    ) -> dict[str, Any]:
        return super().cmd_sendUnicast(message_type, nwk, aps_frame, message_tag, message)

    def cmd_sendBroadcast(  # type: ignore[override]
        self, alias: int, destination: int, sequence: int, aps_frame: bt.EmberApsFrame, radius: int,
        message_tag: int, message: bytes,
    ) -> dict[str, Any]:
        return super().cmd_sendBroadcast(destination, aps_frame, radius, message_tag, message)

    def cmd_sendMulticast(  # type: ignore[override]
        self, aps_frame: bt.EmberApsFrame, hops: int, broadcast_addr: int, alias: int, sequence: int,
        message_tag: int, message: bytes,
    ) -> dict[str, Any]:
        return super().cmd_sendMulticast(aps_frame, hops, 0, message_tag, message)

    # -- keys --------------------------------------------------------------------------
    def cmd_exportLinkKeyByIndex(self, index: int) -> dict[str, Any]:
        v13 = super().cmd_exportLinkKeyByIndex(index)
        context = bt.SecurityManagerContextV13(
            core_key_type=bt.SecurityManagerKeyType.APP_LINK, key_index=index,
            derived_type=bt.SecurityManagerDerivedKeyTypeV13.NONE, eui64=v13["eui64"],
            multi_network_index=0, flags=bt.SecurityManagerContextFlags.NONE, psa_key_alg_permission=0,
        )
        return {"status": v13["status"], "context": context, "plaintext_key": v13["plaintext_key"],
                "key_data": v13["key_data"]}

    def cmd_exportKey(self, context: bt.SecurityManagerContextV13) -> dict[str, Any]:
        return {**super().cmd_exportKey(context), "context": context}

    def cmd_importKey(self, context: bt.SecurityManagerContextV13, key: bt.KeyData) -> dict[str, Any]:
        return {**super().cmd_importKey(context, key), "context": context}

    # -- tables ------------------------------------------------------------------------
    def cmd_getAddressTableInfo(self, index: int) -> dict[str, Any]:
        size = self.config_value(bt.EzspConfigId.CONFIG_ADDRESS_TABLE_SIZE)
        if index < size:
            entry = self.ram.address_table.get(int(index))
        else:
            cached = self.ram.tc_cache.entries
            entry = cached[index - size] if index - size < len(cached) else None
            if index - size >= self.config_value(bt.EzspConfigId.CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE):
                return {"status": bt.sl_Status.INVALID_INDEX, "nwk": 0xFFFF, "eui64": _NO_EUI64}
        if entry is None:
            return {"status": bt.sl_Status.OK, "nwk": 0xFFFF, "eui64": _NO_EUI64}
        return {"status": bt.sl_Status.OK, "nwk": entry[0], "eui64": entry[1]}

    def cmd_setAddressTableInfo(self, index: int, eui64: bt.EUI64, nwk: int) -> dict[str, Any]:
        if not self._address_index_ok(int(index)):
            return {"status": bt.sl_Status.INVALID_INDEX}
        self.ram.address_table[int(index)] = (int(nwk), eui64)
        return {"status": bt.sl_Status.OK}

    def cmd_lookupNodeIdByEui64(self, eui64: bt.EUI64) -> dict[str, Any]:
        node_id = super().cmd_lookupNodeIdByEui64(eui64)["nodeId"]
        return {"status": bt.sl_Status.OK if node_id != 0xFFFF else bt.sl_Status.FAIL, "nodeId": node_id}

    def cmd_getExtendedTimeout(self, remoteEui64: bt.EUI64) -> dict[str, Any]:
        extended = super().cmd_getExtendedTimeout(remoteEui64)["extendedTimeout"]
        return {"status": bt.sl_Status.OK if extended else bt.sl_Status.FAIL}

    def cmd_setExtendedTimeout(self, remoteEui64: bt.EUI64, extendedTimeout: bool) -> dict[str, Any]:
        super().cmd_setExtendedTimeout(remoteEui64, extendedTimeout)
        return {"status": bt.sl_Status.OK}

    def cmd_setManufacturerCode(self, code: int) -> dict[str, Any]:
        super().cmd_setManufacturerCode(code)
        return {"status": bt.sl_Status.OK}

    def cmd_leaveNetwork(self, options: int = 0) -> dict[str, Any]:  # type: ignore[override]
        return super().cmd_leaveNetwork()
