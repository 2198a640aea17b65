"""The Zigbee auxiliary security header shared by NWK and APS frames.

Zigbee 3.0 sends the security level as 0 on air; the real level (5: ENC-MIC-32)
is substituted only when computing the CCM* nonce and authenticated data.
"""

from __future__ import annotations

from enum import IntEnum

from construct import BitsInteger, BitStruct, Flag, If, Int8ul, Int32ul, Int64ul, Struct, this


class KeyId(IntEnum):
    """The key-identifier sub-field: which key secured the frame."""

    DATA = 0  # link key shared by the two APS peers
    NETWORK = 1
    KEY_TRANSPORT = 2  # HMAC-MMO(link key, 0x00)
    KEY_LOAD = 3  # HMAC-MMO(link key, 0x02)


SECURITY_LEVEL = 5  # ENC-MIC-32, the only level Zigbee PRO uses
MIC_LENGTH = 4

SecurityControl = BitStruct(
    "reserved" / BitsInteger(2),
    "extended_nonce" / Flag,
    "key_id" / BitsInteger(2),
    "level" / BitsInteger(3),
)

AuxHeader = Struct(
    "control" / SecurityControl,
    "frame_counter" / Int32ul,
    "source" / If(this.control.extended_nonce, Int64ul),
    "key_seq" / If(this.control.key_id == KeyId.NETWORK, Int8ul),
)


def with_level(control: int, level: int = SECURITY_LEVEL) -> int:
    """The security-control byte with its level bits replaced."""
    return (control & ~0x07) | level
