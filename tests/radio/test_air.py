"""The virtual air: addressing, delivery, acknowledgements, failures, listeners."""

from __future__ import annotations

import asyncio

import pytest
import zigpy.exceptions
import zigpy.types as t

from han_emu.radio.virtual.medium import AirFrame, JoinRefused, Link, VirtualAir
from han_emu.radio.vtime import clock_for_loop, run_virtual


class Probe:
    """A bare node that records what it receives."""

    def __init__(self, ieee: int, nwk: int, *, router: bool = True, rx_on: bool = True) -> None:
        self.ieee = t.EUI64(ieee.to_bytes(8, "little"))
        self.nwk: t.NWK | None = t.NWK(nwk)
        self.is_router = router
        self.rx_on_when_idle = rx_on
        self.groups: set[int] = set()
        self.got: list[tuple[float, t.ZigbeePacket]] = []

    def air_receive(self, packet: t.ZigbeePacket) -> None:
        self.got.append((asyncio.get_running_loop().time(), packet))


def unicast(nwk: int, *, ack: bool = True, data: bytes = b"\x00\x01\x00", tsn: int = 1) -> t.ZigbeePacket:
    tx = t.TransmitOptions.APS_Encryption | (t.TransmitOptions.ACK if ack else t.TransmitOptions.NONE)
    return t.ZigbeePacket(
        src_ep=1,
        dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=nwk),
        dst_ep=2,
        tsn=tsn,
        profile_id=0x0109,
        cluster_id=0x0702,
        data=t.SerializableBytes(data),
        tx_options=tx,
    )


def broadcast(address: int) -> t.ZigbeePacket:
    return t.ZigbeePacket(
        src_ep=1,
        dst=t.AddrModeAddress(addr_mode=t.AddrMode.Broadcast, address=address),
        dst_ep=0xFF,
        profile_id=0x0109,
        cluster_id=0x0700,
        data=t.SerializableBytes(b"\x09\x01\x00"),
    )


def setup(**kwargs: object) -> tuple[VirtualAir, Probe, Probe]:
    air = VirtualAir(latency=0.01, ack_timeout=2.0, **kwargs)  # type: ignore[arg-type]
    a, b = Probe(0xA, 0x0000), Probe(0xB, 0x1111)
    air.attach(a)
    air.attach(b)
    return air, a, b


def test_unicast_with_ack_arrives_after_latency_and_returns_after_the_ack() -> None:
    async def main() -> None:
        air, a, b = setup()
        frames: list[AirFrame] = []
        air.add_listener(frames.append)
        loop = asyncio.get_running_loop()
        await air.transmit(a, unicast(0x1111))
        assert loop.time() == pytest.approx(0.02)  # there and back
        (when, got), = b.got
        assert when == pytest.approx(0.01)
        assert got.src == t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000)
        assert got.src_ep == 1 and got.dst_ep == 2
        assert got.data.serialize() == b"\x00\x01\x00"
        assert got.tx_options == t.TransmitOptions.APS_Encryption
        assert (got.lqi, got.rssi) == (255, -45)
        assert [f.aps_ack for f in frames] == [False, True]
        data, ack = frames
        assert data.delivered_to == (b.ieee,) and data.src == 0x0000
        assert ack.src == 0x1111 and ack.dst.address == 0x0000
        assert ack.aps_counter == data.aps_counter
        assert ack.packet.data.serialize() == b""

    run_virtual(main())


def test_ieee_addressing_is_delivered_as_nwk() -> None:
    async def main() -> None:
        air, a, b = setup()
        packet = unicast(0).replace(dst=t.AddrModeAddress(addr_mode=t.AddrMode.IEEE, address=b.ieee))
        await air.transmit(a, packet)
        assert b.got[0][1].dst == t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x1111)

    run_virtual(main())


def test_absent_peer_with_ack_fails_after_the_ack_timeout() -> None:
    async def main() -> None:
        air, a, _b = setup()
        loop = asyncio.get_running_loop()
        with pytest.raises(zigpy.exceptions.DeliveryError) as err:
            await air.transmit(a, unicast(0x2222))
        assert err.value.status == t.APSStatus.APS_NO_ACK
        assert loop.time() == pytest.approx(2.0)

    run_virtual(main())


def test_absent_peer_without_ack_fails_at_the_mac() -> None:
    async def main() -> None:
        air, a, _b = setup()
        with pytest.raises(zigpy.exceptions.DeliveryError) as err:
            await air.transmit(a, unicast(0x2222, ack=False))
        assert err.value.status == t.MACStatus.MAC_NO_ACK

    run_virtual(main())


def test_broken_link_fails_delivery_and_link_quality_is_reported() -> None:
    async def main() -> None:
        air, a, b = setup()
        air.set_link(a.ieee, b.ieee, up=False)
        with pytest.raises(zigpy.exceptions.DeliveryError):
            await air.transmit(a, unicast(0x1111))
        assert b.got == []
        air.set_link(a.ieee, b.ieee, up=True, lqi=120, rssi=-80)
        await air.transmit(b, unicast(0x0000))  # symmetric link
        assert (a.got[0][1].lqi, a.got[0][1].rssi) == (120, -80)
        assert air.link(b.ieee, a.ieee) == Link(lqi=120, rssi=-80, up=True)

    run_virtual(main())


