"""A display joined to the stick in an earlier session, on a stick conformance run.

A lab's display stays on the stick's network between runs: it neither
rejoins nor redoes CBKE (it keeps its link key), while each run serves a
fresh meter that has authorised nobody and would refuse its requests
NOT_AUTHORIZED.  When the host runs CBKE in software, the meter starts key
establishment with it as the initiator (as a ``cbke-rekey`` event does) and
the plan starts once it is authorised; otherwise the run stops in one line
saying what to do.
"""

from __future__ import annotations

import asyncio
from typing import Any

from zigpy.zcl import foundation

from clusters.ids import KEY_ESTABLISHMENT
from han_emu.conform import events as ev
from han_emu.conform.run import RadioRun, RunError
from han_emu.crypto.cbke import TerminateStatus

ADVICE = "make the display leave the network and rejoin (or reset the stick's network), then run again"
POLL_S = 0.2
"""Seconds between looks at the exchange while the meter waits for it."""


def step(run: RadioRun) -> str:
    """The run's step while the meter re-establishes CBKE."""
    return f"re-establishing CBKE with {run.ieee} (joined in an earlier session)"


def joined_earlier(run: RadioRun, han: Any) -> bool:
    """Is the DUT on the stick's network already (the stick knows it before the
    permit window opens), joined in an earlier session and not authorised by this
    run's meter?  True when the meter can re-establish CBKE itself (the host's
    software CBKE); RunError when the stick's NCP runs CBKE (the host drives it as
    responder only).  Without CBKE the meter authorises and refuses nobody: the
    display is served as it is (False)."""
    if run._dut_nwk() is None or bytes(run.ieee) in han.authorised or han.cbke_mode is None:
        return False
    if han.cbke_mode == "software":
        return True
    raise RunError(f"{run.ieee} joined the stick's network in an earlier session and keeps its CBKE key, but "
                   "this run's meter has not authorised it and cannot start CBKE (the stick's EmberZNet NCP runs "
                   f"key establishment as responder only): {ADVICE}")


async def cbke_again(run: RadioRun, target: ev.Target) -> None:
    """The meter starts CBKE with a display joined in an earlier session; returns
    once the display is authorised.  RunError when the display refuses it, the
    exchange fails, or it does not end within the run's join timeout."""
    han = run.han
    run.status.step = step(run)
    run._report()
    since = han.clock.now()
    deadline = since + run.join_timeout
    try:
        await ev.cbke_rekey(target)
    except ev.EventBusy:  # the display started key establishment itself: wait for it
        pass
    except ev.EventError as exc:
        raise RunError(f"{run.ieee} joined in an earlier session; the meter could not start CBKE with it "
                       f"({str(exc).removeprefix('cbke-rekey: ')}): {ADVICE}") from None
    ke = han.esi.key_establishment
    seen = len(run.log.observations)
    while bytes(run.ieee) not in han.authorised:
        ke.expire()  # a display that stopped answering ends the exchange at its deadline
        refused = [o for o in run.log.observations[seen:]
                   if o.incoming and o.cluster == KEY_ESTABLISHMENT and o.general and o.status]
        failed = [o for o in ke.outcomes if o.ieee == run.ieee and o.time >= since and not o.established]
        if refused or failed:
            why = f"the display refused it ({_status(refused[0].status)})" if refused else _failure(failed[-1])
            raise RunError(f"{run.ieee} joined in an earlier session; CBKE with it failed ({why}): {ADVICE}")
        if han.clock.now() >= deadline:
            raise RunError(f"{run.ieee} joined in an earlier session and did not complete CBKE with the meter "
                           f"within {run.join_timeout:g} s: {ADVICE}")
        await asyncio.sleep(POLL_S)


def _status(status: int | None) -> str:
    try:
        return foundation.Status(status).name
    except ValueError:
        return f"0x{int(status or 0):02X}"


def _terminate(status: int) -> str:
    try:
        return TerminateStatus(status).name
    except ValueError:
        return f"0x{status:02X}"


def _failure(outcome: Any) -> str:
    """Why a key establishment ended without a key (a KeyEstablishmentServer outcome), in a few words."""
    if outcome.received is not None:
        return f"the display sent Terminate {_terminate(int(outcome.received))}"
    if outcome.sent is not None:
        return f"the meter sent Terminate {_terminate(int(outcome.sent))}"
    return "the display stopped answering" if outcome.timed_out else "no key agreed"
