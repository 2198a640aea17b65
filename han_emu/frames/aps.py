"""Zigbee APS frames: data, command, ack and inter-PAN, with the extended
header (fragmentation) and the auxiliary security header.

As in ``nwk``, everything after the auxiliary header stays bytes (ciphertext
plus MIC when secured); ``ApsCommand`` and ``TransportKey`` parse the
decrypted command payloads.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from construct import (
    BitsInteger,
    BitStruct,
    Bytes,
    Flag,
    GreedyBytes,
    If,
    Int8ul,
    Int16ul,
    Int64ul,
    Struct,
    Switch,
    Tell,
    this,
)

from han_emu.frames.errors import guarded
from han_emu.frames.secheader import AuxHeader


class ApsFrameType(IntEnum):
    DATA = 0
    COMMAND = 1
    ACK = 2
    INTER_PAN = 3


class DeliveryMode(IntEnum):
    UNICAST = 0
    BROADCAST = 2
    GROUP = 3


class Fragmentation(IntEnum):
    NONE = 0
    FIRST = 1
    SUBSEQUENT = 2


class ApsCommandId(IntEnum):
    TRANSPORT_KEY = 0x05
    UPDATE_DEVICE = 0x06
    REMOVE_DEVICE = 0x07
    REQUEST_KEY = 0x08
    SWITCH_KEY = 0x09
    TUNNEL = 0x0E
    VERIFY_KEY = 0x0F
    CONFIRM_KEY = 0x10


class TransportKeyType(IntEnum):
    TC_MASTER = 0
    NETWORK = 1
    APP_MASTER = 2
    APP_LINK = 3
    TC_LINK = 4
    HIGH_SECURITY_NETWORK = 5


FrameControl = BitStruct(
    "extended_header" / Flag,
    "ack_request" / Flag,
    "security" / Flag,
    "ack_format" / Flag,
    "delivery_mode" / BitsInteger(2),
    "frame_type" / BitsInteger(2),
)


def _type(ctx: Any) -> int:
    return int(ctx.frame_control.frame_type)


def _addressed_ack(ctx: Any) -> bool:
    return _type(ctx) == ApsFrameType.ACK and not ctx.frame_control.ack_format


def _has_dst_endpoint(ctx: Any) -> bool:
    if _type(ctx) == ApsFrameType.DATA:
        return int(ctx.frame_control.delivery_mode) in (DeliveryMode.UNICAST, DeliveryMode.BROADCAST)
    return _addressed_ack(ctx)


def _has_group(ctx: Any) -> bool:
    return _type(ctx) in (ApsFrameType.DATA, ApsFrameType.INTER_PAN) and (
        int(ctx.frame_control.delivery_mode) == DeliveryMode.GROUP
    )


def _has_cluster(ctx: Any) -> bool:
    return _type(ctx) in (ApsFrameType.DATA, ApsFrameType.INTER_PAN) or _addressed_ack(ctx)


def _has_src_endpoint(ctx: Any) -> bool:
    return _type(ctx) == ApsFrameType.DATA or _addressed_ack(ctx)


ExtendedHeader = Struct(
    "control" / BitStruct("reserved" / BitsInteger(6), "fragmentation" / BitsInteger(2)),
    "block_number" / If(this.control.fragmentation != Fragmentation.NONE, Int8ul),
    "ack_bitfield"
    / If(
        lambda ctx: ctx.control.fragmentation != Fragmentation.NONE
        and int(ctx._.frame_control.frame_type) == ApsFrameType.ACK,
        Int8ul,
    ),
)

ApsFrame = Struct(
    "frame_control" / FrameControl,
    "dst_endpoint" / If(_has_dst_endpoint, Int8ul),
    "group" / If(_has_group, Int16ul),
    "cluster" / If(_has_cluster, Int16ul),
    "profile" / If(_has_cluster, Int16ul),
    "src_endpoint" / If(_has_src_endpoint, Int8ul),
    "counter" / If(lambda ctx: _type(ctx) != ApsFrameType.INTER_PAN, Int8ul),
    "extended" / If(this.frame_control.extended_header, ExtendedHeader),
    "header_end" / Tell,
    "aux" / If(this.frame_control.security, AuxHeader),
    "payload_start" / Tell,
    "payload" / GreedyBytes,
)

ApsCommand = Struct("command_id" / Int8ul, "payload" / GreedyBytes)

TransportKey = Struct(
    "key_type" / Int8ul,
    "key" / Bytes(16),
    "details"
    / Switch(
        lambda ctx: ctx.key_type,
        {
            TransportKeyType.NETWORK: Struct(
                "key_seq" / Int8ul, "dst_ieee" / Int64ul, "src_ieee" / Int64ul
            ),
            TransportKeyType.HIGH_SECURITY_NETWORK: Struct(
                "key_seq" / Int8ul, "dst_ieee" / Int64ul, "src_ieee" / Int64ul
            ),
            TransportKeyType.TC_LINK: Struct("dst_ieee" / Int64ul, "src_ieee" / Int64ul),
            TransportKeyType.TC_MASTER: Struct("dst_ieee" / Int64ul, "src_ieee" / Int64ul),
            TransportKeyType.APP_LINK: Struct("partner_ieee" / Int64ul, "initiator" / Flag),
            TransportKeyType.APP_MASTER: Struct("partner_ieee" / Int64ul, "initiator" / Flag),
        },
    ),
    "rest" / GreedyBytes,
)


def parse_aps(data: bytes) -> Any:
    return guarded("aps", lambda: ApsFrame.parse(data))


def build_aps(fields: Any) -> bytes:
    return guarded("aps", lambda: ApsFrame.build(fields))


def parse_aps_command(data: bytes) -> Any:
    return guarded("aps command", lambda: ApsCommand.parse(data))


def parse_transport_key(payload: bytes) -> Any:
    """Parse a Transport-Key command's payload (after the command id)."""
    return guarded("aps transport-key", lambda: TransportKey.parse(payload))
