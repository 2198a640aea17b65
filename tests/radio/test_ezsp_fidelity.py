"""What a real EmberZNet stick does that the host must allow for.

The emulated NCP answers a display's Match_Desc itself and hands the request
to the host too (bellows asks for that with CONFIG_APPLICATION_ZDO_FLAGS);
it keeps a trust-centre address cache of CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE
entries and drops encrypted frames from senders it holds no EUI-64 for; it
holds the trust-centre policy the host sets.  Each test fails the way a real
stick would behave with a host that does not allow for it.
"""

from __future__ import annotations

import asyncio

import bellows.types as bt
import pytest
import zigpy.types as t

from han_emu.crypto.cbke import State, Suite
from han_emu.crypto.certsets import TestCA, eui64_to_cert
from han_emu.radio.ezsp import joining
from han_emu.radio.fakencp.ezsp.server import FIRMWARES

from .stick_support import IHD_IEEE, IHD_NWK, STICK_IEEE, Stick, quick_ezsp_reset
from .test_stick_cbke import (
    METERING, NOT_AUTHORIZED, READ_AGAIN, READ_ANSWERED, READ_RECEIVED, exchange, ihd_initiator, join, start_han,
    until,
)

MATCH_DESC_REQ, MATCH_DESC_RSP = 0x0006, 0x8006
ROUTER_NWK = 0x5B10


@pytest.fixture(autouse=True)
def _quick_reset(monkeypatch) -> None:
    quick_ezsp_reset(monkeypatch)


async def settle(seconds: float = 1.0) -> None:
    await asyncio.sleep(seconds)


# ------------------------------------------------------------------------ Match_Desc
@pytest.mark.parametrize("destination", [0x0000, 0xFFFD])
async def test_a_match_desc_gets_one_answer_naming_the_esi_endpoints(destination: int) -> None:
    async with Stick("ezsp") as stick:
        han, _ = await start_han(stick)
        try:
            await join(stick, han)
            sent = stick.record()
            # Match_Desc_req, TSN 0x21, NWKAddrOfInterest, Smart Energy, one input cluster: Metering.
            request = bytes.fromhex("21") + destination.to_bytes(2, "little") + bytes.fromhex("0901 01 0207 00")
            stick.fake.inject_incoming(IHD_NWK, IHD_IEEE, 0, 0, 0x0000, MATCH_DESC_REQ, request,
                                       encrypted=False, broadcast=destination != 0x0000)
            await settle()
            answers = [s for s in sent if s.cluster_id == MATCH_DESC_RSP]
            # SUCCESS, NWKAddrOfInterest 0x0000, two endpoints: 1 and 2 (both ESIs serve Metering).
            assert [a.data for a in answers] == [bytes.fromhex("21 00 0000 02 01 02")]
            assert answers[0].dst_nwk == IHD_NWK
        finally:
            await han.stop()


# --------------------------------------------------------------------- address cache
def displays(count: int) -> list[tuple[int, t.EUI64]]:
    return [(0x7A00 + i, t.EUI64.convert(f"00:0d:6f:00:0a:bc:de:{0xE0 + i:02x}")) for i in range(count)]


async def test_three_displays_behind_a_router_all_reach_the_host() -> None:
    """Three displays join through a range extender (none is the stick's
    child); their encrypted reads do not carry their EUI-64.  With bellows'
    trust-centre address cache of 2 the first would be forgotten when the
    third joins, and the stick would drop its frames."""
    async with Stick("ezsp") as stick:
        han, _ = await start_han(stick)
        try:
            cache = stick.fake.ncp.config_value(bt.EzspConfigId.CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE)
            assert cache >= 3
            for nwk, ieee in displays(3):
                stick.fake.inject_device_join(nwk, ieee, parent=ROUTER_NWK)
            await settle(0.3)
            sent = stick.record()
            for i, (nwk, _ieee) in enumerate(displays(3)):
                read = bytes([0x00, 0x40 + i]) + READ_RECEIVED[2:]
                stick.inject(2, METERING, read, src_nwk=nwk, src_ieee=None)
            await settle()
            assert stick.fake.dropped == []
            assert sorted(s.dst_nwk for s in sent if s.cluster_id == METERING) == [n for n, _ in displays(3)]
        finally:
            await han.stop()


