"""The Smart Energy specification as code: cluster definitions, payload schemas
and the MP184 mapping table.  Pure: no I/O, no asyncio.

:data:`SE_CLUSTERS` is the one cluster registry han-emu uses (server, decoder and
TUI alike); zigpy's global registry is left untouched.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from zigpy.zcl import Cluster
    from zigpy.zcl.clusters.general import Basic, Identify, Time

    from clusters.key_establishment import KeyEstablishment
    from clusters.messaging import Messaging
    from clusters.metering import Metering
    from clusters.prepayment import Prepayment
    from clusters.price import Price
    from clusters.subghz import SubGhz
    from clusters.utctime import ZCL_EPOCH_POSIX, posix_to_utctime, utctime_to_posix

    SE_CLUSTERS: Final[dict[int, type[Cluster]]]

#: Where each name of the package lives.  The names are loaded on first use
#: (PEP 562), so a module that needs only ``clusters.ids`` or another light
#: module does not import zigpy's cluster library with them.
_HOMES: Final = {
    "Basic": "zigpy.zcl.clusters.general", "Identify": "zigpy.zcl.clusters.general",
    "Time": "zigpy.zcl.clusters.general", "KeyEstablishment": "clusters.key_establishment",
    "Messaging": "clusters.messaging", "Metering": "clusters.metering", "Prepayment": "clusters.prepayment",
    "Price": "clusters.price", "SubGhz": "clusters.subghz", "ZCL_EPOCH_POSIX": "clusters.utctime",
    "posix_to_utctime": "clusters.utctime", "utctime_to_posix": "clusters.utctime",
}


def _se_clusters() -> dict[int, Any]:
    """The registry: every cluster han-emu serves or decodes, by id."""
    return {
        cls.cluster_id: cls
        for cls in (__getattr__(name) for name in ("Basic", "Identify", "Time", "Price", "Metering", "Messaging",
                                                      "Prepayment", "SubGhz", "KeyEstablishment"))
    }


def __getattr__(name: str) -> Any:
    if name == "SE_CLUSTERS":
        value: Any = _se_clusters()
    elif name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
    else:
        raise AttributeError(f"module 'clusters' has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = ["SE_CLUSTERS", *_HOMES]  # the names are listed once, in _HOMES
