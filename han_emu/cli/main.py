"""The ``han-emu`` command."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from han_emu import __version__
from han_emu.cli.certs import add_cbke_commands, add_cert_commands
from han_emu.cli.dutycycle import StatusFile, add_dutycycle_command
from han_emu.han.config import Config, ConfigError, example_text, load
from han_emu.cli.state import add_state_commands
from han_emu.cli.replay import add_replay_command, add_scenario_arguments
from han_emu.cli.sniff import add_sniff_command
from han_emu.han.runner import open_meter
from han_emu.han.store import StoreError
from han_emu.cli.textview import render, render_readout


def _warn(line: str) -> None:
    print(f"han-emu: warning: {line}", file=sys.stderr, flush=True)


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``24h`` or ``3d`` as seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    scale = units.get(text[-1:], None)
    number = text[:-1] if scale else text
    try:
        value = float(number) * (scale or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 24h, 90m, 3d)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("a duration must be positive")
    return value


def _print_summary(summary: dict, wall: float) -> None:
    print(f"simulated until {datetime.fromtimestamp(summary['meter_time'], timezone.utc):%Y-%m-%d %H:%M} UTC "
          f"in {wall:.1f} s wall time")
    print("frames on the air (APS data frames, by transmitter and cluster):")
    for device, clusters in summary["frames"].items():
        cells = ", ".join(f"{c} {n}" for c, n in clusters.items())
        print(f"  {device:<8} {sum(clusters.values()):7d}  ({cells})")
    print(f"APS acknowledgements: {summary['aps_acks']}; undelivered frames: {summary['undelivered']}")


def cmd_run(args: argparse.Namespace) -> int:
    from han_emu.radio.vtime import run_virtual
    from han_emu.han.virtual import VirtualHan

    config = load(args.config)
    if getattr(args, "radio", "virtual") != "virtual":
        return _run_hardware(args, config)
    simulate = args.simulate
    now = time.time()
    state = args.state if args.state is not None else ("none" if simulate else None)
    start = now
    if simulate and config.start is not None:
        start = config.start
    scenario = None
    if args.scenario_from:  # a capture's readings drive a fresh meter; simulations keep the capture's own time
        from han_emu.cli.replay import scenario_for_run
        own_time = simulate and config.start is None
        scenario = scenario_for_run(args, config.endpoints, None if own_time else start)
        meter, store = scenario.new_meter(config.meter), None
        start = meter.time if own_time else start
    else:
        meter, store = open_meter(config, state, start, warn=_warn)
    start = max(meter.time, start)
    ahead = (simulate and start + simulate > now + 60) or (not simulate and args.speed != 1.0)
    if store is not None and ahead:  # asked for on purpose: said once, and the next run says it again
        _warn(f"{'--simulate' if simulate else f'--speed {args.speed:g}'} moves the meter clock saved in "
              f"{store.path} ahead of the wall clock; `han-emu state resync {store.path}` brings it back "
              "(--state none keeps nothing)")
    interactive = sys.stdout.isatty() and not args.no_tui and not simulate
    from han_emu.han.recording import HanRecording, RecordingError
    try:  # capture file, key log, ZEP stream: opened now so a bad path fails early
        if interactive:  # the record key makes new captures; --pcap is the first, from the start
            from han_emu.tui.recording import DashboardRecorder
            recording = DashboardRecorder(Path.cwd(), pcap=args.pcap, keylog=args.keylog, linktype=args.linktype,
                                          pcapng=args.pcapng or None, zep=args.zep)
        else:
            recording = HanRecording(pcap=args.pcap, linktype=args.linktype, pcapng=args.pcapng or None,
                                     keylog=args.keylog, zep=args.zep)
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
        try:
            return _dashboard(config, state, start, args, recording, scenario)
        finally:
            if held is not None:
                held.release()

    async def main() -> VirtualHan:
        han = VirtualHan(config, meter, store=store, devices=config.devices,
                         accept_unencrypted=args.lab_accept_unencrypted, cbke=not args.no_cbke, scenario=scenario,
                         sub_ghz=any(d.sub_ghz for d in config.devices), seed=args.seed)
        status = StatusFile(args.status_json, han, period=300.0 if simulate else 2.0) if args.status_json else None
        recording.attach(han)
        await han.start()
        if status is not None:
            status.start()
        try:
            if simulate:
                await han.run_for(simulate)
            else:
                await _live(han, sys.stdout.isatty(), args)
        finally:
            await han.stop()
            if status is not None:
                await status.stop()
            recording.close()
        return han

    wall0 = time.monotonic()
    try:
        han = run_virtual(main(), start, None if simulate else args.speed)
    except KeyboardInterrupt:
        return 0
    finally:
        if store is not None:
            store.close()
    if simulate:
        summary = han.summary()
        _print_summary(summary, time.monotonic() - wall0)
        for device in han.devices:
            print(render_readout(device.name, device.readout))
        if args.summary_json:
            Path(args.summary_json).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return 0


def _dashboard(config: Config, state: str | None, start: float, args: argparse.Namespace, recorder,
               scenario=None) -> int:
    """The Textual dashboard on a terminal: the HAN (and its store) live in a thread of their own.

    The record key drives ``recorder``; the HAN screen's gauges show the live
    airtime accounting (the figures ``--status-json`` writes)."""
    from han_emu.air.accounting import AirAccounting
    from han_emu.tui import run_virtual_dashboard
    from han_emu.han.virtual import VirtualHan

    from han_emu.study.compare import wire_throttling
    from han_emu.cli.dutycycle import configured_sub_ghz

    from han_emu.cli.dutycycle import StatusFile

    sub_ghz = any(d.sub_ghz for d in config.devices)
    hans: list[VirtualHan] = []
    statuses: list[StatusFile] = []
    # Displays configured with band = "gb868" are charged to the hub's GB-868 budget.
    accounting = AirAccounting(sub_ghz=lambda ieee: bool(hans) and configured_sub_ghz(hans[-1])(ieee))

    def make_han() -> VirtualHan:
        if scenario is not None:  # --scenario-from: a fresh meter driven by the capture
            meter, store = scenario.new_meter(config.meter), None
        else:
            meter, store = open_meter(config, state, start, warn=lambda line: None)  # warned already
        han = VirtualHan(config, meter, store=store, devices=config.devices,
                         accept_unencrypted=args.lab_accept_unencrypted, cbke=not args.no_cbke,
                         scenario=scenario, sub_ghz=sub_ghz, seed=args.seed)
        hans.append(han)
        if sub_ghz:
            wire_throttling(accounting, han)
        if args.status_json:  # the same figures as the HAN screen's gauges (made on the HAN's loop)
            statuses.append(StatusFile(args.status_json, han, period=2.0, accounting=accounting))
            statuses[-1].start()
        return han

    def closed(han: VirtualHan) -> None:
        for status in statuses:
            status.close()
        statuses.clear()
        if han.store is not None:
            han.store.close()

    try:
        run_virtual_dashboard(make_han, start, args.speed, duration=args.duration, on_stop=closed,
                              recorder=recorder, accounting=accounting, thresholds=config.ihd)
    finally:
        if recorder is not None:  # the runner closes it after the HAN stops; this covers a HAN that never started
            recorder.close()
    return 0


async def _live(han, interactive: bool, args: argparse.Namespace) -> None:
    """Refresh a text view of the meter and the first display until stopped."""
    import asyncio

    deadline = None if args.duration is None else time.monotonic() + args.duration
    period = 1.0 if interactive else args.interval
    while deadline is None or time.monotonic() < deadline:
        text = render(han.meter)
        if han.devices:
            text += "\n" + render_readout(han.devices[0].name, han.devices[0].readout)
        if interactive:
            sys.stdout.write("\x1b[H\x1b[2J" + text + "\n(Ctrl-C to stop)\n")
        else:
            sys.stdout.write(text + "\n\n")
        sys.stdout.flush()
        wait = period if deadline is None else max(0.0, min(period, deadline - time.monotonic()))
        await asyncio.sleep(wait * args.speed)


# -- real coordinators (--radio znp:PORT | ezsp:PORT), permit ------------------------------


def _radio_args(args: argparse.Namespace):
    """RadioSpec and NetworkSettings from the command line (ValueError says what is wrong)."""
    from han_emu.radio import backend as rb

    spec = rb.parse_radio(args.radio, baudrate=args.baudrate, flow_control=args.flow_control)
    network = rb.NetworkSettings(
        channel=None if getattr(args, "channel", None) is None else rb.parse_channel(args.channel),
        pan_id=None if getattr(args, "pan_id", None) is None else rb.parse_pan_id(args.pan_id),
        extended_pan_id=None if getattr(args, "extended_pan_id", None) is None
        else rb.parse_extended_pan_id(args.extended_pan_id),
        network_key=None if getattr(args, "network_key", None) is None else rb.parse_network_key(args.network_key),
    )
    return spec, network


def _hardware(args: argparse.Namespace, config: Config, body) -> int:
    """Run ``body(han)`` on a HardwareHan; radio problems end in one line and exit code 3."""
    import asyncio
    import logging

    from han_emu.frames.keylog import KeyLog
    from han_emu.han.hardware import HardwareHan
    from han_emu.radio.backend import RadioError

    try:
        spec, network = _radio_args(args)
    except ValueError as exc:
        print(f"han-emu: {exc}", file=sys.stderr)
        return 2
    if not spec.hardware:
        print(f"han-emu: {args.command} on hardware needs --radio znp:PORT or ezsp:PORT", file=sys.stderr)
        return 2
    if getattr(args, "simulate", None) or getattr(args, "speed", 1.0) != 1.0:
        print("han-emu: --simulate and --speed need the virtual radio (a real stick runs on the wall clock)",
              file=sys.stderr)
        return 2
    if getattr(args, "seed", None) is not None:
        print("han-emu: --seed needs the virtual radio (a real stick draws its own keys and addresses)",
              file=sys.stderr)
        return 2
    # The radio libraries log link trouble with tracebacks; han-emu reports it in one line.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("zigpy", "zigpy_znp", "bellows", "serialx"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    meter, store = open_meter(config, args.state, time.time(), warn=_warn)
    keylog = KeyLog(args.keylog) if args.keylog else None

    def report(line: str) -> None:
        print(f"han-emu: {line}", file=sys.stderr, flush=True)

    async def main() -> int:
        han = HardwareHan(config, meter, spec, network=network, store=store, keylog=keylog,
                          accept_unencrypted=args.lab_accept_unencrypted, report=report)
        try:
            await han.start()
        except RadioError as exc:
            report(str(exc))
            return 3
        try:
            return await body(han)
        except RadioError as exc:
            report(str(exc))
            return 3
        finally:
            await han.stop()

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return 0
    finally:
        if keylog is not None:
            keylog.close()
        if store is not None:
            store.close()


def _run_hardware(args: argparse.Namespace, config: Config) -> int:
    from han_emu.han.recording import RecordingError, ServedRecording

    interactive = sys.stdout.isatty() and not args.no_tui
    try:  # what the ESI serves, synthesized into frames: opened now so a bad path fails early
        recording = ServedRecording(pcap=args.pcap, linktype=args.linktype, pcapng=args.pcapng or None, zep=args.zep)
    except RecordingError as exc:
        print(f"han-emu: {exc}", file=sys.stderr)
        return 2

    async def body(han) -> int:
        recording.attach_hardware(han)
        status = None
        if args.status_json:  # the emulator's own accounting of the traffic the stick serves
            status = StatusFile(args.status_json, han, period=2.0, accounting=han.accounting)
            status.start()
        try:
            if interactive:
                return await _hardware_dashboard(han, config, args)
            print(han.status_line(), flush=True)
            await _live(han, interactive, args)
            return 0
        finally:
            if status is not None:
                await status.stop()
            recording.close()

    try:
        return _hardware(args, config, body)
    finally:
        recording.close()  # also when the stick never came up


async def _hardware_dashboard(han, config: Config, args: argparse.Namespace) -> int:
    """The dashboard over the stick: the meter as the ESI serves it, joins, frames, link and NCP duty cycle.

    While it owns the terminal, the HAN's messages and warnings become notices on it."""
    import logging

    from han_emu.tui import run_dashboard
    from han_emu.tui.hardware_source import HardwareControls, HardwareSource, NoticeHandler

    source = HardwareSource(han, endpoints=config.endpoints).attach()
    controls = HardwareControls(han, Path.cwd())
    report, han.report = han.report, source.report
    root = logging.getLogger()
    handlers, root.handlers = root.handlers[:], [NoticeHandler(source)]
    try:
        await run_dashboard(source, controls=controls, thresholds=config.ihd, duration=args.duration)
    finally:
        root.handlers = handlers
        han.report = report
        controls.close()
        source.close()
    return 0


