"""Network keys on the virtual air: a frame is read only under a key the
receiver holds, and the trust centre moves its nodes to a new key with a
Transport-Key (under each node's link key) and a Switch-Key."""

from __future__ import annotations

import asyncio

import zigpy.types as t

from han_emu.radio.virtual import nwk_keys
from han_emu.radio.virtual.medium import VirtualAir

OLD, NEW = bytes(range(16)), bytes(range(16, 32))
LINK = bytes.fromhex("C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF")


class Node:
    """A node that models its network and link keys."""

    is_router = True
    rx_on_when_idle = True

    def __init__(self, last: int, nwk: int, *, link: bytes | None = LINK, keys: bool = True) -> None:
        self.ieee = t.EUI64(bytes([last, 0, 0, 0, 0, 0, 0, 0]))
        self.nwk = t.NWK(nwk)
        self.groups: set[int] = set()
        self.keys, self.seq = {0: OLD}, 0
        self.link = link
        self.heard: list[t.ZigbeePacket] = []
        if not keys:  # a node that does not model network keys
            self.nwk_key_active = lambda: None  # type: ignore[method-assign]

    def air_receive(self, packet: t.ZigbeePacket) -> None:
        self.heard.append(packet)

    def nwk_key_active(self) -> tuple[int, bytes] | None:
        return self.seq, self.keys[self.seq]

    def nwk_key_for(self, seq: int) -> bytes | None:
        return self.keys.get(seq)

    def aps_link_key(self, partner: t.EUI64) -> bytes | None:
        return self.link

    def air_transport_key(self, key: bytes, seq: int) -> None:
        self.keys[seq] = key

    def air_switch_key(self, seq: int) -> None:
        if seq in self.keys:
            self.seq = seq


def packet(dst: int) -> t.ZigbeePacket:
    return t.ZigbeePacket(src_ep=1, dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(dst)), dst_ep=1,
                          tsn=1, profile_id=0x0109, cluster_id=0x0702, data=t.SerializableBytes(b"\x00\x01\x00"),
                          tx_options=t.TransmitOptions.NONE)


async def exchange(air: VirtualAir, a: Node, b: Node) -> tuple[int, int]:
    """Each sends the other one frame; how many each heard."""
    before = len(a.heard), len(b.heard)
    await air.transmit(a, packet(int(b.nwk)))
    await air.transmit(b, packet(int(a.nwk)))
    await asyncio.sleep(air.latency * 3)
    return len(b.heard) - before[1], len(a.heard) - before[0]


def on_air(*nodes: Node) -> VirtualAir:
    air = VirtualAir(latency=0.001)
    for node in nodes:
        air.attach(node)
    return air


async def test_a_switch_without_the_new_key_cuts_a_node_off_and_the_update_keeps_it() -> None:
    tc, ihd, lost = Node(1, 0x0000), Node(2, 0x1234), Node(3, 0x5678, link=bytes(16))
    air = on_air(tc, ihd, lost)
    assert await exchange(air, tc, ihd) == (1, 1) and await exchange(air, tc, lost) == (1, 1)
    # The Transport-Key reaches only the node sharing the trust centre's link key for it.
    assert nwk_keys.send_network_key(air, tc, 0x1234, NEW, 1, LINK)
    assert not nwk_keys.send_network_key(air, tc, 0x5678, NEW, 1, LINK)
    await asyncio.sleep(air.latency * 3)
    assert ihd.keys == {0: OLD, 1: NEW} and lost.keys == {0: OLD}
    # Still on the old key until the switch: everyone reads everyone.
    assert await exchange(air, tc, ihd) == (1, 1)
    heard = nwk_keys.broadcast_switch_key(air, tc, 1)
    tc.keys[1], tc.seq = NEW, 1  # the trust centre switches once the Switch-Key is out
    await asyncio.sleep(air.latency * 3)
    assert set(heard) == {ihd.ieee, lost.ieee} and ihd.seq == 1 and lost.seq == 0
    assert await exchange(air, tc, ihd) == (1, 1)
    assert await exchange(air, tc, lost) == (0, 1)  # the trust centre still holds the old key as its alternate
    tc.keys = {1: NEW}
    assert await exchange(air, tc, lost) == (0, 0)


async def test_a_node_that_models_no_network_key_hears_and_is_heard_as_before() -> None:
    tc, plain = Node(1, 0x0000), Node(2, 0x1234, keys=False)
    tc.keys, tc.seq = {7: NEW}, 7
    air = on_air(tc, plain)
    assert await exchange(air, tc, plain) == (1, 1)
