"""Where each MP184 data item lives on the HAN: one declarative table.

MP184 adds export data to the secondary element of a twin-element ESME (see
DESIGN.md, items R1..R6).  GBCS has fixed neither the secondary ESI's endpoint
number nor any ZCL home for the export MPAN, so those choices are *provisional*,
marked as such below, and configurable through :class:`EndpointMap`.  Everything
else (server, decoder, TUI) asks this module instead of hard-coding ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from clusters.ids import METERING, PRICE
from clusters.metering import (
    EXPORT_SITE_ID_ATTR,
    EXPORT_SITE_ID_MANUFACTURER,
    IntervalChannel,
    ProfileIntervalPeriod,
    previous_day_attr,
    previous_month_attr,
    previous_week_attr,
    tier_summation_attr,
)
from clusters.price import tier_block_price_attr


class Role(StrEnum):
    """Which element's ESI endpoint serves the item."""

    PRIMARY = "primary"
    SECONDARY = "secondary"


class Flow(StrEnum):
    """Energy direction the item describes (SE: delivered = import, received = export)."""

    DELIVERED = "delivered"
    RECEIVED = "received"


@dataclass(frozen=True)
class ExportMpanHome:
    """The configurable ZCL home of an element's export MPAN (MP184 R4).

    Default (provisional, not in the SE spec): Metering attribute 0xE307
    "ExportSiteID", an octet string shaped like SiteID 0x0307, on each element,
    *manufacturer-specific* under ``manufacturer_code`` (default 0xFFF1, a CSA
    test vendor id): a read must carry that code in its ZCL header, and the
    same id without it is not the export MPAN.
    """

    cluster_id: int = METERING
    attribute_id: int = EXPORT_SITE_ID_ATTR
    manufacturer_code: int = EXPORT_SITE_ID_MANUFACTURER
    provisional: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.manufacturer_code <= 0xFFFF:
            raise ValueError(f"export MPAN manufacturer code {self.manufacturer_code} is not 16 bits")
        if not 0 <= self.attribute_id <= 0xFFFF:
            raise ValueError(f"export MPAN attribute id {self.attribute_id} is not 16 bits")

    def matches(self, cluster_id: int, attribute_id: int, manufacturer: int | None) -> bool:
        """Whether an attribute record (cluster, id, the frame's manufacturer
        code) is this home: the decoder's, the readout's and the server's test."""
        return (cluster_id, attribute_id, manufacturer) == (
            self.cluster_id, self.attribute_id, self.manufacturer_code)


@dataclass(frozen=True)
class EndpointMap:
    """Endpoint numbers of the twin ESME's two ESIs, and the export-MPAN home.

    Defaults are provisional: GBCS does not fix the secondary ESI endpoint.
    """

    primary: int = 1
    secondary: int = 2
    export_mpan: ExportMpanHome = field(default_factory=ExportMpanHome)
    provisional: bool = True

    def __post_init__(self) -> None:
        for name in ("primary", "secondary"):
            ep = getattr(self, name)
            if not 1 <= ep <= 240:
                raise ValueError(f"{name} endpoint {ep} outside the application range 1..240")
        if self.primary == self.secondary:
            raise ValueError("primary and secondary ESI endpoints must differ")

    def endpoint(self, role: Role) -> int:
        return self.primary if role is Role.PRIMARY else self.secondary


@dataclass(frozen=True)
class HanHome:
    """One MP184 item's home: on which element, which cluster, which ids or command.

    ``cluster_id`` is None for items with no HAN data of their own (R5 is about what
    the displays show).  ``parameters`` fixes fields of the request ``command``
    (e.g. the interval channel).
    """

    item: str
    what: str
    role: Role
    flow: Flow
    cluster_id: int | None
    attribute_ids: tuple[int, ...] = ()
    command: str | None = None
    parameters: tuple[tuple[str, int], ...] = ()
    provisional: bool = False
    note: str = ""
    #: The manufacturer code a frame must carry for ``attribute_ids`` (None: standard ids).
    manufacturer_code: int | None = None


