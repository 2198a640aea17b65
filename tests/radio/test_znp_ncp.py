"""The emulated Z-Stack NCP: MT bytes on the wire, and a real zigpy-znp client driving it.

Golden frames are written by hand from the Z-Stack Monitor and Test API
(SOF 0xFE, length, Cmd0 = type<<5 | subsystem, Cmd1 = id, payload LSB first,
FCS = XOR of length, command and payload).
"""

from __future__ import annotations

import asyncio
import functools
import json
import random

import pytest
import zigpy.config as zconf
import zigpy.exceptions
import zigpy.types as zt
import zigpy.zdo.types as zdo_t
import zigpy_znp.commands as c
import zigpy_znp.types as t
from zigpy_znp.exceptions import InvalidCommandResponse
from zigpy_znp.types.nvids import ExNvIds, OsalNvIds
from zigpy_znp.zigbee.application import ControllerApplication

from clusters.endpoints import esi_simple_descriptor
from han_emu.radio.fakencp.znp.server import (
    FakeZnpServer,
    MtStreamDecoder,
    decode_request,
    encode,
    serve_znp,
)
from han_emu.radio.fakencp.znp.device import FakeZStack
from han_emu.radio.fakencp.znp.nvram import ZnpNvram

SE_PROFILE = 0x0109
METER_NWK = 0x4A31
METER_IEEE = t.EUI64.convert("00:0d:6f:00:0a:bc:de:f1")
FORMATION = c.app_config.BDBCommissioningMode.NwkFormation


def fcs(body: bytes) -> int:
    """Independent MT checksum: XOR of everything between SOF and FCS."""
    return functools.reduce(lambda a, b: a ^ b, body, 0)


def mt(body_hex: str) -> bytes:
    body = bytes.fromhex(body_hex.replace(" ", ""))
    return b"\xfe" + body + bytes([fcs(body)])


# --------------------------------------------------------------- wire format
def test_ping_request_golden_parse() -> None:
    frames = MtStreamDecoder().feed(bytes.fromhex("FE 00 21 01 20"))
    assert len(frames) == 1
    assert isinstance(decode_request(frames[0]), c.SYS.Ping.Req)


def test_ping_response_golden_build() -> None:
    # SRSP SYS (0x61) 0x01, Capabilities 0x0659 = SYS|AF|ZDO|UTIL|GP|APP_CNF.
    reply = FakeZStack().handle(c.SYS.Ping.Req())
    assert [encode(cmd) for cmd in reply] == [bytes.fromhex("FE 02 61 01 59 06 3D")]


def test_incoming_msg_golden_build() -> None:
    data = bytes.fromhex("08 2A 01 00 00 00 25 10 27 00 00 00 00")  # ZCL read-attributes rsp
    cmd = _started_device(2).incoming_message(
        src_nwk=0x4A31, src_ep=1, dst_ep=2, cluster_id=0x0702, data=data, lqi=200, encrypted=True
    )
    expected = mt(
        "21 44 81"  # length 33, AREQ AF, AF_INCOMING_MSG
        " 00 00"  # group id
        " 02 07"  # cluster 0x0702
        " 31 4A"  # source 0x4A31
        " 01 02"  # src ep, dst ep
        " 00 C8 01"  # not broadcast, LQI 200, security used
        " 00 00 00 00"  # timestamp
        " 2A"  # TSN taken from the ZCL header
        " 0D 08 2A 01 00 00 00 25 10 27 00 00 00 00"  # length + data
        " 31 4A 00"  # MAC source, radius
    )
    assert encode(cmd) == expected


def test_data_request_ext_golden_parse() -> None:
    wire = mt(
        "17 24 02"  # length 23, SREQ AF, AF_DATA_REQUEST_EXT
        " 02 31 4A 00 00 00 00 00 00"  # NWK mode, 0x4A31, padded to 8 bytes
        " 01 00 00 02"  # dst ep 1, intra-PAN, src ep 2
        " 02 07 07 50 1E"  # cluster 0x0702, TSN 7, options ACK|SECURITY, radius 30
        " 03 00 18 07 0B"  # data length 3, data
    )
    (frame,) = MtStreamDecoder().feed(wire)
    req = decode_request(frame)
    assert isinstance(req, c.AF.DataRequestExt.Req)
    assert req.DstAddrModeAddress == t.AddrModeAddress(mode=t.AddrMode.NWK, address=0x4A31)
    fields = (req.DstEndpoint, req.SrcEndpoint, req.ClusterId, req.TSN, req.Radius)
    assert fields == (1, 2, 0x0702, 7, 30)
    assert req.Options == c.af.TransmitOptions.ACK_REQUEST | c.af.TransmitOptions.ENABLE_SECURITY
    assert bytes(req.Data) == b"\x18\x07\x0b"


