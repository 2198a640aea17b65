"""Checks on how the display under test follows what happens to the meter: price
changes, messages, restarts, key establishment and Sub-GHz suspensions.

A check tied to events judges each event of its kinds in the run; it is
pending when the run ended before an event's window closed undecided, or
when the run had no such event.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from zigpy.zcl import foundation

from clusters import KeyEstablishment, Messaging, Price
from clusters.ids import KEY_ESTABLISHMENT, MESSAGING, PRICE
from han_emu.conform.evidence import (
    GC,
    Finding,
    at,
    default_response,
    event_end,
    events_of,
    frame_numbers,
    is_answer,
    is_command,
    is_read,
    is_request,
    is_zdo,
    listing,
    seconds,
    status_name,
    suspensions,
    zcl_direction,
    zcl_payload,
    zcl_tsn,
)
from han_emu.conform.model import EventRecord, Observation, RunLog

_GET_CURRENT_PRICE = Price.ServerCommandDefs.get_current_price.id
_PUBLISH_PRICE = Price.ClientCommandDefs.publish_price.id
_CONFIRM = Messaging.ServerCommandDefs.message_confirmation.id
_DISPLAY = Messaging.ClientCommandDefs.display_message.id
_KE_REQ = KeyEstablishment.ServerCommandDefs
_KE_RSP = KeyEstablishment.ClientCommandDefs
#: A whole key establishment as the air shows it: (from the DUT in the join flow?, command, name), in order.
CBKE_STEPS: tuple[tuple[bool, int, str], ...] = (
    (True, _KE_REQ.initiate_key_establishment_request.id, "InitiateKeyEstablishmentRequest"),
    (False, _KE_RSP.initiate_key_establishment_response.id, "InitiateKeyEstablishmentResponse"),
    (True, _KE_REQ.ephemeral_data_request.id, "EphemeralDataRequest"),
    (False, _KE_RSP.ephemeral_data_response.id, "EphemeralDataResponse"),
    (True, _KE_REQ.confirm_key_data_request.id, "ConfirmKeyDataRequest"),
    (False, _KE_RSP.confirm_key_data_response.id, "ConfirmKeyDataResponse"),
)


#: ``judge(event, window start, window end) -> (did it?, sentence, frames)``; None: undecided.
EventJudge = Callable[[EventRecord, float, float], tuple[bool | None, str, list[Observation]]]


def _each_event(log: RunLog, events: list[EventRecord], none: str, expected: str, within: float,
                judge: EventJudge, start: Callable[[EventRecord], float] = lambda e: e.time) -> Finding:
    """Judge each of ``events`` in its window (``within`` seconds from ``start(event)``).
    Fails on the first event failed; pending when a judge could not decide, or
    a window was cut by the run's end undecided, or there were no events (``none`` says so)."""
    if not events:
        return Finding(None, expected, none)
    said: list[str] = []
    shown: list[Observation] = []
    pending = False
    for e in events:
        begin = start(e)
        ok, sentence, frames = judge(e, begin, begin + within)
        shown.extend(frames)
        label = f"{e.kind} at t={seconds(e.time)}"
        if ok is False and begin + within > log.duration:
            ok, sentence = None, f"the run ended {seconds(log.duration - begin)} after it: {sentence}"
        said.append(f"{label}: {sentence}")
        if ok is False:
            return Finding(False, expected, said[-1], frame_numbers(shown))
        pending = pending or ok is None
    return Finding(None if pending else True, expected, "; ".join(said), frame_numbers(shown))


def _of(log: RunLog, *kinds: str) -> tuple[list[EventRecord], str]:
    """The run's events of ``kinds``, and what to say when there are none."""
    return events_of(log, kinds), f"no {' or '.join(kinds)} event in the run"


def _within(log: RunLog, begin: float, end: float) -> list[Observation]:
    return [o for o in log.observations if begin <= o.time <= end]


# -- follows-price-change --------------------------------------------------------------------

