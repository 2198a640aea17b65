#!/usr/bin/env python3
"""Generate the example captures in this folder from the virtual HAN.

    python captures/make_captures.py                 # every scenario, into captures/
    python captures/make_captures.py --list          # what there is
    python captures/make_captures.py ihd-mp184 --out some/folder --linktype 195

Each scenario runs the real virtual HAN (ESI server, simulated displays that
join with their install codes and run CBKE) on virtual time, recorded the way
``han-emu run --pcap ... --keylog ...`` records it, and writes
``<name>.pcapng`` and ``<name>.keys`` (the key log to open it with, see
README.md).

Everything is fixed so the output is the same byte for byte on every run:
the start time, the meter's history, and everything random (the network key,
PAN ids, NWK addresses, CBKE's ephemeral keys), which the virtual HAN draws
from a generator seeded with ``SEED`` (``han-emu run --seed`` does the same).

Adding a scenario is one function: decorate an ``async def`` taking the
started ``VirtualHan`` with ``@scenario(name, description, devices=...)``
and drive its devices.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # runnable from a source checkout without installing
    sys.path.insert(0, str(HERE.parent))

from han_emu.han.config import Config, load  # noqa: E402
from han_emu.meter.model import TwinMeter  # noqa: E402
from han_emu.radio.vtime import run_virtual  # noqa: E402
from han_emu.han.recording import HanRecording  # noqa: E402
from han_emu.sim.display import SimDisplay  # noqa: E402
from han_emu.sim.schedule import DeviceSettings  # noqa: E402
from han_emu.han.virtual import VirtualHan  # noqa: E402

EPOCH = 1_750_507_200.0  # 2025-06-21T12:00:00Z: midsummer noon, the PV exports
SEED = 184
DAY = 86_400.0

METERING = 0x0702
PRICE = 0x0700
CURRENT_SUMMATION_RECEIVED = 0x0001
ACTIVE_REGISTER_TIER_RECEIVED = 0x0021
EXPORT_TIER_REGISTERS = (0x0101, 0x0103, 0x0105, 0x0107)
EXPORT_TIER_PRICES = (0x8410, 0x8420, 0x8430, 0x8440)
CONSUMPTION_RECEIVED = 1  # GetProfile interval channel


def quiet(kind: str, name: str) -> DeviceSettings:
    """A display that joins and does its start-up reads, then only what the scenario asks."""
    return DeviceSettings(kind, name, demand_s=0, registers_s=0, prices_s=0, profile_s=0, history_s=0,
                          time_s=0, full_log=False, report=False)


ScenarioFn = Callable[[VirtualHan], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    devices: tuple[DeviceSettings, ...]
    history_days: float
    """How long the meter has been running before the capture starts (its logs)."""
    run: ScenarioFn


SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, description: str, *, devices: Sequence[DeviceSettings],
             history_days: float = 1.0) -> Callable[[ScenarioFn], ScenarioFn]:
    """Register ``fn`` as the scenario ``name``."""

    def register(fn: ScenarioFn) -> ScenarioFn:
        SCENARIOS[name] = Scenario(name, description, tuple(devices), history_days, fn)
        return fn

    return register


def _display(han: VirtualHan) -> SimDisplay:
    [device] = han.devices
    return device


@scenario("ihd-mp184", "An IHD joins with its install code and runs CBKE, does its start-up reads, then "
          "reads the MP184 items of the secondary element: the export register, the four export TOU "
          "registers and the active export tier, the four export prices, the export MPAN and the last "
          "two hours of the export profile.", devices=[quiet("ihd", "IHD")])
async def ihd_mp184(han: VirtualHan) -> None:
    ihd = _display(han)
    ep = han.config.endpoints.secondary
    await ihd.ask(ep, METERING, _read([CURRENT_SUMMATION_RECEIVED, ACTIVE_REGISTER_TIER_RECEIVED,
                                       *EXPORT_TIER_REGISTERS]))
    await ihd.ask(ep, PRICE, _read(list(EXPORT_TIER_PRICES)))
    await ihd.read_export_mpan(ep)  # manufacturer-specific: the code rides in the ZCL header
    await ihd.fetch_profile(ep, CONSUMPTION_RECEIVED, 4)


@scenario("cad-profile-paging", "A CAD joins (install code, CBKE), then pages back three days of the "
          "secondary element's half-hourly export log with GetProfile (interval channel 1, 24 intervals "
          "a page, fragmented answers).", devices=[quiet("cad", "CAD")], history_days=4.0)
async def cad_profile_paging(han: VirtualHan) -> None:
    cad = _display(han)
    await cad.fetch_profile(han.config.endpoints.secondary, CONSUMPTION_RECEIVED, 3 * 48)


def _read(ids: list[int]) -> bytes:
    """A Read Attributes frame (client to server; the node sets the TSN)."""
    return bytes([0x00, 0x00, 0x00]) + b"".join(i.to_bytes(2, "little") for i in ids)


# -- running -----------------------------------------------------------------------------


@dataclass
class Generated:
    """One scenario's output, and what the HAN's listener saw (for tests)."""

    capture: Path
    keys: Path
    air_frames: list[Any] = field(default_factory=list)
    recorded_frames: int = 0


def run_scenario(name: str, out_dir: Path = HERE, *, linktype: int = 283, config: Config | None = None) -> Generated:
    """Run scenario ``name``, writing its capture and key log into ``out_dir``."""
    spec = SCENARIOS[name]
    out_dir.mkdir(parents=True, exist_ok=True)
    result = Generated(out_dir / f"{name}.pcapng", out_dir / f"{name}.keys")
    config = config or load(None)
    meter = TwinMeter(config.meter, EPOCH - spec.history_days * DAY)

    async def main() -> None:
        han = VirtualHan(config, meter, devices=spec.devices, seed=SEED)
        with HanRecording(pcap=result.capture, linktype=linktype, pcapng=True, keylog=result.keys) as rec:
            rec.attach(han)
            han.listeners.append(lambda _han, frame: result.air_frames.append(frame))
            await han.start()
            try:
                await spec.run(han)
                await han.run_for(1.0)  # let the last answers and acknowledgements land
            finally:
                await han.stop()
            result.recorded_frames = rec.stats.frames

    run_virtual(main(), EPOCH)
    return result


def generate(name: str, out_dir: Path = HERE, *, linktype: int = 283) -> tuple[Path, Path]:
    """Run scenario ``name``; return the paths of its capture and key log."""
    result = run_scenario(name, out_dir, linktype=linktype)
    return result.capture, result.keys


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate example HAN captures from the virtual HAN.")
    parser.add_argument("names", nargs="*", help="scenarios to run (default: all)")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: this folder)")
    parser.add_argument("--linktype", type=int, choices=(195, 230, 283), default=283,
                        help="pcap link type: 283 TAP (default), 195 with FCS, 230 without")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    if args.list:
        for s in SCENARIOS.values():
            print(f"{s.name}: {s.description}")
        return 0
    unknown = [n for n in args.names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}; see --list")
    for name in args.names or SCENARIOS:
        result = run_scenario(name, args.out, linktype=args.linktype)
        print(f"{result.capture} ({result.recorded_frames} frames; keys: {result.keys.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
