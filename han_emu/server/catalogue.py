"""What the ESIs serve, read off a live :class:`~han_emu.server.esi.EsiServer`.

The served-cluster table in the documentation is this module's output for the
default configuration, and a test regenerates it: a cluster, attribute or
command added to the server without its row fails the suite.  Each row names
its source (:mod:`clusters.sources`).

Consecutive ids of one family (``current_tier1_summ_delivered`` ..
``current_tier48_summ_delivered``) collapse into one row, so the table stays
readable while still covering every id.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Iterator

import zigpy.types as t
from zigpy.zcl.foundation import DataTypeId

from clusters import SE_CLUSTERS
from clusters.mp184 import Role
from clusters.names import cluster_name
from clusters.sources import CLUSTERS, NOTES, Source, source_of
from clusters.mp184 import EndpointMap
from han_emu.crypto.certsets import certificate_set_for, eui64_to_cert
from han_emu.meter.clock import VirtualClock
from han_emu.meter.model import TwinMeter
from han_emu.meter.settings import MeterSettings
from han_emu.server.endpoint import ClusterSide, Endpoint
from han_emu.server.esi import EsiServer

#: Any node address will do: the catalogue only reads the server's tables.
_CATALOGUE_IEEE = t.EUI64.convert("00:0d:6f:00:00:00:00:01")


@dataclass(frozen=True)
class Entry:
    """One row: a cluster on an endpoint, one of its attributes, or a command."""

    endpoint: int
    element: str
    cluster_id: int
    cluster: str
    side: str  # "server" or "client"
    kind: str  # "cluster", "attribute", "received" or "generated"
    first: int | None
    last: int | None
    name: str
    type: str
    manufacturer: int | None
    source: str
    note: str

    @property
    def ids(self) -> str:
        if self.first is None:
            return f"0x{self.cluster_id:04X}"
        width = 4 if self.kind == "attribute" else 2
        if self.last is None or self.last == self.first:
            return f"0x{self.first:0{width}X}"
        return f"0x{self.first:0{width}X}-0x{self.last:0{width}X}"


def _type_name(type_id: int) -> str:
    try:
        return DataTypeId(type_id).name
    except ValueError:
        return f"0x{type_id:02X}"


def _command_names(side: ClusterSide, generated: bool) -> dict[int, str]:
    cluster = side.cluster or SE_CLUSTERS.get(side.cluster_id)
    if cluster is None:
        return {}
    # A server side receives the cluster's server commands and generates its client commands.
    defs = cluster.client_commands if generated == side.is_server else cluster.server_commands
    return {int(c.id): c.name for c in defs.values()}


def full_server(settings: MeterSettings | None = None, endpoints: EndpointMap | None = None) -> EsiServer:
    """An ESI with everything it can serve: CBKE (the test CA's certificates) and
    the Sub-GHz cluster, which a run adds on a sub-GHz PHY only."""
    clock = VirtualClock(0.0)
    meter = TwinMeter(settings or MeterSettings(), clock.now())
    identities = [certificate_set_for(eui64_to_cert(_CATALOGUE_IEEE), suite) for suite in (1, 2)]
    return EsiServer(meter, clock, endpoints, sub_ghz=True, identities=identities, ieee_of=lambda nwk: None)


def entries(server: EsiServer) -> list[Entry]:
    """Every row for every endpoint of ``server``, in endpoint, side, cluster, id order."""
    rows: list[Entry] = []
    roles = {server.map.endpoint(role): role for role in Role}
    for ep_id in sorted(server.zcl.endpoints):
        ep: Endpoint = server.zcl.endpoints[ep_id]
        role = roles.get(ep_id, Role.PRIMARY)
        for is_server, sides in ((True, ep.server_clusters), (False, ep.client_clusters)):
            for cid in sorted(sides):
                rows.extend(_cluster_rows(server, ep_id, role, sides[cid], is_server))
    return rows


def _cluster_rows(server: EsiServer, ep_id: int, role: Role, side: ClusterSide, is_server: bool) -> Iterator[Entry]:
    cid = side.cluster_id
    name = cluster_name(cid) or f"0x{cid:04X}"
    where = "server" if is_server else "client"
    citation = CLUSTERS.get(cid)

    def row(kind: str, first: int | None, last: int | None, item: str, type_: str,
            mfr: int | None, source: Source | str, note: str = "") -> Entry:
        return Entry(ep_id, role.value, cid, name, where, kind, first, last, item, type_, mfr, str(source), note)

    yield row("cluster", None, None, name, "", None,
              citation.source if citation else Source.PROVISIONAL, citation.reference if citation else "")
    singles = [
        row("attribute", b.id, b.id, b.name, _type_name(b.type_id), b.manufacturer_code,
            source_of(cid, "attribute", b.id, role=role, manufacturer=b.manufacturer_code, endpoints=server.map),
            NOTES.get((cid, "attribute", b.id), "")
            + (f"{'; ' if (cid, 'attribute', b.id) in NOTES else ''}manufacturer-specific"
               if b.manufacturer_code is not None else ""))
        for b in sorted(side.attributes, key=lambda b: (b.manufacturer_code or 0, b.id))
    ]
    yield from collapse(singles)
    for kind, generated in (("received", False), ("generated", True)):
        names = _command_names(side, generated)
        keys = side.generated if generated else set(side.handlers)
        for command_id, mfr in sorted(keys, key=lambda k: (k[1] or 0, k[0])):
            yield row(kind, command_id, command_id, names.get(command_id, f"0x{command_id:02X}"), "", mfr,
                      source_of(cid, kind, command_id, role=role, manufacturer=mfr, endpoints=server.map))


_NUMBER = re.compile(r"\d+")


def _families(name: str) -> list[tuple[str, int]]:
    """Each way to read ``name`` as a numbered family member: for
    ``tier2_block1_price``, ``("tier#_block1_price", 2)`` and ``("tier2_block#_price", 1)``."""
    return [(name[: m.start()] + "#" + name[m.end():], int(m.group())) for m in _NUMBER.finditer(name)]


def collapse(rows: Iterable[Entry]) -> list[Entry]:
    """Merge each numbered family (three or more members with equal kind, type, source,
    note and manufacturer, numbers counting up by one, ids advancing by one fixed
    step) into one row named ``family{1..48}``; rows stay in id order."""
    rows = list(rows)
    groups: dict[tuple[Any, ...], list[tuple[int, int]]] = {}
    for index, entry in enumerate(rows):
        for key, number in _families(entry.name):
            same = (key, entry.kind, entry.type, entry.source, entry.note, entry.manufacturer)
            groups.setdefault(same, []).append((number, index))
    used: set[int] = set()
    merged: list[Entry] = []
    for (key, *_same), members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        for run in _runs(sorted(m for m in members if m[1] not in used), rows):
            first, last = rows[run[0][1]], rows[run[-1][1]]
            step = rows[run[1][1]].first - first.first  # type: ignore[operator]
            note = first.note
            if step != 1:
                note = f"{note}; ids every 0x{step:X}" if note else f"ids every 0x{step:X}"
            label = key.replace("#", f"{{{run[0][0]}..{run[-1][0]}}}")
            merged.append(Entry(**{**asdict(first), "last": last.first, "name": label, "note": note}))
            used.update(index for _n, index in run)
    kept = [e for i, e in enumerate(rows) if i not in used] + merged
    return sorted(kept, key=lambda e: (e.kind != "cluster", _KIND_ORDER[e.kind], e.manufacturer or 0, e.first or 0))


_KIND_ORDER = {"cluster": 0, "attribute": 1, "received": 2, "generated": 3}


def _runs(members: list[tuple[int, int]], rows: list[Entry]) -> Iterator[list[tuple[int, int]]]:
    """Maximal runs (three or more) of consecutive numbers whose ids keep one step."""
    run: list[tuple[int, int]] = []

    def fits(item: tuple[int, int]) -> bool:
        if not run:
            return True
        number, index = item
        prev_number, prev_index = run[-1]
        step = rows[index].first - rows[prev_index].first  # type: ignore[operator]
        if number != prev_number + 1 or step <= 0:
            return False
        return len(run) < 2 or step == rows[run[1][1]].first - rows[run[0][1]].first  # type: ignore[operator]

    for item in members:
        if not fits(item):
            if len(run) >= 3:
                yield list(run)
            run.clear()
        run.append(item)
    if len(run) >= 3:
        yield list(run)


# -- presentations ------------------------------------------------------------------
def markdown(rows: Iterable[Entry]) -> str:
    """One table per endpoint: cluster rows in bold, then their attributes and commands."""
    out: list[str] = []
    endpoint: int | None = None
    for entry in rows:
        if entry.endpoint != endpoint:
            endpoint = entry.endpoint
            out += ["", f"### Endpoint {entry.endpoint} ({entry.element} element)", "",
                    "| cluster | kind | id | name | type | source | note |",
                    "|---|---|---|---|---|---|---|"]
        cluster = f"0x{entry.cluster_id:04X} {entry.cluster}"
        if entry.kind == "cluster":
            out.append(f"| **{cluster}** | {entry.side} | | | | **{entry.source}** | {entry.note} |")
            continue
        ids = entry.ids + (f" (mfr 0x{entry.manufacturer:04X})" if entry.manufacturer is not None else "")
        out.append(f"| {cluster} | {entry.kind} | {ids} | {entry.name} | {entry.type} | {entry.source} | {entry.note} |")
    return "\n".join(out).lstrip("\n") + "\n"


def as_json(rows: Iterable[Entry]) -> list[dict[str, Any]]:
    return [{**asdict(e), "ids": e.ids} for e in rows]
