"""802.15.4 FCS: CRC-16/KERMIT (ITU-T, reflected, init 0), sent little-endian."""

from __future__ import annotations


def _table() -> tuple[int, ...]:
    out = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        out.append(crc)
    return tuple(out)


_TABLE = _table()


def crc16_kermit(data: bytes) -> int:
    """CRC-16/KERMIT of ``data`` (check value for b"123456789" is 0x2189)."""
    crc = 0
    for b in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ b) & 0xFF]
    return crc


def fcs_bytes(frame: bytes) -> bytes:
    """The two FCS bytes that follow ``frame`` on air."""
    return crc16_kermit(frame).to_bytes(2, "little")


def fcs_ok(psdu: bytes) -> bool:
    """True when the last two bytes of ``psdu`` are the FCS of the rest."""
    return len(psdu) >= 2 and fcs_bytes(psdu[:-2]) == psdu[-2:]
