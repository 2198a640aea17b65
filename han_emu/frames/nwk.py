"""Zigbee NWK frames: data, command and inter-PAN, with the auxiliary security header.

The payload after the (optional) auxiliary header is kept as bytes: for a
secured frame it is ciphertext followed by the MIC, and the command identifier
is inside it.  ``NwkCommand`` parses the (decrypted) payload of command frames.
``header_end`` and ``payload_start`` record where the auxiliary header begins
and ends, which the CCM* code needs for the authenticated data.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from construct import (
    Array,
    BitsInteger,
    BitStruct,
    ByteSwapped,
    Flag,
    GreedyBytes,
    If,
    Int8ul,
    Int16ul,
    Int64ul,
    Struct,
    Tell,
    this,
)

from han_emu.frames.errors import guarded
from han_emu.frames.secheader import AuxHeader


class NwkFrameType(IntEnum):
    DATA = 0
    COMMAND = 1
    INTER_PAN = 3


FrameControl = ByteSwapped(
    BitStruct(
        "reserved" / BitsInteger(2),
        "end_device_initiator" / Flag,
        "ext_src" / Flag,
        "ext_dst" / Flag,
        "source_route" / Flag,
        "security" / Flag,
        "multicast" / Flag,
        "discover_route" / BitsInteger(2),
        "protocol_version" / BitsInteger(4),
        "frame_type" / BitsInteger(2),
    )
)

MulticastControl = BitStruct(
    "max_non_member_radius" / BitsInteger(3),
    "non_member_radius" / BitsInteger(3),
    "mode" / BitsInteger(2),
)

SourceRoute = Struct(
    "relay_count" / Int8ul,
    "relay_index" / Int8ul,
    "relays" / Array(this.relay_count, Int16ul),
)


def _routed(ctx: Any) -> bool:
    return int(ctx.frame_control.frame_type) != NwkFrameType.INTER_PAN


NwkFrame = Struct(
    "frame_control" / FrameControl,
    "dst" / If(_routed, Int16ul),
    "src" / If(_routed, Int16ul),
    "radius" / If(_routed, Int8ul),
    "seq" / If(_routed, Int8ul),
    "dst_ieee" / If(this.frame_control.ext_dst, Int64ul),
    "src_ieee" / If(this.frame_control.ext_src, Int64ul),
    "multicast_control" / If(this.frame_control.multicast, MulticastControl),
    "source_route" / If(this.frame_control.source_route, SourceRoute),
    "header_end" / Tell,
    "aux" / If(this.frame_control.security, AuxHeader),
    "payload_start" / Tell,
    "payload" / GreedyBytes,
)

NwkCommand = Struct("command_id" / Int8ul, "payload" / GreedyBytes)


def parse_nwk(data: bytes) -> Any:
    return guarded("nwk", lambda: NwkFrame.parse(data))


def build_nwk(fields: Any) -> bytes:
    return guarded("nwk", lambda: NwkFrame.build(fields))


def parse_nwk_command(data: bytes) -> Any:
    return guarded("nwk command", lambda: NwkCommand.parse(data))
