"""Why each cluster, attribute and command is on the ESI: its source.

One rule set, used to write the served-cluster table (``han-emu config
clusters``, ``docs/clusters.md``), so the documentation cannot drift from what
the server holds.  The precedence, strongest first:

* **provisional**: a choice no public text fixes (the export MPAN's home, the
  export TOU prices' home, any manufacturer-specific id) -- change it in the
  configuration to match the device under test;
* **MP184**: a home of MP184 data on the secondary element (:mod:`clusters.mp184`);
* **GBCS**: on the GBCS list of what an ESME's ESI serves (the project's
  checked reference notes on GBCS, section "GBCS and MP184 context");
* **ZSE** / **ZCL**: defined by Smart Energy 1.4 (Annex C, D) or the ZCL's
  general clusters, served because a display may ask for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from clusters.ids import (
    BASIC,
    IDENTIFY,
    KEY_ESTABLISHMENT,
    MESSAGING,
    METERING,
    PREPAYMENT,
    PRICE,
    SUB_GHZ,
    TIME,
)
from clusters.metering import previous_day_attr, previous_month_attr, previous_week_attr, tier_summation_attr
from clusters.mp184 import EndpointMap, Role, mp184_table


class Source(StrEnum):
    ZCL = "ZCL"
    ZSE = "ZSE"
    GBCS = "GBCS"
    MP184 = "MP184"
    PROVISIONAL = "provisional"


@dataclass(frozen=True)
class Citation:
    source: Source
    reference: str


#: Where each cluster is defined, and why the ESI serves it at all.
CLUSTERS: Final[dict[int, Citation]] = {
    BASIC: Citation(Source.ZCL, "ZCL general: Basic; GB displays read versions, manufacturer, model"),
    IDENTIFY: Citation(Source.ZCL, "ZCL general: Identify; every SE device serves it"),
    TIME: Citation(Source.ZCL, "ZCL general: Time; SE makes the ESI the HAN's time master"),
    METERING: Citation(Source.GBCS, "ZSE 1.4 Annex D Metering; the ESME's ESI serves its registers"),
    PRICE: Citation(Source.GBCS, "ZSE 1.4 Annex D Price; the ESME's ESI serves its tariff"),
    MESSAGING: Citation(Source.PROVISIONAL, "ZSE 1.4 Annex D Messaging; GB IHDs show supplier messages "
                        "(the GBCS HAN cluster table was not available to check)"),
    PREPAYMENT: Citation(Source.PROVISIONAL, "ZSE 1.4 Annex D Prepayment; GB PPMIDs show credit and debt "
                         "(the GBCS HAN cluster table was not available to check)"),
    SUB_GHZ: Citation(Source.ZSE, "ZSE 1.4 Sub-GHz cluster; served on a sub-GHz PHY only"),
    KEY_ESTABLISHMENT: Citation(Source.ZSE, "ZSE 1.4 Annex C CBKE; primary ESI only"),
}


def _day_week_month() -> set[int]:
    ids = {0x0401, 0x0403}
    ids |= {previous_day_attr(n) for n in range(2, 9)}
    ids |= {previous_week_attr(n) for n in range(0, 6)}
    ids |= {previous_month_attr(n) for n in range(0, 14)}
    return ids


#: Metering attributes on the GBCS list of an ESME's ESI (delivered side only:
#: GBCS has no received tier summations, the gap MP184 fills).
GBCS_METERING_ATTRIBUTES: Final[frozenset[int]] = frozenset(
    {
        0x0000, 0x0001, 0x0014, 0x0200, 0x0207, 0x0300, 0x0301, 0x0302, 0x0303, 0x0306,
        0x0307, 0x0311, 0x0400, 0x0A00,
        *(tier_summation_attr(n) for n in range(1, 49)),
        *range(0x0700, 0x0900),
    }
    | _day_week_month()
)

#: Price attributes and commands GBCS requires of an ESI.
GBCS_PRICE_ATTRIBUTES: Final[frozenset[int]] = frozenset({0x0300})
GBCS_PRICE_RECEIVED: Final[frozenset[int]] = frozenset({0x00, 0x02, 0x06, 0x07, 0x08})
GBCS_PRICE_GENERATED: Final[frozenset[int]] = frozenset({0x00, 0x04, 0x05, 0x06})

#: Notes for single ids whose GB use is not obvious from the name.
NOTES: Final[dict[tuple[int, str, int], str]] = {
    (METERING, "attribute", 0x0307): "GB: carries the import MPAN core",
    (METERING, "attribute", 0x000F): "the profile's period (30 min)",
}


def source_of(
    cluster_id: int,
    kind: str,
    item_id: int,
    *,
    role: Role,
    manufacturer: int | None = None,
    endpoints: EndpointMap | None = None,
) -> Source:
    """The source of one attribute (``kind`` "attribute") or command
    ("received" by the ESI, or "generated" by it) on ``role``'s ESI."""
    if manufacturer is not None:
        return Source.PROVISIONAL
    if kind == "attribute":
        for home in mp184_table(endpoints):
            if home.cluster_id == cluster_id and item_id in home.attribute_ids and home.command is None:
                if home.provisional:
                    return Source.PROVISIONAL
                if home.role is role:
                    return Source.MP184
    if role is Role.SECONDARY and cluster_id == METERING and kind == "attribute":
        if item_id in {tier_summation_attr(n, received=True) for n in range(1, 5)}:
            return Source.MP184
    if cluster_id == METERING and kind == "attribute" and item_id in GBCS_METERING_ATTRIBUTES:
        return Source.GBCS
    if cluster_id == PRICE:
        if kind == "attribute" and item_id in GBCS_PRICE_ATTRIBUTES:
            return Source.GBCS
        if kind == "received" and item_id in GBCS_PRICE_RECEIVED:
            return Source.GBCS
        if kind == "generated" and item_id in GBCS_PRICE_GENERATED:
            return Source.GBCS
    if cluster_id in (BASIC, IDENTIFY, TIME):
        return Source.ZCL
    return Source.ZSE
