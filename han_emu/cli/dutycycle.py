"""``han-emu dutycycle``: airtime and duty-cycle figures as tables, JSON, PNG charts and terminal charts.

Modes:

- ``han-emu dutycycle FILE [--phy auto|gb868|2.4]``: a capture's airtime per
  transmitter, on the PHY its metadata names unless ``--phy`` names one;
- ``han-emu dutycycle --simulate 24h [--devices N]``: the virtual HAN with N
  sub-GHz displays (the configured mix, cycled) in virtual time;
- ``han-emu dutycycle --simulate 24h --compare mp184 [--devices N]``: the same
  with and without the MP184 HAN items for 1..N displays.

A capture is read with the replay's checks (a damaged one is said, exit
status 1); options the chosen mode would not use are refused.  Ctrl-C stops
a simulation with the figures of the virtual time run so far (exit 130).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from han_emu.air.phy import AUTO, PHYS, SUB_GHZ_PAGES, InvalidChannelError, validate_channel
from han_emu.cli.args import EXIT_INTERRUPTED, OptionError, add_input, add_output, duration
from han_emu.cli.progress import progress_bar, progress_bars
from han_emu.study.compare import (
    Comparison,
    DutyReport,
    SimulationInterrupted,
    SimulationSettings,
    capture_report,
    compare_mp184,
    comparison_json,
    simulate,
    study_variants,
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
    add_input(p, "capture", nargs="?", metavar="FILE", help="pcap/pcapng capture to analyse")
    p.add_argument("--phy", choices=(AUTO, *PHYS),
                   help="PHY the capture was taken on (default auto: as its TAP or ZEP metadata says, "
                        "else GB-868, and the output says it was assumed)")
    p.add_argument("--simulate", type=duration, metavar="DURATION",
                   help="simulate the virtual HAN this long (e.g. 24h) instead of reading a capture")
    p.add_argument("--devices", type=int, metavar="N",
                   help="sub-GHz displays to simulate (cycling through the configured mix)")
    p.add_argument("--compare", choices=("mp184",), help="run with and without the MP184 HAN items, 1..N displays")
    add_input(p, "--config", "-c", help="configuration file (device mix, poll schedules, scenario)")
    p.add_argument("--seed", type=int, help="scenario seed (default: the configuration's)")
    p.add_argument("--page", type=int, choices=SUB_GHZ_PAGES, help=f"GB-868 channel page (default {PAGE})")
    p.add_argument("--channel", type=int, help=f"logical channel on the page (default {CHANNEL})")
    p.add_argument("--no-throttle", action="store_true",
                   help="the hub sends no Suspend ZCL Messages (measure the unthrottled demand)")
    p.add_argument("--no-cbke", action="store_true", help="displays join without key establishment (faster)")
    p.add_argument("--jobs", "-j", type=int, metavar="N",
                   help="--compare: simulations to run at once, each in a process of its own "
                        "(default: one per core; 1 runs them one after another; the figures do not change)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    add_output(p, "--output", "-o", metavar="FILE", help="write the table or JSON here instead of stdout")
    add_output(p, "--plot", metavar="FILE.png", help="draw airtime per hour against the thresholds as a PNG")
    p.add_argument("--no-chart", action="store_true", help="leave the terminal chart out of the table")
    p.set_defaults(handler=cmd_dutycycle)
    return p


PAGE = 28
CHANNEL = 0
"""Where a simulation's displays talk by default: GB-868 page 28, logical channel 0."""


def _refuse_ignored(args: argparse.Namespace) -> None:
    """OptionError for options the chosen mode would not use."""
    if (args.capture is None) == (args.simulate is None):
        raise OptionError("give a capture FILE or --simulate DURATION (not both)")
    if args.capture is not None:
        given = [option for option, value in (
            ("--compare", args.compare), ("--devices", args.devices is not None), ("--config", args.config),
            ("--seed", args.seed is not None), ("--page", args.page is not None),
            ("--channel", args.channel is not None), ("--no-throttle", args.no_throttle),
            ("--no-cbke", args.no_cbke), ("--jobs", args.jobs is not None)) if value]
        if given:
            raise OptionError(f"{', '.join(given)}: for --simulate only (a capture's frames say where they were "
                              "sent and by whom)")
    elif args.phy is not None:
        raise OptionError("--phy is for a capture: a simulation puts every display on GB-868 (see --page)")
    if args.devices is not None and args.devices < 1:
        raise OptionError("--devices must be at least 1")
    if args.jobs is not None and args.jobs < 1:
        raise OptionError("--jobs must be at least 1")
    if args.jobs is not None and args.simulate is not None and not args.compare:
        raise OptionError("--jobs runs the simulations of --compare at once; a single simulation uses one core")
    if args.simulate is not None:
        page = PAGE if args.page is None else args.page
        try:
            validate_channel(page, CHANNEL if args.channel is None else args.channel)
        except InvalidChannelError as exc:
            raise OptionError(f"--channel: {exc}") from None


