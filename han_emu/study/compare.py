"""The duty-cycle study: what a HAN's traffic costs in airtime, and what MP184 adds.

Three sources give the same kind of :class:`DutyReport` (per transmitter: total
airtime, frames, airtime per hour, peak rolling hour, state and transitions):

- :func:`capture_report`: a packet capture read by the capture replay
  (:mod:`han_emu.replay.dutycycle`), every frame charged to its MAC
  transmitter (a MAC ACK to the device that was asked for it);
- :func:`simulate`: the virtual HAN run in virtual time with the configured
  device mix on GB-868, live-accounted (:mod:`han_emu.air.accounting`), the
  hub's Sub-GHz server throttling clients as its budget fills, and the hub's
  2.4 GHz leg to the ESME measured beside it (:attr:`DutyReport.leg`);
- :func:`compare_mp184`: the same simulation with and without the MP184 HAN
  items for 1..N sub-GHz displays, with the airtime MP184 adds per hour and
  the headroom left against each threshold.

This module sits on top of the virtual HAN (it drives whole simulations, with
the Sub-GHz throttling of :mod:`han_emu.han.status`).  Everything is
deterministic for a given configuration, seed and start time.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from han_emu.air.accounting import BAND_868, DEFAULT_HYSTERESIS_S, HUB_NWK, AirAccounting, nwk_key
from han_emu.air.dutycycle import (
    DEFAULT_LIMITS,
    AirtimeLedger,
    DutyCycleEvent,
    DutyCycleLedger,
    DutyCycleLimits,
    DutyCycleState,
)
from han_emu.air.phy import AUTO, GB_868, O_QPSK_2400, phy_named
from han_emu.han.status import wire_throttling
from han_emu.study.workers import Interrupted, PartProgress, cores, run_parallel

Progress = Callable[[float, float], None]
"""``progress(done, total)``: how far a long run has got."""

DEFAULT_START = datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp()
"""Where simulations start unless the configuration says otherwise (a summer
day, when the secondary's PV exports)."""

@dataclass
class DeviceReport:
    """One transmitter's figures over a run (all bands added up)."""

    key: str
    """Short address as ``"0x4d2c"`` (or the IEEE address as 16 hex digits)."""
    name: str
    airtime_s: float
    frames: int
    peak_hour_s: float
    hours_s: list[float]
    """Airtime in each hour from the start of the run."""
    state: str = "TRACKING_OFF"
    discarded: int = 0
    relayed_s: float = 0.0

    @property
    def per_hour_s(self) -> float:
        return self.airtime_s / len(self.hours_s) if self.hours_s else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "airtime_s": round(self.airtime_s, 6), "frames": self.frames,
            "peak_hour_s": round(self.peak_hour_s, 6), "per_hour_s": round(self.per_hour_s, 6),
            "hours_s": [round(h, 6) for h in self.hours_s], "state": self.state,
            "discarded": self.discarded, "relayed_s": round(self.relayed_s, 6),
        }


