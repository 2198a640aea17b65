"""802.15.4 FCS: CRC-16/KERMIT (ITU-T, reflected, init 0), sent little-endian.

KERMIT is CRC-16/XMODEM with input and output bit-reflected, and
``binascii.crc_hqx`` computes XMODEM in C: reflecting each byte
(``bytes.translate``), running crc_hqx and reflecting the 16-bit result gives
KERMIT at C speed, which matters when every frame of a large capture is checked.
"""

from __future__ import annotations

from binascii import crc_hqx


def _reflect8(b: int) -> int:
    return int(f"{b:08b}"[::-1], 2)


_REFLECT = bytes(_reflect8(b) for b in range(256))


def crc16_kermit(data: bytes) -> int:
    """CRC-16/KERMIT of ``data`` (check value for b"123456789" is 0x2189)."""
    crc = crc_hqx(data.translate(_REFLECT), 0)
    return _REFLECT[crc & 0xFF] << 8 | _REFLECT[crc >> 8]


def fcs_bytes(frame: bytes) -> bytes:
    """The two FCS bytes that follow ``frame`` on air."""
    crc = crc_hqx(frame.translate(_REFLECT), 0)
    return bytes((_REFLECT[crc >> 8], _REFLECT[crc & 0xFF]))


def fcs_ok(psdu: bytes) -> bool:
    """True when the last two bytes of ``psdu`` are the FCS of the rest."""
    return len(psdu) >= 2 and fcs_bytes(psdu[:-2]) == psdu[-2:]
