"""``han-emu run``: the meter on the virtual HAN with simulated displays, or on a stick.

On the virtual radio the run is live (the dashboard on a terminal, a text view
otherwise) or, with ``--simulate``, a stretch of virtual time run as fast as
possible and summarised.  ``--radio znp:PORT|ezsp:PORT`` hands over to
:mod:`han_emu.cli.stick`.  Options the chosen kind of run would ignore are
refused before it starts, each in one line.  Ctrl-C stops any run cleanly
(a simulation with its summary so far), with exit status 130.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from han_emu.cli.args import (
    EXIT_INTERRUPTED,
    KEEP,
    OptionError,
    add_input,
    add_output,
    check_output,
    duration,
    inform,
    speed,
    warn,
    zep_address,
)
from han_emu.cli.progress import progress_bar
from han_emu.han.runner import open_meter
from han_emu.cli.replay import add_scenario_arguments, scenario_for_run
from han_emu.cli.stick import add_network_options, add_radio_options, network_settings, radio_spec, run_on_stick
from han_emu.cli.textview import render_readout, show_live
from han_emu.han.config import Config, load
from han_emu.han.summary import summary_text
from han_emu.meter.simulate import check_backfill

if TYPE_CHECKING:
    from han_emu.han.virtual import VirtualHan
    from han_emu.meter.model import TwinMeter
    from han_emu.radio.backend import NetworkSettings, RadioSpec
    from han_emu.meter.recorded import RecordedScenario
    from han_emu.tui.controls import RecordingHook


def add_run_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``run`` on the ``han-emu`` subcommand parsers."""
    run = subparsers.add_parser("run", help="run the meter on the virtual HAN with simulated displays "
                                "(no hardware needed)")
    add_input(run, "--config", "-c", help="configuration file (TOML); `han-emu config example` prints one")
    run.add_argument("--state", help="state database (default: the user's state directory); 'none' keeps nothing")
    run.add_argument("--speed", type=speed, default=1.0, help="virtual time per wall second (1..3600)")
    run.add_argument("--duration", type=duration, help="stop after this many wall seconds (or 15m, 2h ...)")
    run.add_argument("--interval", type=duration,
                     help=f"seconds between text updates when not on a terminal (default {TEXT_INTERVAL:g})")
    run.add_argument("--no-tui", action="store_true", help="plain text output")
    run.add_argument("--simulate", type=duration, metavar="DURATION",
                     help="run this long (e.g. 24h) in virtual time, as fast as possible, then print a summary")
    run.add_argument("--backfill", type=duration, metavar="DURATION",
                     help="before serving, run the meter's scenario over this much past (e.g. 400d) in virtual "
                          "time, so displays have days, weeks, months and profiles at once; the meter's first "
                          "reading is that long before the run's start (overrides [meter] backfill). A meter "
                          "whose state database has history is kept: it continues from its last reading, the "
                          "time since filled by the scenario (give a new --state to backfill from scratch)")
    add_output(run, "--summary-json", metavar="FILE", help="with --simulate: write the summary as JSON")
    run.add_argument("--seed", type=int, metavar="N",
                     help="virtual HAN: draw the network key, PAN ids, addresses and CBKE's ephemeral keys from a "
                          "generator seeded with N: with a configured [meter] start, a --simulate run "
                          "(and its --pcap) is then the same byte for byte")
    run.add_argument("--lab-accept-unencrypted", action="store_true",
                     help="LAB ONLY: accept Smart Energy requests without APS encryption or CBKE")
    run.add_argument("--no-cbke", action="store_true",
                     help="simulated displays join with the default link key and skip key establishment")
    add_scenario_arguments(run)
    add_output(run, "--status-json", metavar="FILE",
               help="keep each device's airtime and duty-cycle state in this JSON file")
    add_radio_options(run)
    add_network_options(run)
    add_output(run, "--pcap", metavar="FILE", use=KEEP,
               help="record every frame on the air, encrypted as sent, to FILE")
    run.add_argument("--linktype", type=int, choices=(283, 195, 230),
                     help=f"capture link type: {LINKTYPE} TAP with channel and page (default), 195 with FCS, "
                          "230 without")
    run.add_argument("--pcapng", action="store_true", help="write pcapng (default: by the file name, .pcapng or pcap)")
    run.add_argument("--zep", type=zep_address, metavar="HOST:PORT",
                     help="stream the frames live as ZEP v2 over UDP (Wireshark: udp port 17754)")
    run.set_defaults(handler=cmd_run)
    return run


