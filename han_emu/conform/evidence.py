"""Reading a run's observations for the checks, and wording what they show.

An :class:`~han_emu.conform.model.Observation` carries the parsed facts of a
frame (cluster, command, attribute ids, status); where a check needs a field of
the payload (a GetProfile's channel, a Match_Desc_rsp's endpoints) it reads
``data``.  ``data`` may hold the whole ZCL frame (header included) or the payload
after the header; :func:`zcl_payload` tells which by checking the header against
the observation's own fields.  ZDO ``data`` may likewise start with the ZDO
transaction number or not; the ZDO readers here tell by the length.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import zigpy.zdo.types as zdo_t
from zigpy.zcl import foundation

from clusters import SE_CLUSTERS, SubGhz
from clusters.ids import ZDO_PROFILE_ID
from clusters.mp184 import Role
from clusters.names import cluster_name
from clusters.zcl_header import FRAME_TYPE_MASK, read_header
from han_emu.conform.model import EventRecord, Observation, RunLog

GC = foundation.GeneralCommand
RESPONSES: Final = frozenset(c for c in GC if c.name.endswith("_rsp") or c == GC.Default_Response)
"""General commands that answer another: never a request of their own."""
EVIDENCE_FRAMES: Final = 8
"""Frame numbers a verdict cites at most (the first that matter)."""


def is_zdo(o: Observation) -> bool:
    return o.profile == ZDO_PROFILE_ID


def is_request(o: Observation) -> bool:
    """A ZCL frame the DUT started: not a response, not an attribute report."""
    if not o.incoming or is_zdo(o):
        return False
    return not (o.general and (o.command in RESPONSES or o.command == GC.Report_Attributes))


def is_answer(o: Observation) -> bool:
    """A ZCL frame from the meter to the DUT."""
    return not o.incoming and not is_zdo(o)


def is_read(o: Observation, cluster: int, ep: int | None = None) -> bool:
    """The DUT's Read Attributes on ``cluster`` (of endpoint ``ep``)."""
    return (o.incoming and not is_zdo(o) and o.general and o.command == GC.Read_Attributes
            and o.cluster == cluster and (ep is None or o.dst_ep == ep))


def is_report(o: Observation, cluster: int, ep: int | None = None) -> bool:
    """An attribute report from the meter to the DUT on ``cluster`` (of endpoint ``ep``)."""
    return (not o.incoming and not is_zdo(o) and o.general and o.command == GC.Report_Attributes
            and o.cluster == cluster and (ep is None or o.src_ep == ep))


def is_command(o: Observation, cluster: int, command: int, *, incoming: bool) -> bool:
    """A cluster-specific command ``command`` on ``cluster``, from the DUT (``incoming``) or to it."""
    return (o.incoming == incoming and not is_zdo(o) and not o.general
            and o.cluster == cluster and o.command == command)


def _has_header(o: Observation) -> bool:
    try:
        fc, mfr, _tsn, command, _offset = read_header(o.data)
    except ValueError:
        return False
    frame_type = foundation.FrameType.GLOBAL_COMMAND if o.general else foundation.FrameType.CLUSTER_COMMAND
    return (fc & FRAME_TYPE_MASK == frame_type and command == o.command and mfr == o.manufacturer
            and fc & 0xE0 == 0)


def zcl_payload(o: Observation, size: int | None = None) -> bytes:
    """The ZCL payload of ``o`` (after the header, whether or not ``data`` has it).
    ``size``: the payload's fixed length, which settles a payload that happens
    to read as a header too."""
    if size is not None and len(o.data) == size:
        return o.data
    if _has_header(o):
        return o.data[read_header(o.data)[4]:]
    return o.data


def zcl_direction(o: Observation) -> foundation.Direction | None:
    """The ZCL direction (client to server, or back), when ``data`` carries the header."""
    return foundation.Direction(read_header(o.data)[0] >> 3 & 0x01) if _has_header(o) else None


def zcl_tsn(o: Observation) -> int | None:
    """The ZCL transaction number, when ``data`` carries the header."""
    return read_header(o.data)[2] if _has_header(o) else None


def _zdo_body(o: Observation, fixed: int, count_at: int | None = None, width: int = 1) -> bytes | None:
    """The ZDO payload without its transaction number: ``fixed`` bytes, plus a list
    whose count sits at ``count_at`` (of ``width`` bytes per item)."""
    for skip in (1, 0):
        body = o.data[skip:]
        size = fixed
        if count_at is not None:
            if len(body) <= count_at:
                continue
            size += body[count_at] * width
        if len(body) == size:
            return body
    return None


def match_desc_endpoints(o: Observation) -> tuple[int, ...]:
    """The endpoints a Match_Desc_rsp lists (none if it failed or is unreadable)."""
    # Status, NWKAddrOfInterest, MatchLength, MatchList
    body = _zdo_body(o, 4, count_at=3)
    if body is None or body[0] != zdo_t.Status.SUCCESS:
        return ()
    return tuple(body[4:])


