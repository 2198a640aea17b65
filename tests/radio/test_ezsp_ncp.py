"""The emulated EZSP NCP: ASH and EZSP bytes against UG101/UG100, and an
unmodified bellows ControllerApplication driving it over socket://."""

from __future__ import annotations

import asyncio
import binascii
import random
from pathlib import Path

import bellows.ezsp
import bellows.types as bt
import pytest
import zigpy.config as zc
import zigpy.exceptions
import zigpy.types as zt
import zigpy.zdo.types as zdo_t
from bellows.zigbee.application import ControllerApplication

from han_emu.radio.fakencp.ezsp import ash
from han_emu.radio.fakencp.ezsp.server import FakeEzspServer, serve_ezsp
from han_emu.radio.fakencp.ezsp.ncp import EzspNcp
from han_emu.radio.fakencp.ezsp.state import Tokens

SE_PROFILE = 0x0109
METERING = 0x0702
IHD_NWK = 0x4A7B
IHD_IEEE = zt.EUI64.convert("00:0d:6f:00:0a:bc:de:f1")
ESI_EP = 9  # zigpy itself takes endpoints 1 (HA), 2 (ZLL) and 242 (GP)
ESI_ENDPOINT = zdo_t.SimpleDescriptor(
    endpoint=ESI_EP,
    profile=SE_PROFILE,
    device_type=0x0500,
    device_version=0,
    input_clusters=[0x0000, 0x000A, 0x0700, METERING],
    output_clusters=[0x0703],
)


def crc(data: bytes) -> bytes:
    """CRC-CCITT (init 0xFFFF) big-endian, computed by the standard library."""
    return binascii.crc_hqx(data, 0xFFFF).to_bytes(2, "big")


# ---------------------------------------------------------------------------
# ASH, byte level (examples from UG101)
# ---------------------------------------------------------------------------


class Wire(asyncio.Transport):
    """A transport that records what the NCP writes."""

    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.out += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data = bytes(self.out)
        self.out.clear()
        return data


def make_link(**kwargs) -> tuple[ash.AshNcp, Wire, list[bytes]]:
    received: list[bytes] = []
    link = ash.AshNcp(received.append, **kwargs)
    wire = Wire()
    link.connection_made(wire)
    return link, wire, received


@pytest.mark.parametrize(
    ("raw", "stuffed"),
    [
        (b"\x7e", b"\x7d\x5e"),
        (b"\x7d", b"\x7d\x5d"),
        (b"\x11", b"\x7d\x31"),
        (b"\x13", b"\x7d\x33"),
        (b"\x18", b"\x7d\x38"),
        (b"\x1a", b"\x7d\x3a"),
        (b"\x00\x42\x7f", b"\x00\x42\x7f"),
    ],
)
def test_byte_stuffing_both_ways(raw: bytes, stuffed: bytes) -> None:
    assert ash.stuff(raw) == stuffed
    assert ash.unstuff(stuffed) == raw


def test_unstuff_rejects_escape_of_ordinary_byte() -> None:
    with pytest.raises(ash.ParsingError):
        ash.unstuff(b"\x7d\x01")


def test_control_frames_match_ug101_examples() -> None:
    assert ash.encode(ash.RstFrame()) == bytes.fromhex("C038BC7E")
    assert ash.encode(ash.AckFrame(res=0, ncp_ready=0, ack_num=1)) == bytes.fromhex("8160597E")
    assert ash.encode(ash.NakFrame(res=0, ncp_ready=0, ack_num=6)) == bytes.fromhex("A634DC7E")


async def test_rst_after_cancel_bytes_is_answered_with_rstack() -> None:
    resets: list[bool] = []
    received: list[bytes] = []
    link = ash.AshNcp(received.append, on_reset=lambda: resets.append(True))
    wire = Wire()
    link.connection_made(wire)
    link.data_received(b"\x1a" * 32 + bytes.fromhex("C038BC7E"))
    # RSTACK(2, RESET_SOFTWARE=0x0B)
    assert wire.take() == bytes.fromhex("C1020B") + crc(bytes.fromhex("C1020B")) + b"\x7e"
    assert resets == [True]


