"""The ESI's mirror of the coordinator's binding table, from ZDO Bind_req and
Unbind_req frames written by hand from the ZDP spec (2.4.3.2.2/3)."""

from __future__ import annotations

import pytest
import zigpy.types as t

from han_emu.server.bindings import BindingTable

OWN = t.EUI64.convert("00:0d:6f:00:00:00:00:01")
IHD = t.EUI64.convert("00:0d:6f:00:0a:bc:de:f1")
# TSN, SrcAddress (little-endian), SrcEndp 0x02, ClusterId 0x0700, DstAddrMode 0x03, DstAddress, DstEndp 0x07
BIND_PRICE = bytes.fromhex("31" "01000000006f0d00" "02" "0007" "03" "f1debc0a006f0d00" "07")
# the same with DstAddrMode 0x01: group 0x1234
BIND_GROUP = bytes.fromhex("32" "01000000006f0d00" "02" "0007" "01" "3412")


def zdo(cluster: int, data: bytes) -> t.ZigbeePacket:
    return t.ZigbeePacket(src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x3C2A), src_ep=0,
                          dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000), dst_ep=0,
                          profile_id=0x0000, cluster_id=cluster, data=t.SerializableBytes(data))


def test_bind_and_unbind_keep_the_table() -> None:
    table = BindingTable()
    assert table.observe(zdo(0x0021, BIND_PRICE), OWN)
    assert not table.observe(zdo(0x0021, BIND_PRICE), OWN)  # already there
    assert table.to_json() == [[2, 0x0700, "00:0d:6f:00:0a:bc:de:f1", 7]]
    assert table.destinations(2, 0x0700, lambda ieee: 0x3C2A if ieee == IHD else None) == [(0x3C2A, 7)]
    assert table.destinations(1, 0x0700, lambda ieee: 0x3C2A) == []  # another endpoint
    assert table.destinations(2, 0x0702, lambda ieee: 0x3C2A) == []  # another cluster
    assert table.destinations(2, 0x0700, lambda ieee: None) == []  # address not known yet
    assert table.observe(zdo(0x0022, BIND_PRICE), OWN) and len(table) == 0
    assert not table.observe(zdo(0x0022, BIND_PRICE), OWN)  # nothing to remove


def test_what_is_not_a_unicast_binding_of_ours_is_ignored() -> None:
    table = BindingTable()
    assert not table.observe(zdo(0x0021, BIND_GROUP), OWN)  # group bindings: SE secures unicasts only
    assert not table.observe(zdo(0x0021, BIND_PRICE), IHD)  # a binding in another node's table
    assert not table.observe(zdo(0x0021, BIND_PRICE[:9]), OWN)  # truncated: the firmware refuses it
    assert not table.observe(zdo(0x0006, BIND_PRICE), OWN)  # Match_Desc_req
    plain = zdo(0x0021, BIND_PRICE).replace(dst_ep=1, profile_id=0x0109)
    assert not table.observe(plain, OWN)
    assert len(table) == 0


def test_saved_rows_come_back_and_bad_ones_are_named() -> None:
    table = BindingTable()
    table.restore([[2, 0x0700, "00:0d:6f:00:0a:bc:de:f1", 7]])
    assert table.destinations(2, 0x0700, lambda ieee: 0x1111) == [(0x1111, 7)]
    with pytest.raises(ValueError, match="bad binding"):
        BindingTable().restore([[2, 0x0700, "not an address", 7]])
    with pytest.raises(ValueError, match="bad binding"):
        BindingTable().restore([[2, 0x0700]])
