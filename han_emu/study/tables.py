"""The duty-cycle study as text: tables of a report or of the MP184 comparison,
and bar charts of airtime per hour for a terminal (the PNG charts are in
:mod:`han_emu.study.plot`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from han_emu.air.phy import PHYS, phy_named
from han_emu.meter.gbtime import iso_utc
from han_emu.study.compare import Comparison, DutyReport, suspensions

_PHY_FROM = {"capture": " (from the capture)", "option": " (as named)", "default": " (assumed)"}

BARS = " ▏▎▍▌▋▊▉█"
"""Eighths of a character cell, for bar ends."""


def _thresholds(report: DutyReport) -> dict[str, float]:
    if report.limits is None:
        return {}
    return {"limited": report.limits.limited, "critical": report.limits.critical,
            "regulated": report.limits.suspended}


def render_table(report: DutyReport) -> str:
    """A readable table of one report."""
    hours = max((len(d.hours_s) for d in report.devices.values()), default=0)
    phy = phy_named(report.phy)
    lines = [f"{report.source}: {phy.name}{_PHY_FROM.get(report.phy_from or '', '')}, "
             f"{report.duration_s / 3600:.2f} h, {hours} hour buckets"]
    if report.phy_from == "default":
        lines.append(f"PHY assumed: the capture does not say which PHY it was heard on; measured as {phy.name} "
                     f"(--phy {' or '.join(PHYS)} names it)")
    if report.limits is not None:
        lines.append(f"thresholds per rolling hour: {report.limits.describe()}")
    elif not phy.duty_cycle_regulated:
        lines.append(f"{phy.band} airtime is measured, not regulated: no duty-cycle thresholds apply")
    key_w = max([6, *(len(d.key) for d in report.devices.values())])
    name_w = max([4, *(len(d.name) for d in report.devices.values())])  # an EUI64 is shown whole
    header = f"{'device':<{key_w}} {'name':<{name_w}} {'airtime s':>10} {'frames':>8} {'s/hour':>8} " \
             f"{'peak hour s':>11} {'peak %':>7} {'state':<12} {'discarded':>9}"
    lines += ["", header, "-" * len(header)]
    for d in sorted(report.devices.values(), key=lambda d: -d.airtime_s):
        lines.append(f"{d.key:<{key_w}} {d.name:<{name_w}} {d.airtime_s:10.3f} {d.frames:8d} {d.per_hour_s:8.3f} "
                     f"{d.peak_hour_s:11.3f} {d.peak_hour_s / 36:6.2f}% {d.state:<12} {d.discarded:9d}")
    head = report.headroom()
    if head:
        lines.append("")
        lines.append("hub headroom at its peak hour: " + ", ".join(f"{k} {v:+.3f} s" for k, v in head.items()))
    if report.leg:
        lines += ["", "hub <-> ESME 2.4 GHz leg of the relayed exchanges (measured, not regulated):"]
        for d in report.leg.values():
            lines.append(f"  {d.key:<8} {d.name[:10]:<10} {d.airtime_s:10.3f} s {d.frames:8d} frames "
                         f"{d.per_hour_s:8.3f} s/h  peak hour {d.peak_hour_s:.3f} s ({d.peak_hour_s / 36:.2f}%)")
        if report.leg_per_display_s:
            names = {k: d.name for k, d in report.devices.items()}
            lines.append("  per display: " + ", ".join(f"{names.get(k, k)} {v:.3f} s"
                                                     for k, v in report.leg_per_display_s.items()))
    if report.alerts:
        lines.append("alerts: " + ", ".join(f"{code} x{n}" for code, n in report.alerts.items()))
    if report.transitions:
        lines.append("")
        lines.append(f"transitions ({len(report.transitions)}):")
        for t in report.transitions[:20]:
            culprit = f" (caused by {t['culprit']})" if t.get("culprit") else ""
            lines.append(f"  {iso_utc(t['time'], ms=True)}  {t['device']}  {t['from']} -> {t['to']}  {t['alert']}  "
                         f"window {t['window_s']:.3f} s{culprit}")
        if len(report.transitions) > 20:
            lines.append(f"  ... {len(report.transitions) - 20} more")
    extra = report.extra
    if extra.get("suspensions"):
        lines.append("suspensions obeyed: " + ", ".join(f"{k} {v}" for k, v in extra["suspensions"].items()))
    return "\n".join(lines) + "\n"


def render_comparison(comparisons: Sequence[Comparison]) -> str:
    """The MP184 study as a table: per number of displays, hub and displays."""
    lines = ["MP184 impact on GB-868 airtime (with vs without the MP184 HAN items)", ""]
    header = f"{'displays':>8} {'device':<8} {'name':<10} {'with s/h':>9} {'without s/h':>11} {'added s/h':>9} " \
             f"{'peak with':>9} {'peak w/o':>9} {'headroom L/C/R with (s)':>26}"
    lines += [header, "-" * len(header)]
    for c in comparisons:
        diff = c.difference()["devices"]
        for key, w in sorted(c.with_mp184.devices.items(), key=lambda kv: kv[0] != "0x0000"):
            b = c.without_mp184.devices.get(key)
            head = ""
            if key == "0x0000":
                h = c.with_mp184.headroom()
                head = "/".join(f"{h[k]:+.1f}" for k in ("limited", "critical", "regulated"))
            lines.append(f"{c.sub_ghz_devices:8d} {key:<8} {w.name[:10]:<10} {w.per_hour_s:9.3f} "
                         f"{(b.per_hour_s if b else 0):11.3f} {diff[key]['per_hour_s']:+9.3f} {w.peak_hour_s:9.3f} "
                         f"{(b.peak_hour_s if b else 0):9.3f} {head:>26}")
        for key, w in c.with_mp184.leg.items():
            b = c.without_mp184.leg.get(key)
            lines.append(f"{c.sub_ghz_devices:8d} {key:<8} {(w.name + ' 2.4')[:10]:<10} {w.per_hour_s:9.3f} "
                         f"{(b.per_hour_s if b else 0):11.3f} {w.per_hour_s - (b.per_hour_s if b else 0):+9.3f} "
                         f"{w.peak_hour_s:9.3f} {(b.peak_hour_s if b else 0):9.3f} {'(2.4 GHz leg, measured)':>26}")
        if c.held_back():
            lines.append(_held_back_note(c))
        lines.append("")
    return "\n".join(lines)


def _held_back_note(c: Comparison) -> str:
    """Why "added" went negative: the hub's throttling, not MP184."""
    pad = " " * 9
    return "\n".join((
        f"{pad}note: throttling held the hub: its displays obeyed {suspensions(c.with_mp184)} Suspend messages "
        f"with MP184 and {suspensions(c.without_mp184)} without,",
        f"{pad}      so these runs carry what the hub let through.  A negative \"added\" is traffic held back, "
        "not airtime MP184 saves",
        f"{pad}      (--no-throttle measures the unthrottled demand).",
    ))


