"""Packets held back and charged in bulk come out exactly as charged one by one.

The reference is the ledger's own per-frame path (``charge_us``) and the
accounting's public ``charge_packet``/``charge_leg``, which always charge frame
by frame; the held-back path is what ``on_air`` does.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import zigpy.types as t

from han_emu.air.accounting import BAND_868, BAND_2400, HUB_NWK, AirAccounting
from han_emu.air.backlog import charge_quiet
from han_emu.air.dutycycle import AirtimeLedger, DutyCycleLedger, DutyCycleLimits
from tests.air.test_accounting import HUB_IEEE, IHD, IHD_IEEE, OTHER, OTHER_IEEE, T0, _broadcast, _unicast

OTHER_IHD = 0x5E3D
OTHER_IHD_IEEE = 0x000D6F0000000004


def _state(track) -> tuple:
    return (track.expiry[track.head:], track.amount[track.head:], track.sum_us, track.peak_us, track.frames,
            track.total_us, track.state)


@pytest.mark.parametrize("seed", range(6))
def test_a_bulk_charge_is_the_same_as_one_by_one(seed: int) -> None:
    """Batches spanning more than an hour (frames leave the window inside a
    batch) after single frames, on a measured and a regulated ledger."""
    rng = random.Random(seed)
    for make in (AirtimeLedger, lambda: DutyCycleLedger({28: DutyCycleLimits(3000.0, 3200.0, 3400.0)})):
        one, bulk = make(), make()
        a, b = one.track(1, 28, 0), bulk.track(1, 28, 0)
        now = T0
        for _ in range(8):
            for _ in range(rng.randrange(0, 50)):  # a few frames one by one on both
                now += rng.choice((0.0, rng.uniform(0, 200)))
                us = rng.randrange(400, 20_000)
                one.charge_us(a, us, now)
                bulk.charge_us(b, us, now)
            whens, amounts = [], []
            for _ in range(rng.randrange(1, 3000)):
                now += rng.choice((0.0, 0.001, rng.uniform(0, 5)))
                whens.append(now)
                amounts.append(rng.randrange(400, 20_000))
            for when, us in zip(whens, amounts):
                one.charge_us(a, us, when)
            charge_quiet(b, np.array(whens), np.array(amounts, dtype=np.int64))
            bulk.advance(now)
            assert _state(a) == _state(b)


def test_a_bulk_charge_that_would_reach_a_threshold_is_refused_and_charges_nothing() -> None:
    ledger = DutyCycleLedger({28: DutyCycleLimits(1.0, 2.0, 3.0)})
    track = ledger.track(1, 28, 0)
    ledger.charge_us(track, 500_000, T0)
    before = _state(track)
    with pytest.raises(ValueError):
        charge_quiet(track, np.array([T0 + 1, T0 + 2]), np.array([300_000, 200_000], dtype=np.int64))
    assert _state(track) == before
    # the same frames an hour later, when the first has left the window: allowed
    charge_quiet(track, np.array([T0 + 3600, T0 + 3601]), np.array([300_000, 200_000], dtype=np.int64))
    assert track.sum_us == 500_000 and track.peak_us == 500_000 and track.frames == 3


class _Frame:
    def __init__(self, packet: t.ZigbeePacket, src_ieee: int, time: float, delivered: tuple = (1,)) -> None:
        self.packet, self.time, self.src = packet, time, packet.src.address
        self.src_ieee = t.EUI64(src_ieee.to_bytes(8, "little"))
        self.aps_ack, self.delivered_to = False, delivered


def _traffic(seed: int) -> list[tuple[t.ZigbeePacket, int, float, tuple]]:
    """Two sub-GHz displays and a 2.4 GHz one polling the hub in bursts, with
    quiet hours between: the hub crosses its (small) thresholds and drains."""
    rng = random.Random(seed)
    out = []
    now = T0
    peers = ((IHD, IHD_IEEE), (OTHER_IHD, OTHER_IHD_IEEE), (OTHER, OTHER_IEEE))
    for _ in range(4000):
        busy = (now - T0) % 7200 < 3000
        now += rng.uniform(0.2, 2.0) if busy else rng.uniform(5, 60)
        nwk, ieee = rng.choice(peers)
        size = rng.choice((5, 12, 40))
        kind = rng.random()
        if kind < 0.45:
            out.append((_unicast(nwk, HUB_NWK, size), ieee, now, (1,)))
        elif kind < 0.9:
            out.append((_unicast(HUB_NWK, nwk, size), HUB_IEEE, now, (1,) if rng.random() < 0.95 else ()))
        else:
            out.append((_broadcast(size), HUB_IEEE, now, ()))
    return out


def _accounting() -> AirAccounting:
    acct = AirAccounting(sub_ghz=[IHD_IEEE, OTHER_IHD_IEEE], limits={28: DutyCycleLimits(3.0, 4.0, 5.0)},
                         hysteresis=0.5, start=T0)
    for ieee, nwk in ((HUB_IEEE, HUB_NWK), (IHD_IEEE, IHD), (OTHER_IHD_IEEE, OTHER_IHD), (OTHER_IEEE, OTHER)):
        acct._learn(ieee, nwk)
    return acct


def _figures(acct: AirAccounting, end: float) -> tuple:
    acct.tick(end)
    return (acct.to_json(end), [(e, c) for e, c in acct.events], dict(acct.alert_counts),
            {nwk: acct.hours(nwk) for nwk in (HUB_NWK, IHD, OTHER_IHD, OTHER)},
            {nwk: acct.leg_hours(nwk) for nwk in (HUB_NWK, 1)}, dict(acct.discarded), dict(acct.relayed_us))


@pytest.mark.parametrize("seed, every", [(0, 250), (1, 250), (2, 250), (3, 7)])
def test_held_back_packets_give_the_figures_and_alerts_of_one_by_one(seed: int, every: int) -> None:
    """``every``: how often a reader looks (a few packets held back are charged
    frame by frame, more over arrays)."""
    held, direct = _accounting(), _accounting()
    heard_held: list = []
    heard_direct: list = []
    held.subscribe(lambda e, c: heard_held.append((e, c)))
    direct.subscribe(lambda e, c: heard_direct.append((e, c)))
    held.subscribe_traffic(lambda peer, state: heard_held.append((peer, state)))
    direct.subscribe_traffic(lambda peer, state: heard_direct.append((peer, state)))
    traffic = _traffic(seed)
    for i, (packet, ieee, now, delivered) in enumerate(traffic):
        held.on_air(_Frame(packet, ieee, now, delivered))
        # what on_air does, frame by frame through the public calls
        src, dst = int(packet.src.address), packet.dst
        if dst.addr_mode == t.AddrMode.Broadcast:  # the hub's: on both bands
            for band in (BAND_2400, BAND_868):
                direct.charge_packet(band, packet, now, src_ieee=ieee)
        else:
            peer = int(dst.address) if src == HUB_NWK else src
            band = BAND_868 if peer in (IHD, OTHER_IHD) else BAND_2400
            direct.charge_packet(band, packet, now, src_ieee=ieee, delivered=bool(delivered), peer=peer)
            if band == BAND_868:
                direct.charge_leg(packet, now, peer=peer, to_esme=src != HUB_NWK)
        if i % every == 0:  # a reader in the middle of the run sees the same as well
            assert held.to_json(now) == direct.to_json(now)
    end = traffic[-1][2] + 7200
    # both ways were taken: held back, and near the thresholds frame by frame
    assert 300 < held.bands[BAND_868].backlog.packets < len(traffic) - 1500
    assert held.bands[BAND_2400].backlog.packets > 1000
    assert heard_held == heard_direct
    assert any(e.state.name == "SUSPENDED" for e, _ in heard_direct if hasattr(e, "state"))
    assert _figures(held, end) == _figures(direct, end)
