"""``han-emu dutycycle``: airtime and duty-cycle figures as tables, JSON, PNG charts and terminal charts.

Modes:

- ``han-emu dutycycle FILE --phy gb868|2.4``: a capture's airtime per transmitter;
- ``han-emu dutycycle --simulate 24h [--devices N]``: the virtual HAN with N
  sub-GHz displays (the configured mix, cycled) in virtual time;
- ``han-emu dutycycle --simulate 24h --compare mp184 [--devices N]``: the same
  with and without the MP184 HAN items for 1..N displays.

Also here: :class:`StatusFile`, the periodic ``--status-json`` writer of ``han-emu run``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from han_emu.study.compare import (
    Comparison,
    DutyReport,
    SimulationSettings,
    capture_report,
    compare_mp184,
    comparison_json,
    simulate,
)

BARS = " ▏▎▍▌▋▊▉█"


def _duration(text: str) -> float:
    from han_emu.cli.main import parse_duration  # the CLI module registers this one

    return parse_duration(text)


def add_dutycycle_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``han-emu dutycycle`` on the top-level subparsers."""
    p = subparsers.add_parser(
        "dutycycle",
        help="airtime and GB-868 duty cycle of a capture or of a simulated HAN (and what MP184 adds)",
        description="Airtime per transmitting device, per hour and in the peak rolling hour, with "
                    "duty-cycle transitions; on a capture file or on a virtual-time simulation.",
    )
    p.add_argument("capture", nargs="?", metavar="FILE", help="pcap/pcapng capture to analyse")
    p.add_argument("--phy", choices=("gb868", "2.4"), default="gb868", help="PHY the capture was taken on")
    p.add_argument("--simulate", type=_duration, metavar="DURATION",
                   help="simulate the virtual HAN this long (e.g. 24h) instead of reading a capture")
    p.add_argument("--devices", type=int, metavar="N",
                   help="sub-GHz displays to simulate (cycling through the configured mix)")
    p.add_argument("--compare", choices=("mp184",), help="run with and without the MP184 HAN items, 1..N displays")
    p.add_argument("--config", "-c", help="configuration file (device mix, poll schedules, scenario)")
    p.add_argument("--seed", type=int, help="scenario seed (default: the configuration's)")
    p.add_argument("--page", type=int, choices=(28, 29, 30), default=28, help="GB-868 channel page")
    p.add_argument("--channel", type=int, default=0, help="logical channel on the page")
    p.add_argument("--no-throttle", action="store_true",
                   help="the hub sends no Suspend ZCL Messages (measure the unthrottled demand)")
    p.add_argument("--no-cbke", action="store_true", help="displays join without key establishment (faster)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--output", "-o", metavar="FILE", help="write the table or JSON here instead of stdout")
    p.add_argument("--plot", metavar="FILE.png", help="draw airtime per hour against the thresholds as a PNG")
    p.add_argument("--no-chart", action="store_true", help="leave the terminal chart out of the table")
    p.set_defaults(func=cmd_dutycycle)
    return p


def cmd_dutycycle(args: argparse.Namespace) -> int:
    from han_emu.han.config import load

    if (args.capture is None) == (args.simulate is None):
        print("han-emu dutycycle: give a capture FILE or --simulate DURATION (not both)", file=sys.stderr)
        return 2
    if args.compare and args.simulate is None:
        print("han-emu dutycycle: --compare mp184 needs --simulate", file=sys.stderr)
        return 2
    if args.devices is not None and args.devices < 1:
        print("han-emu dutycycle: --devices must be at least 1", file=sys.stderr)
        return 2
    if args.capture is not None:
        try:
            report = capture_report(args.capture, args.phy)
        except (OSError, ValueError) as exc:
            print(f"han-emu dutycycle: {args.capture}: {exc}", file=sys.stderr)
            return 2
        return _emit_report(report, args)
    config = load(args.config)
    settings = SimulationSettings(
        duration_s=args.simulate, sub_ghz_devices=args.devices, seed=args.seed, page=args.page,
        channel=args.channel, throttle=not args.no_throttle, cbke=not args.no_cbke,
    )
    if args.compare:
        comparisons = compare_mp184(config, settings)
        if args.format == "json":
            text = json.dumps(comparison_json(comparisons), indent=2) + "\n"
        else:
            text = render_comparison(comparisons)
            if not args.no_chart:
                text += "\n" + comparison_chart(comparisons)
        _write(text, args.output)
        if args.plot:
            write_comparison_png(args.plot, comparisons)
        return 0
    report = simulate(config, settings)
    return _emit_report(report, args)


def _emit_report(report: DutyReport, args: argparse.Namespace) -> int:
    if args.format == "json":
        text = json.dumps(report.to_json(), indent=2) + "\n"
    else:
        text = render_table(report)
        if not args.no_chart:
            text += "\n" + terminal_chart(report)
    _write(text, args.output)
    if args.plot:
        write_report_png(args.plot, report)
    return 0