async def test_the_emulated_stick_drops_frames_from_a_display_its_cache_forgot() -> None:
    """The NCP itself, with bellows' own settings: a cache of 2, three joins."""
    from han_emu.radio.fakencp.ezsp.server import FakeEzspServer

    fake = FakeEzspServer()
    fake.ncp.ram.network_up = True
    fake.ncp.ram.config[int(bt.EzspConfigId.CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE)] = 2
    for nwk, ieee in displays(3):
        fake.inject_device_join(nwk, ieee, parent=ROUTER_NWK)
    first, second, third = displays(3)
    for nwk, _ in (first, second, third):
        fake.inject_incoming(nwk, None, 9, 2, 0x0109, METERING, READ_RECEIVED)
    assert [d[0] for d in fake.dropped] == [first[0]]
    # A display that is the stick's own child is found in its child table.
    fake.inject_device_join(0x7B00, t.EUI64.convert("00:0d:6f:00:0a:bc:de:ff"))
    fake.inject_incoming(0x7B00, None, 9, 2, 0x0109, METERING, READ_RECEIVED)
    assert len(fake.dropped) == 1


# ----------------------------------------------------------------------- join policy
async def test_the_trust_centre_policy_is_restored_after_a_permit_window(monkeypatch) -> None:
    # bellows' 2 s margin after the window is the host's choice, not what is checked here.
    monkeypatch.setattr(joining, "POLICY_RESTORE_MARGIN", 0.1)
    async with Stick("ezsp") as stick:
        han, _ = await start_han(stick)
        try:
            policies = stick.fake.ncp.ram.policies
            before = policies[int(bt.EzspPolicyId.TRUST_CENTER_POLICY)]
            await han.app.permit_with_install_code(IHD_IEEE, bytes.fromhex("83FED3407A939723A5C639B26916D505C3B5"),
                                                   time_s=1)
            during = policies[int(bt.EzspPolicyId.TRUST_CENTER_POLICY)]
            assert during & bt.EzspDecisionBitmask.JOINS_USE_INSTALL_CODE_KEY
            async with asyncio.timeout(6):
                while policies[int(bt.EzspPolicyId.TRUST_CENTER_POLICY)] != before:
                    await asyncio.sleep(0.1)
        finally:
            await han.stop()



# ------------------------------------------------------------------------ firmwares
@pytest.mark.parametrize("mode", ["ncp", "software"])
@pytest.mark.parametrize("firmware", sorted(FIRMWARES))
async def test_cbke_and_a_read_on_each_firmware(firmware: str, mode: str) -> None:
    """``fake-ncp --firmware``: the host runs CBKE (on the NCP's own library, or
    in software with the key put into the NCP's key table) and serves a read."""
    suite = Suite.SUITE_2 if mode == "ncp" else Suite.SUITE_1
    stick_cert = TestCA.builtin(suite).issue(eui64_to_cert(STICK_IEEE))
    ncp_certs = [stick_cert] if mode == "ncp" else None
    async with Stick("ezsp", cbke=ncp_certs, firmware=firmware) as stick:
        han, _ = await start_han(stick, () if mode == "ncp" else (stick_cert,))
        try:
            assert stick.fake.ncp.PROTOCOL_VERSION == han.app._ezsp.ezsp_version
            assert han.cbke_mode == mode
            await join(stick, han)
            assert (await stick.ask(2, METERING, READ_RECEIVED)).data == NOT_AUTHORIZED
            initiator = ihd_initiator(suite, stick_cert)
            await exchange(stick, initiator)
            assert initiator.state is State.SUCCEEDED
            await until(lambda: stick.link_key(IHD_IEEE) == initiator.key_data, timeout=10)
            await until(lambda: IHD_IEEE in han.app.link_keys, timeout=10)
            reply = await stick.ask(2, METERING, READ_AGAIN)
            assert reply.data[:7] == READ_ANSWERED and reply.aps_encrypted
        finally:
            await han.stop()