def cmd_dutycycle(args: argparse.Namespace) -> int:
    """The table, JSON or charts: 0; 1 when the capture was damaged (or none); 2 on bad input;
    130 when Ctrl-C stopped a simulation (the figures cover what it had simulated)."""
    from han_emu.han.config import load

    _refuse_ignored(args)
    if args.capture is not None:
        return _capture(args)
    config = load(args.config)
    settings = SimulationSettings(
        duration_s=args.simulate, sub_ghz_devices=args.devices, seed=args.seed,
        page=PAGE if args.page is None else args.page, channel=CHANNEL if args.channel is None else args.channel,
        throttle=not args.no_throttle, cbke=not args.no_cbke,
    )
    said: list[bool] = []

    def started() -> None:  # without a bar: said once the HAN is up, when Ctrl-C leaves figures to show
        if not said:
            said.append(True)
            _say(f"the virtual HAN is up, to run {_hours(args.simulate)} of virtual time"
                 + (" per run" if args.compare else "") + "; Ctrl-C stops with the figures so far")

    if args.compare:
        try:
            variants = study_variants(config, settings)
            parts = [f"{n} display{'s' if n > 1 else ''}, {'with' if mp184 else 'without'} MP184"
                     for n, mp184 in variants]
            with progress_bars(f"MP184 comparison, {len(variants)} runs", parts) as progress:
                comparisons = compare_mp184(config, settings, variant_progress=progress, workers=args.jobs,
                                            started=started if progress is None else None)
            status = 0
        except SimulationInterrupted as stop:
            comparisons, status = stop.partial, EXIT_INTERRUPTED
            if not comparisons:
                _say("interrupted before the first comparison was done: nothing to show")
                return status
            counts = ", ".join(str(c.sub_ghz_devices) for c in comparisons)
            _say(f"interrupted: showing the comparisons done, for {counts} display(s)")
        if args.format == "json":
            text = json.dumps(comparison_json(comparisons), indent=2) + "\n"
        else:
            text = render_comparison(comparisons)
            if not args.no_chart:
                text += "\n" + comparison_chart(comparisons)
        _write(text, args.output)
        if args.plot:
            write_comparison_png(args.plot, comparisons)
        return status
    try:
        with progress_bar("simulating") as progress:
            report = simulate(config, settings, progress, started=started if progress is None else None)
        status = 0
    except SimulationInterrupted as stop:
        if stop.partial is None:
            _say("interrupted before the simulation started: nothing to show")
            return EXIT_INTERRUPTED
        report, status = stop.partial, EXIT_INTERRUPTED
        _say(f"interrupted: the figures cover the {_hours(report.duration_s)} simulated of {_hours(args.simulate)}")
    _emit_report(report, args)
    return status


def _capture(args: argparse.Namespace) -> int:
    """A capture's figures, read with the replay's checks: a damaged record is said, and exit status 1."""
    problems: list[str] = []
    report = capture_report(args.capture, args.phy, warn=problems.append)
    for message in problems:
        _say(message)
    if problems and not report.extra.get("frames"):
        return 1  # not a capture at all: no table of nothing
    _emit_report(report, args)
    return 1 if problems else 0


def _say(message: str) -> None:
    print(f"han-emu dutycycle: {message}", file=sys.stderr, flush=True)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds < 36 * 3600 else f"{seconds / 86400:.2f} d"


def _emit_report(report: DutyReport, args: argparse.Namespace) -> None:
    if args.format == "json":
        text = json.dumps(report.to_json(), indent=2) + "\n"
    else:
        text = render_table(report)
        if not args.no_chart:
            text += "\n" + terminal_chart(report)
    _write(text, args.output)
    if args.plot:
        write_report_png(args.plot, report)


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
