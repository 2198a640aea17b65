"""Live accounting: exact airtime per transmitter and band, hub relaying, thresholds and alerts.

Expected sizes are worked out by hand from the reference tables: a unicast
APS-secured data frame is MAC header 9 + NWK header 8 + NWK auxiliary header 14
+ APS header 8 + APS auxiliary header 13 (extended nonce) + ZCL + APS MIC 4 +
NWK MIC 4 + FCS 2; its APS ACK is the same without ZCL; a NWK-only broadcast
drops the APS auxiliary header and MIC; a MAC ACK is 5 bytes.
"""

from __future__ import annotations

import zigpy.types as t

from han_emu.air.accounting import BAND_868, BAND_2400, ESME_NWK, HUB_NWK, AirAccounting, nwk_key
from han_emu.air.dutycycle import AlertCode, DutyCycleLedger, DutyCycleLimits, DutyCycleState

HUB_IEEE = 0x000D6F0000000001
IHD_IEEE = 0x000D6F0000000002
OTHER_IEEE = 0x000D6F0000000003
IHD = 0x4D2C
OTHER = 0x1234
T0 = 1_780_272_000.0

ZCL_5 = 9 + 8 + 14 + 8 + 13 + 5 + 4 + 4 + 2  # 67
APS_ACK = 9 + 8 + 14 + 8 + 13 + 4 + 4 + 2  # 62
BCAST_4 = 9 + 8 + 14 + 8 + 4 + 4 + 2  # 49
MAC_ACK = 5


def _868(psdu: int) -> int:
    return (8 + 2 + 2 + psdu) * 80


def _2400(psdu: int) -> int:
    return (4 + 1 + 1 + psdu) * 32


def _accounting(**kwargs) -> AirAccounting:
    acct = AirAccounting(sub_ghz=[IHD_IEEE], **kwargs)
    acct._learn(HUB_IEEE, HUB_NWK)
    acct._learn(IHD_IEEE, IHD)
    acct._learn(OTHER_IEEE, OTHER)
    return acct


def _unicast(src: int, dst: int, size: int = 5) -> t.ZigbeePacket:
    return t.ZigbeePacket(
        src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=src), src_ep=1,
        dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=dst), dst_ep=1,
        profile_id=0x0109, cluster_id=0x0702, data=t.SerializableBytes(bytes(size)),
        tx_options=t.TransmitOptions.ACK | t.TransmitOptions.APS_Encryption,
    )


def _broadcast(size: int = 4) -> t.ZigbeePacket:
    return t.ZigbeePacket(
        src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=HUB_NWK), src_ep=1,
        dst=t.AddrModeAddress(addr_mode=t.AddrMode.Broadcast, address=0xFFFD), dst_ep=1,
        profile_id=0x0109, cluster_id=0x070B, data=t.SerializableBytes(bytes(size)),
        tx_options=t.TransmitOptions.NONE,
    )


def test_golden_sizes_by_hand() -> None:
    assert (ZCL_5, APS_ACK, BCAST_4) == (67, 62, 49)
    assert (_868(ZCL_5), _868(MAC_ACK), _868(APS_ACK)) == (6320, 1360, 5920)
    assert (_2400(ZCL_5), _2400(MAC_ACK), _2400(APS_ACK)) == (2336, 352, 2176)


def test_sub_ghz_exchange_is_charged_to_each_transmitter_to_the_microsecond() -> None:
    acct = _accounting()
    charged = acct.charge_packet(BAND_868, _unicast(HUB_NWK, IHD), T0, src_ieee=HUB_IEEE, peer=IHD)
    hub_us = _868(ZCL_5) + _868(MAC_ACK)  # data, and the MAC ACK of the IHD's APS ACK
    ihd_us = _868(MAC_ACK) + _868(APS_ACK)
    assert charged == hub_us + ihd_us
    status = {(s.nwk, s.band): s for s in acct.status()}
    hub, ihd = status[(HUB_NWK, BAND_868)], status[(IHD, BAND_868)]
    assert round(hub.total_airtime_s * 1e6) == hub_us and hub.frames == 2
    assert round(ihd.total_airtime_s * 1e6) == ihd_us and ihd.frames == 2
    assert hub.state == "NORMAL" and hub.headroom_s is not None
    # the hub's spend is booked against the device it relayed for
    assert acct.relayed_us[IHD] == hub_us
    assert round(ihd.relayed_s * 1e6) == hub_us