async def test_power_on_rstack_on_connect_matches_ug101() -> None:
    link, wire, _ = make_link(rstack_on_connect=0.0)
    await asyncio.sleep(0.01)
    assert wire.take() == bytes.fromhex("C102029B7B7E")


async def test_data_frame_from_host_is_derandomised_and_acked() -> None:
    link, wire, received = make_link()
    link.rx_seq = 2
    # UG101: DATA(2, 5, 0) carrying the EZSP "version" command 00 00 00 02
    link.data_received(bytes.fromhex("254221A856A6097E"))
    assert received == [bytes.fromhex("00000002")]
    assert wire.take() == bytes([0x83]) + crc(b"\x83") + b"\x7e"  # ACK(3)
    assert link.rx_seq == 3


async def test_data_frame_to_host_is_randomised_like_ug101() -> None:
    link, wire, _ = make_link()
    link.tx_seq, link.rx_seq = 5, 3
    link.send(bytes.fromhex("00800002021130"))  # the "version" response
    # UG101's non-randomised example pins the CRC: 53 00 80 00 02 02 11 30 -> 63 16
    assert crc(bytes.fromhex("5300800002021130")) == bytes.fromhex("6316")
    # its randomised example gives 53 42 A1 A8 56 28 04 82 as the frame; the CRC
    # printed beside it (96 23) does not check against those bytes, so it is recomputed
    frame = bytes.fromhex("5342A1A856280482")
    assert wire.take() == frame + crc(frame) + b"\x7e"
    link.close()


async def test_bad_crc_is_naked_once_then_recovered() -> None:
    link, wire, received = make_link()
    good = bytes.fromhex("004221A850")  # DATA(0, 0, 0): version(4), legacy header
    assert crc(good) == bytes.fromhex("ED2C")  # the frame bellows sends first
    bad = good + b"\xed\x2d\x7e"
    link.data_received(bad)
    assert crc(b"\xa0") == b"\x54\x1a"
    assert wire.take() == bytes.fromhex("A0547D3A7E")  # NAK(0), CRC byte 0x1A escaped
    link.data_received(bad)
    assert wire.take() == b""  # already in the reject condition: no second NAK
    link.data_received(good + crc(good) + b"\x7e")
    assert received == [bytes.fromhex("00000004")]
    assert wire.take() == bytes([0x81]) + crc(b"\x81") + b"\x7e"
    assert not link.rejecting


async def test_out_of_sequence_data_is_naked_and_retransmission_reacked() -> None:
    link, wire, received = make_link()
    frame = bytes([0x10]) + bytes.fromhex("4221A850")  # DATA(1, 0, 0): skips frame 0
    link.data_received(frame + crc(frame) + b"\x7e")
    assert wire.take()[:1] == b"\xa0" and received == []
    resent = bytes([0x08]) + bytes.fromhex("4221A850")  # DATA(0, 0, 1): reTx of an old frame
    link.rx_seq = 1
    link.data_received(resent + crc(resent) + b"\x7e")
    assert wire.take() == bytes([0x81]) + crc(b"\x81") + b"\x7e"
    assert received == []  # a duplicate is acknowledged, not delivered twice


async def test_unacknowledged_frame_is_retransmitted_with_retx_flag() -> None:
    link, wire, _ = make_link(t_rx_ack=0.05)
    link.send(b"\x00\x80\x00")
    first = wire.take()
    assert first[0] == 0x00  # DATA(0, 0, 0)
    await asyncio.sleep(0.08)
    again = wire.take()
    assert again[0] == 0x08  # DATA(0, 0, 1): same frame, retransmit bit set
    assert again[1:-3] == first[1:-3]
    link.data_received(bytes([0x81]) + crc(b"\x81") + b"\x7e")  # ACK(1)
    assert link.idle
    await asyncio.sleep(0.12)
    assert wire.take() == b""
    link.close()


async def test_nak_from_host_triggers_immediate_retransmission() -> None:
    link, wire, _ = make_link()
    link.send(b"\x00\x80\x00")
    wire.take()
    link.data_received(bytes.fromhex("A0547D3A7E"))  # NAK(0)
    assert wire.take()[0] == 0x08
    link.close()