def judge_follows_price_change(p: Mapping[str, Any], log: RunLog) -> Finding:
    within = p["within_s"]
    expected = (f"within {seconds(within)} of each tier switch or new prices the DUT asks GetCurrentPrice, "
                f"reads the Price cluster, or accepts the pushed PublishPrice (Default Response SUCCESS)")

    def judge(e: EventRecord, begin: float, end: float) -> tuple[bool | None, str, list[Observation]]:
        window = _within(log, begin, end)
        pushed = [o for o in window if is_command(o, PRICE, _PUBLISH_PRICE, incoming=False)]
        refused: list[Observation] = []
        for o in window:
            if is_command(o, PRICE, _GET_CURRENT_PRICE, incoming=True):
                return True, f"GetCurrentPrice in {at(o)}", [o]
            if is_read(o, PRICE):
                return True, f"Price read in {at(o)}", [o]
            answer = default_response(o) if o.incoming and o.cluster == PRICE else None
            if answer is not None and answer[0] == _PUBLISH_PRICE:
                if answer[1] == foundation.Status.SUCCESS:
                    before = [q for q in pushed if q.time <= o.time][:1]
                    return True, f"PublishPrice accepted (Default Response SUCCESS) in {at(o)}", [*before, o]
                refused.append(o)
        if refused:
            status = status_name(default_response(refused[0])[1])  # type: ignore[index]
            return False, f"the DUT refused the pushed PublishPrice ({status}) in {at(refused[0])} and did not " \
                          f"read the price again within {seconds(within)}", [*pushed[:1], *refused]
        push = f"PublishPrice pushed in {at(pushed[0])}; " if pushed else "no PublishPrice pushed; "
        return False, f"{push}no GetCurrentPrice, Price read or accepted PublishPrice within {seconds(within)}", \
            pushed[:1]

    return _each_event(log, *_of(log, "tier-switch", "new-prices"), expected, within, judge)


# -- confirms-message ---------------------------------------------------------------------------

def _message_id(o: Observation) -> int | None:
    payload = zcl_payload(o)
    return int.from_bytes(payload[:4], "little") if len(payload) >= 4 else None


def judge_confirms_message(p: Mapping[str, Any], log: RunLog) -> Finding:
    within = p["within_s"]
    expected = f"within {seconds(within)} of each message asking for confirmation the DUT sends MessageConfirmation"
    events = [e for e in events_of(log, ("message",)) if e.params.get("confirm")]

    def judge(e: EventRecord, begin: float, end: float) -> tuple[bool | None, str, list[Observation]]:
        window = _within(log, begin, end)
        message_id = e.outcome.get("message_id")
        shown = [o for o in window if is_command(o, MESSAGING, _DISPLAY, incoming=False)
                 and (message_id is None or _message_id(o) == message_id)][:1]
        for o in window:
            if is_command(o, MESSAGING, _CONFIRM, incoming=True) and (
                    message_id is None or _message_id(o) == message_id):
                return True, f"MessageConfirmation in {at(o)}", [*shown, o]
        told = f"DisplayMessage in {at(shown[0])}, " if shown else "no DisplayMessage to the DUT seen, "
        return False, f"{told}no MessageConfirmation within {seconds(within)}", shown

    return _each_event(log, events, "no message asking for confirmation in the run", expected, within, judge)


# -- recovers-after-restart ---------------------------------------------------------------------

def _served(o: Observation) -> bool:
    """An answer that serves a request: no error status, or a Read Attributes
    Response (whatever its records say, the meter is serving again)."""
    return o.status is None or (o.general and o.command == GC.Read_Attributes_rsp)


