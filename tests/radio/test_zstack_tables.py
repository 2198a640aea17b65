"""Z-Stack as real coordinator images behave towards a Smart Energy host.

Each test models a behaviour of the firmware (TI SimpleLink SDK ``zd_sec_mgr.c``,
``bdb.c``, ``af.c``; table sizes of the coordinator images, see
``han_emu/radio/fakencp/znp/zstack_images.py``) in the emulated stick, and
checks that the host copes with it:

- the trust centre secures its own frames (network-key update, join) with the
  trust-centre table's key, not the APS table's: after software CBKE that key
  must be the CBKE key, not the install-code key;
- the APS link-key table has 3 entries in place, with gaps; a full table is
  one clear line;
- require-key-exchange removes a display that does not do the Zigbee 3.0 key
  request; the host turns it off while displays join and back on afterwards;
- frames for endpoints missing from the chip's table are dropped; the host
  checks the ESI endpoints are there;
- a full address manager loses APS-secured frames.
"""

from __future__ import annotations

import asyncio

import pytest
import zigpy.types as t
import zigpy.util
import zigpy_znp.commands as c
import zigpy_znp.types as znp_t

from han_emu.cli.main import main
from han_emu.crypto.cbke import State, Suite
from han_emu.crypto.certsets import TestCA, eui64_to_cert, install_code_for
from han_emu.radio.fakencp.znp.device import FakeZStack
from han_emu.radio.fakencp.znp.server import FIRMWARES, FakeZnpServer
from han_emu.radio.key_table import KeyTableFull
from han_emu.radio.znp.app import EndpointTableMissing

from .stick_support import IHD_IEEE, IHD_NWK, SE, STICK_IEEE, Stick
from .test_stick_cbke import METERING, READ_RECEIVED, exchange, ihd_initiator, join, start_han, until

FORMATION = c.app_config.BDBCommissioningMode.NwkFormation
PPMID_IEEE = t.EUI64.convert("00:0d:6f:00:0a:bc:de:f2")


def started(image: str | None = None, *endpoints: int) -> FakeZStack:
    device = FakeZStack(ieee=STICK_IEEE, image=image)
    device.handle(c.AppConfig.BDBStartCommissioning.Req(Mode=FORMATION))
    for ep in endpoints:
        device.handle(c.AF.Register.Req(
            Endpoint=ep, ProfileId=SE, DeviceId=0x0500, DeviceVersion=0,
            LatencyReq=c.af.LatencyReq.NoLatencyReqs, InputClusters=[0x0702], OutputClusters=[]))
    return device


# ------------------------------------------------------------ firmware images
def test_the_two_images_answer_and_size_their_tables_as_built() -> None:
    koenkk, sdk = FakeZStack(image="zstack-3.x.0"), FakeZStack(image="zstack-3.30")
    [rsp] = koenkk.handle(c.SYS.Version.Req())
    assert (rsp.MajorRel, rsp.MinorRel, rsp.MaintRel, rsp.CodeRevision) == (2, 7, 1, 20220219)
    [rsp] = sdk.handle(c.SYS.Version.Req())
    assert rsp.CodeRevision is None  # built without INCLUDE_REVISION_INFORMATION
    assert (koenkk.tc_link_key_capacity, koenkk.aps_link_key_capacity, koenkk.address_manager_capacity) == (200, 3, 257)
    assert (sdk.tc_link_key_capacity, sdk.aps_link_key_capacity, sdk.address_manager_capacity) == (40, 3, 70)
    assert set(FIRMWARES) == {"zstack-3.x.0", "zstack-3.30"}


def test_fake_ncp_refuses_an_unknown_firmware_in_one_line(capsys) -> None:
    try:
        code = main(["fake-ncp", "--protocol", "znp", "--firmware", "zstack-9"])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "zstack-9" in line and "zstack-3.30" in line and "zstack-3.x.0" in line


async def test_zigpy_znp_sees_the_sdk_image_as_3_30_without_a_revision() -> None:
    async with Stick("znp", firmware="zstack-3.30") as stick:
        han, _ = await start_han(stick)
        try:
            app = han.app
            assert app._znp.version == 3.30
            assert app.state.node_info.version == "Z-Stack 0"
            assert await app.key_table_size() == 3
            assert await app.address_table_size() == (70, 70)
        finally:
            await han.stop()