async def test_garbage_never_breaks_the_link() -> None:
    link, wire, received = make_link()
    rng = random.Random(184)
    for _ in range(200):
        link.data_received(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))))
    link.data_received(b"\x7e\x7d\x7e\x18\x00\x7e" + b"\x55" * 2000 + b"\x7e")
    wire.take()
    link.data_received(bytes.fromhex("C038BC7E"))
    assert wire.take().startswith(bytes.fromhex("C1020B"))
    link.close()


# ---------------------------------------------------------------------------
# EZSP, byte level (UG100 frame layout, v13 parameter encodings)
# ---------------------------------------------------------------------------


def make_ncp() -> tuple[EzspNcp, list[bytes]]:
    out: list[bytes] = []
    ncp = EzspNcp(out.append, tokens=Tokens(eui64=bt.EUI64.convert("00:0b:57:ff:fe:12:34:56")))
    ncp.handle_frame(bytes.fromhex("00000004"))  # legacy version(4)
    ncp.handle_frame(bytes.fromhex("010001" "0000" "0D"))  # extended version(13)
    return ncp, out


def test_version_negotiation_bytes() -> None:
    ncp, out = make_ncp()
    # legacy response: seq, 0x80, id 0x00, protocol 13, stack type 2, stack 0x7320
    assert out[0] == bytes.fromhex("0080000D022073")
    assert out[1] == bytes.fromhex("018001" "0000" "0D022073")


def test_commands_before_version_are_refused() -> None:
    out: list[bytes] = []
    ncp = EzspNcp(out.append)
    ncp.handle_frame(bytes.fromhex("050001" "2600"))  # getEui64
    assert out == [bytes.fromhex("058001" "5800" "30")]  # invalidCommand(VERSION_NOT_SET)


def test_unknown_frame_id_is_an_invalid_command() -> None:
    ncp, out = make_ncp()
    ncp.handle_frame(bytes.fromhex("080001" "3412"))
    assert out[-1] == bytes.fromhex("088001" "5800" "31")  # ERROR_INVALID_FRAME_ID
    assert ncp.unknown_commands == [0x1234]


def test_get_eui64_and_network_state() -> None:
    ncp, out = make_ncp()
    ncp.handle_frame(bytes.fromhex("090001" "2600"))
    assert out[-1] == bytes.fromhex("098001" "2600" "563412FEFF570B00")
    ncp.handle_frame(bytes.fromhex("0A0001" "1800"))
    assert out[-1] == bytes.fromhex("0A8001" "1800" "00")  # NO_NETWORK


def test_add_endpoint_records_se_endpoint() -> None:
    ncp, out = make_ncp()
    frame = bytes.fromhex(
        "070001" "0200"  # addEndpoint
        "02" "0901" "0005" "00"  # endpoint 2, profile 0x0109, device 0x0500, version 0
        "02" "01"  # two input clusters, one output
        "0207" "0007" "0307"
    )
    ncp.handle_frame(frame)
    assert out[-1] == bytes.fromhex("078001" "0200" "00")
    ep = ncp.ram.endpoints[2]
    assert (ep.profile_id, ep.device_id) == (SE_PROFILE, 0x0500)
    assert ep.input_clusters == (0x0702, 0x0700) and ep.output_clusters == (0x0703,)
    ncp.handle_frame(frame.replace(b"\x07\x00\x01", b"\x08\x00\x01", 1))
    assert out[-1] == bytes.fromhex("088001" "0200" "36")  # duplicate: ERROR_INVALID_VALUE
    ncp.reset()
    assert ncp.ram.endpoints == {} and ncp.endpoint_log[0] == ep