@dataclass
class DutyReport:
    """Per-transmitter airtime of one capture or simulation."""

    source: str
    phy: str
    duration_s: float
    devices: dict[str, DeviceReport]
    limits: DutyCycleLimits | None = None
    transitions: list[dict[str, Any]] = field(default_factory=list)
    alerts: dict[str, int] = field(default_factory=dict)
    """GBCS alert code (``"0x8F20"``) -> times raised."""
    extra: dict[str, Any] = field(default_factory=dict)
    leg: dict[str, DeviceReport] = field(default_factory=dict)
    """The hub's 2.4 GHz leg to the ESME (hub and ESME), measured, not
    regulated: what relaying the sub-GHz displays' exchanges costs on 2.4 GHz."""
    leg_per_display_s: dict[str, float] = field(default_factory=dict)
    """Display key -> 2.4 GHz leg airtime (both ends) spent on its exchanges."""
    phy_from: str | None = None
    """Where a capture's PHY came from: "option" (named), "capture" (its TAP or
    ZEP metadata) or "default" (assumed); None for a simulation."""

    @property
    def hub(self) -> DeviceReport | None:
        return self.devices.get(nwk_key(HUB_NWK))

    def headroom(self, key: str = nwk_key(HUB_NWK)) -> dict[str, float]:
        """Seconds per hour left under each threshold at ``key``'s peak hour
        (negative: the threshold was crossed)."""
        dev = self.devices.get(key)
        if self.limits is None or dev is None:
            return {}
        peak = dev.peak_hour_s
        return {"limited": self.limits.limited - peak, "critical": self.limits.critical - peak,
                "regulated": self.limits.suspended - peak}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source, "phy": self.phy, **({"phy_from": self.phy_from} if self.phy_from else {}),
            "duration_s": self.duration_s,
            "devices": {k: d.to_json() for k, d in self.devices.items()},
            "transitions": self.transitions, "alerts": self.alerts,
        }
        if self.limits is not None:
            out["limits"] = {"limited_s": self.limits.limited, "critical_s": self.limits.critical,
                             "regulated_s": self.limits.suspended}
            out["headroom_s"] = {k: round(v, 6) for k, v in self.headroom().items()}
        if self.leg:
            out["esme_leg"] = {
                "band": O_QPSK_2400.key, "regulated": O_QPSK_2400.duty_cycle_regulated,
                "devices": {k: d.to_json() for k, d in self.leg.items()},
                "per_display_s": {k: round(v, 6) for k, v in self.leg_per_display_s.items()},
            }
        out.update(self.extra)
        return out


def _transition(event: DutyCycleEvent, key: str, culprit: str | None = None) -> dict[str, Any]:
    return {"time": event.time, "device": key, "from": event.previous.name, "to": event.state.name,
            "alert": f"0x{int(event.alert):04X}", "window_s": round(event.airtime, 6), "culprit": culprit}


# -- captures ----------------------------------------------------------------------------------

