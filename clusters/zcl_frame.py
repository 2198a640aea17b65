"""The ZCL frame header's bytes (ZCL 2.4.1): its flags and :func:`read_header`.

This is the fast reading of the header every hot path uses (see
``clusters.zcl_header``, which adds :class:`~clusters.zcl_header.ZclHeader` in
zigpy's terms); it needs nothing but Python, so a capture replay reads headers
without importing zigpy's cluster library.
"""

from __future__ import annotations

FRAME_TYPE_MASK = 0x03
MANUFACTURER_SPECIFIC = 0x04
SERVER_TO_CLIENT = 0x08
DISABLE_DEFAULT_RESPONSE = 0x10


def read_header(data: bytes) -> tuple[int, int | None, int, int, int]:
    """(frame control byte, manufacturer code or None, TSN, command id, payload
    offset) of a ZCL frame; raises ValueError when ``data`` is too short."""
    n = len(data)
    if n < 3:
        raise ValueError(f"a ZCL header needs 3 bytes, got {n}")
    fc = data[0]
    if fc & MANUFACTURER_SPECIFIC:
        if n < 5:
            raise ValueError(f"a manufacturer-specific ZCL header needs 5 bytes, got {n}")
        return fc, data[1] | data[2] << 8, data[3], data[4], 5
    return fc, None, data[1], data[2], 3