def simple_desc_endpoint(o: Observation) -> int | None:
    """The endpoint a Simple_Desc_req asks about."""
    body = _zdo_body(o, 3)  # NWKAddrOfInterest, EndPoint
    return None if body is None else body[2]


def read_rsp_records(o: Observation) -> list[tuple[int, int]]:
    """(attribute id, status) of each record of a Read Attributes Response."""
    schema = foundation.GENERAL_COMMANDS[GC.Read_Attributes_rsp].schema
    try:
        rsp, _ = schema.deserialize(zcl_payload(o))
    except (ValueError, KeyError):
        return []
    return [(int(r.attrid), int(r.status)) for r in rsp.status_records]


def default_response(o: Observation) -> tuple[int, int] | None:
    """(command answered, status) of a Default Response."""
    payload = zcl_payload(o, size=2)
    if not (o.general and o.command == GC.Default_Response) or len(payload) < 2:
        return None
    return payload[0], payload[1]


def status_name(status: int) -> str:
    try:
        return foundation.Status(status).name
    except ValueError:
        return f"0x{status:02X}"


# -- time --------------------------------------------------------------------------------

def events_of(log: RunLog, kinds: Iterable[str]) -> list[EventRecord]:
    wanted = set(kinds)
    return sorted((e for e in log.events if e.kind in wanted), key=lambda e: e.time)


def event_end(event: EventRecord) -> float:
    """When an event's effect ends: its ``outcome["end"]`` (run seconds) if the run
    said, else its time plus ``params`` "seconds" or "minutes" (0 if neither)."""
    if "end" in event.outcome:
        return float(event.outcome["end"])
    seconds = float(event.params.get("seconds", 0)) + 60.0 * float(event.params.get("minutes", 0))
    return event.time + seconds


@dataclass(frozen=True)
class Finding:
    """What a check found: passed (None: undecided), one sentence each for what
    it expected and what it saw, and the capture frames that show it."""

    passed: bool | None
    expected: str
    seen: str
    frames: tuple[int, ...] = ()


# -- wording -----------------------------------------------------------------------------

def seconds(value: float) -> str:
    """``12 s``, ``12.5 s``: run times and intervals in evidence sentences."""
    digits = 2 if -0.05 < value < 0 else 1  # a moment before the plan started is not "-0"
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return f"{text} s"


def at(o: Observation) -> str:
    """Where an observation is: ``frame 12 (t=3.5 s)``, or just the time unrecorded;
    a negative time (a stick run's join and CBKE) is labelled as before the plan."""
    when = f"t={seconds(o.time)}"
    if o.frame is not None:
        return f"frame {o.frame} ({when}, before the plan started)" if o.time < 0 else f"frame {o.frame} ({when})"
    return f"{when} (before the plan started)" if o.time < 0 else when


def frame_numbers(observations: Iterable[Observation | None], limit: int = EVIDENCE_FRAMES) -> tuple[int, ...]:
    """The capture frame numbers of ``observations`` (recorded ones, in order, no repeats)."""
    out: list[int] = []
    for o in observations:
        if o is not None and o.frame is not None and o.frame not in out:
            out.append(o.frame)
            if len(out) == limit:
                break
    return tuple(out)


def listing(items: Sequence[str], conjunction: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def hexid(value: int) -> str:
    return f"0x{value:04X}"


# -- Sub-GHz suspensions ----------------------------------------------------------------------

_SUSPEND: Final = SubGhz.ClientCommandDefs.suspend_zcl_messages.id


def suspensions(log: RunLog) -> list[tuple[Observation, float]]:
    """Each Suspend ZCL Messages the meter or hub sent the DUT, with when the
    suspension it asked for ends (run seconds); a later one (a period of 0
    lifts it) cuts an earlier one short."""
    out: list[tuple[Observation, float]] = []
    for o in log.observations:
        if not is_command(o, SubGhz.cluster_id, _SUSPEND, incoming=False):
            continue
        payload = zcl_payload(o, size=1)
        minutes = payload[0] if payload else 0
        if out and out[-1][1] > o.time:
            out[-1] = (out[-1][0], o.time)
        out.append((o, o.time + 60.0 * minutes))
    return [(o, end) for o, end in out if end > o.time]


def overlap(start: float, end: float, spans: Iterable[tuple[float, float]]) -> float:
    """Seconds of [start, end] covered by ``spans`` (which do not overlap each other)."""
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in spans)


def attribute_label(cluster: int, attribute: int) -> str:
    """``Metering instantaneous_demand (0x0400)``."""
    cls = SE_CLUSTERS.get(cluster)
    attr = cls.attributes.get(attribute) if cls is not None else None
    name = cluster_name(cluster) or hexid(cluster)
    return f"{name} {attr.name} ({hexid(attribute)})" if attr is not None else f"{name} attribute {hexid(attribute)}"


def esi_label(log: RunLog, role: Role) -> str:
    """``the secondary ESI (endpoint 2)``."""
    return f"the {role.value} ESI (endpoint {log.endpoints.endpoint(role)})"
