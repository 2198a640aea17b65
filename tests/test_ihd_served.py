"""The simulated displays read only what the meter serves: Discover Attributes
on each ESI's Metering and Price clusters at start, then every read filtered by
what was found; an ESI that does not do discovery is read as before."""

from __future__ import annotations

from datetime import datetime, timezone

from zigpy.zcl import foundation

from clusters.zcl_header import ZclHeader
from han_emu.han.config import load
from han_emu.han.virtual import VirtualHan
from han_emu.meter.model import TwinMeter
from han_emu.radio.vtime import run_virtual
from han_emu.sim.schedule import DeviceSettings

START = datetime(2026, 6, 1, 10, tzinfo=timezone.utc).timestamp()
METERING, PRICE = 0x0702, 0x0700
_GC = foundation.GeneralCommand
_READ = foundation.GENERAL_COMMANDS[_GC.Read_Attributes].schema
#: The three the display used to ask for in vain: the primary's ActiveRegisterTierReceived
#: (it has no export tariff), the secondary's tier-2 register and tier-2 price (one import tier).
UNSERVED = {(1, METERING, 0x0021), (2, METERING, 0x0102), (2, PRICE, 0x0420)}


class HanOfAnOldEsi(VirtualHan):
    """A HAN whose ESI does not do discovery: Default Response UNSUP_GENERAL_COMMAND to it."""

    def _make_server(self, *args, **kwargs):
        server = super()._make_server(*args, **kwargs)
        server.zcl._GENERAL = {k: v for k, v in server.zcl._GENERAL.items() if k != _GC.Discover_Attributes}
        return server


def run_displays(discovery: bool) -> tuple[list, dict, dict]:
    """Ten minutes of an IHD and a PPMID; the frames on the air, what each display
    found served, and what the ESI serves (endpoint, cluster) -> ids."""
    config = load(None)
    meter = TwinMeter(config.meter, START)
    devices = [DeviceSettings(kind, kind.upper()) for kind in ("ihd", "ppmid")]

    async def main():
        han = (VirtualHan if discovery else HanOfAnOldEsi)(config, meter, devices=devices)
        frames: list = []
        han.listeners.append(lambda _han, frame: frames.append(frame))
        await han.start()
        await han.run_for(600)
        found = {d.name: dict(d.served) for d in han.devices}
        serves = {(ep.id, c): set(side.attributes.ids(None)) for ep in han.server.zcl.endpoints.values()
                  for c, side in ep.server_clusters.items() if c in (METERING, PRICE)}
        await han.stop()
        return frames, found, serves

    return run_virtual(main(), meter.time)


def reads(frames) -> set[tuple[int, int, int, int]]:
    """(source NWK, ESI endpoint, cluster, attribute) of every Read Attributes to Metering or Price."""
    out = set()
    for f in frames:
        p = f.packet
        if f.aps_ack or int(p.cluster_id) not in (METERING, PRICE) or int(f.src) == 0x0000:
            continue
        header, body = ZclHeader.deserialize(p.data.serialize())
        if header.frame_control.is_general and header.command_id == _GC.Read_Attributes and \
                header.manufacturer is None:
            out |= {(int(f.src), int(p.dst_ep), int(p.cluster_id), int(a))
                    for a in _READ.deserialize(body)[0].attribute_ids}
    return out


def test_the_displays_discover_and_read_only_what_the_esi_serves() -> None:
    frames, found, serves = run_displays(discovery=True)
    for name in ("IHD", "PPMID"):
        assert {k: set(v) for k, v in found[name].items()} == serves, name
    asked = reads(frames)
    assert asked and all(a in serves[(ep, c)] for _src, ep, c, a in asked)
    assert not {(ep, c, a) for _src, ep, c, a in asked} & UNSERVED
    # What the ESI does serve is still read: tier 2 on the primary, the secondary's export tiers.
    assert {(1, METERING, 0x0102), (1, PRICE, 0x0420), (2, METERING, 0x0103), (2, PRICE, 0x8410)} <= \
        {(ep, c, a) for _src, ep, c, a in asked}


def test_an_esi_without_discovery_is_read_as_before() -> None:
    frames, found, serves = run_displays(discovery=False)
    assert found == {"IHD": {}, "PPMID": {}}
    asked = {(ep, c, a) for _src, ep, c, a in reads(frames)}
    assert UNSERVED <= asked
    assert not all(a in serves[(ep, c)] for ep, c, a in asked)