def test_form_network_answers_then_reports_network_up() -> None:
    ncp, out = make_ncp()
    params = (
        "0102030405060708" "3412" "08" "0F" "00" "0000" "00" "00800000"
    )  # EPID, PAN 0x1234, 8 dBm, channel 15, MAC association, manager 0, update 0, mask ch 15
    ncp.handle_frame(bytes.fromhex("0B0001" "1E00" + params))
    assert out[-2] == bytes.fromhex("0B8001" "1E00" "00")
    assert out[-1] == bytes.fromhex("0B9001" "1900" "90")  # async stackStatusHandler(NETWORK_UP)
    ncp.handle_frame(bytes.fromhex("0C0001" "2800"))  # getNetworkParameters
    assert out[-1] == bytes.fromhex("0C8001" "2800" "00" "01" + params)
    ncp.handle_frame(bytes.fromhex("0D0001" "5300" "1100" "0A00"))  # setConfigurationValue after up
    assert out[-1] == bytes.fromhex("0D8001" "5300" "38")  # ERROR_INVALID_CALL


def test_duty_cycle_commands_and_callback_bytes() -> None:
    ncp, out = make_ncp()
    ncp.handle_frame(bytes.fromhex("050001" "3500"))
    assert out[-1] == bytes.fromhex("058001" "3500" "00" "01")  # SUCCESS, LBT normal
    ncp.handle_frame(bytes.fromhex("060001" "4B00"))
    # limits in hundredths of a percent: 1.00 %, 1.80 %, 2.50 %
    assert out[-1] == bytes.fromhex("068001" "4B00" "00" "6400" "B400" "FA00")
    ncp.handle_frame(bytes.fromhex("070001" "4000" "9600" "DC00" "F401"))
    assert out[-1] == bytes.fromhex("078001" "4000" "00")
    ncp.handle_frame(bytes.fromhex("080001" "4000" "F401" "DC00" "9600"))  # not ascending
    assert out[-1] == bytes.fromhex("088001" "4000" "02")  # BAD_ARGUMENT
    ncp.duty_cycle.consumed = {0x0000: 300, IHD_NWK: 12}
    ncp.handle_frame(bytes.fromhex("090001" "4C00" "04"))
    expected = bytes.fromhex("00002C01" "7B4A0C00").ljust(134, b"\xff")
    assert out[-1] == bytes.fromhex("098001" "4C00" "00") + expected
    ncp.duty_cycle.state = bt.EmberDutyCycleState.DUTY_CYCLE_LBT_LIMITED_THRESHOLD_REACHED
    ncp.duty_cycle_callback()
    assert out[-1] == bytes.fromhex("099001" "4D00" "1C" "00" "02" "02" "00002C01" "7B4A0C00")


def test_zdo_answers_from_endpoint_table() -> None:
    ncp, _ = make_ncp()
    ncp.handle_frame(bytes.fromhex("070001" "0200" "02" "0901" "0005" "00" "01" "00" "0207"))
    # Active_EP_req(tsn 0x11, NWK 0x0000)
    assert ncp.zdo_answer(0x0005, bytes.fromhex("110000")) == (0x8005, bytes.fromhex("11" "00" "0000" "01" "02"))
    # Simple_Desc_req(tsn 0x12, NWK 0x0000, endpoint 2)
    assert ncp.zdo_answer(0x0004, bytes.fromhex("12000002")) == (
        0x8004,
        bytes.fromhex("12" "00" "0000" "0A" "02" "0901" "0005" "00" "01" "0207" "00"),
    )
    assert ncp.zdo_answer(0x0004, bytes.fromhex("13000009"))[1] == bytes.fromhex("13" "83" "0000" "00")


# ---------------------------------------------------------------------------
# bellows against the fake over socket://
# ---------------------------------------------------------------------------


class RecordingApp(ControllerApplication):
    """bellows' application, intercepting Smart Energy frames as han-emu's backend does."""

    def __init__(self, config: dict) -> None:
        super().__init__(config)
        self.se_packets: asyncio.Queue[zt.ZigbeePacket] = asyncio.Queue()

    def packet_received(self, packet: zt.ZigbeePacket) -> None:
        if packet.profile_id == SE_PROFILE:
            self.se_packets.put_nowait(packet)
            return
        super().packet_received(packet)


