"""The ZCL frame header (ZCL 2.4.1): frame control, manufacturer code, TSN,
command id; the one declaration of the format.

Payloads stay bytes here; the clusters package and zigpy's foundation types
give them meaning.  ``clusters.zcl_header`` reads and writes the same bytes
without construct for the hot paths, held to this declaration by the tests.
"""

from __future__ import annotations

from typing import Any

from construct import BitsInteger, BitStruct, Flag, GreedyBytes, If, Int8ul, Int16ul, Struct, this

from han_emu.frames.errors import guarded

FrameControl = BitStruct(
    "reserved" / BitsInteger(3),
    "disable_default_response" / Flag,
    "server_to_client" / Flag,
    "manufacturer_specific" / Flag,
    "frame_type" / BitsInteger(2),  # zigpy's foundation.FrameType
)

ZclFrame = Struct(
    "frame_control" / FrameControl,
    "manufacturer" / If(this.frame_control.manufacturer_specific, Int16ul),
    "tsn" / Int8ul,
    "command_id" / Int8ul,
    "payload" / GreedyBytes,
)


def parse_zcl(data: bytes) -> Any:
    return guarded("zcl", lambda: ZclFrame.parse(data))


def build_zcl(fields: Any) -> bytes:
    return guarded("zcl", lambda: ZclFrame.build(fields))
