"""The shapes a conformance run passes between its parts.

A run (``run.py``) plays a plan's events on the meter and records what the
display under test (DUT) sends and receives, as :class:`Observation` rows in
capture order; checks (``checks.py``) turn the observations and the events
into one :class:`Verdict` each; reports (``report.py``) write the verdicts
as JUnit XML and Markdown.  Keeping these shapes here, and nothing else,
lets the run, the checks and the reports change independently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clusters.mp184 import EndpointMap


@dataclass(frozen=True)
class Observation:
    """One ZCL or ZDO packet to or from the device under test, as seen on the air.

    ``frame`` is the number Wireshark gives the frame in the run's capture
    (1-based), or None when nothing was recorded.  ``time`` is seconds since
    the run started (virtual time on a virtual DUT).  ``incoming`` is True for a
    packet the DUT sent to the meter or hub.  ``profile`` 0 marks ZDO.  For a
    ZCL frame ``general`` tells a foundation (profile-wide) command from a
    cluster-specific one, ``command`` is its id, and ``attributes`` the attribute
    ids it reads, reports or answers; ``status`` is the first non-success ZCL
    status in it, if any.  ``secured`` tells APS encryption.
    """

    frame: int | None
    time: float
    incoming: bool
    src_nwk: int
    dst_nwk: int
    profile: int
    cluster: int
    src_ep: int
    dst_ep: int
    general: bool = False
    command: int | None = None
    attributes: tuple[int, ...] = ()
    status: int | None = None
    manufacturer: int | None = None
    secured: bool = False
    data: bytes = b""


@dataclass(frozen=True)
class EventRecord:
    """A plan event as it was applied: its kind, when (run seconds), its parameters
    and what it did (e.g. the new IssuerEventID), for checks that look after it."""

    kind: str
    time: float
    params: dict[str, Any] = field(default_factory=dict)
    outcome: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckSpec:
    """One check of a plan: its type (a key of ``checks.CHECKS``), a name unique
    in the plan (the JUnit testcase name) and its parameters."""

    type: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check, with its evidence.

    ``passed`` None means pending (the run ended before the check could be
    decided, counted as a failure in the exit status).  ``expected`` and
    ``seen`` are one sentence each; ``frames`` are the capture frame numbers
    that show it (the first few that matter)."""

    spec: CheckSpec
    passed: bool | None
    expected: str
    seen: str
    frames: tuple[int, ...] = ()


@dataclass
class RunLog:
    """Everything a run produced that checks and reports need."""

    plan: str
    dut: str  # e.g. "virtual ihd" or "ezsp:/dev/ttyUSB0 00:11:..:ff"
    duration: float
    observations: list[Observation] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    dut_nwk: int | None = None
    dut_ieee: str | None = None
    capture: str | None = None
    keylog: str | None = None
    #: The meter's ESI endpoints (which is primary, which secondary) and the
    #: export MPAN's home, as the run served them.
    endpoints: EndpointMap = field(default_factory=EndpointMap)
    #: Whether the DUT's ZDO frames are observed.  On a stick the firmware
    #: answers Match_Desc and Simple_Desc itself: the host never sees them.
    zdo_visible: bool = True
