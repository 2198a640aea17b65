"""Names of clusters and ZDO commands, for people: ``Metering (0x0702)``.

Smart Energy clusters are named by :data:`clusters.SE_CLUSTERS` (the one
registry the server and decoder use); any other ZCL cluster by zigpy's cluster
classes (read, never changed); ZDO commands by zigpy's ``ZDOCmd``.  ZDO and ZCL
share the number space of "cluster ids" but nothing else, so every label says
which it is.
"""

from __future__ import annotations

import zigpy.zdo.types as zdo_t
from zigpy.zcl import Cluster

from clusters import SE_CLUSTERS
from clusters.ids import ZDO_PROFILE_ID


def cluster_name(cluster: int) -> str | None:
    """The ZCL cluster's name (``"Metering"``), None when no definition knows it."""
    cls = SE_CLUSTERS.get(cluster) or Cluster._registry.get(cluster)
    return None if cls is None else cls.__name__


def zdo_name(command: int) -> str | None:
    """The ZDO command's name (``"Match_Desc_rsp"``), None when zigpy does not know it."""
    try:
        return zdo_t.ZDOCmd(command).name
    except ValueError:
        return None


def cluster_label(cluster: int, profile: int | None = None) -> str:
    """``Metering (0x0702)`` for a ZCL cluster, ``ZDO Match_Desc_rsp (0x8006)`` on the
    ZDO profile; the bare id (``0x0B05``, ``ZDO 0x8099``) when nothing names it."""
    if profile == ZDO_PROFILE_ID:
        name = zdo_name(cluster)
        return f"ZDO {name} (0x{cluster:04X})" if name else f"ZDO 0x{cluster:04X}"
    name = cluster_name(cluster)
    return f"{name} (0x{cluster:04X})" if name else f"0x{cluster:04X}"