def app_config(url: str, **extra) -> dict:
    return {
        zc.CONF_DEVICE: {zc.CONF_DEVICE_PATH: url},
        zc.CONF_DATABASE: None,
        zc.CONF_NWK: {zc.CONF_NWK_CHANNEL: 15},
        zc.CONF_ADDITIONAL_ENDPOINTS: [ESI_ENDPOINT.as_dict()],
        zc.CONF_NWK_BACKUP_ENABLED: False,
        zc.CONF_TOPO_SCAN_ENABLED: False,
        zc.CONF_WATCHDOG_ENABLED: False,
        zc.CONF_OTA: {zc.CONF_OTA_ENABLED: False},
        "use_thread": False,
        **extra,
    }


@pytest.fixture(autouse=True)
def short_bellows_startup_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """bellows waits 2 s for a spontaneous RSTACK on socket:// before resetting."""
    monkeypatch.setattr(bellows.ezsp, "NETWORK_COORDINATOR_STARTUP_RESET_WAIT", 0.05)


@pytest.fixture
async def server(tmp_path: Path):
    srv = await serve_ezsp("127.0.0.1", 0, state_path=str(tmp_path / "ncp.json"))
    yield srv
    await srv.close()


async def start_app(url: str, **extra) -> RecordingApp:
    app = RecordingApp(app_config(url, **extra))
    await asyncio.wait_for(app.startup(auto_form=True), 10)
    return app


async def test_bellows_forms_registers_se_endpoint_receives_and_replies(server: FakeEzspServer) -> None:
    app = await start_app(server.url)
    try:
        assert server.network_up and server.tokens.formed
        assert app.state.network_info.channel == 15
        assert app.state.node_info.ieee == server.tokens.eui64
        assert app.state.network_info.network_key.key == zt.KeyData(server.tokens.network_key)
        registered = [e for e in server.endpoint_log if e.profile_id == SE_PROFILE]
        assert registered and registered[0].endpoint == ESI_EP
        assert registered[0].input_clusters == (0x0000, 0x000A, 0x0700, METERING)
        assert registered[0].output_clusters == (0x0703,)

        read_attrs = bytes.fromhex("00" "21" "00" "0000")  # ZCL Read Attributes 0x0000, tsn 0x21
        server.inject_incoming(IHD_NWK, IHD_IEEE, 1, ESI_EP, SE_PROFILE, METERING, read_attrs, lqi=200, encrypted=True)
        packet = await asyncio.wait_for(app.se_packets.get(), 2)
        assert packet.src.address == IHD_NWK and packet.src_ep == 1 and packet.dst_ep == ESI_EP
        assert (packet.profile_id, packet.cluster_id) == (SE_PROFILE, METERING)
        assert packet.data.serialize() == read_attrs and packet.lqi == 200
        assert zt.TransmitOptions.APS_Encryption in packet.tx_options

        startup = server.sent_nowait()
        # zigpy's startup permit(0) goes out as a ZDO Mgmt_Permit_Joining broadcast
        assert any(
            m.kind == "broadcast" and m.destination == 0xFFFC and m.cluster_id == 0x0036 for m in startup
        )
        reply = bytes.fromhex("18" "21" "01" "0000" "00" "25" "102700000000")
        await app.send_packet(
            zt.ZigbeePacket(
                src=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=0x0000),
                src_ep=ESI_EP,
                dst=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=IHD_NWK),
                dst_ep=1,
                tsn=0x21,
                profile_id=SE_PROFILE,
                cluster_id=METERING,
                data=zt.SerializableBytes(reply),
                tx_options=zt.TransmitOptions.APS_Encryption | zt.TransmitOptions.ACK,
            )
        )
        sent = await server.sent(timeout=2)
        assert (sent.kind, sent.destination) == ("unicast", IHD_NWK)
        assert (sent.src_ep, sent.dst_ep, sent.profile_id, sent.cluster_id) == (ESI_EP, 1, SE_PROFILE, METERING)
        assert sent.tsn == 0x21 and sent.data == reply and sent.encrypted
        assert sent.options & bt.EmberApsOption.APS_OPTION_RETRY
    finally:
        await app.shutdown()