def test_unknown_sreq_gets_rpc_error_golden() -> None:
    device = FakeZStack()
    (frame,) = MtStreamDecoder().feed(mt("00 21 50"))  # SREQ SYS 0x50: not a command
    assert decode_request(frame) is None
    reply = device.not_recognized(frame.header)
    # SRSP RPC error (0x60 0x00): InvalidCommandId, then the request's Cmd0 Cmd1.
    assert [encode(r) for r in reply] == [mt("03 60 00 02 21 50")]


def test_unsupported_subsystem_and_areq() -> None:
    device = FakeZStack()
    (reply,) = device.handle(c.MAC.ResetReq.Req(SetDefault=True))
    assert encode(reply) == mt("03 60 00 01 22 01")  # InvalidSubsystem, MAC_RESET_REQ
    # Asynchronous requests have no response channel: silently dropped.
    unknown_areq = t.CommandHeader(id=0x7E, subsystem=t.Subsystem.AF, type=t.CommandType.AREQ)
    assert device.not_recognized(unknown_areq) == []


def _started_device(*endpoints: int) -> FakeZStack:
    device = FakeZStack()
    device.handle(c.AppConfig.BDBStartCommissioning.Req(Mode=FORMATION))
    for ep in endpoints:
        device.handle(
            c.AF.Register.Req(
                Endpoint=ep, ProfileId=SE_PROFILE, DeviceId=0x0500, DeviceVersion=0,
                LatencyReq=c.af.LatencyReq.NoLatencyReqs, InputClusters=[0x0702], OutputClusters=[],
            )
        )
    return device


def _data_request(src_ep: int, dst_ep: int = 1, dst: int = METER_NWK, cluster: int = 0x0702,
                  data: bytes = b"\x18\x07\x0b") -> t.CommandBase:
    return c.AF.DataRequestExt.Req(
        DstAddrModeAddress=t.AddrModeAddress(mode=t.AddrMode.NWK, address=dst),
        DstEndpoint=dst_ep, DstPanId=0x0000, SrcEndpoint=src_ep, ClusterId=cluster, TSN=7,
        Options=c.af.TransmitOptions.ACK_REQUEST, Radius=30, Data=t.LongBytes(data),
    )


def test_data_request_gets_srsp_then_data_confirm_golden() -> None:
    device = _started_device(2)
    seen = []
    device.on_frame = seen.append
    reply = device.handle(_data_request(src_ep=2))
    assert [encode(r) for r in reply] == [
        mt("01 64 02 00"),  # SRSP AF_DATA_REQUEST_EXT, SUCCESS
        mt("03 44 80 00 02 07"),  # AF_DATA_CONFIRM: SUCCESS, endpoint 2, TSN 7
    ]
    (frame,) = seen
    assert (frame.src_endpoint, frame.profile_id) == (2, SE_PROFILE)
    assert frame.aps_ack and not frame.aps_encrypted


def test_data_request_refusals() -> None:
    device = _started_device(2)
    (rsp,) = device.handle(_data_request(src_ep=5))  # endpoint never registered
    assert encode(rsp) == mt("01 64 02 02")  # INVALID_PARAMETER
    idle = FakeZStack()
    (rsp,) = idle.handle(_data_request(src_ep=0, dst_ep=0))  # network not started
    assert rsp.Status == t.Status.NWK_INVALID_REQUEST


def test_zdo_active_ep_request_to_the_coordinator_golden() -> None:
    device = _started_device(1, 2)
    device.handle(c.ZDO.MsgCallbackRegister.Req(ClusterId=0xFFFF))
    active_ep_req = _data_request(src_ep=0, dst_ep=0, dst=0x0000, cluster=0x0005, data=b"\x33\0\0")
    reply = device.handle(active_ep_req)
    assert [encode(r) for r in reply] == [
        mt("01 64 02 00"),
        # ZDO_ACTIVE_EP_RSP: src 0x0000, SUCCESS, nwk 0x0000, 2 endpoints: 1, 2
        mt("08 45 85 00 00 00 00 00 02 01 02"),
        # ZDO_MSG_CB_INCOMING: src, unicast, cluster 0x8005, sec, TSN 0x33, MAC dst, ZDO payload
        mt("0F 45 FF 00 00 00 05 80 00 33 00 00 00 00 00 02 01 02"),
    ]


