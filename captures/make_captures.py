#!/usr/bin/env python3
"""Generate the example captures in this folder from the virtual HAN.

    python captures/make_captures.py                 # every scenario, into captures/
    python captures/make_captures.py --list          # what there is
    python captures/make_captures.py simple-read --out /tmp/caps --linktype 195

Each scenario writes ``<name>.pcapng`` and ``<name>.keys`` (the key log to
open it with, see README.md).  Everything is fixed (keys, addresses, the
virtual clock), so the output is the same byte for byte on every run.

Adding a scenario is one function: decorate an ``async def`` taking a
:class:`Han` with ``@scenario(name, description)`` and drive the devices.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # runnable from a source checkout without installing
    sys.path.insert(0, str(HERE.parent))

import zigpy.types as t  # noqa: E402
import zigpy.zcl.foundation as foundation  # noqa: E402
from zigpy.zdo.types import SimpleDescriptor  # noqa: E402

from han_emu.air.keylog import KeyLog  # noqa: E402
from han_emu.air.recorder import AirRecorder, PcapRecorder  # noqa: E402
from han_emu.crypto.mmo import aes_mmo  # noqa: E402
from han_emu.frames.synth import FrameSynthesizer, NetworkContext  # noqa: E402
from han_emu.radio.host import ServerHost  # noqa: E402
from han_emu.radio.virtual import SimNode, VirtualAir, VirtualControllerApplication, ihd_endpoint  # noqa: E402
from han_emu.radio.vtime import run_virtual  # noqa: E402

EPOCH = 1_735_689_600.0  # 2025-01-01T00:00:00Z
CHANNEL = 15
PAN_ID = 0x1A62
EXTENDED_PAN_ID = "00:0d:6f:ff:fe:00:4a:11"
NETWORK_KEY = bytes.fromhex("4E45545752524B4B45592D48414E2D31")
COORDINATOR_IEEE = "00:0d:6f:00:00:00:0e:51"
IHD_IEEE = "00:0d:6f:00:00:00:01:d1"
IHD_INSTALL_CODE = bytes.fromhex("83FED3407A939723A5C639B26916D505")

SE_PROFILE = 0x0109
METERING = 0x0702
ESI_EP = 1
IHD_EP = 1
UINT48 = 0x25


def install_code_key(code: bytes) -> bytes:
    """The link key an install code stands for: AES-MMO of the code followed
    by its CRC-16/X.25 (little-endian)."""
    crc = 0xFFFF
    for byte in code:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return aes_mmo(code + (crc ^ 0xFFFF).to_bytes(2, "little"))


class FixedMeter:
    """A stand-in ESI on the coordinator: Metering Read Attributes answered from
    a fixed table, until the real ESI server is wired into the generator."""

    def __init__(self, values: dict[int, int]) -> None:
        self.values = values

    def descriptors(self) -> Sequence[SimpleDescriptor]:
        return [SimpleDescriptor(endpoint=ESI_EP, profile=SE_PROFILE, device_type=0x0501, device_version=0,
                                 input_clusters=[METERING], output_clusters=[])]

    def wants(self, packet: t.ZigbeePacket) -> bool:
        return packet.profile_id == SE_PROFILE and packet.dst_ep == ESI_EP

    def handle(self, packet: t.ZigbeePacket) -> list[t.ZigbeePacket]:
        header, body = foundation.ZCLHeader.deserialize(packet.data.serialize())
        read = foundation.GeneralCommand.Read_Attributes
        if packet.cluster_id != METERING or not header.frame_control.is_general or header.command_id != read:
            return []
        request, _ = foundation.GENERAL_COMMANDS[read].schema.deserialize(body)
        records = []
        for attr in request.attribute_ids:
            if int(attr) in self.values:
                value = foundation.TypeValue(UINT48, t.uint48_t(self.values[int(attr)]))
                records.append(foundation.ReadAttributeRecord(attr, foundation.Status.SUCCESS, value))
            else:
                records.append(foundation.ReadAttributeRecord(attr, foundation.Status.UNSUPPORTED_ATTRIBUTE))
        rsp = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Read_Attributes_rsp].schema(status_records=records)
        hdr = foundation.ZCLHeader.general(header.tsn, foundation.GeneralCommand.Read_Attributes_rsp,
                                           direction=foundation.Direction.Server_to_Client)
        hdr.frame_control = hdr.frame_control.replace(disable_default_response=1)
        return [t.ZigbeePacket(
            src_ep=ESI_EP, dst=packet.src, dst_ep=packet.src_ep, tsn=header.tsn, profile_id=SE_PROFILE,
            cluster_id=METERING, data=t.SerializableBytes(hdr.serialize() + rsp.serialize()),
            tx_options=t.TransmitOptions.ACK | t.TransmitOptions.APS_Encryption,
        )]

    def due(self) -> list[t.ZigbeePacket]:
        return []

    def next_due(self) -> float | None:
        return None


class _Coordinator(ServerHost, VirtualControllerApplication):
    """The virtual coordinator carrying the ESI."""


@dataclass
class Han:
    """A running virtual HAN being recorded, as scenarios see it."""

    air: VirtualAir
    app: _Coordinator
    network: NetworkContext

    async def join(self, ieee: str, *, install_code: bytes | None = None, endpoint: int = IHD_EP,
                   name: str = "ihd") -> SimNode:
        """A simulated IHD joined to the network (with an install-code key if given,
        which then becomes its link key with the trust centre)."""
        key = install_code_key(install_code) if install_code is not None else None
        node = SimNode(self.air, ieee, [ihd_endpoint(endpoint=endpoint)], name=name,
                       link_key=t.KeyData(key) if key is not None else None)
        if key is not None:
            await self.app.permit_with_link_key(node.ieee, t.KeyData(key))
            self.network.set_link_key(self.app.state.node_info.ieee, node.ieee, key)
        await node.join()
        return node


ScenarioFn = Callable[[Han], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    run: ScenarioFn


SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, description: str) -> Callable[[ScenarioFn], ScenarioFn]:
    """Register ``fn`` as the scenario ``name``."""

    def register(fn: ScenarioFn) -> ScenarioFn:
        SCENARIOS[name] = Scenario(name, description, fn)
        return fn

    return register


@scenario("simple-read", "An IHD joins with its install code, finds the ESI's Metering cluster "
          "and reads the import and export registers (0x0000, 0x0001).")
async def simple_read(han: Han) -> None:
    ihd = await han.join(IHD_IEEE, install_code=IHD_INSTALL_CODE)
    [(esi, endpoint)] = await ihd.find_esi(METERING)
    await ihd.read_attributes(esi, endpoint, METERING, [0x0000, 0x0001])


async def _record(fn: ScenarioFn, capture: Path, keys: Path, linktype: int) -> None:
    air = VirtualAir()
    app = _Coordinator({"network": {"channel": CHANNEL, "pan_id": PAN_ID, "key": list(NETWORK_KEY),
                                    "extended_pan_id": EXTENDED_PAN_ID}},
                       air=air, ieee=t.EUI64.convert(COORDINATOR_IEEE))
    app.attach_server(FixedMeter({0x0000: 1_234_567, 0x0001: 345_678}))
    await app.startup(auto_form=True)
    network = NetworkContext.from_network_info(app.state.network_info, app.state.node_info)
    with PcapRecorder(capture, linktype, channel=CHANNEL, page=network.page) as pcap, KeyLog(keys) as log:
        log.follow(network)
        recorder = AirRecorder(FrameSynthesizer(network), [pcap])
        stop = recorder.attach(air)
        try:
            await fn(Han(air, app, network))
            await asyncio.sleep(1)  # let the last answers land
        finally:
            stop()
            await app.shutdown()


def generate(name: str, out_dir: Path = HERE, *, linktype: int = 283) -> tuple[Path, Path]:
    """Run scenario ``name``; return the paths of its capture and key log."""
    out_dir.mkdir(parents=True, exist_ok=True)
    capture, keys = out_dir / f"{name}.pcapng", out_dir / f"{name}.keys"
    run_virtual(_record(SCENARIOS[name].run, capture, keys, linktype), EPOCH)
    return capture, keys


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
        capture, keys = generate(name, args.out, linktype=args.linktype)
        print(f"{capture} (keys: {keys.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