TEXT_INTERVAL = 10.0
"""Seconds between text updates by default."""
LINKTYPE = 283
"""The capture link type by default: TAP, which carries the channel and page."""


def cmd_run(args: argparse.Namespace) -> int:
    spec, network = radio_spec(args), network_settings(args)
    refuse_ignored(args, spec, interactive=dashboard(args))
    if args.interval is None:
        args.interval = TEXT_INTERVAL
    if args.linktype is None:
        args.linktype = LINKTYPE
    if args.scenario_after is None:
        args.scenario_after = "hold"
    if args.pcap is not None and args.keylog is None and not spec.hardware and dashboard(args):
        from han_emu.tui.recording import keys_path_for  # the dashboard logs the capture's keys beside it

        check_output(keys_path_for(args.pcap), "--pcap (its key log)", use=KEEP, force=args.force)
    config = load(args.config)
    if args.backfill is not None:
        try:
            check_backfill(args.backfill, config.meter)
        except ValueError as exc:
            raise OptionError(f"--backfill: {exc}") from None
    else:
        args.backfill = None if args.scenario_from else config.backfill  # a capture is its own history
    if spec.hardware:
        return run_on_stick(args, config, spec, network)
    return run_virtual(args, config, network)


def dashboard(args: argparse.Namespace) -> bool:
    """This run shows the dashboard (rather than text or a summary)."""
    return sys.stdout.isatty() and not args.no_tui and args.simulate is None


def refuse_ignored(args: argparse.Namespace, spec: RadioSpec, *, interactive: bool) -> None:
    """OptionError for an option this run would not use: say so rather than ignore it."""
    if spec.hardware:
        if args.simulate is not None or args.speed != 1.0:
            raise OptionError("--simulate and --speed need the virtual radio (a real stick runs on the wall clock)")
        if args.seed is not None:
            raise OptionError("--seed needs the virtual radio (a real stick draws its own keys and addresses)")
        if args.no_cbke:
            raise OptionError("--no-cbke is for the virtual radio's simulated displays (a stick has none)")
        if args.scenario_from is not None:
            raise OptionError("--scenario-from needs the virtual radio (on a stick the meter follows its "
                              "configured scenario)")
    if args.simulate is not None:
        for option, given in (("--speed", args.speed != 1.0), ("--duration", args.duration is not None),
                              ("--interval", args.interval is not None)):
            if given:
                raise OptionError(f"{option} paces a live run; --simulate runs as fast as it can (leave out {option})")
    elif args.summary_json is not None:
        raise OptionError("--summary-json writes the summary of a --simulate run: give --simulate DURATION too")
    elif interactive and args.interval is not None:
        raise OptionError("--interval paces the text view; on a terminal the dashboard runs instead "
                          "(add --no-tui for text)")
    if args.scenario_from is None:
        for option, given in (("--scenario-key", bool(args.scenario_key)),
                              ("--scenario-keylog", args.scenario_keylog is not None),
                              ("--scenario-after", args.scenario_after is not None)):
            if given:
                raise OptionError(f"{option} is about the capture --scenario-from reads: give --scenario-from FILE")
    elif args.state not in (None, "none"):
        raise OptionError("--scenario-from drives a fresh meter from the capture and keeps no state "
                          "(leave out --state)")
    elif args.backfill is not None:
        raise OptionError("--backfill runs the configured scenario over the past; --scenario-from drives the "
                          "meter from a capture (leave out one)")
    if args.pcap is None:
        if args.pcapng:
            raise OptionError("--pcapng sets the format of the --pcap file: give --pcap FILE")
        if args.linktype is not None and not (interactive and not spec.hardware):
            raise OptionError("--linktype sets the link type of the --pcap file: give --pcap FILE")