async def test_delivery_failure_reaches_zigpy(server: FakeEzspServer) -> None:
    app = await start_app(server.url)
    try:
        server.unreachable.add(IHD_NWK)
        with pytest.raises(zigpy.exceptions.DeliveryError):
            await app.send_packet(
                zt.ZigbeePacket(
                    src=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=0x0000),
                    src_ep=ESI_EP,
                    dst=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=IHD_NWK),
                    dst_ep=1,
                    tsn=1,
                    profile_id=SE_PROFILE,
                    cluster_id=METERING,
                    data=zt.SerializableBytes(b"\x18\x01\x0b\x00\x00"),
                )
            )
    finally:
        await app.shutdown()


async def test_restart_resumes_the_same_network(tmp_path: Path) -> None:
    state = str(tmp_path / "ncp.json")
    first = await serve_ezsp("127.0.0.1", 0, state_path=state)
    app = await start_app(first.url)
    info = app.state.network_info
    await app.shutdown()
    await first.close()

    second = FakeEzspServer("127.0.0.1", 0, state_path=state, rstack_on_connect=0.02)
    await second.start()
    app = await start_app(second.url)
    try:
        again = app.state.network_info
        # zigpy forms with a random PAN and key: equality means nothing was re-formed
        assert (again.pan_id, again.extended_pan_id, again.channel) == (info.pan_id, info.extended_pan_id, info.channel)
        assert again.network_key.key == info.network_key.key
        assert again.stack_specific == info.stack_specific  # the hashed TC link key survived
        assert app.state.node_info.ieee == second.tokens.eui64
        # resuming registers the endpoints after the last reset: they stay in the table
        assert second.endpoints[ESI_EP].profile_id == SE_PROFILE
        assert second.link is not None and second.link.stats["resets"] == 1  # the power-on RSTACK
    finally:
        await app.shutdown()
        await second.close()


async def test_device_join_and_duty_cycle_through_bellows(server: FakeEzspServer) -> None:
    app = await start_app(server.url)
    try:
        server.sent_nowait()
        server.inject_device_join(IHD_NWK, IHD_IEEE)
        await asyncio.sleep(0.1)
        device = app.get_device(ieee=IHD_IEEE)
        assert device.nwk == IHD_NWK
        assert server.tokens.children[bt.EUI64(IHD_IEEE)] == IHD_NWK
        # zigpy starts interviewing the new device through the NCP
        interview = await server.sent(timeout=2)
        assert (interview.destination, interview.profile_id, interview.cluster_id) == (IHD_NWK, 0, 0x0002)

        assert not server.ncp.permit_joining
        await app.permit(5)
        assert server.ncp.permit_joining

        status, state = await app._ezsp.getDutyCycleState()
        assert (status, state) == (bt.EmberStatus.SUCCESS, bt.EmberDutyCycleState.DUTY_CYCLE_LBT_NORMAL)
        status, array = await app._ezsp.getCurrentDutyCycle(maxDevices=2)
        assert status == bt.EmberStatus.SUCCESS and bytes(array[:4]) == b"\x00\x00\x00\x00"

        seen: asyncio.Queue[list] = asyncio.Queue()
        app._ezsp.add_callback(lambda name, args: seen.put_nowait(args) if name == "dutyCycleHandler" else None)
        server.emit_duty_cycle(
            state=bt.EmberDutyCycleState.DUTY_CYCLE_LBT_CRITICAL_THRESHOLD_REACHED, consumed={0x0000: 7500}
        )
        page, channel, state, devices = await asyncio.wait_for(seen.get(), 2)
        assert (page, state) == (28, bt.EmberDutyCycleState.DUTY_CYCLE_LBT_CRITICAL_THRESHOLD_REACHED)
        assert [(d.nodeId, d.dutyCycleConsumed) for d in devices] == [(0x0000, 7500)]
    finally:
        await app.shutdown()


