"""ZEP, the ZigBee Encapsulation Protocol (UDP port 17754, big-endian).

v1 data (16-byte header), v2 data (32-byte header, NTP timestamp and
sequence) and v2 ack.  ``lqi_mode`` 1 means the frame ends in a real FCS;
0 means its last two bytes carry link-quality data instead.
"""

from __future__ import annotations

from typing import Any

from construct import Bytes, Const, Int8ub, Int16ub, Int32ub, Int64ub, Struct, Switch, this

from han_emu.frames.errors import FrameError, guarded

ZEP_PORT = 17754
NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01


class ZepType:
    DATA = 1
    ACK = 2


ZepV1 = Struct(
    "channel" / Int8ub,
    "device_id" / Int16ub,
    "lqi_mode" / Int8ub,
    "lqi" / Int8ub,
    "reserved" / Bytes(7),
    "length" / Int8ub,
    "frame" / Bytes(this.length),
)

ZepV2Data = Struct(
    "channel" / Int8ub,
    "device_id" / Int16ub,
    "lqi_mode" / Int8ub,
    "lqi" / Int8ub,
    "timestamp" / Int64ub,  # NTP: seconds since 1900 << 32 | fraction
    "sequence" / Int32ub,
    "reserved" / Bytes(10),
    "length" / Int8ub,
    "frame" / Bytes(this.length),
)

ZepV2Ack = Struct("sequence" / Int32ub)

ZepV2 = Struct(
    "type" / Int8ub,
    "body" / Switch(this.type, {ZepType.DATA: ZepV2Data, ZepType.ACK: ZepV2Ack}),
)

ZepPacket = Struct(
    Const(b"EX"),
    "version" / Int8ub,
    "content" / Switch(this.version, {1: ZepV1, 2: ZepV2}),
)


def parse_zep(data: bytes) -> Any:
    result = guarded("zep", lambda: ZepPacket.parse(data))
    if result.content is None or (result.version == 2 and result.content.body is None):
        kind = f"version {result.version}" if result.content is None else f"v2 type {result.content.type}"
        raise FrameError("zep", f"unsupported {kind}")
    return result


def build_zep(fields: Any) -> bytes:
    return guarded("zep", lambda: ZepPacket.build(fields))


def zep_v2_data(frame: bytes, *, channel: int, timestamp: float, sequence: int, device_id: int = 0, lqi: int = 255, fcs: bool = True) -> bytes:
    """A v2 data packet carrying ``frame`` (a PSDU ending in its FCS if ``fcs``)."""
    return build_zep(
        {
            "version": 2,
            "content": {
                "type": ZepType.DATA,
                "body": {
                    "channel": channel,
                    "device_id": device_id,
                    "lqi_mode": 1 if fcs else 0,
                    "lqi": lqi,
                    "timestamp": posix_to_ntp(timestamp),
                    "sequence": sequence,
                    "reserved": bytes(10),
                    "length": len(frame),
                    "frame": frame,
                },
            },
        }
    )


def ntp_to_posix(ntp: int) -> float:
    return (ntp >> 32) - NTP_EPOCH_OFFSET + (ntp & 0xFFFFFFFF) / 2**32


def posix_to_ntp(t: float) -> int:
    seconds = int(t // 1)
    fraction = int(round((t - seconds) * 2**32))
    if fraction >= 2**32:
        seconds, fraction = seconds + 1, 0
    return ((seconds + NTP_EPOCH_OFFSET) << 32) | fraction
