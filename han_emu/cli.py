"""The ``han-emu`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from han_emu import __version__
from han_emu.certs_cli import add_cbke_commands, add_cert_commands
from han_emu.config import Config, ConfigError, example_text, load
from han_emu.replay.cli import add_replay_command
from han_emu.meter.model import TwinMeter
from han_emu.store import StateStore, StoreError
from han_emu.textview import render, render_readout


def default_state_path() -> Path:
    """Where the meter keeps its registers and logs unless told otherwise."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "han-emu" / "meter.db"


def _open_meter(config: Config, state: str | None, now: float) -> tuple[TwinMeter, StateStore | None]:
    store = None
    meter = None
    if state != "none":
        path = Path(state or config.state_path or default_state_path())
        path.parent.mkdir(parents=True, exist_ok=True)
        store = StateStore(path)
        meter = store.load(config.meter)
    if meter is None:
        meter = TwinMeter(config.meter, now)
    else:
        meter.resume(now)
    return meter, store


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
    from han_emu.virtual_han import VirtualHan

    config = load(args.config)
    simulate = args.simulate
    now = time.time()
    state = args.state if args.state is not None else ("none" if simulate else None)
    start = now
    if simulate and config.start is not None:
        start = config.start
    meter, store = _open_meter(config, state, start)
    start = max(meter.time, start)
    interactive = sys.stdout.isatty() and not args.no_tui and not simulate
    if interactive:
        if store is not None:
            store.close()  # SQLite connections belong to one thread: the HAN's opens its own
        return _dashboard(config, state, start, args)

    async def main() -> VirtualHan:
        han = VirtualHan(config, meter, store=store, devices=config.devices,
                         accept_unencrypted=args.lab_accept_unencrypted, cbke=not args.no_cbke)
        await han.start()
        try:
            if simulate:
                await han.run_for(simulate)
            else:
                await _live(han, sys.stdout.isatty(), args)
        finally:
            await han.stop()
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


def _dashboard(config: Config, state: str | None, start: float, args: argparse.Namespace) -> int:
    """The Textual dashboard on a terminal: the HAN (and its store) live in a thread of their own."""
    from han_emu.tui import run_virtual_dashboard
    from han_emu.virtual_han import VirtualHan

    def make_han() -> VirtualHan:
        meter, store = _open_meter(config, state, start)
        return VirtualHan(config, meter, store=store, devices=config.devices,
                          accept_unencrypted=args.lab_accept_unencrypted)

    def closed(han: VirtualHan) -> None:
        if han.store is not None:
            han.store.close()

    run_virtual_dashboard(make_han, start, args.speed, duration=args.duration, on_stop=closed,
                          thresholds=config.ihd)
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
        await asyncio.sleep(period * args.speed)


def cmd_config(args: argparse.Namespace) -> int:
    if args.action == "example":
        sys.stdout.write(example_text())
        return 0
    load(args.file)
    print(f"{args.file}: OK")
    return 0


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
    run.add_argument("--lab-accept-unencrypted", action="store_true",
                     help="LAB ONLY: accept Smart Energy requests without APS encryption or CBKE")
    run.add_argument("--no-cbke", action="store_true",
                     help="simulated displays join with the default link key and skip key establishment")
    run.set_defaults(func=cmd_run)

    cfg = sub.add_parser("config", help="print the example configuration or check a file")
    cfg_sub = cfg.add_subparsers(dest="action", required=True)
    cfg_sub.add_parser("example", help="print the commented example configuration")
    check = cfg_sub.add_parser("check", help="check a configuration file")
    check.add_argument("file")
    cfg.set_defaults(func=cmd_config)

    add_cert_commands(sub)
    add_cbke_commands(sub)
    add_replay_command(sub)
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