def _bar(value: float, scale: float, width: int) -> str:
    cells = max(0.0, value) / scale * width if scale > 0 else 0.0
    full = int(cells)
    part = int((cells - full) * 8)
    return ("█" * full + (BARS[part] if part and full < width else "")).ljust(width)


def hour_chart(hours: Sequence[float], thresholds: Mapping[str, float], *, title: str, width: int = 50) -> str:
    """Horizontal bars, one per hour, with the thresholds marked on the scale."""
    top = max([*hours, *thresholds.values(), 1e-9])
    lines = [title]
    marks = [" "] * (width + 1)
    for name, value in thresholds.items():
        pos = min(width, round(value / top * width))
        marks[pos] = name[0].upper()
    lines.append("      " + "".join(marks) + "   (" + ", ".join(f"{n[0].upper()} {n} {v:g} s"
                                                              for n, v in thresholds.items()) + ")")
    for i, h in enumerate(hours):
        lines.append(f"h{i:<4} {_bar(h, top, width)} {h:8.3f} s")
    return "\n".join(lines) + "\n"


def terminal_chart(report: DutyReport) -> str:
    """Airtime per hour of the busiest transmitter (the hub on a simulation)."""
    if not report.devices:
        return "(no frames)\n"
    dev = report.hub or max(report.devices.values(), key=lambda d: d.airtime_s)
    return hour_chart(dev.hours_s, _thresholds(report), title=f"airtime per hour, {dev.key} {dev.name}:")


def comparison_chart(comparisons: Sequence[Comparison], width: int = 50) -> str:
    """Hub peak rolling hour with and without MP184 for each number of displays."""
    rows: list[tuple[str, float]] = []
    for c in comparisons:
        for label, rep in (("with", c.with_mp184), ("w/o ", c.without_mp184)):
            hub = rep.hub
            rows.append((f"{c.sub_ghz_devices:2d} {label}", hub.peak_hour_s if hub else 0.0))
    thresholds = _thresholds(comparisons[0].with_mp184)
    top = max([v for _, v in rows] + list(thresholds.values()) + [1e-9])
    lines = ["hub peak rolling hour (s) by number of sub-GHz displays:"]
    marks = [" "] * (width + 1)
    for name, value in thresholds.items():
        marks[min(width, round(value / top * width))] = name[0].upper()
    lines.append("         " + "".join(marks))
    for label, value in rows:
        lines.append(f"{label}  {_bar(value, top, width)} {value:8.3f}")
    return "\n".join(lines) + "\n"
