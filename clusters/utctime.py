"""ZCL UTCTime: seconds since 2000-01-01 00:00 UTC, as carried in Smart Energy payloads.

The rest of han-emu keeps POSIX seconds (see ``han_emu.meter.clock``); these helpers are
the one place that converts, so no module hand-rolls the epoch offset.
"""

from __future__ import annotations

import math

import zigpy.types as t

#: POSIX time of the ZCL epoch, 2000-01-01T00:00:00Z.
ZCL_EPOCH_POSIX: int = 946_684_800

#: 0xFFFFFFFF means "invalid / not set" in a ZCL UTCTime field.
UTCTIME_INVALID: int = 0xFFFF_FFFF


def posix_to_utctime(seconds: float) -> t.UTCTime:
    """Convert POSIX seconds to a ZCL UTCTime, truncating to the whole second.

    Raises ``ValueError`` for times before 2000 or past what 32 bits can hold
    (0xFFFFFFFF is reserved for "invalid").
    """
    value = math.floor(seconds) - ZCL_EPOCH_POSIX
    if not 0 <= value < UTCTIME_INVALID:
        raise ValueError(f"POSIX time {seconds!r} has no ZCL UTCTime representation")
    return t.UTCTime(value)


def utctime_to_posix(value: int) -> float:
    """Convert a ZCL UTCTime to POSIX seconds.

    Raises ``ValueError`` for 0xFFFFFFFF (the "invalid" marker) and negatives.
    """
    if not 0 <= value < UTCTIME_INVALID:
        raise ValueError(f"ZCL UTCTime 0x{value:08X} is not a valid time")
    return float(value + ZCL_EPOCH_POSIX)