def test_incoming_message_size_limit() -> None:
    device = _started_device(2)
    biggest = device.incoming_message(src_nwk=1, src_ep=1, dst_ep=2, cluster_id=6, data=bytes(230))
    assert len(encode(biggest)) == 255
    with pytest.raises(ValueError):
        device.incoming_message(src_nwk=1, src_ep=1, dst_ep=2, cluster_id=6, data=bytes(231))


def test_decoder_resynchronises_on_garbage() -> None:
    ping = bytes.fromhex("FE 00 21 01 20")
    bad_fcs = bytes.fromhex("FE 00 21 01 21")
    too_long = bytes.fromhex("FE FF 00 00")
    decoder = MtStreamDecoder()
    frames = decoder.feed(b"\x00\x13" + bad_fcs + too_long + ping[:3])
    assert frames == []
    frames = decoder.feed(ping[3:] + b"\xfe")
    assert [f.header for f in frames] == [c.SYS.Ping.Req.header]
    assert decoder.dropped > 0


def test_decoder_survives_random_streams() -> None:
    rng = random.Random(1)
    decoder = MtStreamDecoder()
    for _ in range(200):
        decoder.feed(rng.randbytes(rng.randint(0, 64)))
    # Whatever state the garbage left, a good frame after a flushable gap decodes.
    decoder.feed(b"\x00" * 300)
    frames = decoder.feed(bytes.fromhex("FE 00 21 01 20"))
    assert frames and frames[-1].header == c.SYS.Ping.Req.header


# -------------------------------------------------------------------- NVRAM
def test_osal_items_are_legacy_items_of_the_new_nv_system() -> None:
    device = FakeZStack()
    device.handle(c.SYS.OSALNVItemInit.Req(Id=0x0401, ItemLen=2, Value=t.ShortBytes(b"\x01")))
    device.handle(
        c.SYS.NVWrite.Req(SysId=1, ItemId=0, SubId=0x0401, Offset=1, Value=t.ShortBytes(b"\x02"))
    )
    (rsp,) = device.handle(c.SYS.OSALNVReadExt.Req(Id=0x0401, Offset=0))
    assert rsp.Status == t.Status.SUCCESS and bytes(rsp.Value) == b"\x01\x02"
    (rsp,) = device.handle(c.SYS.OSALNVLength.Req(Id=0x0402))
    assert rsp.ItemLen == 0
    (rsp,) = device.handle(c.SYS.OSALNVDelete.Req(Id=0x0401, ItemLen=1))
    assert rsp.Status == t.Status.NV_BAD_ITEM_LEN


def test_nvram_json_round_trip(tmp_path) -> None:
    nv = ZnpNvram({(1, 0, 0x21): b"\x01\x02", (1, ExNvIds.ADDRMGR, 3): b"\xff" * 12})
    path = tmp_path / "nv.json"
    nv.save(path)
    doc = json.loads(path.read_text())
    assert {"sys": 1, "item": 0, "sub": 0x21, "value": "0102"} in doc["items"]
    assert ZnpNvram.load(path).keys() == nv.keys()
    assert ZnpNvram.load(path).read((1, 0, 0x21)) == b"\x01\x02"


def test_clear_state_reset_keeps_the_hardware_address() -> None:
    device = FakeZStack(ieee=t.EUI64.convert("00:12:4b:00:11:22:33:44"))
    device.handle(c.AppConfig.BDBStartCommissioning.Req(Mode=FORMATION))
    assert device.network_formed
    clear = t.StartupOptions.ClearState | t.StartupOptions.ClearConfig
    device.nvram.osal_set(OsalNvIds.STARTUP_OPTION, clear)
    (ind,) = device.handle(c.SYS.ResetReq.Req(Type=t.ResetType.Soft))
    assert isinstance(ind, c.SYS.ResetInd.Callback)
    assert not device.network_formed
    assert device.ieee == t.EUI64.convert("00:12:4b:00:11:22:33:44")
    assert device.nvram.osal_get(OsalNvIds.STARTUP_OPTION, t.StartupOptions) == 0


