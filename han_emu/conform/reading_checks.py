"""Checks on what the display under test reads: how often, which endpoints it
finds, the MP184 export data, profiles, and attributes the ESI does not serve.

Each ``judge_*`` takes the check's resolved parameters and the run's log and
returns a :class:`~han_emu.conform.evidence.Finding`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import zigpy.zdo.types as zdo_t
from zigpy.zcl import foundation

from clusters import Metering
from clusters.ids import METERING
from clusters.metering import IntervalChannel
from clusters.mp184 import HanHome, Role, mp184_table
from clusters.names import cluster_name
from han_emu.conform.evidence import (
    GC,
    Finding,
    at,
    attribute_label,
    esi_label,
    event_end,
    events_of,
    frame_numbers,
    hexid,
    is_command,
    is_read,
    is_report,
    is_zdo,
    listing,
    match_desc_endpoints,
    overlap,
    read_rsp_records,
    seconds,
    simple_desc_endpoint,
    suspensions,
    zcl_payload,
)
from han_emu.conform.model import Observation, RunLog

_GET_PROFILE = Metering.ServerCommandDefs.get_profile.id
#: IntervalChannel, EndTime, NumberOfPeriods: 1 + 4 + 1 bytes.
_GET_PROFILE_SIZE = len(Metering.ServerCommandDefs.get_profile.schema(
    interval_channel=0, end_time=0, number_of_periods=0).serialize())
_UNSUPPORTED = foundation.Status.UNSUPPORTED_ATTRIBUTE


# -- reads-attribute ------------------------------------------------------------------------

SILENT_METER = ("meter-restart", "supply-interruption")
"""Events during which the meter does not answer: a display may back off."""


def _merged(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def judge_reads_attribute(p: Mapping[str, Any], log: RunLog) -> Finding:
    """Reads (or reports) of one attribute, no gap over ``every_s`` (+ tolerance)
    from the first to the run's end.  Not counted: time the hub had the DUT
    suspended, and time the meter was silent (a restart or supply interruption,
    and one period after it, for the display's unanswered request to time out)."""
    role: Role = p["endpoint"]
    ep = log.endpoints.endpoint(role)
    cluster, attr, every = p["cluster"], p["attribute"], p["every_s"]
    limit = every + p["tolerance_s"]
    what = attribute_label(cluster, attr)
    expected = (f"the DUT reads {what} on {esi_label(log, role)}, or is sent reports of it, "
                f"at least every {seconds(every)} from its first read to the end of the run "
                f"(not counting time suspended by the hub or with the meter silent)")
    hits = [o for o in log.observations
            if attr in o.attributes and (is_read(o, cluster, ep) or is_report(o, cluster, ep))]
    if not hits:
        if log.duration < limit:
            return Finding(None, expected, f"no read yet; the run ended after {seconds(log.duration)}")
        return Finding(False, expected, f"never read or reported in {seconds(log.duration)}")
    quiet = sorted([(o.time, end) for o, end in suspensions(log)]
                   + [(e.time, event_end(e) + every) for e in events_of(log, SILENT_METER)])
    quiet = _merged(quiet)
    gaps: list[tuple[float, Observation, Observation | None]] = []  # (gap, from, to: None = the run's end)
    for a, b in zip(hits, [*hits[1:], None]):
        end = log.duration if b is None else b.time
        gaps.append((end - a.time - overlap(a.time, end, quiet), a, b))
    reports = sum(1 for o in hits if not o.incoming)
    longest = max(gaps, key=lambda g: g[0])
    counted = f"{len(hits)} times" + (f" ({reports} by report)" if reports else "")
    late = [g for g in gaps if g[0] > limit]
    if not late:
        return Finding(True, expected, f"read {counted} from {at(hits[0])}; longest gap {seconds(longest[0])}",
                       frame_numbers([hits[0], longest[1], longest[2]]))
    gap, a, b = longest
    until = "the end of the run" if b is None else at(b)
    return Finding(False, expected,
                   f"read {counted} from {at(hits[0])}, but {len(late)} gap{'s' if len(late) > 1 else ''} "
                   f"over {seconds(limit)}; the longest {seconds(gap)}, from {at(a)} to {until}",
                   frame_numbers(o for g in sorted(late, key=lambda g: g[1].time) for o in g[1:]))


# -- discovers-endpoint -------------------------------------------------------------------

def judge_discovers_endpoint(p: Mapping[str, Any], log: RunLog) -> Finding:
    role: Role = p["endpoint"]
    ep = log.endpoints.endpoint(role)
    esi = esi_label(log, role)
    expected = (f"a Match_Desc_rsp to the DUT lists {esi} and the DUT then sends it ZCL frames, "
                f"or the DUT asks its Simple_Desc")
    simple = next((o for o in log.observations if o.incoming and is_zdo(o)
                   and o.cluster == zdo_t.ZDOCmd.Simple_Desc_req and simple_desc_endpoint(o) == ep), None)
    if simple is not None:
        return Finding(True, expected, f"Simple_Desc_req for endpoint {ep} in {at(simple)}", frame_numbers([simple]))
    match = next((o for o in log.observations if not o.incoming and is_zdo(o)
                  and o.cluster == zdo_t.ZDOCmd.Match_Desc_rsp and ep in match_desc_endpoints(o)), None)
    asked = next((o for o in log.observations if o.incoming and is_zdo(o)
                  and o.cluster == zdo_t.ZDOCmd.Match_Desc_req), None)
    if match is None and asked is None and not log.zdo_visible:
        return _talks_to(log, ep, f"the DUT sends {esi} ZCL frames (a run on a stick cannot see ZDO discovery)")
    if match is None:
        seen = (f"the DUT sent Match_Desc_req in {at(asked)}, but no answer listed endpoint {ep}"
                if asked is not None else "the DUT sent no Match_Desc_req and no Simple_Desc_req")
        return Finding(False, expected, seen, frame_numbers([asked]))
    talk = next((o for o in log.observations if o.incoming and not is_zdo(o) and o.dst_ep == ep
                 and o.time >= match.time), None)
    if talk is None:
        return Finding(False, expected, f"Match_Desc_rsp in {at(match)} listed endpoint {ep}, but the DUT "
                                        f"sent it no ZCL frame and no Simple_Desc_req", frame_numbers([match]))
    return Finding(True, expected, f"Match_Desc_rsp in {at(match)} listed endpoint {ep}; the DUT's first frame "
                                   f"to it: {cluster_name(talk.cluster) or hexid(talk.cluster)} in {at(talk)}",
                   frame_numbers([match, talk]))


def _talks_to(log: RunLog, ep: int, expected: str) -> Finding:
    """Discovery on a run that cannot see ZDO (a stick answers Match_Desc and
    Simple_Desc in its firmware, so no Match_Desc_req reaches the host): the DUT
    found the endpoint if it talks to it."""
    talk = next((o for o in log.observations if o.incoming and not is_zdo(o) and o.dst_ep == ep), None)
    hidden = "discovery itself (Match_Desc, Simple_Desc) is answered by the stick and not visible from the host"
    if talk is None:
        return Finding(False, expected, f"the DUT sent endpoint {ep} no ZCL frame; {hidden}")
    return Finding(True, expected, f"the DUT's first frame to endpoint {ep}: "
                                   f"{cluster_name(talk.cluster) or hexid(talk.cluster)} in {at(talk)}; {hidden}",
                   frame_numbers([talk]))


# -- reads-mp184-export ---------------------------------------------------------------------

def _mp184_items(log: RunLog) -> list[tuple[str, HanHome]]:
    """The MP184 rows a display of export data must read on the secondary ESI:
    R1 the export register, R2 the four TOU export registers and their prices
    (not the switching table's result, one attribute of its own), R3 the export
    profile (its GetProfile row), R4 the export MPAN."""
    out = []
    for home in mp184_table(log.endpoints):
        if home.role is not Role.SECONDARY or home.cluster_id is None:
            continue
        if (home.item in ("R1", "R4") or (home.item == "R2" and len(home.attribute_ids) > 1)
                or (home.item == "R3" and home.command is not None)):
            out.append((f"{home.item} {home.what}", home))
    return out


def _first_reads(log: RunLog, ep: int, home: HanHome) -> dict[int, Observation]:
    """The first read of each of ``home``'s attributes on ``ep`` (with its manufacturer code)."""
    first: dict[int, Observation] = {}
    for o in log.observations:
        if is_read(o, home.cluster_id or 0, ep) and o.manufacturer == home.manufacturer_code:
            for a in o.attributes:
                if a in home.attribute_ids and a not in first:
                    first[a] = o
    return first


def _profile_requests(log: RunLog, ep: int, channel: int) -> list[Observation]:
    out = []
    for o in log.observations:
        if is_command(o, METERING, _GET_PROFILE, incoming=True) and o.dst_ep == ep:
            payload = zcl_payload(o, size=_GET_PROFILE_SIZE)
            if payload and payload[0] == channel:
                out.append(o)
    return out


def judge_reads_mp184_export(p: Mapping[str, Any], log: RunLog) -> Finding:
    ep = log.endpoints.secondary
    items = _mp184_items(log)
    expected = (f"on {esi_label(log, Role.SECONDARY)} the DUT reads the MP184 export data: "
                f"{listing([name for name, _ in items])}")
    found: list[str] = []
    missing: list[str] = []
    evidence: list[Observation] = []
    for name, home in items:
        if home.command is not None:
            channel = dict(home.parameters)["interval_channel"]
            asked = _profile_requests(log, ep, channel)
            if asked:
                found.append(f"{name} (GetProfile, channel {channel}) in {at(asked[0])}")
                evidence.append(asked[0])
            else:
                missing.append(f"{home.item} GetProfile on channel {channel}")
            continue
        first = _first_reads(log, ep, home)
        absent = [a for a in home.attribute_ids if a not in first]
        if absent:
            missing.append(f"{name} ({listing([hexid(a) for a in absent])} never read)")
        else:
            frames = sorted({o.time: o for o in first.values()}.values(), key=lambda o: o.time)
            found.append(f"{name} in {at(frames[0])}")
            evidence.extend(frames)
    if missing:
        seen = f"missing: {listing(missing)}" + (f"; read: {listing(found)}" if found else "")
        return Finding(False, expected, seen, frame_numbers(evidence))
    return Finding(True, expected, f"all read: {listing(found)}", frame_numbers(evidence))


# -- asks-profile -------------------------------------------------------------------------------

def judge_asks_profile(p: Mapping[str, Any], log: RunLog) -> Finding:
    role: Role = p["endpoint"]
    channel = p["channel"]
    ep = log.endpoints.endpoint(role)
    try:
        name = f" ({IntervalChannel(channel).name})"
    except ValueError:
        name = ""
    expected = f"the DUT asks GetProfile on interval channel {channel}{name} of {esi_label(log, role)}"
    asked = _profile_requests(log, ep, channel)
    if not asked:
        others = [o for o in log.observations if is_command(o, METERING, _GET_PROFILE, incoming=True)]
        seen = "no GetProfile from the DUT" if not others else (
            f"{len(others)} GetProfile, none on channel {channel} of endpoint {ep}")
        return Finding(False, expected, seen, frame_numbers(others))
    return Finding(True, expected, f"{len(asked)} GetProfile, the first in {at(asked[0])}", frame_numbers(asked))


# -- no-unserved-attributes --------------------------------------------------------------------

def judge_no_unserved_attributes(p: Mapping[str, Any], log: RunLog) -> Finding:
    expected = "no Read Attributes of the DUT is answered UNSUPPORTED_ATTRIBUTE"
    answers = [o for o in log.observations
               if not o.incoming and not is_zdo(o) and o.general and o.command == GC.Read_Attributes_rsp]
    unserved: list[tuple[Observation, list[int]]] = []
    for o in answers:
        records = read_rsp_records(o)
        ids = [a for a, status in records if status == _UNSUPPORTED]
        if not records and o.status == _UNSUPPORTED:
            ids = list(o.attributes)
        if ids:
            unserved.append((o, ids))
    if not unserved:
        return Finding(True, expected, f"{len(answers)} Read Attributes Responses, none UNSUPPORTED_ATTRIBUTE")
    named: list[str] = []
    for o, ids in unserved:
        for a in ids:
            label = f"{attribute_label(o.cluster, a)} on endpoint {o.src_ep}"
            if label not in named:
                named.append(label)
    more = f" and {len(named) - 4} more" if len(named) > 4 else ""
    return Finding(False, expected,
                   f"{len(unserved)} answers with UNSUPPORTED_ATTRIBUTE, the first in {at(unserved[0][0])}: "
                   f"{', '.join(named[:4])}{more}", frame_numbers(o for o, _ in unserved))