def test_burst_keeps_transmission_order() -> None:
    async def main() -> None:
        air, a, b = setup()
        await asyncio.gather(*(air.transmit(a, unicast(0x1111, tsn=i, ack=False)) for i in range(50)))
        assert [p.tsn for _, p in b.got] == list(range(50))

    run_virtual(main())


def test_broadcast_reaches_the_right_kinds_of_node() -> None:
    async def main() -> None:
        air, coordinator, router = setup()
        sleepy = Probe(0xC, 0x3333, router=False, rx_on=False)
        awake_end = Probe(0xD, 0x4444, router=False, rx_on=True)
        air.attach(sleepy)
        air.attach(awake_end)
        frames: list[AirFrame] = []
        air.add_listener(frames.append)

        await air.transmit(coordinator, broadcast(0xFFFF))
        await air.transmit(coordinator, broadcast(0xFFFD))
        await air.transmit(coordinator, broadcast(0xFFFC))

        assert [len(n.got) for n in (router, sleepy, awake_end)] == [3, 1, 2]
        assert coordinator.got == []  # never to ourselves
        assert [set(f.delivered_to) for f in frames] == [
            {router.ieee, sleepy.ieee, awake_end.ieee},
            {router.ieee, awake_end.ieee},
            {router.ieee},
        ]
        assert router.got[0][1].dst.addr_mode == t.AddrMode.Broadcast

    run_virtual(main())


def test_group_delivery_goes_to_members_only() -> None:
    async def main() -> None:
        air, a, b = setup()
        c = Probe(0xC, 0x3333)
        air.attach(c)
        c.groups.add(0x0042)
        packet = broadcast(0).replace(dst=t.AddrModeAddress(addr_mode=t.AddrMode.Group, address=0x0042))
        await air.transmit(a, packet)
        assert (len(b.got), len(c.got)) == (0, 1)

    run_virtual(main())


def test_listener_errors_do_not_stop_delivery() -> None:
    async def main() -> None:
        air, a, b = setup()

        def broken(frame: AirFrame) -> None:
            raise RuntimeError("listener bug")

        seen: list[AirFrame] = []
        air.add_listener(broken)
        remove = air.add_listener(seen.append)
        await air.transmit(a, unicast(0x1111))
        assert len(b.got) == 1 and len(seen) == 2
        remove()
        await air.transmit(a, unicast(0x1111))
        assert len(seen) == 2

    run_virtual(main())


def test_listener_times_are_on_the_virtual_clock() -> None:
    async def main() -> None:
        air, a, _b = setup()
        times: list[float] = []
        air.add_listener(lambda f: times.append(f.time))
        await asyncio.sleep(100)
        await air.transmit(a, unicast(0x1111))
        assert times == pytest.approx([1_700_000_100.0, 1_700_000_100.01])
        assert clock_for_loop().now() == pytest.approx(1_700_000_100.02)

    run_virtual(main(), 1_700_000_000.0)


class Gate:
    """A trust centre that admits only when open."""

    def __init__(self) -> None:
        self.open = False
        self.joined: list[tuple[t.EUI64, t.NWK]] = []
        self.left: list[t.EUI64] = []

    def accept_join(self, ieee: t.EUI64, link_key: t.KeyData | None) -> bool:
        return self.open

    def device_joined(self, ieee: t.EUI64, nwk: t.NWK, parent: t.NWK) -> None:
        self.joined.append((ieee, nwk))

    def device_left(self, ieee: t.EUI64, nwk: t.NWK) -> None:
        self.left.append(ieee)


def test_association_respects_the_trust_centre() -> None:
    air, coordinator, _b = setup()
    gate = Gate()
    newcomer = Probe(0xE, 0)
    newcomer.nwk = None
    with pytest.raises(JoinRefused):
        air.associate(newcomer)  # no trust centre yet
    air.set_trust_center(gate)
    with pytest.raises(JoinRefused):
        air.associate(newcomer)  # closed
    gate.open = True
    nwk = air.associate(newcomer)
    assert newcomer.nwk == nwk and nwk not in (0x0000, 0x1111)
    assert air.node_by_nwk(nwk) is newcomer
    assert gate.joined == [(newcomer.ieee, nwk)]
    air.leave(newcomer)
    assert air.node_by_ieee(newcomer.ieee) is None and gate.left == [newcomer.ieee]


def test_duplicate_nwk_address_is_refused() -> None:
    air, _a, _b = setup()
    with pytest.raises(ValueError):
        air.attach(Probe(0xF, 0x1111))


def test_received_packets_carry_the_virtual_time() -> None:
    async def main() -> None:
        air, a, b = setup()
        await asyncio.sleep(50)
        await air.transmit(a, unicast(0x1111))
        assert b.got[0][1].timestamp.timestamp() == pytest.approx(1_700_000_050.01)

    run_virtual(main(), 1_700_000_000.0)