def test_2400_exchange_is_measured_only_to_the_microsecond() -> None:
    acct = _accounting()
    acct.charge_packet(BAND_2400, _unicast(OTHER, HUB_NWK), T0, src_ieee=OTHER_IEEE)
    status = {(s.nwk, s.band): s for s in acct.status()}
    other, hub = status[(OTHER, BAND_2400)], status[(HUB_NWK, BAND_2400)]
    assert round(other.total_airtime_s * 1e6) == _2400(ZCL_5) + _2400(MAC_ACK)
    assert round(hub.total_airtime_s * 1e6) == _2400(MAC_ACK) + _2400(APS_ACK)
    assert other.state == "TRACKING_OFF" and other.headroom_s is None
    assert not acct.relayed_us


class _Frame:
    """The parts of a virtual-air AirFrame the accounting reads."""

    def __init__(self, packet: t.ZigbeePacket, src_ieee: int, delivered: tuple = (1,)) -> None:
        self.packet, self.time, self.src = packet, T0, packet.src.address
        self.src_ieee = t.EUI64(src_ieee.to_bytes(8, "little"))
        self.aps_ack, self.delivered_to = False, delivered


def test_air_frames_go_to_the_band_of_the_hub_peer() -> None:
    acct = _accounting()
    acct.on_air(_Frame(_unicast(HUB_NWK, IHD), HUB_IEEE))  # to a sub-GHz display
    acct.on_air(_Frame(_unicast(HUB_NWK, OTHER), HUB_IEEE))  # to a 2.4 GHz one
    acct.on_air(_Frame(_broadcast(), HUB_IEEE, ()))  # goes out on both bands
    bands = {(s.nwk, s.band): s for s in acct.status()}
    assert bands[(IHD, BAND_868)].frames == 2 and (IHD, BAND_2400) not in bands
    assert bands[(OTHER, BAND_2400)].frames == 2 and (OTHER, BAND_868) not in bands
    assert round(bands[(HUB_NWK, BAND_868)].total_airtime_s * 1e6) == _868(ZCL_5) + _868(MAC_ACK) + _868(BCAST_4)
    # on 2.4 GHz: the hub's own frames, and its half of the ESME leg of the relayed
    # Metering frame (MAC ACK of the ESME's copy, its APS ACK)
    leg_hub = _2400(MAC_ACK) + _2400(APS_ACK)
    assert round(bands[(HUB_NWK, BAND_2400)].total_airtime_s * 1e6) == (
        _2400(ZCL_5) + _2400(MAC_ACK) + _2400(BCAST_4) + leg_hub)
    doc = acct.to_json()
    assert set(doc["devices"]) == {"0x0000", "0x4d2c", "0x1234", "0x0001"}
    assert doc["devices"]["0x4d2c"]["airtime_s"] == round((_868(MAC_ACK) + _868(APS_ACK)) / 1e6, 6)


def test_undelivered_unicast_is_retried_by_the_mac() -> None:
    acct = _accounting()
    acct.charge_packet(BAND_868, _unicast(HUB_NWK, IHD), T0, src_ieee=HUB_IEEE, delivered=False, peer=IHD)
    (hub,) = [s for s in acct.status() if s.nwk == HUB_NWK]
    assert hub.frames == 4 and round(hub.total_airtime_s * 1e6) == 4 * _868(ZCL_5)


