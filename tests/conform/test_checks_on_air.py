"""The checks against a simulated IHD on the virtual HAN: the good display passes
every check, and each display fault fails the checks it should, and only those.

The run here is a small stand-in for a conformance run: it keeps every frame to
and from the IHD as an Observation (numbered as a capture of the air would number
them) and records the events it makes happen: the Economy 7 tier change, a
message asking for confirmation, a Sub-GHz suspension and the meter going
silent for a minute.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from zigpy.zcl import foundation

from clusters.ids import ZDO_PROFILE_ID
from clusters.zcl_header import read_header
from han_emu.conform.checks import evaluate
from han_emu.conform.model import CheckSpec, EventRecord, Observation, RunLog
from han_emu.han.config import loads
from han_emu.han.virtual import COORDINATOR_IEEE, VirtualHan
from han_emu.meter.model import TwinMeter
from han_emu.radio.vtime import run_virtual
from han_emu.sim.schedule import DeviceSettings

#: A Monday in June (BST): 06:25 UTC is 07:25 local, five minutes before Economy 7's
#: night tier ends (a tier change on the primary element at t=300 s).
START = datetime(2026, 6, 1, 6, 25, tzinfo=timezone.utc).timestamp()
DURATION = 1500.0
GC = foundation.GeneralCommand

CHECKS = [
    CheckSpec("reads-attribute", "demand", {"cluster": "Metering", "attribute": "instantaneous_demand"}),
    CheckSpec("reads-attribute", "export register", {"endpoint": "secondary", "cluster": "Metering",
                                                     "attribute": "current_summ_received"}),
    CheckSpec("discovers-endpoint", "finds the secondary ESI"),
    CheckSpec("reads-mp184-export", "MP184 export data"),
    CheckSpec("asks-profile", "export profile", {"channel": 1}),
    CheckSpec("follows-price-change", "price change", {"within_s": 60}),
    CheckSpec("confirms-message", "message", {"within_s": 60}),
    CheckSpec("recovers-after-restart", "served again", {"within_s": 120}),
    CheckSpec("completes-cbke", "CBKE"),
    CheckSpec("obeys-suspend", "Sub-GHz suspend"),
    CheckSpec("no-unserved-attributes", "served attributes"),
]


def observation(number: int, time: float, packet: Any, incoming: bool) -> Observation:
    """The facts of one frame, as a run records them."""
    data = packet.data.serialize()
    common = dict(frame=number, time=time, incoming=incoming, src_nwk=int(packet.src.address),
                  dst_nwk=int(packet.dst.address), profile=int(packet.profile_id), cluster=int(packet.cluster_id),
                  src_ep=int(packet.src_ep or 0), dst_ep=int(packet.dst_ep or 0), data=data)
    if packet.profile_id == ZDO_PROFILE_ID:
        return Observation(**common)
    fc, mfr, _tsn, command, offset = read_header(data)
    general = fc & 0x03 == 0
    payload = data[offset:]
    attributes: tuple[int, ...] = ()
    status = None
    if general and command == GC.Read_Attributes:
        attributes = tuple(int.from_bytes(payload[i:i + 2], "little") for i in range(0, len(payload) - 1, 2))
    elif general and command in (GC.Read_Attributes_rsp, GC.Report_Attributes):
        schema = foundation.GENERAL_COMMANDS[GC(command)].schema
        body, _ = schema.deserialize(payload)
        records = body.status_records if command == GC.Read_Attributes_rsp else body.attribute_reports
        attributes = tuple(int(r.attrid) for r in records)
        status = next((int(r.status) for r in records if getattr(r, "status", 0)), None)
    elif general and command == GC.Default_Response and payload[1:2] != b"\x00":
        status = payload[1]
    return Observation(**common, general=general, command=command, attributes=attributes, status=status,
                       manufacturer=mfr)


def conformance_run(faults: tuple[str, ...]) -> RunLog:
    cfg = loads("")
    observations: list[Observation] = []
    events: list[EventRecord] = []
    counter = [0]

    def listen(han: VirtualHan, frame: Any) -> None:
        counter[0] += 1
        if frame.aps_ack or not han.devices:
            return
        ihd = han.devices[0]
        packet = frame.packet
        incoming = frame.src_ieee == ihd.ieee
        to_ihd = ihd.nwk is not None and packet.dst is not None and int(packet.dst.address) == int(ihd.nwk)
        if incoming or to_ihd:
            observations.append(observation(counter[0], han.clock.now() - START, packet, incoming))

    async def until(han: VirtualHan, t: float) -> None:
        await han.run_for(t - (han.clock.now() - START))

    async def main() -> None:
        han = VirtualHan(cfg, TwinMeter(cfg.meter, START), devices=[DeviceSettings("ihd", "IHD")],
                         sub_ghz=True, faults=faults, seed=11)
        han.listeners.append(listen)
        await han.start()
        ihd = han.devices[0]
        await until(han, 100)
        message = han.send_message("Please confirm", confirm=True)
        events.append(EventRecord("message", 100, {"confirm": True}, {"message_id": message.id}))
        events.append(EventRecord("tier-switch", 300))  # Economy 7 day tier from 07:30 local
        await until(han, 700)
        assert han.server is not None and han.server.sub_ghz is not None and ihd.nwk is not None
        han.server.sub_ghz.suspend(int(ihd.nwk), 2)
        han.app.wake_server()
        events.append(EventRecord("subghz-suspend", 700, {"minutes": 2}))
        await until(han, 1000)
        han.air.set_link(ihd.ieee, COORDINATOR_IEEE, up=False)
        await until(han, 1060)
        han.air.set_link(ihd.ieee, COORDINATOR_IEEE, up=True)
        events.append(EventRecord("supply-interruption", 1000, {"minutes": 1}))
        await until(han, DURATION)
        await han.stop()

    run_virtual(main(), START)
    return RunLog("on-air", f"virtual ihd {faults}", DURATION, observations, events)


FAILS = {
    (): set(),
    ("ignore-secondary",): {"export register", "finds the secondary ESI", "MP184 export data", "export profile"},
    ("slow-poll",): {"demand", "export register"},
    # Refused everything, it never subscribes to pushes: no message reaches it, nothing it asks is served.
    ("no-cbke",): {"CBKE", "message", "served again", "price change"},
    ("ignore-price-push",): {"price change"},
    ("no-confirm",): {"message"},
    ("no-recovery",): {"demand", "export register", "served again"},
}


@pytest.mark.parametrize("faults", list(FAILS), ids=lambda f: ",".join(f) or "good")
def test_each_fault_fails_its_checks_and_only_those(faults: tuple[str, ...]) -> None:
    log = conformance_run(faults)
    verdicts = evaluate(CHECKS, log)
    report = "\n".join(f"{v.spec.name}: {v.passed} | {v.seen} | {v.frames}" for v in verdicts)
    assert not [v for v in verdicts if v.passed is None], report
    assert {v.spec.name for v in verdicts if v.passed is False} == FAILS[faults], report
    for v in verdicts:
        assert v.frames or v.spec.type == "no-unserved-attributes" or faults, report