def _permit_seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of seconds: {text!r}") from None
    if not 1 <= value <= 254:
        raise argparse.ArgumentTypeError("joining can be open 1 to 254 seconds at a time")
    return value


def _eui_and_hex(text: str, what: str) -> tuple[str, bytes]:
    ieee, sep, value = text.rpartition(":")
    try:
        import zigpy.types as zt

        if not sep:
            raise ValueError
        eui = zt.EUI64.convert(ieee)
        raw = bytes.fromhex(value.replace("-", "").replace(" ", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} {text!r}: expected EUI64:HEX, "
                                         "e.g. 00:0d:6f:00:0a:bc:de:f1:83FED3407A939723A5C639B26916D505C3B5") from None
    return str(eui), raw


def _install_code(text: str) -> tuple[str, bytes]:
    """EUI64:CODE, the code's length and CRC checked before any radio is touched."""
    import zigpy.util

    ieee, code = _eui_and_hex(text, "--install-code")
    try:
        zigpy.util.convert_install_code(code)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--install-code: {exc}") from None
    return ieee, code


def cmd_permit(args: argparse.Namespace) -> int:
    """Open the stick's network to one device for ``--duration`` seconds, with
    the ESIs up so the device can find the meter as soon as it has joined."""
    import zigpy.types as zt

    config = load(args.config)
    args.simulate, args.speed, args.lab_accept_unencrypted = None, 1.0, False

    async def body(han) -> int:
        ieee, raw = args.install_code or args.link_key
        if args.install_code:
            key = await han.permit_install_code(zt.EUI64.convert(ieee), raw, args.duration)
            print(f"joining open for {ieee} for {args.duration} s (install-code link key {bytes(key).hex()})",
                  flush=True)
        else:
            if len(raw) != 16:
                print("han-emu: --link-key: a link key is 16 bytes", file=sys.stderr)
                return 2
            await han.permit_link_key(zt.EUI64.convert(ieee), raw, args.duration)
            print(f"joining open for {ieee} for {args.duration} s (pre-configured link key)", flush=True)
        import asyncio

        await asyncio.sleep(args.duration)
        joined = [str(j[1]) for j in han.joined]
        print(f"joined: {', '.join(joined)}" if joined else f"{ieee} did not join", flush=True)
        return 0

    return _hardware(args, config, body)