def _bucketing(base: type[AirtimeLedger]) -> type[AirtimeLedger]:
    """A ledger class that also sums each device's airtime per hour of the capture."""

    class Bucketing(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.first: float | None = None
            self.hours: dict[Any, Counter[int]] = {}

        def record_us(self, device: Any, page: int, channel: int, airtime_us: int,
                      now: float | None = None) -> bool:
            sent = super().record_us(device, page, channel, airtime_us, now)
            when = self._latest
            if self.first is None:
                self.first = when
            self.hours.setdefault(device, Counter())[int((when - self.first) // 3600)] += airtime_us
            return sent

    return Bucketing


def capture_report(path: str | Path, phy: str | None = None, *, limits: DutyCycleLimits | None = None,
                   warn: Callable[[str], None] | None = None) -> DutyReport:
    """Airtime per transmitting device in a capture (pcap/pcapng 195/230/283, ZEP).

    The capture replay charges each frame to its transmitter (the MAC source;
    a MAC ACK to the device that was asked for it) at ``phy``'s airtime ("gb868"
    or "2.4"; None or "auto": the PHY the capture's first frame names, GB-868
    when it names none); on GB-868 a regulated ledger (``limits`` on every
    page, else the defaults) gives the transitions the devices went through.
    A frame the ledger would have refused was still on air: it is counted as
    discarded.  A record that cannot be read is told to ``warn`` as the
    replay tells it (and counted in ``extra["damaged_records"]``).
    """
    from han_emu.replay.dutycycle import DEFAULT_PHY, capture_phy, replay_dutycycle

    if phy is None or phy == AUTO:
        found = capture_phy(path)
        chosen, phy_from = (found, "capture") if found is not None else (DEFAULT_PHY, "default")
    else:
        chosen, phy_from = phy_named(phy), "option"
    phy = chosen.key
    regulated = chosen.duty_cycle_regulated
    ledger: AirtimeLedger
    if regulated:
        ledger = _bucketing(DutyCycleLedger)({p: limits for p in DEFAULT_LIMITS} if limits else None)
    else:
        ledger = _bucketing(AirtimeLedger)()
    raw = replay_dutycycle(path, phy, ledger, warn=warn)
    hours: dict[Any, Counter[int]] = ledger.hours  # type: ignore[attr-defined]
    devices: dict[str, DeviceReport] = {}
    alerts: Counter[str] = Counter()
    for key, tracks in raw["devices"].items():
        buckets = hours.get(key, Counter())
        n = max(buckets) + 1 if buckets else 0
        devices[key] = DeviceReport(
            key=key, name=tracks[0].get("ieee") or key,
            airtime_s=round(sum(t["airtime_s"] for t in tracks), 6), frames=sum(t["frames"] for t in tracks),
            peak_hour_s=max(t["peak_hour_s"] for t in tracks),
            hours_s=[buckets.get(i, 0) / 1e6 for i in range(n)],
            state=max((t["state"] for t in tracks), key=lambda name: DutyCycleState[name]),
            discarded=sum(t["over_limit"] for t in tracks),
        )
    transitions = []
    for t in raw["transitions"]:
        alerts[t["alert"]] += 1
        if t["alert"] != "0x8F2C":
            transitions.append({"time": t["time"], "device": t["device"], "from": t["from"], "to": t["to"],
                                "alert": t["alert"], "window_s": t["airtime_s"], "culprit": None})
    lim = limits or (DEFAULT_LIMITS[28] if regulated else None)
    start, end = raw["start"], raw["end"]
    return DutyReport(source=str(path), phy=phy, duration_s=(end - start) if raw["frames"] else 0.0,
                      devices=devices, limits=lim, transitions=transitions, alerts=dict(sorted(alerts.items())),
                      extra={"frames": raw["frames"], "skipped": raw["skipped"],
                             "damaged_records": raw.get("damaged_records", 0)},
                      phy_from=phy_from)


# -- simulations ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class SimulationSettings:
    """What one virtual-HAN duty-cycle run does."""

    duration_s: float = 86400.0
    sub_ghz_devices: int | None = None
    """Number of sub-GHz displays, made by cycling through the configured device
    mix; None: exactly the configured devices."""
    seed: int | None = None
    """Scenario seed (None: the configuration's)."""
    mp184: bool = True
    page: int = 28
    channel: int = 0
    limits: DutyCycleLimits | None = None
    """Thresholds for ``page`` (None: the GB-868 defaults)."""
    hysteresis: float = DEFAULT_HYSTERESIS_S
    throttle: bool = True
    """The hub's Sub-GHz server sends Suspend ZCL Messages and displays obey."""
    cbke: bool = True
    start: float | None = None
    """POSIX start time (None: the configuration's start, else 1 June 2026)."""


def device_mix(config: Any, count: int | None) -> tuple[Any, ...]:
    """``count`` displays cycling through the configured mix (names numbered
    when the mix repeats)."""
    base = tuple(config.devices)
    if count is None:
        return base
    if count < 1:
        raise ValueError("at least one sub-GHz display is needed")
    if not base:
        raise ValueError("the configuration has no devices to copy")
    out = []
    for i in range(count):
        d = base[i % len(base)]
        name = d.name or d.kind.upper()
        if count > len(base):
            name = f"{name}-{i + 1}"
        out.append(dataclasses.replace(d, name=name, band=BAND_868))
    return tuple(out)


class SimulationInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a simulation; ``partial`` holds what was done: the
    :class:`DutyReport` of the virtual time run so far (None if the HAN had not
    started), or the comparisons that had finished."""

    def __init__(self, partial: Any) -> None:
        super().__init__("simulation interrupted")
        self.partial = partial


def simulate(config: Any, settings: SimulationSettings = SimulationSettings(),
             progress: Progress | None = None, *, started: Callable[[], None] | None = None) -> DutyReport:
    """Run the virtual HAN with every display on GB-868 and account its airtime;
    ``progress(done, total)`` hears the virtual seconds run, ``started`` that
    the HAN is up and virtual time runs.  Ctrl-C raises
    :class:`SimulationInterrupted` with the report of the virtual time run
    until then (``extra["interrupted"]``)."""
    from han_emu.meter.model import TwinMeter
    from han_emu.radio.vtime import run_virtual
    from han_emu.han.virtual import VirtualHan

    if settings.seed is not None:
        config = dataclasses.replace(config, scenario=dataclasses.replace(config.scenario, seed=settings.seed))
    start = settings.start if settings.start is not None else (config.start or DEFAULT_START)
    limits = {settings.page: settings.limits} if settings.limits is not None else None
    acct = AirAccounting(sub_ghz="all", page=settings.page, channel=settings.channel, limits=limits,
                         hysteresis=settings.hysteresis, start=start, history=100_000)
    meter = TwinMeter(config.meter, start)
    devices = device_mix(config, settings.sub_ghz_devices)

    hans: list[Any] = []
    stopped: list[float] = []  # the virtual time the run stopped at, once it had started

    async def run() -> Any:
        han = VirtualHan(config, meter, devices=devices, sub_ghz=True, mp184=settings.mp184,
                         cbke=settings.cbke)
        hans.append(han)
        if settings.throttle:
            wire_throttling(acct, han)
        han.listeners.append(acct.listener)
        await han.start()
        if started is not None:
            started()
        try:
            await han.run_for(settings.duration_s, progress)
        finally:
            stopped.append(han.clock.now())
            await han.stop()
        return han

    try:
        han = run_virtual(run(), start)
    except KeyboardInterrupt:
        if not stopped:
            raise SimulationInterrupted(None) from None
        end = min(stopped[0], start + settings.duration_s)
        raise SimulationInterrupted(_simulation_report(acct, hans[0], settings, start, end, len(devices))) from None
    return _simulation_report(acct, han, settings, start, start + settings.duration_s, len(devices))


def _simulation_report(acct: AirAccounting, han: Any, settings: SimulationSettings, start: float, end: float,
                       devices: int) -> DutyReport:
    acct.tick(end)
    extra = {
        "variant": "with_mp184" if settings.mp184 else "without_mp184",
        "sub_ghz_devices": devices, "page": settings.page, "channel": settings.channel,
        "start": start, "throttle": settings.throttle,
        "suspensions": {d.name: d.suspensions for d in han.devices},
        "suspended_s": {d.name: round(d.suspended_s, 3) for d in han.devices},
        "requests": {d.name: sum(d.requests.values()) for d in han.devices},
    }
    duration_s = settings.duration_s
    if end < start + settings.duration_s:
        extra["interrupted"] = True
        duration_s = end - start
    return accounting_report(acct, source="simulation", end=end, extra=extra, duration_s=duration_s)


def accounting_report(acct: AirAccounting, *, source: str, end: float, duration_s: float,
                      extra: Mapping[str, Any] | None = None) -> DutyReport:
    """A :class:`DutyReport` of the GB-868 side of a live accounting."""
    hours_n = max(1, int(-(-duration_s // 3600)))
    devices: dict[str, DeviceReport] = {}
    for s in acct.status(end):
        if s.band != BAND_868:
            continue
        key = nwk_key(s.nwk)
        hours = acct.hours(s.nwk, BAND_868)[:hours_n]
        hours += [0.0] * (hours_n - len(hours))
        devices[key] = DeviceReport(
            key=key, name=s.name, airtime_s=s.total_airtime_s, frames=s.frames, peak_hour_s=s.peak_hour_s,
            hours_s=hours, state=s.state, discarded=s.discarded, relayed_s=s.relayed_s,
        )
    transitions = [
        _transition(e, nwk_key(int(e.device)), None if c is None else nwk_key(c))
        for e, c in acct.events if not e.discarded
    ]
    alerts: Counter[str] = Counter()
    for (_, code), n in acct.alert_counts.items():
        alerts[f"0x{code:04X}"] += n
    leg: dict[str, DeviceReport] = {}
    for s in acct.leg_status(end):
        key = nwk_key(s.nwk)
        hours = acct.leg_hours(s.nwk)[:hours_n]
        hours += [0.0] * (hours_n - len(hours))
        leg[key] = DeviceReport(key=key, name=s.name, airtime_s=s.total_airtime_s, frames=s.frames,
                                peak_hour_s=s.peak_hour_s, hours_s=hours)
    band = acct.bands[BAND_868]
    ledger = acct.ledger_868
    return DutyReport(source=source, phy=GB_868.key, duration_s=duration_s, devices=devices,
                      limits=ledger.limits[band.page], transitions=transitions,
                      alerts=dict(sorted(alerts.items())), extra=dict(extra or {}), leg=leg,
                      leg_per_display_s={nwk_key(p): us / 1e6 for p, us in sorted(acct.leg_relayed_us.items())})


# -- the MP184 comparison --------------------------------------------------------------------------

@dataclass
class Comparison:
    """With and without MP184 for one number of sub-GHz displays."""

    sub_ghz_devices: int
    with_mp184: DutyReport
    without_mp184: DutyReport

    def difference(self) -> dict[str, Any]:
        """Added airtime per device (GB-868, and on the hub's 2.4 GHz leg), the
        hub's headroom in both variants, and the suspensions its throttling sent."""
        return {
            "devices": _added(self.with_mp184.devices, self.without_mp184.devices),
            "esme_leg": _added(self.with_mp184.leg, self.without_mp184.leg),
            "hub_headroom_s": {
                "with_mp184": {k: round(v, 6) for k, v in self.with_mp184.headroom().items()},
                "without_mp184": {k: round(v, 6) for k, v in self.without_mp184.headroom().items()},
            },
            "suspensions": {"with_mp184": suspensions(self.with_mp184),
                            "without_mp184": suspensions(self.without_mp184)},
            "throttled": self.throttled,
        }

    @property
    def throttled(self) -> bool:
        """Whether the hub's throttling held displays back in either run: their
        airtimes are then what the hub let through, not what they asked for."""
        return suspensions(self.with_mp184) > 0 or suspensions(self.without_mp184) > 0

    def held_back(self) -> bool:
        """Whether a negative "added" airtime is the throttling's doing: some
        device sent less with MP184 while the hub was suspending displays."""
        diff = self.difference()
        negative = any(d["per_hour_s"] < 0 or d["airtime_s"] < 0
                       for part in (diff["devices"], diff["esme_leg"]) for d in part.values())
        return negative and self.throttled

    def to_json(self) -> dict[str, Any]:
        return {
            "sub_ghz_devices": self.sub_ghz_devices,
            "variants": {"with_mp184": self.with_mp184.to_json(), "without_mp184": self.without_mp184.to_json()},
            "difference": self.difference(),
        }


def suspensions(report: DutyReport) -> int:
    """Suspend ZCL Messages the displays obeyed in a simulation (0 for a capture)."""
    return sum(report.extra.get("suspensions", {}).values())


def _added(with_: Mapping[str, DeviceReport], without: Mapping[str, DeviceReport]) -> dict[str, Any]:
    """Per device: what the first run has over the second."""
    devices: dict[str, Any] = {}
    for key, w in with_.items():
        b = without.get(key)
        base_total = b.airtime_s if b else 0.0
        base_frames = b.frames if b else 0
        base_peak = b.peak_hour_s if b else 0.0
        base_rate = b.per_hour_s if b else 0.0
        devices[key] = {
            "name": w.name,
            "airtime_s": round(w.airtime_s - base_total, 6),
            "frames": w.frames - base_frames,
            "per_hour_s": round(w.per_hour_s - base_rate, 6),
            "peak_hour_s": round(w.peak_hour_s - base_peak, 6),
            "percent": round(100.0 * (w.airtime_s - base_total) / base_total, 3) if base_total else None,
        }
    return devices


def study_variants(config: Any, settings: SimulationSettings = SimulationSettings(),
                   counts: Sequence[int] | None = None) -> list[tuple[int, bool]]:
    """The simulations :func:`compare_mp184` runs, in its order: (sub-GHz
    displays, with MP184) for each count (default: 1..N, N =
    ``settings.sub_ghz_devices`` or the configured mix), with then without."""
    if counts is None:
        top = settings.sub_ghz_devices or len(config.devices)
        counts = range(1, top + 1)
    return [(n, v) for n in counts for v in (True, False)]


@dataclass(frozen=True)
class _Variant:
    """One simulation of the study, as a worker process runs it (picklable)."""

    config: Any
    settings: SimulationSettings

    def __call__(self, progress: Progress, started: Callable[[], None]) -> DutyReport:
        return simulate(self.config, self.settings, progress, started=started)


def compare_mp184(config: Any, settings: SimulationSettings = SimulationSettings(),
                  counts: Sequence[int] | None = None, progress: Progress | None = None, *,
                  started: Callable[[], None] | None = None, workers: int | None = None,
                  variant_progress: PartProgress | None = None) -> list[Comparison]:
    """Run each number of sub-GHz displays in ``counts`` (default: 1..N, N =
    ``settings.sub_ghz_devices`` or the configured mix) with and without MP184;
    ``progress(done, total)`` hears the virtual seconds run over all the runs,
    ``variant_progress(i, done, total)`` each run's own (``i`` in the order of
    :func:`study_variants`), ``started`` each run's start.  Ctrl-C raises
    :class:`SimulationInterrupted` with the comparisons done.

    The runs share nothing, so they run at once in ``workers`` processes
    (None: one per core), the biggest first, each in a fresh process: the
    figures are the same for any number of workers.  ``workers=0`` runs them
    one after another in this process, as before the pool, where a run can
    come out slightly differently after others (see
    :func:`han_emu.study.workers._context`)."""
    variants = study_variants(config, settings, counts)
    runs = [dataclasses.replace(settings, sub_ghz_devices=n, mp184=v) for n, v in variants]
    total = len(runs) * settings.duration_s
    done = [0.0] * len(runs)

    def heard(i: int, seconds: float, run_total: float) -> None:
        if variant_progress is not None:
            variant_progress(i, seconds, run_total)
        if progress is not None:
            done[i] = seconds
            progress(sum(done), total)

    watch = heard if progress is not None or variant_progress is not None else None
    workers = cores() if workers is None else workers
    reports: list[DutyReport | None]
    if workers >= 1:
        biggest_first = sorted(range(len(runs)), key=lambda i: (-variants[i][0], i))
        try:
            reports = run_parallel([_Variant(config, s) for s in runs], workers=workers, progress=watch,
                                   started=started, order=biggest_first)
        except Interrupted as stop:
            raise SimulationInterrupted(_paired(variants, stop.results)) from None
    else:
        reports = []
        for i, run in enumerate(runs):
            try:
                reports.append(simulate(config, run, None if watch is None else functools.partial(watch, i),
                                        started=started))
            except SimulationInterrupted:
                raise SimulationInterrupted(_paired(variants, reports)) from None
    return _paired(variants, reports)


def _paired(variants: Sequence[tuple[int, bool]], reports: Sequence[DutyReport | None]) -> list[Comparison]:
    """The comparisons whose two runs are both done, by number of displays."""
    out = []
    for i in range(0, len(variants) - 1, 2):
        with_, without = (reports[i] if i < len(reports) else None), (
            reports[i + 1] if i + 1 < len(reports) else None)
        if with_ is not None and without is not None:
            out.append(Comparison(variants[i][0], with_, without))
    return out


def comparison_json(comparisons: Sequence[Comparison]) -> dict[str, Any]:
    """The ``--compare mp184 --format json`` document: every run, and the
    largest one's variants and difference at the top level."""
    if not comparisons:
        raise ValueError("no comparison was run")
    last = comparisons[-1].to_json()
    return {"compare": "mp184", "variants": last["variants"], "difference": last["difference"],
            "runs": [c.to_json() for c in comparisons]}
