"""The Smart Energy specification as code: cluster definitions, payload schemas
and the MP184 mapping table.  Pure: no I/O, no asyncio.

:data:`SE_CLUSTERS` is the one cluster registry han-emu uses (server, decoder and
TUI alike); zigpy's global registry is left untouched.
"""

from __future__ import annotations

from typing import Final

from zigpy.zcl import Cluster
from zigpy.zcl.clusters.general import Basic, Identify, Time

from clusters.key_establishment import KeyEstablishment
from clusters.messaging import Messaging
from clusters.metering import Metering
from clusters.prepayment import Prepayment
from clusters.price import Price
from clusters.subghz import SubGhz
from clusters.utctime import ZCL_EPOCH_POSIX, posix_to_utctime, utctime_to_posix

SE_CLUSTERS: Final[dict[int, type[Cluster]]] = {
    cls.cluster_id: cls
    for cls in (Basic, Identify, Time, Price, Metering, Messaging, Prepayment, SubGhz, KeyEstablishment)
}

__all__ = [
    "SE_CLUSTERS",
    "ZCL_EPOCH_POSIX",
    "Basic",
    "Identify",
    "KeyEstablishment",
    "Messaging",
    "Metering",
    "Prepayment",
    "Price",
    "SubGhz",
    "Time",
    "posix_to_utctime",
    "utctime_to_posix",
]