def judge_recovers_after_restart(p: Mapping[str, Any], log: RunLog) -> Finding:
    within = p["within_s"]
    expected = (f"within {seconds(within)} of each meter restart or supply interruption ending, "
                f"a request of the DUT is answered successfully")

    def judge(e: EventRecord, begin: float, end: float) -> tuple[bool | None, str, list[Observation]]:
        window = _within(log, begin, end)
        requests = [o for o in window if is_request(o)]
        for r in requests:
            tsn = zcl_tsn(r)
            for o in window:
                if o.time < r.time or not is_answer(o) or o.cluster != r.cluster or o.src_ep != r.dst_ep:
                    continue
                if tsn is not None and zcl_tsn(o) not in (None, tsn):
                    continue
                if _served(o):
                    return True, f"request in {at(r)} answered in {at(o)}", [r, o]
                break
        if not requests:
            return False, f"no request from the DUT within {seconds(within)} of the meter's return", []
        refusals = [o for o in window if is_answer(o) and not _served(o)]
        why = f", {len(refusals)} refused ({status_name(refusals[0].status or 0)})" if refusals else ""
        return False, f"{len(requests)} requests from {at(requests[0])}, none answered successfully{why}", \
            [requests[0], *refusals[:1]]

    return _each_event(log, *_of(log, "meter-restart", "supply-interruption"), expected, within, judge,
                       start=event_end)


# -- completes-cbke ---------------------------------------------------------------------------------

def _ke_step(o: Observation) -> tuple[bool, int] | None:
    """(started by the DUT?, step) of a Key Establishment frame: steps 0-5 are
    CBKE_STEPS in order (a request, then its response), 6 a Terminate.  Who started
    the exchange follows from the frame's ZCL direction: requests go client to
    server, from the initiator.  A frame recorded without its header is read as
    the join flow has it (requests from the DUT)."""
    if is_zdo(o) or o.general or o.cluster != KEY_ESTABLISHMENT or o.command is None:
        return None
    direction = zcl_direction(o)
    response = (not o.incoming) if direction is None else direction == foundation.Direction.Server_to_Client
    by_dut = o.incoming != response
    if o.command == _KE_REQ.terminate_key_establishment.id:
        return by_dut, len(CBKE_STEPS)
    if o.command > _KE_REQ.confirm_key_data_request.id:
        return None
    return by_dut, 2 * o.command + response


def _exchanges(observations: list[Observation]) -> tuple[list[list[Observation]], list[Observation],
                                                          list[Observation]]:
    """Complete key establishments (their six frames, whoever started them),
    Terminates, and the steps of an exchange left unfinished."""
    done: list[list[Observation]] = []
    terminated: list[Observation] = []
    steps: list[Observation] = []
    owner: bool | None = None
    for o in observations:
        step = _ke_step(o)
        if step is None:
            continue
        by_dut, index = step
        if index == len(CBKE_STEPS):
            terminated.append(o)
            steps = []
            continue
        if index == 0:
            steps, owner = [o], by_dut
        elif steps and by_dut == owner and index == len(steps):
            steps.append(o)
        if len(steps) == len(CBKE_STEPS):
            done.append(steps)
            steps = []
    return done, terminated, steps


def _started_by(exchange: list[Observation]) -> str:
    step = _ke_step(exchange[0])
    return "the DUT" if step is not None and step[0] else "the meter"


def _refused_ke(window: list[Observation]) -> Observation | None:
    """A Default Response of the DUT refusing a Key Establishment request."""
    for o in window:
        answer = default_response(o) if o.incoming and o.cluster == KEY_ESTABLISHMENT else None
        if answer is not None and answer[1] != foundation.Status.SUCCESS:
            return o
    return None