def _add_radio_options(parser: argparse.ArgumentParser, *, network: bool) -> None:
    parser.add_argument("--radio", default="virtual", metavar="virtual|znp:PORT|ezsp:PORT",
                        help="the coordinator: the virtual HAN (default), or a Z-Stack / EZSP stick at PORT "
                        "(a device path or a serial URL such as socket://HOST:PORT)")
    parser.add_argument("--baudrate", type=int, help="serial speed (default: the radio library's, 115200)")
    parser.add_argument("--flow-control", choices=("hardware", "software", "none"), help="serial flow control")
    parser.add_argument("--keylog", metavar="FILE",
                        help="write every key in use to FILE in Wireshark's zigbee_pc_keys format (secret!)")
    if network:
        parser.add_argument("--channel", help="channel (11-26) when a network is formed")
        parser.add_argument("--pan-id", help="PAN ID in hex when a network is formed, e.g. 1A62")
        parser.add_argument("--extended-pan-id", help="extended PAN ID, 8 bytes hex, when a network is formed")
        parser.add_argument("--network-key", help="network key, 16 bytes hex, when a network is formed")


def cmd_config(args: argparse.Namespace) -> int:
    if args.action == "example":
        sys.stdout.write(example_text())
        return 0
    load(args.file)
    print(f"{args.file}: OK")
    return 0


