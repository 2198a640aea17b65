"""EZSP frame headers as the NCP reads and writes them (UG100).

Hosts open with the *legacy* header (sequence, one frame-control byte, one-byte
frame ID) for the ``version`` command only; from EZSP v8 on every other frame
uses the *extended* header (sequence, two frame-control bytes whose high byte
carries the frame format version 1, little-endian 16-bit frame ID).  Parameter
encoding is left to bellows' command schemas.
"""

from __future__ import annotations

import dataclasses

VERSION_FRAME_ID = 0x0000

FC_RESPONSE = 0x80
FC_ASYNC_CALLBACK = 0x10  # callbackType = 2 (asynchronous), bits 4..3
FC_HIGH_FORMAT_V1 = 0x01


class FrameError(ValueError):
    """Bytes that cannot be an EZSP command frame."""


@dataclasses.dataclass(frozen=True)
class Command:
    """One command received from the host."""

    sequence: int
    frame_id: int
    params: bytes
    legacy: bool
    frame_control: int


def parse_command(frame: bytes) -> Command:
    """Split a host frame into header fields and parameter bytes."""
    if len(frame) < 3:
        raise FrameError(f"EZSP frame too short: {frame.hex()}")
    seq, fc_low = frame[0], frame[1]
    if fc_low & FC_RESPONSE:
        raise FrameError("frame travels in the wrong direction (response bit set)")
    if frame[2] == VERSION_FRAME_ID and len(frame) == 4:
        # legacy header: seq, fc, frame id 0x00, desiredProtocolVersion
        return Command(seq, VERSION_FRAME_ID, frame[3:], legacy=True, frame_control=fc_low)
    if len(frame) < 5:
        raise FrameError(f"EZSP frame too short: {frame.hex()}")
    if frame[2] & 0x03 != FC_HIGH_FORMAT_V1:
        raise FrameError(f"unknown frame format version in {frame.hex()}")
    frame_id = int.from_bytes(frame[3:5], "little")
    return Command(seq, frame_id, frame[5:], legacy=False, frame_control=fc_low | frame[2] << 8)


def build_response(sequence: int, frame_id: int, params: bytes, *, legacy: bool = False) -> bytes:
    """A response to the command with ``sequence``."""
    if legacy:
        return bytes((sequence, FC_RESPONSE, frame_id)) + params
    return (
        bytes((sequence, FC_RESPONSE, FC_HIGH_FORMAT_V1))
        + frame_id.to_bytes(2, "little")
        + params
    )


def build_callback(sequence: int, frame_id: int, params: bytes) -> bytes:
    """An asynchronous callback, as UART NCPs send them unprompted."""
    return (
        bytes((sequence, FC_RESPONSE | FC_ASYNC_CALLBACK, FC_HIGH_FORMAT_V1))
        + frame_id.to_bytes(2, "little")
        + params
    )
