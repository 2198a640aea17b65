"""The ``han-emu`` command."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from han_emu import __version__
from han_emu.config import Config, ConfigError, example_text, load
from han_emu.meter.model import TwinMeter
from han_emu.meter.scenario import Scenario
from han_emu.meter.simulate import step
from han_emu.store import StateStore, StoreError
from han_emu.textview import render


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


def cmd_run(args: argparse.Namespace) -> int:
    config = load(args.config)
    now = time.time()
    meter, store = _open_meter(config, args.state, now)
    scenario = Scenario(config.scenario)
    interactive = sys.stdout.isatty() and not args.no_tui
    wall0, virt0 = time.monotonic(), max(meter.time, now)
    deadline = None if args.duration is None else wall0 + args.duration
    tick = 1.0
    try:
        while True:
            target = virt0 + (time.monotonic() - wall0) * args.speed
            while meter.time < target:
                step(meter, scenario, min(target, meter.time + 60.0))
            if store is not None:
                store.save(meter)
            text = render(meter)
            if interactive:
                sys.stdout.write("\x1b[H\x1b[2J" + text + "\n(Ctrl-C to stop)\n")
            else:
                sys.stdout.write(text + "\n")
            sys.stdout.flush()
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(tick if interactive else max(tick, args.interval))
    except KeyboardInterrupt:
        pass
    finally:
        if store is not None:
            store.save(meter)
            store.close()
    return 0


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

    run = sub.add_parser("run", help="run the emulated meter (no hardware needed)")
    run.add_argument("--config", "-c", help="configuration file (TOML); `han-emu config example` prints one")
    run.add_argument("--state", help="state database (default: the user's state directory); 'none' keeps nothing")
    run.add_argument("--speed", type=float, default=1.0, help="virtual time per wall second (1..3600)")
    run.add_argument("--duration", type=float, help="stop after this many wall seconds")
    run.add_argument("--interval", type=float, default=10.0, help="seconds between text updates when not on a terminal")
    run.add_argument("--no-tui", action="store_true", help="plain text output")
    run.set_defaults(func=cmd_run)

    cfg = sub.add_parser("config", help="print the example configuration or check a file")
    cfg_sub = cfg.add_subparsers(dest="action", required=True)
    cfg_sub.add_parser("example", help="print the commented example configuration")
    check = cfg_sub.add_parser("check", help="check a configuration file")
    check.add_argument("file")
    cfg.set_defaults(func=cmd_config)
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
