"""The IEEE802_15_4_TAP pseudo-header (link type 283).

Header {version u8 = 0, reserved u8, length u16 = header + TLVs}, then TLVs
{type u16, length u16, value padded to 4 bytes}, then the MAC frame.  It
carries the channel page, which GB-868 sub-GHz captures need.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from enum import IntEnum
from typing import Any

from construct import Bytes, Const, FixedSized, GreedyBytes, GreedyRange, Int8ul, Int16ul, Padding, Struct, this

from han_emu.frames.errors import FrameError, guarded


class TapTlv(IntEnum):
    FCS_TYPE = 0
    RSS = 1
    BIT_RATE = 2
    CHANNEL_ASSIGNMENT = 3
    SUN_PHY = 4
    START_OF_FRAME_TS = 5
    END_OF_FRAME_TS = 6
    ASN = 7
    SLOT_START_TS = 8
    TIMESLOT_LENGTH = 9
    LQI = 10
    CHANNEL_FREQUENCY = 11
    CHANNEL_PLAN = 12


class FcsType(IntEnum):
    NONE = 0
    CRC16 = 1
    CRC32 = 2


Tlv = Struct(
    "type" / Int16ul,
    "length" / Int16ul,
    "value" / Bytes(this.length),
    Padding(lambda ctx: -ctx.length % 4),
)

TapHeader = Struct(
    "version" / Const(0, Int8ul),
    "reserved" / Int8ul,
    "length" / Int16ul,
    "tlvs" / FixedSized(this.length - 4, GreedyRange(Tlv)),
    "frame" / GreedyBytes,
)


@dataclass(frozen=True)
class TapInfo:
    """What a TAP header says about the frame that follows it."""

    fcs_type: int = FcsType.CRC16
    channel: int | None = None
    page: int | None = None
    rssi: float | None = None
    lqi: int | None = None


def tlv(kind: int, value: bytes) -> dict[str, Any]:
    return {"type": kind, "length": len(value), "value": value}


def build_tap(frame: bytes, info: TapInfo) -> bytes:
    """TAP header (FCS type, then channel/page, RSS, LQI when known) + frame.

    The header depends only on ``info``: the declaration builds it once per
    ``info`` (a recording has one or two), and each frame is appended."""
    return tap_header(info) + frame


@lru_cache(maxsize=64)
def tap_header(info: TapInfo) -> bytes:
    """The TAP header (everything before the frame) for ``info``."""
    tlvs = [tlv(TapTlv.FCS_TYPE, bytes([info.fcs_type]))]
    if info.channel is not None:
        tlvs.append(tlv(TapTlv.CHANNEL_ASSIGNMENT, struct.pack("<HB", info.channel, info.page or 0)))
    if info.rssi is not None:
        tlvs.append(tlv(TapTlv.RSS, struct.pack("<f", info.rssi)))
    if info.lqi is not None:
        tlvs.append(tlv(TapTlv.LQI, bytes([info.lqi])))
    length = 4 + sum(4 + len(t["value"]) + (-len(t["value"]) % 4) for t in tlvs)
    return guarded("tap", lambda: TapHeader.build({"reserved": 0, "length": length, "tlvs": tlvs, "frame": b""}))


def parse_tap(data: bytes) -> tuple[TapInfo, bytes]:
    """(header information, MAC frame including its FCS when fcs_type says so)."""
    parsed = guarded("tap", lambda: TapHeader.parse(data))
    if parsed.length < 4 or parsed.length > len(data):
        raise FrameError("tap", f"header length {parsed.length} does not fit a {len(data)}-byte record")
    fields: dict[str, Any] = {}
    for t in parsed.tlvs:
        v = bytes(t.value)
        try:
            if t.type == TapTlv.FCS_TYPE:
                fields["fcs_type"] = v[0]
            elif t.type == TapTlv.CHANNEL_ASSIGNMENT:
                fields["channel"], fields["page"] = struct.unpack("<HB", v[:3])
            elif t.type == TapTlv.RSS:
                fields["rssi"] = struct.unpack("<f", v[:4])[0]
            elif t.type == TapTlv.LQI:
                fields["lqi"] = v[0]
        except (IndexError, struct.error):
            raise FrameError("tap", f"TLV type {t.type} has a short value ({len(v)} bytes)") from None
    return TapInfo(**fields), bytes(parsed.frame)
