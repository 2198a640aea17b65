"""Captures as scenarios: the readings a capture shows, as a :class:`Recording`.

A real meter's session (a display polling it, the meter reporting) is
decoded with :class:`Replay`; every Metering response or report from one of
the two ESI endpoints (their numbers come from ``clusters.mp184.EndpointMap``)
adds timed observations: CurrentSummation Delivered/Received, the tier
summations, InstantaneousDemand, the active register tiers, and the
half-hour intervals of GetProfile responses (matched to their requests by
client and TSN, which is where the interval channel is named).  The
capture's first and last frame are its span: the meter begins where the
capture does.

Values are scaled with the Multiplier and Divisor the meter advertises (GB
meters use 1 and 1000 with kWh, so a raw value is Wh; that is the default
when the capture never shows them).  :func:`recorded_scenario` wraps the
result in a :class:`RecordedScenario` that ``han-emu run --scenario-from``
drives the meter with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

from clusters import utctime_to_posix
from clusters.mp184 import EndpointMap
from han_emu.meter.recorded import After, Recording, RecordedScenario
from han_emu.meter.settings import PRIMARY, SECONDARY

from han_emu.replay.player import Replay, ZclEvent

METERING = 0x0702
_SUMMATION = {0x0000: "import", 0x0001: "export"}
_ACTIVE_TIER = {0x0020: "import", 0x0021: "export"}
_DEMAND = 0x0400
_MULTIPLIER, _DIVISOR = 0x0301, 0x0302
_TIER_FIRST, _TIER_LAST = 0x0100, 0x01FF
_CHANNEL_DIRECTION = {0: "import", 1: "export"}  # IntervalChannel: consumption delivered / received
_THIRTY_MINUTES = 2  # ProfileIntervalPeriod
_INVALID_INTERVAL = 0xFFFFFF


class _Extractor:
    """Collects raw observations per element, scaled once the scaling is known."""

    def __init__(self, endpoints: EndpointMap) -> None:
        self.roles = {endpoints.primary: PRIMARY, endpoints.secondary: SECONDARY}
        self.scaling: dict[str, tuple[int, int]] = {}
        self.raw: list[tuple[str, str, tuple[Any, ...]]] = []  # (kind, element, data)
        self.requests: dict[tuple[int | None, int], int] = {}  # (client, tsn) -> interval channel
        self.frames = 0

    def event(self, ev: ZclEvent) -> None:
        if ev.cluster != METERING:
            return
        m = ev.message
        if not m.server_to_client:
            if m.cluster_specific and m.command_id == 0x00 and m.payload and "interval_channel" in m.payload:
                self.requests[(ev.src, m.tsn)] = int(m.payload["interval_channel"])
            return
        element = self.roles.get(ev.src_ep or -1)
        if element is None:
            return
        if m.cluster_specific:
            if m.command_id == 0x00:
                channel = self.requests.pop((ev.dst, m.tsn), None)
                self._profile(element, channel, m.payload or {})
            return
        if m.command_id not in (0x01, 0x0A) or not m.attributes:
            return
        self.frames += 1
        attrs = {int(k, 16): v for k, v in m.attributes.items() if v is not None}
        mult, div = self.scaling.get(element, (1, 1000))
        if _MULTIPLIER in attrs or _DIVISOR in attrs:
            self.scaling[element] = (int(attrs.get(_MULTIPLIER, mult)) or 1, int(attrs.get(_DIVISOR, div)) or 1)
        for aid, value in attrs.items():
            if not isinstance(value, int):
                continue
            if aid in _SUMMATION:
                self.raw.append(("reading", element, (_SUMMATION[aid], ev.time, value)))
            elif _TIER_FIRST <= aid <= _TIER_LAST:
                tier, received = (aid - _TIER_FIRST) // 2 + 1, (aid - _TIER_FIRST) % 2
                self.raw.append(("tier", element, ("export" if received else "import", tier, ev.time, value)))
            elif aid == _DEMAND:
                self.raw.append(("demand", element, (ev.time, value)))
            elif aid in _ACTIVE_TIER:
                self.raw.append(("active", element, (_ACTIVE_TIER[aid], ev.time, value)))

    def _profile(self, element: str, channel: int | None, p: dict[str, Any]) -> None:
        direction = _CHANNEL_DIRECTION.get(channel if channel is not None else -1)
        if direction is None or p.get("status") != 0 or p.get("profile_interval_period") != _THIRTY_MINUTES:
            return
        end = int(utctime_to_posix(int(p["end_time"])))
        end -= end % 1800
        for i, value in enumerate(p.get("intervals") or []):
            self.raw.append(("interval", element, (direction, end - i * 1800, value)))

    def recording(self) -> Recording:
        rec = Recording()
        for kind, element, data in self.raw:
            mult, div = self.scaling.get(element, (1, 1000))
            wh = mult * 1000.0 / div  # Wh (or W) per raw unit: kWh (kW) with this scaling
            if kind == "reading":
                direction, ts, value = data
                rec.add_reading(element, direction, ts, value * wh)
            elif kind == "tier":
                direction, tier, ts, value = data
                rec.add_tier_reading(element, direction, tier, ts, value * wh)
            elif kind == "demand":
                ts, value = data
                rec.add_demand(element, ts, value * wh)
            elif kind == "active":
                direction, ts, value = data
                rec.add_active_tier(element, direction, ts, value)
            else:
                direction, end, value = data
                rec.add_interval(element, direction, end, None if value == _INVALID_INTERVAL else value * wh)
        return rec


def recording_from_capture(
    source: str | Path | BinaryIO | bytes,
    network_keys: Iterable[bytes | str] = (),
    link_keys: Iterable[bytes | str] = (),
    *,
    keylog: str | Path | None = None,
    endpoints: EndpointMap | None = None,
    warn: Callable[[str], None] | None = None,
) -> Recording:
    """The time series of register values, demand, tiers and profile intervals
    that the ESIs of a capture showed."""
    endpoints = endpoints or EndpointMap()
    ex = _Extractor(endpoints)
    replay = Replay(source, network_keys, link_keys, keylog=keylog, endpoints=endpoints, warn=warn)
    for event in replay.frames():
        if type(event) is ZclEvent:
            ex.event(event)
    rec = ex.recording()
    first, last = replay.summary.first_time, replay.summary.last_time
    if first is not None and last is not None:
        rec.span = (first, last)
    return rec


def recorded_scenario(
    source: str | Path | BinaryIO | bytes,
    keys: Iterable[bytes | str] = (),
    *,
    keylog: str | Path | None = None,
    endpoints: EndpointMap | None = None,
    after: After = "hold",
    warn: Callable[[str], None] | None = None,
) -> RecordedScenario:
    """A scenario replaying a capture's readings.  ``keys`` are tried as both
    network and link keys (as Wireshark does with an unlabelled key)."""
    keys = list(keys)
    rec = recording_from_capture(source, keys, keys, keylog=keylog, endpoints=endpoints, warn=warn)
    if not rec:
        raise ValueError("the capture shows no Metering readings from the ESI endpoints (wrong keys?)")
    return RecordedScenario(rec, after=after)