def judge_completes_cbke(p: Mapping[str, Any], log: RunLog) -> Finding:
    within, after = p["within_s"], p["after"]
    names = [name for _, _, name in CBKE_STEPS]
    rekeys = f"within {seconds(within)} of each CBKE re-key"
    expected = (f"the DUT completes key establishment ({listing(names[0::2])} answered, no Terminate), "
                + (f"and again {rekeys}" if after == "join" else rekeys))
    events = events_of(log, ("cbke-rekey",))
    done = _exchanges(log.observations)[0]
    first = ""
    frames: tuple[int, ...] = ()
    joined: Finding | None = None
    if after == "join":  # the join's exchange: one that starts before the first re-key
        cut = events[0].time if events else math.inf
        early = [o for o in log.observations if o.time < cut]
        done_early, terminated_early, partial_early = _exchanges(early)
        if not done_early:
            joined = _no_exchange(expected, early, partial_early, terminated_early, names)
            if not events:
                return joined
        else:
            ended = f"; Terminate in {at(terminated_early[0])}" if terminated_early else ""
            by = ", started by the meter" if _started_by(done_early[0]) == "the meter" else ""
            first = f"key established from {at(done_early[0][0])} to {at(done_early[0][-1])}{by}"
            frames = frame_numbers(done_early[0])
            if not events:
                return Finding(True, expected, first + ended, frames)

    def judge(e: EventRecord, begin: float, end: float) -> tuple[bool | None, str, list[Observation]]:
        again = next((x for x in done if begin <= x[0].time and x[-1].time <= end), None)
        if again is not None:
            return True, (f"established again, started by {_started_by(again)}, from {at(again[0])} "
                          f"to {at(again[-1])}"), again
        window = _within(log, begin, end)
        steps = [o for o in window if _ke_step(o) is not None]
        refused = _refused_ke(window)
        if refused is not None:
            status = status_name(default_response(refused)[1])  # type: ignore[index]
            return False, f"the DUT refused key establishment ({status}) in {at(refused)}", [*steps[:1], refused]
        stopped = [o for o in steps if _ke_step(o)[1] == len(CBKE_STEPS)]  # type: ignore[index]
        if stopped:
            return False, f"Terminate in {at(stopped[0])}", [*steps[:1], stopped[0]]
        if steps:
            last = names[_ke_step(steps[-1])[1]]  # type: ignore[index]
            return False, f"key establishment from {at(steps[0])} stopped after {last}", steps
        return False, f"no key establishment within {seconds(within)}", []

    found = _each_event(log, *_of(log, "cbke-rekey"), expected, within, judge)
    if joined is not None:
        return Finding(False, expected, f"{joined.seen}; {found.seen}",
                       joined.frames + tuple(f for f in found.frames if f not in joined.frames))
    seen = f"{first}; {found.seen}" if first else found.seen
    return Finding(found.passed, expected, seen, frames + tuple(f for f in found.frames if f not in frames))


def _no_exchange(expected: str, observations: list[Observation], partial: list[Observation],
                 terminated: list[Observation], names: list[str]) -> Finding:
    """completes-cbke when the join's key establishment did not complete: what the air showed instead."""
    ended = f"; Terminate in {at(terminated[0])}" if terminated else ""
    if partial:
        seen = f"key establishment from {at(partial[0])} stopped after {names[len(partial) - 1]}{ended}"
    elif terminated:
        seen = ended[2:]
    else:
        refused = [o for o in observations if is_answer(o)
                   and o.status == foundation.Status.NOT_AUTHORIZED][:1]
        seen = "no InitiateKeyEstablishmentRequest from the DUT" + (
            f"; the meter refused its requests NOT_AUTHORIZED, first in {at(refused[0])}" if refused else "")
        return Finding(False, expected, seen, frame_numbers(refused))
    return Finding(False, expected, seen, frame_numbers([*partial, *terminated]))


# -- obeys-suspend -----------------------------------------------------------------------------

def judge_obeys_suspend(p: Mapping[str, Any], log: RunLog) -> Finding:
    grace = p["grace_s"]
    expected = ("no ZCL request from the DUT while the hub has it suspended (Sub-GHz Suspend ZCL Messages), "
                f"after each Sub-GHz suspend event (requests already under way within {seconds(grace)} excepted)")
    periods = suspensions(log)

    def judge(e: EventRecord, begin: float, end: float) -> tuple[bool | None, str, list[Observation]]:
        period = next(((o, until) for o, until in periods if o.time >= e.time), None)
        if period is None:
            return None, "the hub sent the DUT no Suspend ZCL Messages after it", []
        suspend, until = period
        broke = [o for o in log.observations if is_request(o) and suspend.time + grace < o.time < until]
        span = f"suspended from {at(suspend)} to t={seconds(until)}"
        if broke:
            return False, f"{span}, but {len(broke)} requests in it, the first in {at(broke[0])}", [suspend, *broke]
        if until > log.duration:
            return None, f"{span}, no request before the run ended", [suspend]
        return True, f"{span}: no request", [suspend]

    # The window is the suspension itself, which each judge finds: never cut short here.
    return _each_event(log, *_of(log, "subghz-suspend"), expected, 0.0, judge)