def run_virtual(args: argparse.Namespace, config: Config, network: NetworkSettings | None = None) -> int:
    """The virtual HAN: live (dashboard or text) or, with ``--simulate``, in virtual time and summarised."""
    from han_emu.han.recording import HanRecording, RecordingError
    from han_emu.han.status import StatusFile
    from han_emu.han.virtual import VirtualHan
    from han_emu.radio.vtime import run_virtual as run_in_virtual_time

    simulate = args.simulate
    now = time.time()
    state = args.state if args.state is not None else ("none" if simulate else None)
    start = now
    if simulate and config.start is not None:
        start = config.start
    scenario = None
    if args.scenario_from:  # a capture's readings drive a fresh meter; simulations keep the capture's own time
        own_time = simulate and config.start is None
        scenario = scenario_for_run(args, config.endpoints, None if own_time else start)
        meter, store = scenario.new_meter(config.meter), None
        start = meter.time if own_time else start
    else:
        meter, store = open_meter(config, state, start, warn=warn, backfill=args.backfill, inform=inform)
    start = max(meter.time, start)
    ahead = (simulate and start + simulate > now + 60) or (not simulate and args.speed != 1.0)
    if store is not None and ahead:  # asked for on purpose: said once, and the next run says it again
        warn(f"{'--simulate' if simulate else f'--speed {args.speed:g}'} moves the meter clock saved in "
             f"{store.path} ahead of the wall clock; `han-emu state resync {store.path}` brings it back "
             "(--state none keeps nothing)")
    interactive = dashboard(args)
    recording: Any
    try:  # capture file, key log, ZEP stream: opened now so a bad path fails early
        if interactive:  # the record key makes new captures; --pcap is the first, from the start
            from han_emu.tui.recording import DashboardRecorder
            recording = DashboardRecorder(Path.cwd(), pcap=args.pcap, keylog=args.keylog, linktype=args.linktype,
                                          pcapng=args.pcapng or None, zep=args.zep)
        else:
            recording = HanRecording(pcap=args.pcap, linktype=args.linktype, pcapng=args.pcapng or None,
                                     keylog=args.keylog, zep=args.zep, warn=warn)
    except RecordingError as exc:
        print(f"han-emu: {exc}", file=sys.stderr)
        if store is not None:
            store.close()
        return 2
    if interactive:
        held = None
        if store is not None:  # the HAN's thread opens its own store; this process keeps the database meanwhile
            held = store.lock
            if held is not None:
                held.retain()
            store.close()
        try:  # a meter kept nowhere (--state none) is handed over as it is, backfilled or not
            return _dashboard(config, state, start, args, recording, scenario, network,
                              meter if store is None and scenario is None else None)
        finally:
            if held is not None:
                held.release()

    hans: list[VirtualHan] = []  # the HAN, for a summary even when Ctrl-C stopped the run

    async def main() -> VirtualHan:
        han = VirtualHan(config, meter, store=store, devices=config.devices,
                         accept_unencrypted=args.lab_accept_unencrypted, cbke=not args.no_cbke, scenario=scenario,
                         sub_ghz=any(d.sub_ghz for d in config.devices), seed=args.seed, network=network)
        hans.append(han)
        status = None
        if args.status_json:
            status = StatusFile(args.status_json, han, period=300.0 if simulate else 2.0, warn=warn)
        recording.attach(han)
        await han.start()
        if status is not None:
            status.start()
        try:
            if simulate:
                await han.run_for(simulate, progress)
            else:
                await show_live(han, terminal=sys.stdout.isatty(), duration=args.duration,
                                interval=args.interval, speed=args.speed)
        finally:
            await han.stop()
            if status is not None:
                await status.stop()
            recording.close()
        return han

    wall0 = time.monotonic()
    interrupted = False
    try:
        with progress_bar("simulating", enabled=bool(simulate)) as progress:
            run_in_virtual_time(main(), start, None if simulate else args.speed)
    except KeyboardInterrupt:  # the HAN stopped (and saved) on the way out
        interrupted = True
    finally:
        if store is not None:
            store.close()
    if simulate and hans:
        han = hans[0]
        summary = han.summary()
        if interrupted:
            summary["interrupted"] = True
            warn(f"interrupted: the summary covers the {(summary['meter_time'] - start) / 3600:.2f} h simulated "
                 f"of {simulate / 3600:g} h")
        sys.stdout.write(summary_text(summary, time.monotonic() - wall0))
        for device in han.devices:
            print(render_readout(device.name, device.readout))
        if args.summary_json:
            Path(args.summary_json).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if interrupted:
        return EXIT_INTERRUPTED
    return 0