async def test_ihd_discovery_is_answered_by_the_ncp(server: FakeEzspServer) -> None:
    app = await start_app(server.url, **{zc.CONF_NWK: {zc.CONF_NWK_CHANNEL: 20}})
    try:
        assert server.endpoints == {}  # forming reset the NCP after bellows registered them
        server.sent_nowait()
        server.inject_incoming(IHD_NWK, IHD_IEEE, 0, 0, 0x0000, 0x0005, bytes.fromhex("330000"), encrypted=False)
        answer = await server.sent(timeout=2)
        assert (answer.destination, answer.cluster_id, answer.data) == (IHD_NWK, 0x8005, bytes.fromhex("3300000000"))
    finally:
        await app.shutdown()


class CorruptingProxy:
    """A TCP relay that damages chosen ASH DATA frames on their way."""

    def __init__(self, target_port: int, *, corrupt_host_data: set[int], drop_ncp_data: set[int]) -> None:
        self.target_port = target_port
        self.corrupt_host_data = corrupt_host_data
        self.drop_ncp_data = drop_ncp_data
        self.damaged = 0
        self.server: asyncio.Server | None = None
        self.tasks: list[asyncio.Task] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.tasks += [
            asyncio.create_task(self._pump(reader, up_writer, self._damage_host)),
            asyncio.create_task(self._pump(up_reader, writer, self._damage_ncp)),
        ]

    async def _pump(self, reader, writer, damage) -> None:
        buffer = b""
        count = [0]
        try:
            while data := await reader.read(4096):
                buffer += data
                *frames, buffer = buffer.split(b"\x7e")
                out = b""
                for frame in frames:
                    out += damage(frame, count) + b"\x7e"
                writer.write(out)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    @staticmethod
    def _is_data(frame: bytes) -> bool:
        body = frame.lstrip(b"\x1a")
        if not body:
            return False
        control = body[1] ^ 0x20 if body[0] == 0x7D else body[0]
        return control & 0x80 == 0

    def _damage_host(self, frame: bytes, count: list[int]) -> bytes:
        if not self._is_data(frame):
            return frame
        count[0] += 1
        if count[0] in self.corrupt_host_data:
            self.damaged += 1
            return frame[:-1] + bytes([frame[-1] ^ 0x40 if frame[-1] ^ 0x40 not in ash.RESERVED else frame[-1] ^ 0x04])
        return frame

    def _damage_ncp(self, frame: bytes, count: list[int]) -> bytes:
        if not self._is_data(frame):
            return frame
        count[0] += 1
        if count[0] in self.drop_ncp_data:
            self.damaged += 1
            return b""
        return frame

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.server is not None:
            self.server.close()


async def test_ash_corruption_is_recovered_by_retransmission(tmp_path: Path) -> None:
    srv = FakeEzspServer("127.0.0.1", 0, state_path=str(tmp_path / "ncp.json"), t_rx_ack=0.2)
    await srv.start()
    proxy = CorruptingProxy(srv.port, corrupt_host_data={4, 9}, drop_ncp_data={6, 12})
    port = await proxy.start()
    app = await start_app(f"socket://127.0.0.1:{port}")
    try:
        assert app.state.network_info.channel == 15 and srv.network_up
        assert proxy.damaged == 4
        stats = srv.link.stats
        assert stats["naks_sent"] >= 2 and stats["rx_bad"] >= 2  # bad CRCs were refused...
        assert stats["retransmits"] >= 2  # ...and the dropped frames were sent again
    finally:
        await app.shutdown()
        await proxy.close()
        await srv.close()


async def test_raw_garbage_over_tcp_does_not_crash_the_server(server: FakeEzspServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    rng = random.Random(42)
    writer.write(bytes(rng.randrange(256) for _ in range(5000)))
    # a well-framed DATA frame whose EZSP content is nonsense
    junk = bytes([0x00, 0x42 ^ 0x07])
    writer.write(ash.stuff(junk + crc(junk)) + b"\x7e")
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.write(b"\x1a" + bytes.fromhex("C038BC7E"))
    await writer.drain()
    data = b""
    while bytes.fromhex("C1020B") not in data:
        data += await asyncio.wait_for(reader.read(1024), 2)
    writer.close()
    # the server still serves a real host afterwards
    app = await start_app(server.url)
    try:
        assert server.network_up
    finally:
        await app.shutdown()
