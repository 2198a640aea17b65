"""Metering cluster (0x0702): zigpy's definition, completed for a GB twin-element ESME.

zigpy 2.4 stops at tier 15 and has neither the block summation sets nor the
previous-day-N / week / month historical sets.  A GBCS ESME serves tiers up to 48,
block summations and the full historical set, and MP184 adds the *received*
counterparts on the secondary element, so they are generated here from the id
formulas in SE 1.4 Annex D.

Naming scheme of the generated families (zigpy's own style, extended):

* ``current_tier{N}_summ_delivered`` / ``_received``          N = 1..48
* ``current_no_tier_block{B}_summ_delivered`` / ``_received``  B = 1..16
* ``current_tier{T}_block{B}_summ_delivered`` / ``_received``  T = 1..15, B = 1..16
* ``previous_day{N}_consumption_delivered`` / ``_received``   N = 2..8
* ``current_week_consumption_*``, ``previous_week_consumption_*``,
  ``previous_week{N}_consumption_*``                            N = 2..5
* ``current_month_consumption_*``, ``previous_month_consumption_*``,
  ``previous_month{N}_consumption_*``                           N = 2..13

The class sets ``_skip_registry`` so zigpy's global cluster registry keeps its
own Metering class; han-emu looks clusters up in :data:`clusters.SE_CLUSTERS`.
"""

from __future__ import annotations

from typing import Final

import zigpy.types as t
from zigpy.zcl.clusters import smartenergy as zse
from zigpy.zcl.foundation import CommandSchema, ZCLAttributeDef, ZCLCommandDef

from clusters._families import add_attributes, attr
from clusters.zcl_struct import make

MAX_TIERS: Final = 48
MAX_BLOCKS: Final = 16
MAX_BLOCK_TIERS: Final = 15
PREVIOUS_DAYS: Final = range(2, 9)
PREVIOUS_WEEKS: Final = range(2, 6)
PREVIOUS_MONTHS: Final = range(2, 14)

#: An interval that could not be recorded, in a GetProfileResponse.
INVALID_INTERVAL: Final = 0xFFFFFF

#: Provisional, not in the SE specification: where han-emu serves an element's
#: export MPAN by default (MP184 R4), a manufacturer-specific attribute.  See
#: :mod:`clusters.mp184`.
EXPORT_SITE_ID_ATTR: Final = 0xE307
#: Provisional default manufacturer code of that attribute: 0xFFF1, a CSA test
#: vendor id (assigned to no company), until a real code is chosen.
EXPORT_SITE_ID_MANUFACTURER: Final = 0xFFF1


def export_site_id_def(attr_id: int = EXPORT_SITE_ID_ATTR) -> ZCLAttributeDef:
    """The export MPAN's attribute, shaped like SiteID 0x0307 (octet string of
    up to 32 bytes) and manufacturer-specific: its id means something only in a
    frame that carries the manufacturer code (the code comes with the binding,
    :class:`clusters.mp184.ExportMpanHome`, as it is configurable)."""
    return ZCLAttributeDef(id=attr_id, name="export_site_id", type=t.LimitedLVBytes(32),
                           access="r", is_manufacturer_specific=True)


class IntervalChannel(t.enum8):
    """GetProfile IntervalChannel (values beyond 1 parse as ``undefined_0xNN``)."""

    Consumption_Delivered = 0x00
    Consumption_Received = 0x01


class ProfileStatus(t.enum8):
    """GetProfileResponse Status."""

    Success = 0x00
    Undefined_Interval_Channel_Requested = 0x01
    Interval_Channel_Not_Supported = 0x02
    Invalid_End_Time = 0x03
    More_Periods_Requested_Than_Can_Be_Returned = 0x04
    No_Intervals_Available_For_The_Requested_Time = 0x05


ProfileIntervalPeriod = zse.ProfileIntervalPeriod