def _zep_address(text: str) -> tuple[str, int]:
    from han_emu.han.recording import RecordingError, parse_zep_address

    try:
        return parse_zep_address(text)
    except RecordingError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="han-emu",
        description="Zigbee Smart Energy HAN emulator for GB smart metering (twin-element ESME, MP184).",
    )
    parser.add_argument("--version", action="version", version=f"han-emu {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the meter on the virtual HAN with simulated displays (no hardware needed)")
    run.add_argument("--config", "-c", help="configuration file (TOML); `han-emu config example` prints one")
    run.add_argument("--state", help="state database (default: the user's state directory); 'none' keeps nothing")
    run.add_argument("--speed", type=float, default=1.0, help="virtual time per wall second (1..3600)")
    run.add_argument("--duration", type=float, help="stop after this many wall seconds")
    run.add_argument("--interval", type=float, default=10.0, help="seconds between text updates when not on a terminal")
    run.add_argument("--no-tui", action="store_true", help="plain text output")
    run.add_argument("--simulate", type=parse_duration, metavar="DURATION",
                     help="run this long (e.g. 24h) in virtual time, as fast as possible, then print a summary")
    run.add_argument("--summary-json", metavar="FILE", help="with --simulate: write the summary as JSON")
    run.add_argument("--seed", type=int, metavar="N",
                     help="virtual HAN: draw the network key, PAN ids, addresses and CBKE's ephemeral keys from a "
                          "generator seeded with N: with a configured [meter] start, a --simulate run "
                          "(and its --pcap) is then the same byte for byte")
    run.add_argument("--lab-accept-unencrypted", action="store_true",
                     help="LAB ONLY: accept Smart Energy requests without APS encryption or CBKE")
    run.add_argument("--no-cbke", action="store_true",
                     help="simulated displays join with the default link key and skip key establishment")
    add_scenario_arguments(run)
    run.add_argument("--status-json", metavar="FILE",
                     help="keep each device's airtime and duty-cycle state in this JSON file")
    _add_radio_options(run, network=True)
    run.add_argument("--pcap", metavar="FILE", help="record every frame on the air, encrypted as sent, to FILE")
    run.add_argument("--linktype", type=int, choices=(283, 195, 230), default=283,
                     help="capture link type: 283 TAP with channel and page (default), 195 with FCS, 230 without")
    run.add_argument("--pcapng", action="store_true", help="write pcapng (default: by the file name, .pcapng or pcap)")
    run.add_argument("--zep", type=_zep_address, metavar="HOST:PORT",
                     help="stream the frames live as ZEP v2 over UDP (Wireshark: udp port 17754)")
    run.set_defaults(func=cmd_run)

    permit = sub.add_parser("permit", help="let one device join a coordinator stick (install code or lab link key)")
    permit.add_argument("--config", "-c", help="configuration file (TOML)")
    permit.add_argument("--state", help="state database (as for run)")
    _add_radio_options(permit, network=False)
    who = permit.add_mutually_exclusive_group(required=True)
    who.add_argument("--install-code", type=_install_code, metavar="EUI64:CODE",
                     help="the device's EUI-64 and install code (hex, with its CRC)")
    who.add_argument("--link-key", type=lambda v: _eui_and_hex(v, "--link-key"), metavar="EUI64:KEY",
                     help="LAB ONLY: the device's EUI-64 and a pre-configured 16-byte link key (hex)")
    permit.add_argument("--duration", type=_permit_seconds, default=180, metavar="S",
                        help="seconds the network stays open (1-254, default 180)")
    permit.set_defaults(func=cmd_permit)

    from han_emu.cli.fakencp import add_fake_ncp_command

    add_fake_ncp_command(sub)

    cfg = sub.add_parser("config", help="print the example configuration or check a file")
    cfg_sub = cfg.add_subparsers(dest="action", required=True)
    cfg_sub.add_parser("example", help="print the commented example configuration")
    check = cfg_sub.add_parser("check", help="check a configuration file")
    check.add_argument("file")
    cfg.set_defaults(func=cmd_config)

    add_cert_commands(sub)
    add_cbke_commands(sub)
    add_replay_command(sub)
    add_sniff_command(sub)
    add_state_commands(sub)
    add_dutycycle_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "speed", 1.0) is not None and not 1 <= getattr(args, "speed", 1.0) <= 3600:
        parser.error("--speed must be between 1 and 3600")
    try:
        return args.func(args)
    except (ConfigError, StoreError) as exc:
        print(f"han-emu: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
