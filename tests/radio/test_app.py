"""zigpy's own startup, joining and interview against the virtual controller."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import zigpy.exceptions
import zigpy.types as t
import zigpy.zdo.types as zdo_t

from han_emu.radio.virtual import (
    JoinRefused,
    SimNode,
    VirtualAir,
    VirtualControllerApplication,
    ihd_endpoint,
)
from han_emu.radio.vtime import run_virtual

IHD_IEEE = "00:0d:6f:00:00:00:00:01"


def test_startup_forms_a_network_and_interviews_the_coordinator() -> None:
    async def main() -> None:
        air = VirtualAir()
        app = VirtualControllerApplication({}, air=air)
        await app.startup(auto_form=True)
        try:
            info = app.state.network_info
            assert 11 <= info.channel <= 26
            assert info.pan_id not in (0x0000, 0xFFFE, 0xFFFF)
            assert info.network_key.key != t.KeyData.UNKNOWN
            assert app.state.node_info.nwk == 0x0000
            assert app.state.node_info.logical_type == zdo_t.LogicalType.Coordinator
            coordinator = app._device
            assert coordinator.is_initialized
            assert coordinator.node_desc.is_coordinator
            # zigpy's default endpoints, discovered through our ZDO answers
            assert {ep.endpoint_id for ep in coordinator.non_zdo_endpoints} == {1, 2, 242}
            assert coordinator.endpoints[1].profile_id == 0x0104
        finally:
            await app.shutdown()

    run_virtual(main())


def test_energy_scan_picks_the_quietest_channel() -> None:
    async def main() -> int:
        air = VirtualAir()
        air.channel_energy = {ch: 200 for ch in range(11, 27)}
        air.channel_energy[20] = 5
        app = VirtualControllerApplication({"nwk": {"channels": [15, 20, 25]}}, air=air)
        await app.startup(auto_form=True)
        channel = app.state.network_info.channel
        await app.shutdown()
        return channel

    assert run_virtual(main()) == 20


def test_network_survives_a_restart_of_the_application() -> None:
    async def main() -> None:
        air = VirtualAir()
        first = VirtualControllerApplication({}, air=air)
        await first.startup(auto_form=True)
        formed = first.state.network_info
        await first.shutdown()

        second = VirtualControllerApplication({}, air=air)
        await second.startup(auto_form=False)  # would raise if nothing were stored
        try:
            assert second.state.network_info.extended_pan_id == formed.extended_pan_id
            assert second.state.network_info.pan_id == formed.pan_id
            assert second.state.node_info.ieee == first.state.node_info.ieee
        finally:
            await second.shutdown()

        blank = VirtualControllerApplication(
            {"device": {"path": "virtual://another"}}, air=air
        )
        with pytest.raises(zigpy.exceptions.NetworkNotFormed):
            await blank.startup(auto_form=False)

    run_virtual(main())


def test_no_files_are_written_without_a_database_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))

    async def main() -> None:
        app = VirtualControllerApplication({}, air=VirtualAir())
        await app.startup(auto_form=True)
        await asyncio.sleep(3 * 3600)  # periodic backups and scans come due
        await app.shutdown()

    run_virtual(main())
    assert list(os.walk(tmp_path)) == [(str(tmp_path), [], [])]


def join_setup(**node_kwargs: object):
    air = VirtualAir()
    app = VirtualControllerApplication({}, air=air)
    ihd = SimNode(air, IHD_IEEE, [ihd_endpoint()], name="ihd", **node_kwargs)  # type: ignore[arg-type]
    return air, app, ihd


def test_join_appears_to_zigpy_as_a_real_join_and_is_interviewed() -> None:
    async def main() -> None:
        air, app, ihd = join_setup()
        joined: list[object] = []
        initialized: list[object] = []

        class Listener:
            def device_joined(self, device: object) -> None:
                joined.append(device)

            def device_initialized(self, device: object) -> None:
                initialized.append(device)

        app.add_listener(Listener())
        await app.startup(auto_form=True)
        await app.permit(60)
        nwk = await ihd.join()
        await asyncio.sleep(10)
        try:
            device = app.get_device(ieee=ihd.ieee)
            assert device.nwk == nwk
            assert joined == [device]
            assert device.is_initialized and device in initialized
            assert device.node_desc.is_end_device
            ep = device.endpoints[1]
            assert ep.profile_id == 0x0109 and ep.device_type == 0x0502
            assert set(ep.out_clusters) == {0x0702, 0x0700, 0x000A, 0x0703, 0x0800}
            # zigpy asks the node through its own ZDO client, over the air
            status, _, eps = await device.zdo.Active_EP_req(nwk)
            assert status == zdo_t.Status.SUCCESS and list(eps) == [1]
            await app.load_network_info(load_devices=True)
            assert app.state.network_info.nwk_addresses[ihd.ieee] == nwk
            assert ihd.ieee in app.state.network_info.children
        finally:
            await app.shutdown()

    run_virtual(main())


def test_join_is_refused_when_the_window_is_closed_or_has_expired() -> None:
    async def main() -> None:
        air, app, ihd = join_setup()
        await app.startup(auto_form=True)  # zigpy closes joining on startup
        try:
            with pytest.raises(JoinRefused):
                await ihd.join()
            await app.permit(30)
            await asyncio.sleep(31)
            with pytest.raises(JoinRefused):
                await ihd.join()
            assert ihd.ieee not in app.devices
        finally:
            await app.shutdown()

    run_virtual(main())


def test_permit_with_link_key_admits_only_the_right_key() -> None:
    async def main() -> None:
        key = t.KeyData(bytes(range(16)))
        air, app, ihd = join_setup(link_key=t.KeyData(bytes(16)))
        await app.startup(auto_form=True)
        try:
            await app.permit_with_link_key(ihd.ieee, key, time_s=60)
            with pytest.raises(JoinRefused):
                await ihd.join()
            ihd.link_key = key
            await ihd.join()
            assert ihd.joined
        finally:
            await app.shutdown()

    run_virtual(main())


def test_zigpy_remove_makes_the_node_leave() -> None:
    async def main() -> None:
        air, app, ihd = join_setup()
        await app.startup(auto_form=True)
        await app.permit(60)
        await ihd.join()
        await asyncio.sleep(5)
        try:
            await app.remove(ihd.ieee)
            await asyncio.sleep(5)
            assert not ihd.joined and ihd.nwk is None
            assert air.node_by_ieee(ihd.ieee) is None
            assert ihd.ieee not in app.devices
        finally:
            await app.shutdown()

    run_virtual(main())


def test_unicast_to_an_absent_node_is_a_delivery_failure() -> None:
    async def main() -> None:
        air, app, _ihd = join_setup()
        await app.startup(auto_form=True)
        try:
            with pytest.raises(zigpy.exceptions.DeliveryError):
                await app.send_packet(
                    t.ZigbeePacket(
                        dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x4321),
                        src_ep=1,
                        dst_ep=1,
                        profile_id=0x0109,
                        cluster_id=0x0702,
                        data=t.SerializableBytes(b"\x00\x01\x00\x00\x00"),
                        tx_options=t.TransmitOptions.ACK,
                    )
                )
        finally:
            await app.shutdown()

    run_virtual(main())


def test_database_path_keeps_joined_devices_across_restarts(tmp_path: Path) -> None:
    db = tmp_path / "zigbee.db"
    air = VirtualAir()

    async def first() -> None:
        app = VirtualControllerApplication({"database_path": str(db)}, air=air)
        await app._load_db()
        await app.startup(auto_form=True)
        await app.permit(60)
        await SimNode(air, IHD_IEEE, [ihd_endpoint()]).join()
        await asyncio.sleep(60)
        await app.shutdown()

    async def second() -> set[t.EUI64]:
        app = VirtualControllerApplication({"database_path": str(db)}, air=air)
        await app._load_db()
        await app.startup(auto_form=False)
        devices = set(app.devices)
        await app.shutdown()
        return devices

    run_virtual(first())
    assert db.exists()
    assert t.EUI64.convert(IHD_IEEE) in run_virtual(second())


def test_coordinator_receives_groupcasts_once_subscribed() -> None:
    async def main() -> None:
        air, app, ihd = join_setup()
        await app.startup(auto_form=True)
        await app.permit(60)
        await ihd.join()
        got: list[t.ZigbeePacket] = []
        original = app.packet_received

        def spy(packet: t.ZigbeePacket) -> None:
            if packet.dst.addr_mode == t.AddrMode.Group:
                got.append(packet)
            original(packet)

        app.packet_received = spy  # type: ignore[method-assign]
        groupcast = t.ZigbeePacket(
            src_ep=1,
            dst=t.AddrModeAddress(addr_mode=t.AddrMode.Group, address=0x0042),
            dst_ep=0xFF,
            profile_id=0x0109,
            cluster_id=0x0700,
            data=t.SerializableBytes(b"\x01\x01\x00"),
        )
        try:
            await ihd.send(groupcast)
            assert got == []
            await app.subscribe_to_multicast_group(0x0042)
            await ihd.send(groupcast)
            await asyncio.sleep(1)
            assert [p.dst.address for p in got] == [0x0042]
        finally:
            await app.shutdown()

    run_virtual(main())
