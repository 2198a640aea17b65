"""Sub-GHz cluster server: Suspend ZCL Messages on the air, as golden ZCL bytes."""

from __future__ import annotations

from dataclasses import dataclass

import zigpy.types as t

from han_emu.air.dutycycle import AlertCode, DutyCycleEvent, DutyCycleState
from han_emu.meter.clock import VirtualClock
from han_emu.meter.model import TwinMeter
from han_emu.meter.settings import MeterSettings
from han_emu.server.esi import EsiServer

T0 = 1_780_272_000.0
IHD = 0x4D2C
PPMID = 0x62A0


def _event(alert: AlertCode, state: DutyCycleState, device: int = 0x0000) -> DutyCycleEvent:
    return DutyCycleEvent(T0, device, 28, 0, DutyCycleState.NORMAL, state, alert, 36.0)


def _server() -> tuple[EsiServer, VirtualClock]:
    clock = VirtualClock(T0)
    esi = EsiServer(TwinMeter(MeterSettings(), T0), clock, sub_ghz=True, accept_unencrypted=True)
    esi.due()  # drop anything queued at start
    return esi, clock


def _suspends(esi: EsiServer) -> list[t.ZigbeePacket]:
    return [p for p in esi.due() if p.cluster_id == 0x070B]


def test_limited_sends_suspend_to_the_culprit_only() -> None:
    esi, clock = _server()
    assert esi.sub_ghz is not None and esi.sub_ghz.suspend_minutes == 10
    assert esi.sub_ghz.on_duty_cycle(_event(AlertCode.LIMITED_ACTION_TAKEN, DutyCycleState.LIMITED), IHD)
    (packet,) = _suspends(esi)
    assert packet.dst == t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=IHD)
    data = packet.data.serialize()
    # frame control 0x19: cluster-specific, server to client, no default response;
    # then the TSN, command 0x00 Suspend ZCL Messages, period 10 minutes
    assert data[0] == 0x19 and data[2:] == bytes([0x00, 10])
    assert packet.src_ep == 1 and packet.dst_ep == 1
    # no storm: the same client is not told again while suspended
    assert not esi.sub_ghz.on_duty_cycle(_event(AlertCode.LIMITED_ACTION_TAKEN, DutyCycleState.LIMITED), IHD)
    assert not esi.sub_ghz.on_traffic(IHD, DutyCycleState.LIMITED)
    # another client still bringing traffic while the hub is Limited is suspended too
    assert esi.sub_ghz.on_traffic(PPMID, DutyCycleState.LIMITED)
    (packet,) = _suspends(esi)
    assert packet.dst.address == PPMID
    clock.advance(601)
    assert esi.sub_ghz.on_traffic(IHD, DutyCycleState.LIMITED)


def test_critical_broadcasts_and_alerts_are_kept() -> None:
    esi, _ = _server()
    assert esi.sub_ghz is not None
    esi.sub_ghz.on_duty_cycle(_event(AlertCode.CRITICAL_ACTION_TAKEN, DutyCycleState.CRITICAL), IHD)
    (packet,) = _suspends(esi)
    assert packet.dst == t.AddrModeAddress(addr_mode=t.AddrMode.Broadcast, address=0xFFFD)
    assert packet.data.serialize()[2:] == b"\x00\x0a"
    assert [a.code for a in esi.sub_ghz.alerts] == [0x8F22]
    assert esi.sub_ghz.remaining_minutes(PPMID) == 10  # everyone is silent


def test_get_suspend_status_answers_remaining_minutes() -> None:
    esi, clock = _server()
    assert esi.sub_ghz is not None
    esi.sub_ghz.suspend(IHD, 5)
    esi.due()
    clock.advance(61)
    # Get Suspend ZCL Messages Status from the IHD: frame control 0x01 (client to
    # server, cluster-specific), TSN 0x33, command 0x00, no payload
    request = t.ZigbeePacket(
        src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=IHD), src_ep=1,
        dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000), dst_ep=1,
        profile_id=0x0109, cluster_id=0x070B, data=t.SerializableBytes(bytes([0x01, 0x33, 0x00])),
        tx_options=t.TransmitOptions.ACK | t.TransmitOptions.APS_Encryption,
    )
    (reply,) = esi.handle(request)
    assert reply.cluster_id == 0x070B and reply.dst.address == IHD
    assert reply.data.serialize() == bytes([0x19, 0x33, 0x00, 4])  # 239 s left: 4 minutes