# ----------------------------------------------------- trust-centre link key
async def test_after_software_cbke_the_trust_centre_secures_with_the_cbke_key() -> None:
    """A real Z-Stack keeps the install-code key in the trust-centre table
    after ZDO_SET_LINK_KEY: the next network-key update would reach the
    display under a key it no longer holds, and it drops off."""
    stick_cert = TestCA.builtin(1).issue(eui64_to_cert(STICK_IEEE))
    code = install_code_for(IHD_IEEE.serialize())
    ic_key = zigpy.util.convert_install_code(code)
    async with Stick("znp") as stick:
        han, _ = await start_han(stick, (stick_cert,))
        try:
            device = stick.fake.device
            await han.permit_install_code(IHD_IEEE, code, seconds=60)
            await join(stick, han)
            assert device.key_transports[-1].key == ic_key  # the network key went out under it
            initiator = ihd_initiator(Suite.SUITE_1, stick_cert)
            await exchange(stick, initiator)
            assert initiator.state is State.SUCCEEDED
            await until(lambda: stick.link_key(IHD_IEEE) == initiator.key_data)
            await until(lambda: device.tc_link_key(IHD_IEEE) != ic_key)
            assert device.send_network_key(IHD_IEEE) == t.KeyData(initiator.key_data)
        finally:
            await han.stop()


def test_the_trust_centre_key_comes_from_its_own_table_only() -> None:
    device = started()
    ic_key, cbke_key = t.KeyData(bytes(range(16))), t.KeyData(bytes(range(16, 32)))
    assert device.handle(c.AppConfig.BDBAddInstallCode.Req(
        InstallCodeFormat=c.app_config.InstallCodeFormat.KeyDerivedFromInstallCode,
        IEEE=IHD_IEEE, InstallCode=ic_key.serialize()))[0].Status == znp_t.Status.SUCCESS
    device.device_join(IHD_NWK, IHD_IEEE)
    assert device.add_link_key(IHD_NWK, IHD_IEEE, cbke_key) == znp_t.Status.SUCCESS
    assert device.link_keys[IHD_IEEE] == cbke_key
    assert device.tc_link_key(IHD_IEEE) == ic_key
    # A device the table does not hold gets a DEFAULT entry and the well-known key.
    assert device.send_network_key(PPMID_IEEE) == t.KeyData(b"ZigBeeAlliance09")
    assert device.tclk_entry(PPMID_IEEE)[1] is not None


# ----------------------------------------------------------- APS key table
def test_the_aps_table_keeps_its_entries_in_place_and_says_when_full() -> None:
    device = started()
    keys = [t.KeyData(bytes([i]) * 16) for i in range(4)]
    ieees = [t.EUI64(bytes([i + 1]) * 8) for i in range(4)]
    for i in range(3):
        assert device.add_link_key(0x1000 + i, ieees[i], keys[i]) == znp_t.Status.SUCCESS
    assert device.add_link_key(0x1003, ieees[3], keys[3]) == znp_t.Status.BUFFER_FULL
    entries = device.aps_link_key_entries()
    device._write_aps_link_key_table([entries[0], None, entries[2]])  # the firmware frees entry 1
    assert device.add_link_key(0x1003, ieees[3], keys[3]) == znp_t.Status.SUCCESS
    assert [int(e.LinkKeyNvId) for e in device.aps_link_key_entries()] == [0, 1, 2]
    assert device.link_keys[ieees[3]] == keys[3] and device.link_keys[ieees[2]] == keys[2]


async def test_the_host_reads_the_key_table_and_names_its_size_when_full() -> None:
    async with Stick("znp") as stick:
        han, _ = await start_han(stick)
        try:
            app, device = han.app, stick.fake.device
            assert await app.key_table_size() == 3
            assert await app.free_key_slot() == 0
            for i in range(2):
                assert await app.install_link_key(t.EUI64(bytes([i + 1]) * 8), bytes([i]) * 16)
            assert await app.free_key_slot() == 2
            entries = device.aps_link_key_entries()
            device._write_aps_link_key_table([None, entries[1], None])
            assert await app.free_key_slot() == 0
            for i in (3, 4):
                assert await app.install_link_key(t.EUI64(bytes([i]) * 8), bytes([i]) * 16)
            with pytest.raises(KeyTableFull, match="all 3 entries"):
                await app.free_key_slot()
            assert not await app.install_link_key(PPMID_IEEE, b"\x55" * 16)
            assert "link-key table is full (all 3 entries" in app.link_key_problem
            assert "\n" not in app.link_key_problem
        finally:
            await han.stop()


