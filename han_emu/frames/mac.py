"""IEEE 802.15.4 MAC frames (data, ack, command, beacon) as construct declarations.

One declaration parses and builds.  ``MacFrame`` is the MPDU without its FCS
(what link type 230 stores); ``MacPsdu`` is the same frame followed by its
FCS, computed on build and checked on parse (what is on air, link type 195).
The MAC auxiliary security header is parsed so that secured frames keep their
payload boundary; Zigbee itself leaves MAC security off.
"""

from __future__ import annotations

import io
from enum import IntEnum
from typing import Any

from construct import (
    Array,
    Bit,
    BitsInteger,
    BitStruct,
    Bytes,
    ByteSwapped,
    ChecksumError,
    Construct,
    Flag,
    GreedyBytes,
    If,
    Int8ul,
    Int16ul,
    Int32ul,
    Int64ul,
    Pass,
    Struct,
    Subconstruct,
    Switch,
    stream_read_entire,
    stream_write,
    this,
)

from han_emu.frames.errors import guarded
from han_emu.frames.fcs import crc16_kermit


class MacFrameType(IntEnum):
    BEACON = 0
    DATA = 1
    ACK = 2
    COMMAND = 3


class AddrMode(IntEnum):
    NONE = 0
    SHORT = 2
    EXTENDED = 3


BROADCAST = 0xFFFF

FrameControl = ByteSwapped(
    BitStruct(  # most significant bit first: bit 15 .. bit 0
        "src_addr_mode" / BitsInteger(2),
        "frame_version" / BitsInteger(2),
        "dst_addr_mode" / BitsInteger(2),
        "ie_present" / Flag,
        "seq_suppressed" / Flag,
        "reserved" / Bit,
        "panid_compression" / Flag,
        "ack_request" / Flag,
        "frame_pending" / Flag,
        "security_enabled" / Flag,
        "frame_type" / BitsInteger(3),
    )
)


def _pan_ids(fc: Any) -> tuple[bool, bool]:
    """(destination PAN present, source PAN present) for this frame control."""
    dst, src, comp = int(fc.dst_addr_mode), int(fc.src_addr_mode), bool(fc.panid_compression)
    if fc.frame_version < 2:
        return dst != 0, src != 0 and not comp
    # IEEE 802.15.4-2015 table 7-2
    if dst == 0 and src == 0:
        return comp, False
    if src == 0:
        return not comp, False
    if dst == 0:
        return False, not comp
    if dst == 3 and src == 3:
        return not comp, False
    return True, not comp


def _address(mode_field: str) -> Construct:
    return Switch(
        lambda ctx: int(ctx.frame_control[mode_field]),
        {AddrMode.SHORT: Int16ul, AddrMode.EXTENDED: Int64ul},
        default=Pass,
    )


_KEY_SOURCE_LEN = {0: 0, 1: 0, 2: 4, 3: 8}

SecurityHeader = Struct(
    "control"
    / BitStruct(
        "reserved" / Bit,
        "asn_in_nonce" / Flag,
        "frame_counter_suppressed" / Flag,
        "key_id_mode" / BitsInteger(2),
        "level" / BitsInteger(3),
    ),
    "frame_counter" / If(lambda ctx: not ctx.control.frame_counter_suppressed, Int32ul),
    "key_source" / Bytes(lambda ctx: _KEY_SOURCE_LEN[ctx.control.key_id_mode]),
    "key_index" / If(lambda ctx: ctx.control.key_id_mode != 0, Int8ul),
)

Superframe = ByteSwapped(
    BitStruct(
        "association_permit" / Flag,
        "pan_coordinator" / Flag,
        "reserved" / Bit,
        "battery_life_extension" / Flag,
        "final_cap_slot" / BitsInteger(4),
        "superframe_order" / BitsInteger(4),
        "beacon_order" / BitsInteger(4),
    )
)

BeaconBody = Struct(
    "superframe" / Superframe,
    "gts_spec"
    / BitStruct("permit" / Flag, "reserved" / BitsInteger(4), "count" / BitsInteger(3)),
    "gts_directions" / If(this.gts_spec.count > 0, Int8ul),
    "gts_list"
    / Array(this.gts_spec.count, Struct("short_address" / Int16ul, "info" / Int8ul)),
    "pending_spec"
    / BitStruct(
        "reserved_hi" / Bit,
        "extended_count" / BitsInteger(3),
        "reserved_lo" / Bit,
        "short_count" / BitsInteger(3),
    ),
    "pending_short" / Array(this.pending_spec.short_count, Int16ul),
    "pending_extended" / Array(this.pending_spec.extended_count, Int64ul),
    "payload" / GreedyBytes,
)

CommandBody = Struct("command_id" / Int8ul, "payload" / GreedyBytes)
RawBody = Struct("payload" / GreedyBytes)


def _body(ctx: Any) -> int:
    """Pick the body layout; secured payloads stay opaque."""
    if ctx.frame_control.security_enabled:
        return -1
    return int(ctx.frame_control.frame_type)


MacFrame = Struct(
    "frame_control" / FrameControl,
    "seq" / If(lambda ctx: not ctx.frame_control.seq_suppressed, Int8ul),
    "dst_pan" / If(lambda ctx: _pan_ids(ctx.frame_control)[0], Int16ul),
    "dst_addr" / _address("dst_addr_mode"),
    "src_pan" / If(lambda ctx: _pan_ids(ctx.frame_control)[1], Int16ul),
    "src_addr" / _address("src_addr_mode"),
    "security_header" / If(this.frame_control.security_enabled, SecurityHeader),
    "body"
    / Switch(
        _body,
        {MacFrameType.BEACON: BeaconBody, MacFrameType.COMMAND: CommandBody},
        default=RawBody,
    ),
)


class WithFcs(Subconstruct):  # type: ignore[misc]
    """The subcon's bytes followed by their CRC-16/KERMIT, little-endian."""

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        data = stream_read_entire(stream, path)
        if len(data) < 2:
            raise ChecksumError("frame too short for an FCS", path=path)
        body, fcs = data[:-2], int.from_bytes(data[-2:], "little")
        want = crc16_kermit(body)
        if fcs != want:
            raise ChecksumError(f"FCS mismatch: frame has {fcs:#06x}, computed {want:#06x}", path=path)
        return self.subcon._parsereport(io.BytesIO(body), context, path)

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        body = io.BytesIO()
        value = self.subcon._build(obj, body, context, path)
        data = body.getvalue()
        stream_write(stream, data + crc16_kermit(data).to_bytes(2, "little"), len(data) + 2, path)
        return value

    def _sizeof(self, context: Any, path: str) -> int:
        return self.subcon._sizeof(context, path) + 2


MacPsdu = WithFcs(MacFrame)


def parse_mac(data: bytes, *, fcs: bool = True) -> Any:
    """Parse a MAC frame; ``fcs`` says whether ``data`` ends in an FCS to check."""
    return guarded("mac", lambda: (MacPsdu if fcs else MacFrame).parse(data))


def build_mac(fields: Any, *, fcs: bool = True) -> bytes:
    """Build a MAC frame from parsed-form fields, appending the FCS if asked."""
    return guarded("mac", lambda: (MacPsdu if fcs else MacFrame).build(fields))


def mac_payload(frame: Any) -> bytes:
    """The MAC payload (the NWK frame for Zigbee data frames)."""
    return bytes(frame.body.payload)


__all__ = [
    "AddrMode",
    "BROADCAST",
    "BeaconBody",
    "MacFrame",
    "MacFrameType",
    "MacPsdu",
    "WithFcs",
    "build_mac",
    "mac_payload",
    "parse_mac",
]