#: Length in seconds of each ProfileIntervalPeriod (Daily counted as 24 h).
PROFILE_INTERVAL_SECONDS: Final[dict[ProfileIntervalPeriod, float]] = {
    ProfileIntervalPeriod.Daily: 86400,
    ProfileIntervalPeriod.Minutes_60: 3600,
    ProfileIntervalPeriod.Minutes_30: 1800,
    ProfileIntervalPeriod.Minutes_15: 900,
    ProfileIntervalPeriod.Minutes_10: 600,
    ProfileIntervalPeriod.Minutes_7_5: 450,
    ProfileIntervalPeriod.Minutes_5: 300,
    ProfileIntervalPeriod.Minutes_2_5: 150,
    ProfileIntervalPeriod.Minutes_1: 60,
}


class GetProfileSchema(CommandSchema):
    """GetProfile (client -> server 0x00)."""

    interval_channel: IntervalChannel
    end_time: t.UTCTime  # 0 = the most recent interval
    number_of_periods: t.uint8_t


class GetProfileResponseSchema(CommandSchema):
    """GetProfileResponse (server -> client 0x00): intervals are newest first."""

    end_time: t.UTCTime  # end of the newest *complete* interval
    status: ProfileStatus
    profile_interval_period: ProfileIntervalPeriod
    number_of_periods_delivered: t.uint8_t
    intervals: t.List[t.uint24_t] = t.StructField(
        length=lambda s: s.number_of_periods_delivered
    )


def get_profile_response(
    end_time: int,
    status: ProfileStatus,
    period: ProfileIntervalPeriod,
    intervals: list[int],
) -> GetProfileResponseSchema:
    """Build a GetProfileResponse with NumberOfPeriodsDelivered taken from ``intervals``."""
    return make(
        GetProfileResponseSchema,
        end_time=end_time,
        status=status,
        profile_interval_period=period,
        number_of_periods_delivered=len(intervals),
        intervals=intervals,
    )


# --- attribute-id formulas (the single source for the generated families) ---------


def tier_summation_attr(tier: int, received: bool = False) -> int:
    """CurrentTierN Summation Delivered/Received: 0x0100 + 2(N-1) (+1 received)."""
    if not 1 <= tier <= MAX_TIERS:
        raise ValueError(f"tier {tier} outside 1..{MAX_TIERS}")
    return 0x0100 + 2 * (tier - 1) + int(received)


def block_summation_attr(tier: int, block: int, received: bool = False) -> int:
    """Current Tier T Block B Summation: 0x0700/0x0900 + 0x10*T + (B-1); T = 0 is no-tier."""
    if not 0 <= tier <= MAX_BLOCK_TIERS:
        raise ValueError(f"tier {tier} outside 0..{MAX_BLOCK_TIERS}")
    if not 1 <= block <= MAX_BLOCKS:
        raise ValueError(f"block {block} outside 1..{MAX_BLOCKS}")
    return (0x0900 if received else 0x0700) + 0x10 * tier + (block - 1)


def previous_day_attr(day: int, received: bool = False) -> int:
    """PreviousDayN Consumption: N = 1 is 0x0403/0x0404, N = 2..8 is 0x0420 + 2(N-2)."""
    if day == 1:
        return 0x0403 + int(received)
    if day not in PREVIOUS_DAYS:
        raise ValueError(f"previous day {day} outside 1..8")
    return 0x0420 + 2 * (day - 2) + int(received)


def previous_week_attr(week: int, received: bool = False) -> int:
    """Week consumption: 0 = current week (0x0430), 1 = previous (0x0432), 2..5 after."""
    if not 0 <= week <= PREVIOUS_WEEKS[-1]:
        raise ValueError(f"week {week} outside 0..5")
    return 0x0430 + 2 * week + int(received)


