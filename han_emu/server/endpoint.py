"""Endpoint descriptions: which clusters an endpoint serves and who answers what.

An :class:`Endpoint` is data plus registration: the clusters on each side with
their attribute tables, and the cluster-specific command handlers.  It knows
nothing of packets beyond producing its simple descriptor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from zigpy.zcl import Cluster
from zigpy.zcl.foundation import Direction
from zigpy.zdo.types import SimpleDescriptor

from clusters.ids import ESI_DEVICE_ID, SE_PROFILE_ID
from han_emu.server.attributes import AttributeTable
from han_emu.server.command import CommandHandler

@dataclass
class ClusterSide:
    """One side (server or client) of one cluster on an endpoint."""

    cluster_id: int
    is_server: bool
    attributes: AttributeTable = field(default_factory=AttributeTable)
    #: The zigpy-style cluster class, used to parse command payloads.
    cluster: type[Cluster] | None = None
    #: (command id, manufacturer code or None) -> handler, for commands received.
    handlers: dict[tuple[int, int | None], CommandHandler] = field(default_factory=dict)
    #: (command id, manufacturer code or None) of commands this side generates.
    generated: set[tuple[int, int | None]] = field(default_factory=set)

    @property
    def receives(self) -> Direction:
        """The ZCL direction of frames addressed to this side."""
        return Direction.Client_to_Server if self.is_server else Direction.Server_to_Client

    def manufacturer_codes(self) -> set[int]:
        """Manufacturer codes this side understands (attributes or commands)."""
        codes = self.attributes.manufacturer_codes()
        codes |= {m for (_c, m) in self.handlers if m is not None}
        codes |= {m for (_c, m) in self.generated if m is not None}
        return codes

    def received_ids(self, manufacturer: int | None = None) -> list[int]:
        return sorted(c for (c, m) in self.handlers if m == manufacturer)

    def generated_ids(self, manufacturer: int | None = None) -> list[int]:
        return sorted(c for (c, m) in self.generated if m == manufacturer)


class Endpoint:
    """An application endpoint hosted by the server (an ESI by default)."""

    def __init__(
        self,
        endpoint_id: int,
        device_id: int = ESI_DEVICE_ID,
        *,
        profile_id: int = SE_PROFILE_ID,
        device_version: int = 0,
    ) -> None:
        if not 1 <= endpoint_id <= 240:
            raise ValueError(f"application endpoints are 1..240, not {endpoint_id}")
        self.id = endpoint_id
        self.device_id = device_id
        self.profile_id = profile_id
        self.device_version = device_version
        self.server_clusters: dict[int, ClusterSide] = {}
        self.client_clusters: dict[int, ClusterSide] = {}

    def add_server_cluster(
        self, cluster: type[Cluster] | int, attributes: AttributeTable | None = None
    ) -> ClusterSide:
        """Serve ``cluster`` (a zigpy-style class, or a bare id) with ``attributes``."""
        return self._add(self.server_clusters, cluster, attributes, is_server=True)

    def add_client_cluster(
        self, cluster: type[Cluster] | int, attributes: AttributeTable | None = None
    ) -> ClusterSide:
        return self._add(self.client_clusters, cluster, attributes, is_server=False)

    def _add(
        self,
        where: dict[int, ClusterSide],
        cluster: type[Cluster] | int,
        attributes: AttributeTable | None,
        *,
        is_server: bool,
    ) -> ClusterSide:
        if isinstance(cluster, int):
            cluster_id, cluster_cls = cluster, None
        else:
            cluster_id, cluster_cls = int(cluster.cluster_id), cluster
        if cluster_id in where:
            raise ValueError(f"cluster 0x{cluster_id:04X} already on endpoint {self.id}")
        side = ClusterSide(
            cluster_id=cluster_id,
            is_server=is_server,
            attributes=attributes if attributes is not None else AttributeTable(),
            cluster=cluster_cls,
        )
        where[cluster_id] = side
        return side

    def on_command(
        self,
        cluster_id: int,
        command_id: int,
        handler: CommandHandler,
        *,
        generates: Iterable[int] = (),
        manufacturer: int | None = None,
        server: bool = True,
    ) -> None:
        """Register ``handler`` for a cluster-specific command received by the
        server side of ``cluster_id`` (or the client side with ``server=False``).

        ``generates`` lists the command ids the handler may answer with, so
        Discover Commands Generated tells the truth.
        """
        side = self.side(cluster_id, server=server)
        if side is None:
            raise ValueError(
                f"cluster 0x{cluster_id:04X} is not a {'server' if server else 'client'}"
                f" cluster of endpoint {self.id}"
            )
        key = (command_id, manufacturer)
        if key in side.handlers:
            raise ValueError(f"command 0x{command_id:02X} already has a handler")
        side.handlers[key] = handler
        side.generated |= {(g, manufacturer) for g in generates}

    def declare_generated(
        self,
        cluster_id: int,
        command_ids: Iterable[int],
        *,
        manufacturer: int | None = None,
        server: bool = True,
    ) -> None:
        """Declare commands this side sends unprompted (e.g. PublishPrice)."""
        side = self.side(cluster_id, server=server)
        if side is None:
            raise ValueError(f"cluster 0x{cluster_id:04X} is not on endpoint {self.id}")
        side.generated |= {(c, manufacturer) for c in command_ids}

    def side(self, cluster_id: int, *, server: bool) -> ClusterSide | None:
        return (self.server_clusters if server else self.client_clusters).get(cluster_id)

    def simple_descriptor(self) -> SimpleDescriptor:
        return SimpleDescriptor(
            endpoint=self.id,
            profile=self.profile_id,
            device_type=self.device_id,
            device_version=self.device_version,
            input_clusters=sorted(self.server_clusters),
            output_clusters=sorted(self.client_clusters),
        )