def test_synthetic_load_crosses_each_threshold_with_exact_alerts() -> None:
    """Broadcasts of 4 bytes (one 4880 us frame each) from the hub, one a second."""
    limits = DutyCycleLimits(1.0, 2.0, 3.0)
    acct = _accounting(limits={28: limits}, hysteresis=0.0)
    seen = []
    acct.subscribe(lambda event, culprit: seen.append(event))
    a = _868(BCAST_4)
    n = 700
    for i in range(n):
        acct.charge_packet(BAND_868, _broadcast(), T0 + i, src_ieee=HUB_IEEE)
    up = [e for e in seen if not e.discarded]
    assert [e.alert for e in up] == [AlertCode.LIMITED_ACTION_TAKEN, AlertCode.CRITICAL_ACTION_TAKEN,
                                     AlertCode.REGULATED_ACTION_TAKEN]
    # crossing frames: the k-th frame brings the window to k * a us
    for event, threshold in zip(up, (1_000_000, 2_000_000, 3_000_000)):
        k = -(-threshold // a)
        assert event.time == T0 + (k - 1) and round(event.airtime * 1e6) == k * a
    sent = -(-3_000_000 // a)
    discards = [e for e in seen if e.discarded]
    assert len(discards) == n - sent and all(e.alert == AlertCode.MESSAGE_DISCARDED for e in discards)
    (hub,) = [s for s in acct.status() if s.band == BAND_868]
    assert hub.state == "SUSPENDED" and hub.discarded == n - sent and hub.frames == sent
    # an hour later the window drains: one alert per step down, in order
    seen.clear()
    acct.tick(T0 + 3600 + n)
    assert [e.alert for e in seen] == [AlertCode.BELOW_REGULATED, AlertCode.BELOW_CRITICAL, AlertCode.BELOW_LIMITED]
    assert acct.alert_counts[(HUB_NWK, AlertCode.MESSAGE_DISCARDED)] == n - sent


def test_hysteresis_holds_a_state_until_the_window_has_drained() -> None:
    ledger = DutyCycleLedger({28: DutyCycleLimits(10.0, 20.0, 30.0)}, hysteresis=2.0)
    events = []
    ledger.subscribe(events.append)
    for i in range(11):  # 11 x 1 s at one-minute steps: Limited at the 10th
        ledger.record(1, 28, 0, 1.0, T0 + 60 * i)
    assert [e.state for e in events] == [DutyCycleState.LIMITED]
    # the first frame leaves (window 10 s): without hysteresis this would step down
    assert ledger.usage(1, 28, 0, T0 + 3600).state is DutyCycleState.LIMITED
    assert ledger.usage(1, 28, 0, T0 + 3600 + 60).state is DutyCycleState.LIMITED  # 9 s: above 8
    # 8 s is not below 10 - 2; 7 s is
    assert ledger.usage(1, 28, 0, T0 + 3600 + 120).state is DutyCycleState.LIMITED
    assert ledger.usage(1, 28, 0, T0 + 3600 + 180).state is DutyCycleState.NORMAL
    assert [e.alert for e in events] == [AlertCode.LIMITED_ACTION_TAKEN, AlertCode.BELOW_LIMITED]
    assert events[-1].time == T0 + 3600 + 180 and events[-1].airtime == 7.0


def test_hub_event_names_the_peer_that_caused_it() -> None:
    acct = _accounting(limits={28: DutyCycleLimits(0.01, 0.02, 0.03)}, hysteresis=0.0)
    got = []
    acct.subscribe(lambda event, culprit: got.append((event.device, event.alert, culprit)))
    acct.charge_packet(BAND_868, _unicast(HUB_NWK, IHD), T0, src_ieee=HUB_IEEE, peer=IHD)
    acct.charge_packet(BAND_868, _unicast(HUB_NWK, IHD), T0 + 1, src_ieee=HUB_IEEE, peer=IHD)
    assert (HUB_NWK, AlertCode.LIMITED_ACTION_TAKEN, IHD) in got
    assert acct.hub_state >= DutyCycleState.LIMITED
    doc = acct.to_json()
    assert any(e["culprit"] == nwk_key(IHD) and e["alert"] == "0x8F20" for e in doc["events"])


# -- the hub's 2.4 GHz leg to the ESME ---------------------------------------------------------

def _packet(src: int, dst: int, *, profile: int = 0x0109, cluster: int = 0x0702) -> t.ZigbeePacket:
    return _unicast(src, dst).replace(profile_id=profile, cluster_id=cluster)


def test_relayed_request_crosses_the_2400_leg_hub_to_esme() -> None:
    acct = _accounting()
    acct.on_air(_Frame(_packet(IHD, HUB_NWK), IHD_IEEE))
    leg = {s.nwk: s for s in acct.leg_status()}
    # hub -> ESME copy of the IHD's request: data + the MAC ACK of the ESME's APS ACK
    # from the hub; the ESME's MAC ACK and APS ACK
    hub_us = _2400(ZCL_5) + _2400(MAC_ACK)
    esme_us = _2400(MAC_ACK) + _2400(APS_ACK)
    assert round(leg[HUB_NWK].total_airtime_s * 1e6) == hub_us and leg[HUB_NWK].frames == 2
    assert round(leg[ESME_NWK].total_airtime_s * 1e6) == esme_us and leg[ESME_NWK].frames == 2
    assert acct.leg_relayed_us[IHD] == hub_us + esme_us
    # the same frames are on the 2.4 GHz channel, measured only
    bands = {(s.nwk, s.band): s for s in acct.status()}
    assert round(bands[(ESME_NWK, BAND_2400)].total_airtime_s * 1e6) == esme_us
    assert bands[(ESME_NWK, BAND_2400)].state == "TRACKING_OFF" and bands[(ESME_NWK, BAND_2400)].name == "ESME"
    assert round(bands[(IHD, BAND_868)].leg_s * 1e6) == hub_us + esme_us
    doc = acct.to_json()["esme_leg"]
    assert doc["regulated"] is False and doc["per_peer_s"] == {nwk_key(IHD): round((hub_us + esme_us) / 1e6, 6)}
    assert doc["devices"][nwk_key(ESME_NWK)]["airtime_s"] == round(esme_us / 1e6, 6)


def test_relayed_answer_comes_esme_to_hub() -> None:
    acct = _accounting()
    charged = acct.charge_leg(_packet(HUB_NWK, IHD), T0, peer=IHD, to_esme=False)
    leg = {s.nwk: s for s in acct.leg_status()}
    assert round(leg[ESME_NWK].total_airtime_s * 1e6) == _2400(ZCL_5) + _2400(MAC_ACK)
    assert round(leg[HUB_NWK].total_airtime_s * 1e6) == _2400(MAC_ACK) + _2400(APS_ACK)
    assert charged == _2400(ZCL_5) + 2 * _2400(MAC_ACK) + _2400(APS_ACK)
    assert acct.leg_hours(ESME_NWK) == [(_2400(ZCL_5) + _2400(MAC_ACK)) / 1e6]


def test_hub_local_clusters_zdo_and_2400_displays_are_not_relayed() -> None:
    acct = _accounting()
    acct.on_air(_Frame(_packet(IHD, HUB_NWK, cluster=0x000A), IHD_IEEE))  # Time: the hub's own
    acct.on_air(_Frame(_packet(IHD, HUB_NWK, cluster=0x0800), IHD_IEEE))  # Key Establishment
    acct.on_air(_Frame(_packet(IHD, HUB_NWK, cluster=0x070B), IHD_IEEE))  # Sub-GHz
    acct.on_air(_Frame(_packet(IHD, HUB_NWK, profile=0x0000, cluster=0x0005), IHD_IEEE))  # ZDO
    acct.on_air(_Frame(_packet(OTHER, HUB_NWK), OTHER_IEEE))  # a 2.4 GHz display talks to the ESI itself
    assert acct.leg_status() == [] and not acct.leg_relayed_us
    assert acct.ledger_868.tracks()  # the sub-GHz exchanges themselves were charged


def test_leg_can_be_left_out() -> None:
    acct = AirAccounting(sub_ghz=[IHD_IEEE], esme_leg=False)
    acct._learn(HUB_IEEE, HUB_NWK)
    acct._learn(IHD_IEEE, IHD)
    acct.on_air(_Frame(_packet(IHD, HUB_NWK), IHD_IEEE))
    assert acct.leg_status() == [] and "esme_leg" not in acct.to_json()
    assert ESME_NWK not in {s.nwk for s in acct.status()}


def test_band_chosen_by_a_function_of_the_ieee_address() -> None:
    acct = AirAccounting(sub_ghz=lambda ieee: ieee == IHD_IEEE)
    for ieee, nwk in ((HUB_IEEE, HUB_NWK), (IHD_IEEE, IHD), (OTHER_IEEE, OTHER)):
        acct._learn(ieee, nwk)
    assert acct.is_sub_ghz(IHD) and not acct.is_sub_ghz(OTHER) and not acct.is_sub_ghz(HUB_NWK)
    acct.on_air(_Frame(_broadcast(), HUB_IEEE, ()))  # a sub-GHz network exists: both bands
    assert {s.band for s in acct.status() if s.nwk == HUB_NWK} == {BAND_2400, BAND_868}