# ------------------------------------------------------ real zigpy-znp client
class SeCoordinator(ControllerApplication):
    """zigpy-znp as the han-emu ZNP backend uses it: HA on 1, an ESI on 2, Green Power."""

    async def register_endpoints(self) -> None:
        await self.add_endpoint(
            zdo_t.SimpleDescriptor(
                endpoint=1, profile=0x0104, device_type=0x0400, device_version=0,
                input_clusters=[0x0000], output_clusters=[],
            )
        )
        await self.add_endpoint(esi_simple_descriptor(2, key_establishment=False))
        # zigpy's Green Power manager broadcasts from 242 at startup.
        await self.add_endpoint(
            zdo_t.SimpleDescriptor(
                endpoint=242, profile=0xA1E0, device_type=0x0066, device_version=0,
                input_clusters=[0x0021], output_clusters=[0x0021],
            )
        )


def app_config(url: str) -> dict:
    return {
        zconf.CONF_DEVICE: {zconf.CONF_DEVICE_PATH: url},
        "znp_config": {
            "prefer_endpoint_1": False,
            "skip_bootloader": False,  # no pins on a TCP socket: skip the toggling delays
            "led_mode": None,  # the LED request has no answer on CC26x2: skip its timeout
        },
        zconf.CONF_NWK: {zconf.CONF_NWK_CHANNEL: 15},
        zconf.CONF_NWK_BACKUP_ENABLED: False,
        zconf.CONF_TOPO_SCAN_ENABLED: False,
        zconf.CONF_OTA: {zconf.CONF_OTA_ENABLED: False},
    }


@pytest.fixture
async def server():
    srv = await serve_znp("127.0.0.1", 0)
    try:
        yield srv
    finally:
        await srv.close()


async def started(srv: FakeZnpServer) -> ControllerApplication:
    app = SeCoordinator(app_config(srv.url))
    await asyncio.wait_for(app.startup(auto_form=True), 10)
    return app


async def test_zigpy_znp_forms_registers_receives_and_replies(server: FakeZnpServer) -> None:
    app = await started(server)
    try:
        assert server.device.network_formed
        assert app.state.network_info.channel == 15
        assert app.state.network_info.network_key.key == server.device.network_key

        esi = server.endpoints[2]
        expected = esi_simple_descriptor(2, key_establishment=False)
        assert esi.profile_id == SE_PROFILE
        assert list(esi.input_clusters) == expected.input_clusters
        assert list(esi.output_clusters) == expected.output_clusters

        # Incoming: a meter's frame to our ESI endpoint reaches zigpy intact.
        seen: list[zt.ZigbeePacket] = []
        got = asyncio.Event()
        original = app.packet_received

        def spy(packet: zt.ZigbeePacket) -> None:
            if packet.dst_ep != 0:  # leave the coordinator's own ZDO traffic aside
                seen.append(packet)
                got.set()
            original(packet)

        app.packet_received = spy  # type: ignore[method-assign]
        zcl = bytes.fromhex("00 11 00 00 00")  # read attribute 0x0000, TSN 0x11
        server.inject_incoming(METER_NWK, METER_IEEE, 1, 2, 0x0702, zcl, lqi=180, encrypted=True)
        await asyncio.wait_for(got.wait(), 5)
        (packet,) = seen
        assert packet.src == zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=METER_NWK)
        assert (packet.src_ep, packet.dst_ep, packet.cluster_id) == (1, 2, 0x0702)
        assert packet.profile_id == SE_PROFILE
        assert packet.data.serialize() == zcl
        assert packet.tsn == 0x11 and packet.lqi == 180
        assert zt.TransmitOptions.APS_Encryption in packet.tx_options

        # Outgoing: the reply leaves from endpoint 2 (not 1) and is confirmed.
        drain(server)  # startup traffic (ZDO to itself, Green Power broadcast)
        reply = bytes.fromhex("18 11 01 00 00 00 25 00 00 00 00 00 00")
        await asyncio.wait_for(
            app.send_packet(
                zt.ZigbeePacket(
                    src=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=0x0000),
                    src_ep=2,
                    dst=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=METER_NWK),
                    dst_ep=1,
                    tsn=0x11,
                    profile_id=SE_PROFILE,
                    cluster_id=0x0702,
                    data=zt.SerializableBytes(reply),
                    tx_options=zt.TransmitOptions.ACK | zt.TransmitOptions.APS_Encryption,
                    radius=0,
                )
            ),
            5,
        )
        frames = drain(server)
        (sent,) = frames
        assert sent.src_endpoint == 2
        assert sent.profile_id == SE_PROFILE
        assert (sent.dst_addr_mode, sent.dst_addr) == (t.AddrMode.NWK, METER_NWK)
        assert sent.dst_endpoint == 1
        assert (sent.cluster_id, sent.tsn, sent.data) == (0x0702, 0x11, reply)
        assert sent.aps_ack and sent.aps_encrypted

        # A further endpoint through the plain client API; duplicates are refused.
        await app.add_endpoint(esi_simple_descriptor(3, key_establishment=True))
        assert server.endpoints[3].profile_id == SE_PROFILE
        assert 0x0800 in server.endpoints[3].input_clusters
        with pytest.raises(InvalidCommandResponse):
            await app.add_endpoint(esi_simple_descriptor(2, key_establishment=False))
    finally:
        await app.shutdown()