# ------------------------------------------------------- require key exchange
async def test_a_display_without_the_zigbee_3_key_request_is_removed() -> None:
    async with FakeZnpServer(device=FakeZStack(ieee=STICK_IEEE)) as fake:
        device = fake.device
        device.handle(c.AppConfig.BDBStartCommissioning.Req(Mode=FORMATION))
        device.node_join_timeout = 0.2
        fake.inject_device_join(IHD_NWK, IHD_IEEE)
        fake.inject_device_join(0x2222, PPMID_IEEE)
        fake.inject_key_exchange(PPMID_IEEE)  # a Zigbee 3.0 device
        await asyncio.sleep(0.4)
        assert device.removed == [IHD_IEEE]
        assert device.addrmgr_ieee(IHD_NWK) is None and device.addrmgr_ieee(0x2222) == PPMID_IEEE
        # With the requirement off, nobody is removed.
        device.handle(c.AppConfig.BDBSetTcRequireKeyExchange.Req(BdbTrustCenterRequireKeyExchange=False))
        fake.inject_device_join(IHD_NWK, IHD_IEEE)
        await asyncio.sleep(0.4)
        assert device.removed == [IHD_IEEE]


async def test_the_host_turns_key_exchange_off_while_displays_join_and_back_on() -> None:
    code = install_code_for(IHD_IEEE.serialize())
    async with Stick("znp") as stick:
        han, _ = await start_han(stick)
        try:
            device = stick.fake.device
            device.node_join_timeout = 0.3
            han.app.node_join_timeout = 0.3
            assert device.require_key_exchange
            await han.permit_install_code(IHD_IEEE, code, seconds=1)
            assert not device.require_key_exchange
            await join(stick, han)
            await asyncio.sleep(0.6)
            assert device.removed == []
            await until(lambda: device.require_key_exchange, timeout=6)
            assert device.removed == []
        finally:
            await han.stop()


# ---------------------------------------------------------------- endpoints
def test_frames_for_endpoints_outside_the_table_are_dropped() -> None:
    device = started(None, 1)
    assert device.incoming_message(src_nwk=IHD_NWK, src_ep=9, dst_ep=1, cluster_id=METERING, data=READ_RECEIVED)
    assert device.incoming_message(src_nwk=IHD_NWK, src_ep=9, dst_ep=2, cluster_id=METERING, data=READ_RECEIVED) is None
    assert device.incoming_message(src_nwk=IHD_NWK, src_ep=9, dst_ep=1, cluster_id=METERING,
                                   data=READ_RECEIVED, profile_id=0x0104) is None


async def test_the_host_checks_the_esi_endpoints_are_in_the_chip_table() -> None:
    async with Stick("znp") as stick:
        han, _ = await start_han(stick)
        try:
            app, device = han.app, stick.fake.device
            await app.check_endpoint_table()  # registered at start: passes
            # A reset the host did not see (brown-out, watchdog): the network
            # comes back from NV, the AF registrations do not.
            device.handle(c.SYS.ResetReq.Req(Type=znp_t.ResetType.Soft))
            device.handle(c.AppConfig.BDBStartCommissioning.Req(Mode=FORMATION))
            assert stick.fake.inject_incoming(IHD_NWK, IHD_IEEE, 9, 1, METERING, READ_RECEIVED) is False
            sent = stick.record()
            with pytest.raises(EndpointTableMissing) as exc:
                await app.check_endpoint_table()
            assert "\n" not in str(exc.value) and "0x0109" in str(exc.value) and "1, 2" in str(exc.value)
            # The reset also dropped the host's ZDO callback registration; the
            # host registers again, so the chip's NOT_ACTIVE answer ends each
            # request at its first attempt instead of after zigpy's retries.
            asked = [s.data[-1] for s in sent if s.dst_ep == 0 and s.cluster_id == 0x0004]
            assert asked == [1, 2]
        finally:
            await han.stop()


# ---------------------------------------------------------- address manager
def test_a_full_address_manager_loses_aps_secured_frames() -> None:
    device = started("zstack-3.30", 1)
    for i in range(device.address_manager_capacity):
        assert device.learn_address(0x3000 + i, t.EUI64((0x100 + i).to_bytes(8, "little")))
    assert device.address_manager_free() == 0
    assert not device.learn_address(IHD_NWK, IHD_IEEE)
    fake = FakeZnpServer(device=device)
    assert fake.inject_incoming(IHD_NWK, IHD_IEEE, 9, 1, METERING, READ_RECEIVED) is False
    assert fake.inject_incoming(IHD_NWK, IHD_IEEE, 9, 1, METERING, READ_RECEIVED, encrypted=False) is True
