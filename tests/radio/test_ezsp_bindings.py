"""A display's ZDO Bind_req on the EZSP stick: the stack answers it from its
binding table, the host's copy keeps the ESI's table in step.

EmberZNet answers Bind_req, Unbind_req and Mgmt_Bind_req itself (unless the
host sets APP_HANDLES_ZDO_BINDING_REQUESTS) under the binding modification
policy, whose default refuses every remote change: the host sets
ALLOW_BINDING_MODIFICATION.  The table is in tokens and outlives a reset.
Each Bind_req below is injected at the emulated NCP as heard over the air,
through the real bellows host.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import bellows.types as bt
import pytest
import zigpy.types as t
import zigpy.zdo.types as zdo_t

from han_emu.radio.zdo_answers import parse_zdo, zdo_frame

from .stick_support import IHD_IEEE, IHD_NWK, STICK_IEEE, Stick, quick_ezsp_reset
from .test_stick_cbke import join, start_han
from .test_stick_restart import stick_on

ZDO = 0x0000
BIND_REQ, UNBIND_REQ, MGMT_BIND_REQ = 0x0021, 0x0022, 0x0033
BIND_RSP, UNBIND_RSP, MGMT_BIND_RSP = 0x8021, 0x8022, 0x8033
MESSAGING = 0x0703
STICK_LE = bytes.fromhex("56 34 12 fe ff 57 0b 00")  # 00:0b:57:ff:fe:12:34:56, little-endian
IHD_LE = bytes.fromhex("f1 de bc 0a 00 6f 0d 00")  # 00:0d:6f:00:0a:bc:de:f1


@pytest.fixture(autouse=True)
def _quick_reset(monkeypatch) -> None:
    quick_ezsp_reset(monkeypatch)


def bind_req(tsn: int, *, src: bytes = STICK_LE, src_ep: int = 1, cluster: int = MESSAGING,
             dst: bytes = IHD_LE, dst_ep: int = 9) -> bytes:
    """A Bind_req (or Unbind_req: the same fields), written out byte by byte
    (Zigbee spec 2.4.3.2.2): TSN, SrcAddress, SrcEndp, ClusterID, DstAddrMode
    0x03 (IEEE), DstAddress, DstEndp."""
    return bytes([tsn]) + src + bytes([src_ep]) + cluster.to_bytes(2, "little") + b"\x03" + dst + bytes([dst_ep])


async def zdo(stick: Stick, sent: list, request: int, data: bytes, response: int) -> list[bytes]:
    """Inject a ZDO request from the IHD; the payloads of every ``response`` sent back to it."""
    before = len(sent)
    stick.fake.inject_incoming(IHD_NWK, IHD_IEEE, 0, 0, ZDO, request, data, encrypted=False)
    await asyncio.sleep(0.3)
    return [s.data for s in sent[before:] if s.cluster_id == response and s.dst_nwk == IHD_NWK]


# ------------------------------------------------------------------ golden bytes
@pytest.mark.parametrize(("status", "frame"), [
    (zdo_t.Status.SUCCESS, "31 00"), (zdo_t.Status.NO_ENTRY, "31 88"),
    (zdo_t.Status.TABLE_FULL, "31 8c"), (zdo_t.Status.NOT_AUTHORIZED, "31 8d"),
    (zdo_t.Status.INVALID_EP, "31 82"), (zdo_t.Status.NOT_SUPPORTED, "31 84"),
])
def test_bind_rsp_bytes_both_ways(status: zdo_t.Status, frame: str) -> None:
    """Bind_rsp is the TSN and one status byte (spec 2.4.4.3.2; statuses 2.4.5)."""
    assert zdo_frame(zdo_t.ZDOCmd.Bind_rsp, 0x31, status) == bytes.fromhex(frame)
    assert parse_zdo(BIND_RSP, bytes.fromhex(frame)) == (0x31, [status])
    assert parse_zdo(UNBIND_RSP, bytes.fromhex(frame)) == (0x31, [status])


def test_the_bind_req_written_out_is_zigpys() -> None:
    tsn, (src, src_ep, cluster, dst) = parse_zdo(BIND_REQ, bind_req(0x31))
    assert (tsn, src, src_ep, cluster) == (0x31, STICK_IEEE, 1, MESSAGING)
    assert (dst.addrmode, dst.ieee, dst.endpoint) == (0x03, IHD_IEEE, 9)
    assert zdo_frame(zdo_t.ZDOCmd.Bind_req, 0x31, src, src_ep, cluster, dst) == bind_req(0x31)


# ------------------------------------------------------------------ on the stick
async def test_a_bound_display_gets_one_answer_and_the_esis_pushes_then_unbinds() -> None:
    async with Stick("ezsp") as stick:
        han, _ = await start_han(stick)
        try:
            await join(stick, han)
            sent = stick.record()
            assert await zdo(stick, sent, BIND_REQ, bind_req(0x31), BIND_RSP) == [bytes.fromhex("31 00")]
            # The stack's table holds it, and the host's copy put it in the ESI's.
            (entry,) = stick.fake.ncp.tokens.bindings.values()
            assert (entry.type, entry.local, entry.clusterId, entry.remote, entry.identifier) == (
                bt.EmberBindingType.UNICAST_BINDING, 1, MESSAGING, 9, IHD_IEEE)
            assert han.bindings.destinations(1, MESSAGING, lambda ieee: IHD_NWK) == [(IHD_NWK, 9)]
            # The same request again: one more SUCCESS, no second entry.
            assert await zdo(stick, sent, BIND_REQ, bind_req(0x32), BIND_RSP) == [bytes.fromhex("32 00")]
            assert len(stick.fake.ncp.tokens.bindings) == 1
            # A message is pushed to the display that bound Messaging (it never asked GetLastMessage).
            han.send_message("bound")
            await asyncio.sleep(0.5)
            assert [s.dst_ep for s in sent if s.cluster_id == MESSAGING and s.dst_nwk == IHD_NWK] == [9]
            # Mgmt_Bind_req lists the table: SUCCESS, 1 entry, from 0, the entry.
            listed = await zdo(stick, sent, MGMT_BIND_REQ, bytes.fromhex("33 00"), MGMT_BIND_RSP)
            assert listed == [bytes.fromhex("33 00 01 00 01") + bind_req(0x33)[1:]]
            # Unbind: SUCCESS and gone from both tables; again: NO_ENTRY.
            assert await zdo(stick, sent, UNBIND_REQ, bind_req(0x34), UNBIND_RSP) == [bytes.fromhex("34 00")]
            assert stick.fake.ncp.tokens.bindings == {}
            assert len(han.bindings) == 0
            assert await zdo(stick, sent, UNBIND_REQ, bind_req(0x35), UNBIND_RSP) == [bytes.fromhex("35 88")]
        finally:
            await han.stop()


async def test_a_bad_source_a_full_table_and_the_default_policy() -> None:
    async with Stick("ezsp") as stick:
        han, _ = await start_han(stick)
        try:
            await join(stick, han)
            sent = stick.record()
            other = bytes(t.EUI64.convert("00:0d:6f:00:00:00:00:01"))
            assert await zdo(stick, sent, BIND_REQ, bind_req(0x41, src=other), BIND_RSP) == [bytes.fromhex("41 84")]
            assert await zdo(stick, sent, BIND_REQ, bind_req(0x42, src_ep=7), BIND_RSP) == [bytes.fromhex("42 82")]
            # A table of two entries (CONFIG_BINDING_TABLE_SIZE as a host would set it).
            stick.fake.ncp.ram.config[int(bt.EzspConfigId.CONFIG_BINDING_TABLE_SIZE)] = 2
            answers = [await zdo(stick, sent, BIND_REQ, bind_req(0x50 + i, cluster=0x0700 + i), BIND_RSP)
                       for i in range(3)]
            assert answers == [[bytes.fromhex("50 00")], [bytes.fromhex("51 00")], [bytes.fromhex("52 8c")]]
            assert sorted(stick.fake.ncp.tokens.bindings) == [0, 1]
            # Without the host's policy the stack refuses every change (EZSP's default).
            stick.fake.ncp.ram.policies.pop(int(bt.EzspPolicyId.BINDING_MODIFICATION_POLICY))
            assert await zdo(stick, sent, UNBIND_REQ, bind_req(0x60, cluster=0x0700), UNBIND_RSP) == [
                bytes.fromhex("60 8d")]
            assert sorted(stick.fake.ncp.tokens.bindings) == [0, 1]
        finally:
            await han.stop()


async def test_the_binding_table_outlives_a_restart_of_stick_and_host(tmp_path: Path) -> None:
    nv = tmp_path / "ezsp-nv.json"
    async with stick_on("ezsp", nv) as stick:
        han, _ = await start_han(stick)
        try:
            await join(stick, han)
            sent = stick.record()
            assert await zdo(stick, sent, BIND_REQ, bind_req(0x31), BIND_RSP) == [bytes.fromhex("31 00")]
        finally:
            await han.stop()
    async with stick_on("ezsp", nv) as stick:
        han, _ = await start_han(stick)
        try:
            sent = stick.record()
            listed = await zdo(stick, sent, MGMT_BIND_REQ, bytes.fromhex("36 00"), MGMT_BIND_RSP)
            assert listed == [bytes.fromhex("36 00 01 00 01") + bind_req(0x36)[1:]]
        finally:
            await han.stop()
