"""``han-emu dutycycle``: airtime and duty-cycle figures as tables, JSON, PNG charts and terminal charts.

Modes:

- ``han-emu dutycycle FILE [--phy auto|gb868|2.4]``: a capture's airtime per
  transmitter, on the PHY its metadata names unless ``--phy`` names one;
- ``han-emu dutycycle --simulate 24h [--devices N]``: the virtual HAN with N
  sub-GHz displays (the configured mix, cycled) in virtual time;
- ``han-emu dutycycle --simulate 24h --compare mp184 [--devices N]``: the same
  with and without the MP184 HAN items for 1..N displays.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from han_emu.air.phy import AUTO, PHYS
from han_emu.cli.args import duration
from han_emu.cli.progress import progress_bar
from han_emu.study.compare import (
    Comparison,
    DutyReport,
    SimulationSettings,
    capture_report,
    compare_mp184,
    comparison_json,
    simulate,
)
from han_emu.study.tables import comparison_chart, render_comparison, render_table, terminal_chart


def add_dutycycle_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``han-emu dutycycle`` on the top-level subparsers."""
    p = subparsers.add_parser(
        "dutycycle",
        help="airtime and GB-868 duty cycle of a capture or of a simulated HAN (and what MP184 adds)",
        description="Airtime per transmitting device, per hour and in the peak rolling hour, with "
                    "duty-cycle transitions; on a capture file or on a virtual-time simulation.",
    )
    p.add_argument("capture", nargs="?", metavar="FILE", help="pcap/pcapng capture to analyse")
    p.add_argument("--phy", choices=(AUTO, *PHYS), default=AUTO,
                   help="PHY the capture was taken on (default auto: as its TAP or ZEP metadata says, "
                        "else GB-868, and the output says it was assumed)")
    p.add_argument("--simulate", type=duration, metavar="DURATION",
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
    p.set_defaults(handler=cmd_dutycycle)
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
        with progress_bar(f"MP184 comparison, {2 * (args.devices or len(config.devices))} runs") as progress:
            comparisons = compare_mp184(config, settings, progress=progress)
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
    with progress_bar("simulating") as progress:
        report = simulate(config, settings, progress)
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


def write_report_png(path: str | Path, report: DutyReport) -> None:
    """Chart ``report`` (airtime per hour of every transmitter against the thresholds) to a PNG file."""
    from han_emu.study.plot import png_bytes, report_figure

    Path(path).write_bytes(png_bytes(report_figure(report)))


def write_comparison_png(path: str | Path, comparisons: Sequence[Comparison]) -> None:
    """Chart the MP184 study (the hub with and without MP184, per number of displays) to a PNG file."""
    from han_emu.study.plot import comparison_figure, png_bytes

    Path(path).write_bytes(png_bytes(comparison_figure(comparisons)))