def _dashboard(config: Config, state: str | None, start: float, args: argparse.Namespace,
               recorder: RecordingHook | None, scenario: RecordedScenario | None = None,
               network: NetworkSettings | None = None, opened: TwinMeter | None = None) -> int:
    """The Textual dashboard on a terminal: the HAN (and its store) live in a thread of their own.

    ``opened``: the meter to serve when the run keeps no state (the HAN opens a
    stored one itself, on its thread, as :func:`run_virtual` left it).

    The record key drives ``recorder``; the HAN screen's gauges show the live
    airtime accounting (the figures ``--status-json`` writes).  What goes
    wrong meanwhile (a status file that cannot be written) is said once the
    dashboard has given the terminal back."""
    from han_emu import tui
    from han_emu.air.accounting import AirAccounting
    from han_emu.han.status import StatusFile, configured_sub_ghz, wire_throttling
    from han_emu.han.virtual import VirtualHan

    sub_ghz = any(d.sub_ghz for d in config.devices)
    hans: list[VirtualHan] = []
    statuses: list[StatusFile] = []
    notes: list[str] = []
    # Displays configured with band = "gb868" are charged to the hub's GB-868 budget.
    accounting = AirAccounting(sub_ghz=lambda ieee: bool(hans) and configured_sub_ghz(hans[-1])(ieee))

    def make_han() -> VirtualHan:
        if scenario is not None:  # --scenario-from: a fresh meter driven by the capture
            meter, store = scenario.new_meter(config.meter), None
        elif opened is not None:
            meter, store = opened, None
        else:
            meter, store = open_meter(config, state, start, warn=lambda line: None)  # warned already
        han = VirtualHan(config, meter, store=store, devices=config.devices,
                         accept_unencrypted=args.lab_accept_unencrypted, cbke=not args.no_cbke,
                         scenario=scenario, sub_ghz=sub_ghz, seed=args.seed, network=network)
        hans.append(han)
        if sub_ghz:
            wire_throttling(accounting, han)
        if args.status_json:  # the same figures as the HAN screen's gauges (made on the HAN's loop)
            statuses.append(StatusFile(args.status_json, han, period=2.0, accounting=accounting, warn=notes.append))
            statuses[-1].start()
        return han

    def closed(han: VirtualHan) -> None:
        for status in statuses:
            status.close()
        statuses.clear()
        if han.store is not None:
            han.store.close()

    try:
        tui.run_virtual_dashboard(make_han, start, args.speed, duration=args.duration, on_stop=closed,
                                  recorder=recorder, accounting=accounting, thresholds=config.ihd)
    finally:
        if recorder is not None:  # the runner closes it after the HAN stops; this covers a HAN that never started
            recorder.close()
        for note in dict.fromkeys(notes):
            warn(note)
    return 0