def drain(srv: FakeZnpServer) -> list:
    out = []
    while not srv.frames.empty():
        out.append(srv.frames.get_nowait())
    return out


async def test_failed_delivery_surfaces_as_delivery_error(server: FakeZnpServer) -> None:
    app = await started(server)
    try:
        server.device.confirm_status = lambda frame: t.Status.MAC_NO_ACK
        packet = zt.ZigbeePacket(
            src=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=0x0000),
            src_ep=2,
            dst=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=METER_NWK),
            dst_ep=1,
            tsn=1,
            profile_id=SE_PROFILE,
            cluster_id=0x0702,
            data=zt.SerializableBytes(b"\x18\x01\x0b\x00\x00"),
        )
        with pytest.raises(zigpy.exceptions.DeliveryError):
            await asyncio.wait_for(app.send_packet(packet), 5)
    finally:
        await app.shutdown()


async def test_device_join_reaches_zigpy(server: FakeZnpServer) -> None:
    app = await started(server)
    try:
        joined = asyncio.Event()

        class Listener:
            def device_joined(self, device) -> None:
                joined.set()

        app.add_listener(Listener())
        server.inject_device_join(METER_NWK, METER_IEEE)
        await asyncio.wait_for(joined.wait(), 5)
        assert app.get_device(ieee=METER_IEEE).nwk == METER_NWK
        # zigpy starts interviewing the device: its ZDO request is handed to the air.
        frame = await asyncio.wait_for(server.frames.get(), 5)
        while frame.dst_endpoint != 0 or frame.dst_addr != METER_NWK:
            frame = await asyncio.wait_for(server.frames.get(), 5)
        assert frame.profile_id == 0 and frame.cluster_id == zdo_t.ZDOCmd.Node_Desc_req
    finally:
        await app.shutdown()


async def test_restart_resumes_the_same_network(tmp_path) -> None:
    state = tmp_path / "znp-nv.json"
    async with FakeZnpServer(state_path=state) as srv:
        app = await started(srv)
        first = app.state.network_info
        await app.shutdown()
    assert state.exists()

    async with FakeZnpServer(state_path=state) as srv:
        assert srv.device.network_formed
        app = SeCoordinator(app_config(srv.url))
        await asyncio.wait_for(app.startup(auto_form=False), 10)  # no formation allowed
        try:
            again = app.state.network_info
            assert (again.extended_pan_id, again.pan_id, again.channel) == (
                first.extended_pan_id,
                first.pan_id,
                first.channel,
            )
            assert again.network_key.key == first.network_key.key
            assert app.state.node_info.ieee == srv.device.ieee
            assert srv.endpoints[2].profile_id == SE_PROFILE
        finally:
            await app.shutdown()


async def test_garbage_on_the_socket_does_not_kill_the_ncp(server: FakeZnpServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        rng = random.Random(7)
        writer.write(rng.randbytes(4096))
        writer.write(b"\xfe\x05\x61\x01\x00" + b"\x00" * 300)  # truncated frame, then flush
        writer.write(bytes.fromhex("FE 00 21 01 20"))  # SYS_PING
        await writer.drain()
        want = bytes.fromhex("FE 02 61 01 59 06 3D")
        buf = b""
        while want not in buf:
            buf += await asyncio.wait_for(reader.read(4096), 5)
    finally:
        writer.close()
        await writer.wait_closed()
    # and a real client still gets in afterwards
    app = await started(server)
    await app.shutdown()