def _write(text: str, path: str | None) -> None:
    if path:
        Path(path).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def _thresholds(report: DutyReport) -> dict[str, float]:
    if report.limits is None:
        return {}
    return {"limited": report.limits.limited, "critical": report.limits.critical,
            "regulated": report.limits.suspended}


# -- tables -------------------------------------------------------------------------------------

def render_table(report: DutyReport) -> str:
    """A readable table of one report."""
    hours = max((len(d.hours_s) for d in report.devices.values()), default=0)
    lines = [f"{report.source}: {report.phy}, {report.duration_s / 3600:.2f} h, {hours} hour buckets"]
    if report.limits is not None:
        lim = report.limits
        lines.append(f"thresholds per rolling hour: limited {lim.limited:g} s, critical {lim.critical:g} s, "
                     f"regulated {lim.suspended:g} s")
    header = f"{'device':<20} {'name':<12} {'airtime s':>10} {'frames':>8} {'s/hour':>8} {'peak hour s':>11} " \
             f"{'peak %':>7} {'state':<12} {'discarded':>9}"
    lines += ["", header, "-" * len(header)]
    for d in sorted(report.devices.values(), key=lambda d: -d.airtime_s):
        lines.append(f"{d.key:<20} {d.name[:12]:<12} {d.airtime_s:10.3f} {d.frames:8d} {d.per_hour_s:8.3f} "
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
            lines.append(f"  {t['time']:.3f}  {t['device']}  {t['from']} -> {t['to']}  {t['alert']}  "
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
        lines.append("")
    return "\n".join(lines)


# -- terminal charts ---------------------------------------------------------------------------------

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


# -- PNG -------------------------------------------------------------------------------------------------

def write_report_png(path: str | Path, report: DutyReport) -> None:
    """Chart ``report`` (airtime per hour of every transmitter against the thresholds) to a PNG file."""
    from han_emu.study.plot import png_bytes, report_figure

    Path(path).write_bytes(png_bytes(report_figure(report)))


def write_comparison_png(path: str | Path, comparisons: Sequence[Comparison]) -> None:
    """Chart the MP184 study (the hub with and without MP184, per number of displays) to a PNG file."""
    from han_emu.study.plot import comparison_figure, png_bytes

    Path(path).write_bytes(png_bytes(comparison_figure(comparisons)))


# -- han-emu run --status-json ------------------------------------------------------------------------------

class StatusFile:
    """Keeps a JSON file with each device's airtime and duty-cycle state up to date.

    Created before the HAN starts (it joins ``han.listeners``); :meth:`start`
    once it runs, :meth:`stop` at the end (which writes a last time).  The
    file is replaced atomically, so a reader never sees half of it.

    Which displays are on GB-868 comes from each one's configured ``band``
    (``sub_ghz`` overrides it: IEEE addresses, ``"all"`` or a function), so a
    sub-GHz display's traffic is charged to the hub's regulated budget as in
    the study, with the hub's 2.4 GHz leg to the ESME measured beside it.
    When the HAN's hub serves the Sub-GHz cluster, the status also drives it:
    Suspend ZCL Messages go out as the hub's budget fills.
    """

    def __init__(self, path: str | Path, han: Any, *, period: float = 5.0, sub_ghz: Any = None,
                 accounting: Any = None) -> None:
        """``accounting``: an :class:`~han_emu.air.accounting.AirAccounting`
        the HAN already feeds (a hardware HAN's); otherwise one is made and
        fed from the virtual air."""
        from han_emu.air.accounting import AirAccounting
        from han_emu.study.compare import wire_throttling

        self.path = Path(path)
        self.han = han
        self.period = period
        self._task: asyncio.Task[None] | None = None
        if accounting is not None:
            self.accounting = accounting
            self._unwire: Any = lambda: None
            return
        self.accounting = AirAccounting(sub_ghz=configured_sub_ghz(han) if sub_ghz is None else sub_ghz)
        self._unwire = wire_throttling(self.accounting, han)
        han.listeners.append(self.accounting.listener)

    def write(self) -> None:
        now = self.han.clock.now() if self.han.clock is not None else None
        data = self.accounting.to_json(now)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.path)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="status-json")

    async def _run(self) -> None:
        while True:
            self.write()
            await asyncio.sleep(self.period)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.close()

    def close(self) -> None:
        """Stop refreshing and write a last time (for callers that cannot await)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._unwire is not None:
            self._unwire()
            self._unwire = None
        self.write()


def configured_sub_ghz(han: Any) -> Any:
    """A ``sub_ghz`` function for :class:`~han_emu.air.accounting.AirAccounting`:
    a device is on GB-868 when the HAN's display with that IEEE address is
    configured with ``band = "gb868"``."""
    from han_emu.air.synth import ieee_int

    def is_sub_ghz(ieee: int) -> bool:
        for device in getattr(han, "devices", ()):
            if ieee_int(device.ieee) == ieee:
                return bool(getattr(device.settings, "sub_ghz", False))
        return False

    return is_sub_ghz