def previous_month_attr(month: int, received: bool = False) -> int:
    """Month consumption: 0 = current month (0x0440), 1 = previous (0x0442), 2..13 after."""
    if not 0 <= month <= PREVIOUS_MONTHS[-1]:
        raise ValueError(f"month {month} outside 0..13")
    return 0x0440 + 2 * month + int(received)


def _direction_pair(base: str, attr_id: int, type_: object) -> list:
    return [
        attr(attr_id, f"{base}_delivered", type_),
        attr(attr_id + 1, f"{base}_received", type_),
    ]


def _generated_attributes() -> list:
    out = []
    for n in range(16, MAX_TIERS + 1):
        out += _direction_pair(f"current_tier{n}_summ", tier_summation_attr(n), t.uint48_t)
    for tier in range(0, MAX_BLOCK_TIERS + 1):
        for block in range(1, MAX_BLOCKS + 1):
            prefix = "current_no_tier" if tier == 0 else f"current_tier{tier}"
            for received in (False, True):
                direction = "received" if received else "delivered"
                out.append(
                    attr(
                        block_summation_attr(tier, block, received),
                        f"{prefix}_block{block}_summ_{direction}",
                        t.uint48_t,
                    )
                )
    for n in PREVIOUS_DAYS:
        out += _direction_pair(
            f"previous_day{n}_consumption", previous_day_attr(n), t.uint24_t
        )
    out += _direction_pair("current_week_consumption", previous_week_attr(0), t.uint24_t)
    out += _direction_pair("previous_week_consumption", previous_week_attr(1), t.uint24_t)
    for n in PREVIOUS_WEEKS:
        out += _direction_pair(
            f"previous_week{n}_consumption", previous_week_attr(n), t.uint24_t
        )
    out += _direction_pair("current_month_consumption", previous_month_attr(0), t.uint32_t)
    out += _direction_pair("previous_month_consumption", previous_month_attr(1), t.uint32_t)
    for n in PREVIOUS_MONTHS:
        out += _direction_pair(
            f"previous_month{n}_consumption", previous_month_attr(n), t.uint32_t
        )
    out += [
        # local time of day the historical sets roll over (hours high byte, minutes low)
        attr(0x045C, "historical_freeze_time", t.uint16_t),
        # Meter billing set, received half and the delivered trailing digit
        attr(0x0A04, "bill_delivered_trailing_digit", t.bitmap8),
        attr(0x0A10, "bill_to_date_received", t.uint32_t),
        attr(0x0A11, "bill_to_date_time_stamp_received", t.UTCTime),
        attr(0x0A12, "projected_bill_received", t.uint32_t),
        attr(0x0A13, "projected_bill_time_stamp_received", t.UTCTime),
        attr(0x0A14, "bill_received_trailing_digit", t.bitmap8),
        # Provisional MP184 R4 home of an element's export MPAN (not SE; see mp184.py)
        export_site_id_def(),
    ]
    return out


class _AttributeDefs(zse.Metering.AttributeDefs):
    pass


add_attributes(_AttributeDefs, _generated_attributes())


class _ServerCommandDefs(zse.Metering.ServerCommandDefs):
    """Client -> server commands; zigpy's schemas checked against SE 1.4 (all match on
    the wire); GetProfile is redeclared with its enum so decoded frames read well."""

    get_profile: Final = ZCLCommandDef(id=0x00, schema=GetProfileSchema)


class _ClientCommandDefs(zse.Metering.ClientCommandDefs):
    """Server -> client commands; GetProfileResponse redeclared with its enums."""

    get_profile_response: Final = ZCLCommandDef(id=0x00, schema=GetProfileResponseSchema)


class Metering(zse.Metering):
    """Smart Energy Metering with the GB / MP184 attribute families (see module doc)."""

    _skip_registry = True

    IntervalChannel: Final = IntervalChannel
    ProfileStatus: Final = ProfileStatus

    AttributeDefs = _AttributeDefs
    ServerCommandDefs = _ServerCommandDefs
    ClientCommandDefs = _ClientCommandDefs