async def test_fake_ncp_firmware_option(capsys) -> None:
    """``han-emu fake-ncp --protocol ezsp --firmware NAME``: each name serves
    its protocol version; another name is one line and exit status 2."""
    from han_emu.cli.fakencp import firmwares, serve
    from han_emu.cli.main import main

    assert set(firmwares("ezsp")) == {"v13", "v14"} and all(firmwares("ezsp").values())
    for name, version in (("v13", 13), ("v14", 14)):
        server = await serve("ezsp", "127.0.0.1", 0, None, firmware=name)
        try:
            assert server.ncp.PROTOCOL_VERSION == version
        finally:
            await server.close()
    assert await asyncio.to_thread(main, ["fake-ncp", "--protocol", "ezsp", "--firmware", "v99"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "--firmware v99" in line and "v13, v14" in line


# ------------------------------------------------------------------------ key table
def test_the_key_table_keeps_its_entries_and_gaps_across_resets_and_restarts(tmp_path) -> None:
    from han_emu.radio.fakencp.ezsp.server import FakeEzspServer

    nv = tmp_path / "ncp.json"
    fake = FakeEzspServer(state_path=nv)
    ncp = fake.ncp
    size = ncp.config_value(bt.EzspConfigId.CONFIG_KEY_TABLE_SIZE)
    assert size == ncp.KEY_TABLE_SIZE == 12
    # The host cannot grow a table sized at build time.
    assert ncp.cmd_setConfigurationValue(bt.EzspConfigId.CONFIG_KEY_TABLE_SIZE, 20)["status"] != 0
    a, c = bt.EUI64.convert("00:0d:6f:00:00:00:00:0a"), bt.EUI64.convert("00:0d:6f:00:00:00:00:0c")
    assert ncp.cmd_importLinkKey(0, a, bt.KeyData(bytes(16)))["status"] == bt.sl_Status.OK
    assert ncp.cmd_importLinkKey(3, c, bt.KeyData(bytes(range(16))))["status"] == bt.sl_Status.OK
    assert ncp.cmd_importLinkKey(size, c, bt.KeyData(bytes(16)))["status"] == bt.sl_Status.INVALID_INDEX
    ncp.persist()
    ncp.reset()
    again = FakeEzspServer(state_path=nv).ncp
    for table in (ncp, again):
        assert [table.cmd_exportLinkKeyByIndex(i)["status"] for i in range(4)] == [
            bt.sl_Status.OK, bt.sl_Status.NOT_FOUND, bt.sl_Status.NOT_FOUND, bt.sl_Status.OK]
        assert table.cmd_exportLinkKeyByIndex(3)["eui64"] == c
    # The free entry for a fourth display is the first gap.
    assert again.store_link_key(bt.EUI64.convert("00:0d:6f:00:00:00:00:0e"), bytes(16)) == 1


async def test_v14_reads_the_trust_centre_cache_after_the_address_table() -> None:
    from han_emu.radio.fakencp.ezsp.server import FakeEzspServer

    fake = FakeEzspServer(firmware="v14")
    fake.ncp.ram.network_up = True
    size = fake.ncp.config_value(bt.EzspConfigId.CONFIG_ADDRESS_TABLE_SIZE)
    for nwk, ieee in displays(2):
        fake.inject_device_join(nwk, ieee, parent=ROUTER_NWK)
    answers = [fake.ncp.cmd_getAddressTableInfo(i) for i in range(size, size + 3)]
    assert [(a["nwk"], a["eui64"]) for a in answers[:2]] == displays(2)
    assert answers[2]["status"] == bt.sl_Status.INVALID_INDEX
