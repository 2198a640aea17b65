"""Faults a simulated display can be given, so that conformance checks are seen to fail.

A conformance check that never fails proves nothing: each fault here makes the
simulated IHD, PPMID or CAD misbehave in one named way, and the tests show the
checks that should notice it do, and the others do not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

SLOW_POLL_FACTOR: Final = 6
"""A ``slow-poll`` display waits this many times its schedule between polls
(every 60 s instead of every 10 s)."""

FAULTS: Final[dict[str, str]] = {
    "ignore-secondary": "never talks to the secondary ESI (Match_Desc finds it, but no ZCL frame goes there)",
    "slow-poll": f"polls {SLOW_POLL_FACTOR} times less often than its schedule (every 60 s instead of 10 s)",
    "no-cbke": "joins with its install code but skips key establishment, so the ESI refuses its "
               "Smart Energy requests (NOT_AUTHORIZED); key establishment the ESI starts is refused "
               "(UNSUP_CLUSTER_COMMAND)",
    "ignore-price-push": "refuses a pushed PublishPrice (Default Response UNSUP_CLUSTER_COMMAND) "
                         "and reads prices only on its schedule",
    "no-confirm": "never sends MessageConfirmation, even for a message that asks for one",
    "no-recovery": "stops polling after its first request the meter leaves unanswered "
                   "(the meter silent or restarting)",
}
"""Every fault, with what it does."""


def parse_faults(names: Iterable[str] | str | None) -> frozenset[str]:
    """The faults named (an iterable, or one comma-separated string); raises
    ValueError naming an unknown fault and the known ones."""
    if names is None:
        return frozenset()
    items = names.split(",") if isinstance(names, str) else list(names)
    out = set()
    for raw in items:
        if not isinstance(raw, str):
            raise ValueError(f"display fault: a name, got {raw!r}")
        name = raw.strip()
        if not name:
            continue
        if name not in FAULTS:
            raise ValueError(f"unknown display fault {name!r}: one of {', '.join(FAULTS)}")
        out.add(name)
    return frozenset(out)
