"""Verdicts on a run that is not over: what is decided so far, and what is still pending.

The checks (``checks.py``) judge a whole run: what was not seen by its end
failed.  While the run goes on (the terminal's progress line, the dashboard's
Conformance screen), or when it is stopped before its end, a check that only
lacks what it waits for has not failed *yet*: the display may still discover
the secondary ESI, read the export data or complete CBKE.  Such a failure is
shown as pending.  A failure that a later frame cannot undo (a gap in the
reads longer than allowed, a price change not followed in time, an
unconfirmed message, a request while suspended, an unserved attribute) is
shown as it is.  A pass so far is shown as a pass; a later frame may still
turn it (the next read may come late), which the final verdicts settle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from han_emu.conform.checks import CHECKS, check_params
from han_emu.conform.evidence import events_of, is_read, is_report, seconds
from han_emu.conform.model import CheckSpec, RunLog, Verdict

__all__ = ["NOT_YET", "verdicts_so_far"]


def _always(params: Mapping[str, Any], log: RunLog) -> bool:
    return True


def _never_read(params: Mapping[str, Any], log: RunLog) -> bool:
    """reads-attribute: a failure without a single read (a gap between reads cannot be undone)."""
    ep = log.endpoints.endpoint(params["endpoint"])
    cluster, attr = params["cluster"], params["attribute"]
    return not any(attr in o.attributes and (is_read(o, cluster, ep) or is_report(o, cluster, ep))
                   for o in log.observations)


def _before_rekey(params: Mapping[str, Any], log: RunLog) -> bool:
    """completes-cbke: the first key establishment may still come; a re-key's window is judged as it ends."""
    return not events_of(log, ("cbke-rekey",))


NOT_YET: Final[dict[str, Callable[[Mapping[str, Any], RunLog], bool]]] = {
    "discovers-endpoint": _always,
    "reads-mp184-export": _always,
    "asks-profile": _always,
    "reads-attribute": _never_read,
    "completes-cbke": _before_rekey,
}
"""Check types whose failure so far may still become a pass, and when it may."""


def verdicts_so_far(specs: Sequence[CheckSpec], log: RunLog, now: float) -> list[Verdict]:
    """The checks judged on ``log`` as if the run had ended at ``now`` (run seconds),
    with failures that later frames may still cure shown as pending."""
    log = replace(log, duration=now)
    out = []
    for spec in specs:
        params = check_params(spec)
        found = CHECKS[spec.type].judge(params, log)
        passed = found.passed
        curable = NOT_YET.get(spec.type)
        seen = found.seen
        if passed is False and curable is not None and curable(params, log):
            passed, seen = None, f"not yet, after {seconds(now)}: {found.seen}"
        out.append(Verdict(spec, passed, found.expected, seen, found.frames))
    return out