def mp184_table(endpoints: EndpointMap | None = None) -> tuple[HanHome, ...]:
    """The MP184 mapping for ``endpoints`` (only the export-MPAN rows depend on it)."""
    endpoints = endpoints or EndpointMap()
    rx = Flow.RECEIVED
    sec = Role.SECONDARY
    mpan = endpoints.export_mpan
    return (
        HanHome("R1", "Active Export kWh register", sec, rx, METERING, (0x0001,),
                note="CurrentSummationReceived"),
        HanHome("R2", "four TOU export registers", sec, rx, METERING,
                tuple(tier_summation_attr(n, received=True) for n in range(1, 5)),
                note="CurrentTier1..4SummationReceived"),
        HanHome("R2", "four TOU export prices", sec, rx, PRICE,
                tuple(tier_block_price_attr(n, 1, received=True) for n in range(1, 5)),
                provisional=True,
                note="Rx Tier1..4 Block1 Price; mirrors GBCS parsers' use of Tier N Block 1 "
                     "Price for TOU prices, not fixed by any MP184 text"),
        HanHome("R2", "export tariff switching table result", sec, rx, METERING, (0x0021,),
                note="ActiveRegisterTierReceived: the tier the switching table selects"),
        HanHome("R3", "half-hourly export profile log", sec, rx, METERING, (0x000F,),
                command="get_profile",
                parameters=(("interval_channel", int(IntervalChannel.Consumption_Received)),),
                note="GetProfile / GetProfileResponse; ProfileIntervalPeriod 0x000F = "
                     f"{int(ProfileIntervalPeriod.Minutes_30)} (30 min); >= 3 months kept, "
                     "circular"),
        HanHome("R3", "current partial export interval", sec, rx, METERING, (0x0406, 0x0408),
                note="CurrentPartialProfileInterval start time / value received"),
        *(
            HanHome("R4", "export MPAN", role, rx, mpan.cluster_id, (mpan.attribute_id,),
                    provisional=mpan.provisional, manufacturer_code=mpan.manufacturer_code,
                    note="no standard ZCL home; octet string of the 13-digit MPAN core, "
                         f"manufacturer-specific (code 0x{mpan.manufacturer_code:04X})")
            for role in (Role.PRIMARY, Role.SECONDARY)
        ),
        HanHome("R5", "export data visible to IHD / PPMID / CAD", sec, rx, None,
                note="readout model: the displays read the R1-R3 and R6 homes"),
        HanHome("R6", "export reporting on the secondary element", sec, rx, METERING,
                (0x0001, 0x0400),
                note="attribute reporting of CurrentSummationReceived and "
                     "InstantaneousDemand (negative = export)"),
        HanHome("R6", "daily export history", sec, rx, METERING,
                (0x0402, *(previous_day_attr(n, received=True) for n in range(1, 9))),
                note="CurrentDay / PreviousDay1..8 ConsumptionReceived (daily read log)"),
        HanHome("R6", "weekly export history", sec, rx, METERING,
                tuple(previous_week_attr(n, received=True) for n in range(0, 6)),
                note="CurrentWeek / PreviousWeek1..5 ConsumptionReceived"),
        HanHome("R6", "monthly export history", sec, rx, METERING,
                tuple(previous_month_attr(n, received=True) for n in range(0, 14)),
                note="CurrentMonth / PreviousMonth1..13 ConsumptionReceived"),
    )


#: The table with the default (provisional) endpoint map.
MP184_TABLE: Final = mp184_table()


def homes_for(item: str, table: tuple[HanHome, ...] = MP184_TABLE) -> tuple[HanHome, ...]:
    """All rows for one MP184 item ("R1" .. "R6")."""
    rows = tuple(h for h in table if h.item == item)
    if not rows:
        raise KeyError(f"no MP184 item {item!r}")
    return rows
