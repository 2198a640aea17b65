"""Radio backends: choosing one from the command line, the zigpy configuration it
gets, and the Z-Stack backend carrying the ESI server against the emulated NCP.

ZCL frames below are written by hand from the ZCL spec (frame control, TSN,
command, then the payload little-endian); the install-code key is the worked
example of the Zigbee Base Device Behavior spec.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import random
import time

import pytest
import zigpy.config as zconf
import zigpy.exceptions
import zigpy.types as zt
import zigpy_znp.config as znp_conf
import zigpy_znp.types as t

from han_emu.meter.clock import WallClock
from han_emu.han.config import load
from han_emu.meter.model import Channel, Flow, TwinMeter
from han_emu.radio.backend import (
    NetworkSettings,
    RadioError,
    RadioSpec,
    explain,
    parse_channel,
    parse_extended_pan_id,
    parse_network_key,
    parse_pan_id,
    parse_radio,
    start_radio,
    zigpy_config,
)
from han_emu.radio.fakencp.znp.server import FakeZnpServer, serve_znp
from han_emu.radio.znp.app import ZnpCoordinator
from han_emu.server.esi import EsiServer

SE = 0x0109
IHD_NWK = 0x3C2A
IHD_IEEE = t.EUI64.convert("00:0d:6f:00:0a:bc:de:f1")
METERING = 0x0702
PRICE = 0x0700
INSTALL_CODE = bytes.fromhex("83FED3407A939723A5C639B26916D505C3B5")
INSTALL_CODE_KEY = bytes.fromhex("66B6900981E1EE3CA4206B6B861C02BB")


# ------------------------------------------------------------------ choosing a radio
def test_parse_radio_kinds_and_ports() -> None:
    assert parse_radio("virtual") == RadioSpec("virtual")
    assert parse_radio("znp:/dev/ttyUSB0") == RadioSpec("znp", "/dev/ttyUSB0")
    spec = parse_radio("EZSP:socket://127.0.0.1:9999", baudrate=460800, flow_control="hardware")
    assert spec == RadioSpec("ezsp", "socket://127.0.0.1:9999", 460800, "hardware")
    assert spec.networked and not parse_radio("znp:/dev/ttyACM0").networked
    assert parse_radio("znp:/dev/ttyACM0", flow_control="none").flow_control is None


@pytest.mark.parametrize(
    ("text", "kwargs", "words"),
    [
        ("zigbee", {}, "expected virtual, znp:PORT or ezsp:PORT"),
        ("deconz:/dev/ttyACM0", {}, "expected virtual"),
        ("znp:", {}, "port is missing"),
        ("znp:/dev/ttyUSB0", {"baudrate": 0}, "--baudrate"),
        ("znp:/dev/ttyUSB0", {"flow_control": "rts"}, "--flow-control"),
    ],
)
def test_parse_radio_refusals_name_the_problem(text: str, kwargs: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_radio(text, **kwargs)


def test_network_settings_parse() -> None:
    assert parse_channel("15") == 15 and parse_channel("0x19") == 25
    assert parse_pan_id("1A62") == 0x1A62 == parse_pan_id("0x1a62")
    assert parse_extended_pan_id("00:0d:6f:ff:fe:12:34:56") == bytes.fromhex("000d6ffffe123456")
    assert parse_network_key("01 03 05 07 09 0B 0D 0F 00 02 04 06 08 0A 0C 0D") == bytes(
        [1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10, 12, 13]
    )
    for bad, fn in [("10", parse_channel), ("27", parse_channel), ("FFFF", parse_pan_id),
                    ("12345", parse_pan_id), ("00" * 8, parse_extended_pan_id),
                    ("zz" * 16, parse_network_key), ("00" * 15, parse_network_key)]:
        with pytest.raises(ValueError):
            fn(bad)


def test_zigpy_config_for_a_socket_and_for_a_serial_device() -> None:
    network = NetworkSettings(channel=20, pan_id=0x1A62, extended_pan_id=bytes.fromhex("000d6ffffe123456"),
                              network_key=bytes(range(16)))
    config = zigpy_config(RadioSpec("znp", "socket://127.0.0.1:1", 115200, "software"), network,
                          request_timeout=3)
    checked = ZnpCoordinator.SCHEMA(config)  # zigpy-znp's own validation accepts it
    assert checked[zconf.CONF_DEVICE] == {
        zconf.CONF_DEVICE_PATH: "socket://127.0.0.1:1", "baudrate": 115200, "flow_control": "software"}
    znp = checked[znp_conf.CONF_ZNP_CONFIG]
    assert znp[znp_conf.CONF_PREFER_ENDPOINT_1] is False
    assert znp[znp_conf.CONF_SKIP_BOOTLOADER] is False
    assert znp[znp_conf.CONF_SREQ_TIMEOUT] == 3
    nwk = checked[zconf.CONF_NWK]
    assert (nwk[zconf.CONF_NWK_CHANNEL], nwk[zconf.CONF_NWK_PAN_ID]) == (20, 0x1A62)
    assert str(nwk[zconf.CONF_NWK_EXTENDED_PAN_ID]) == "00:0d:6f:ff:fe:12:34:56"
    assert bytes(nwk[zconf.CONF_NWK_KEY]) == bytes(range(16))
    assert checked[zconf.CONF_NWK_BACKUP_ENABLED] is False

    serial = ZnpCoordinator.SCHEMA(zigpy_config(RadioSpec("znp", "/dev/ttyUSB0")))
    # A real stick: zigpy-znp toggles the bootloader pins, as it should.
    assert serial[znp_conf.CONF_ZNP_CONFIG][znp_conf.CONF_SKIP_BOOTLOADER] is True
    assert serial[znp_conf.CONF_ZNP_CONFIG][znp_conf.CONF_PREFER_ENDPOINT_1] is False


def test_explain_reads_through_zigpy_wrappers() -> None:
    spec = RadioSpec("znp", "socket://127.0.0.1:1")
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as inner:
            raise zigpy.exceptions.TransientConnectionError() from inner
    except zigpy.exceptions.TransientConnectionError as exc:
        line = explain(exc, spec)
    assert line == ("Z-Stack (ZNP) coordinator at socket://127.0.0.1:1: nothing is listening at "
                    "socket://127.0.0.1:1 (connection refused)")
    assert "busy" in explain(OSError(16, "Device or resource busy"), spec)
    assert "no Z-Stack (ZNP) coordinator answered" in explain(TimeoutError(), spec)
    assert "holds no network" in explain(zigpy.exceptions.NetworkNotFormed(), spec)


# ------------------------------------------------------------ the ESI server on Z-Stack
def make_server(export_wh: int = 6000) -> EsiServer:
    """The twin meter with ``export_wh`` on the secondary element's export register."""
    config = load(None)
    clock = WallClock()
    now = float(int(clock.now() // 1800 * 1800))  # whole half hours: the register comes out exact
    meter = TwinMeter(config.meter, now - 3600)
    meter.set_flow("secondary", Flow(export_w=float(export_wh)))
    meter.advance(now)
    return EsiServer(meter, clock, config.endpoints)


def drain(srv: FakeZnpServer) -> list:
    out = []
    while not srv.frames.empty():
        out.append(srv.frames.get_nowait())
    return out


async def next_frame(srv: FakeZnpServer, cluster: int, timeout: float = 5.0):
    async with asyncio.timeout(timeout):
        while True:
            frame = await srv.frames.get()
            if frame.cluster_id == cluster:
                return frame


@pytest.fixture
async def fake():
    srv = await serve_znp("127.0.0.1", 0)
    try:
        yield srv
    finally:
        await srv.close()


NETWORK = NetworkSettings(channel=20, pan_id=0x1A62, extended_pan_id=bytes.fromhex("000d6ffffe123456"),
                          network_key=bytes.fromhex("0102030405060708090A0B0C0D0E0F10"))


async def test_znp_forms_registers_the_esis_and_answers_from_the_right_endpoint(fake: FakeZnpServer) -> None:
    server = make_server(export_wh=6000)
    assert server.meter.reading(Channel.SECONDARY_EXPORT) == 6000
    app = await start_radio(parse_radio("znp:" + fake.url), server, server.clock, network=NETWORK)
    try:
        # Formed with the settings asked for.
        info = app.state.network_info
        assert (info.channel, info.pan_id) == (20, 0x1A62)
        assert str(info.extended_pan_id) == "00:0d:6f:ff:fe:12:34:56"
        assert bytes(fake.device.network_key) == bytes.fromhex("0102030405060708090A0B0C0D0E0F10")
        # The ESIs replace zigpy's endpoints 1 and 2; Green Power stays on 242.
        eps = fake.endpoints
        assert sorted(eps) == [1, 2, 242]
        assert eps[1].profile_id == eps[2].profile_id == SE
        assert eps[242].profile_id == 0xA1E0
        assert {METERING, PRICE, 0x000A} <= set(eps[2].input_clusters)
        # No certificates configured: no Key Establishment on either ESI.
        assert 0x0800 not in eps[1].input_clusters and 0x0800 not in eps[2].input_clusters
        drain(fake)

        # An IHD reads CurrentSummationReceived (0x0001) on the secondary ESI.
        fake.inject_incoming(IHD_NWK, IHD_IEEE, 9, 2, METERING, bytes.fromhex("00 41 00 01 00"))
        reply = await next_frame(fake, METERING)
        assert (reply.src_endpoint, reply.dst_endpoint, reply.profile_id) == (2, 9, SE)
        assert (reply.dst_addr_mode, reply.dst_addr) == (t.AddrMode.NWK, IHD_NWK)
        # Read Attributes Response, server to client, no default response:
        # attribute 0x0001, SUCCESS, uint48 0x1770 (6000 Wh).
        assert reply.data == bytes.fromhex("18 41 01 01 00 00 25 70 17 00 00 00 00")
        assert reply.aps_encrypted and reply.aps_ack

        # The same read on the primary ESI leaves from endpoint 1 (nothing exported there).
        fake.inject_incoming(IHD_NWK, IHD_IEEE, 9, 1, METERING, bytes.fromhex("00 42 00 01 00"))
        reply = await next_frame(fake, METERING)
        assert reply.src_endpoint == 1
        assert reply.data == bytes.fromhex("18 42 01 01 00 00 25 00 00 00 00 00 00")

        # Price on the secondary ESI: GetCurrentPrice (0x00) is answered with
        # PublishPrice (0x00, server to client) from endpoint 2.
        fake.inject_incoming(IHD_NWK, IHD_IEEE, 9, 2, PRICE, bytes.fromhex("01 43 00 00"))
        reply = await next_frame(fake, PRICE)
        assert reply.src_endpoint == 2 and reply.profile_id == SE
        assert reply.data[:3] == bytes.fromhex("19 43 00")

        # A Smart Energy request without APS encryption is refused: Default
        # Response to command 0x00 with NOT_AUTHORIZED (0x7E), no data.
        fake.inject_incoming(IHD_NWK, IHD_IEEE, 9, 2, METERING, bytes.fromhex("00 44 00 01 00"),
                             encrypted=False)
        refused = await next_frame(fake, METERING)
        assert refused.src_endpoint == 2
        assert refused.data == bytes.fromhex("18 44 0B 00 7E")
    finally:
        await app.shutdown()


async def test_network_settings_persist_and_resume(tmp_path) -> None:
    state = tmp_path / "znp-nv.json"
    async with FakeZnpServer(state_path=state) as srv:
        app = await start_radio(parse_radio("znp:" + srv.url), make_server(), network=NETWORK)
        first = app.state.network_info
        await app.shutdown()
    async with FakeZnpServer(state_path=state) as srv:
        # Different settings asked for: a stick that holds a network resumes it.
        other = NetworkSettings(channel=11, pan_id=0x2222)
        app = await start_radio(parse_radio("znp:" + srv.url), make_server(), network=other, auto_form=False)
        try:
            again = app.state.network_info
            assert (again.channel, again.pan_id, again.extended_pan_id) == (
                first.channel, first.pan_id, first.extended_pan_id) == (
                20, 0x1A62, zt.ExtendedPanId.convert("00:0d:6f:ff:fe:12:34:56"))
            assert again.network_key.key == first.network_key.key
            assert sorted(srv.endpoints) == [1, 2, 242]
        finally:
            await app.shutdown()


async def test_the_stick_s_nwk_frame_counter_rises_and_survives_a_power_cycle(tmp_path) -> None:
    """Each frame the emulated Z-Stack transmits moves its NV frame counter on;
    zigpy-znp reads it as the network key's tx_counter; a restarted stick
    carries on a margin above the saved value, never below."""
    from han_emu.radio.fakencp.znp.security_nv import RESTART_MARGIN

    state = tmp_path / "znp-nv.json"
    async with FakeZnpServer(state_path=state) as srv:
        app = await start_radio(parse_radio("znp:" + srv.url), make_server(), network=NETWORK)
        try:
            before = srv.device.nwk_frame_counter
            srv.inject_device_join(IHD_NWK, IHD_IEEE)
            srv.inject_incoming(IHD_NWK, IHD_IEEE, 9, 2, METERING, bytes.fromhex("00 41 00 01 00"))
            await next_frame(srv, METERING)  # the answer went out
            sent = srv.device.nwk_frame_counter
            assert sent > before
            await app.load_network_info()
            assert sent <= app.state.network_info.network_key.tx_counter == srv.device.nwk_frame_counter
        finally:
            await app.shutdown()
        last = srv.device.nwk_frame_counter
    async with FakeZnpServer(state_path=state) as srv:
        assert srv.device.nwk_frame_counter == last + RESTART_MARGIN
        app = await start_radio(parse_radio("znp:" + srv.url), make_server(), network=NETWORK, auto_form=False)
        try:
            assert app.state.network_info.network_key.tx_counter >= last + RESTART_MARGIN
        finally:
            await app.shutdown()
    # The margin is in the file at once: a crash right after start repeats nothing.
    from han_emu.radio.fakencp.znp.nvram import ZnpNvram
    from han_emu.radio.fakencp.znp.device import FakeZStack
    assert FakeZStack(ZnpNvram.load(state)).nwk_frame_counter >= last + RESTART_MARGIN


async def test_install_code_permit_and_link_key_install(fake: FakeZnpServer) -> None:
    seen: list = []
    handle = fake.device.handle
    fake.device.handle = lambda request: (seen.append(request), handle(request))[1]  # type: ignore[method-assign]
    app = await start_radio(parse_radio("znp:" + fake.url), make_server())
    try:
        key = await app.permit_with_install_code(IHD_IEEE, INSTALL_CODE, 60)
        assert bytes(key) == INSTALL_CODE_KEY
        add = [r for r in seen if type(r).__name__ == "Req" and hasattr(r, "InstallCodeFormat")]
        assert add and add[-1].IEEE == IHD_IEEE and bytes(add[-1].InstallCode) == INSTALL_CODE_KEY
        assert fake.device.permit_join_s == 60
        assert (INSTALL_CODE_KEY, f"link key {IHD_IEEE}") in app.keys_in_use()
        with pytest.raises(ValueError):
            await app.permit_with_install_code(IHD_IEEE, INSTALL_CODE[:-1] + b"\x00", 60)  # bad CRC
        # ZDO_SET_LINK_KEY puts a CBKE key in the APS key table, as a partner's.
        assert await app.install_link_key(IHD_IEEE, bytes(range(16))) is True
        assert fake.device.link_keys == {IHD_IEEE: t.KeyData(bytes(range(16)))}
    finally:
        await app.shutdown()


# ----------------------------------------------------------------- clear startup errors
def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def expect_error(radio: str, **kwargs) -> str:
    t0 = time.monotonic()
    with pytest.raises(RadioError) as info:
        await start_radio(parse_radio(radio), make_server(), **kwargs)
    line = str(info.value)
    assert "\n" not in line and "Traceback" not in line
    assert time.monotonic() - t0 < 5
    return line


async def test_wrong_port_is_one_clear_line() -> None:
    port = closed_port()
    line = await expect_error(f"znp:socket://127.0.0.1:{port}")
    assert line.endswith(f"nothing is listening at socket://127.0.0.1:{port} (connection refused)")
    line = await expect_error(f"ezsp:socket://127.0.0.1:{port}")
    assert line.startswith(f"EmberZNet (EZSP) coordinator at socket://127.0.0.1:{port}: nothing is listening")
    line = await expect_error("znp:/dev/does-not-exist-han-emu")
    assert "no such port /dev/does-not-exist-han-emu" in line


async def test_busy_serial_port_is_one_clear_line() -> None:
    master, slave = os.openpty()
    path = os.ttyname(slave)
    holder = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as another program holding the stick
        line = await expect_error(f"znp:{path}")
        assert f"{path} is busy" in line
    finally:
        for fd in (holder, slave, master):
            os.close(fd)


async def test_something_that_is_not_an_ncp_is_one_clear_line() -> None:
    rng = random.Random(3)

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            for _ in range(40):
                writer.write(rng.randbytes(61).replace(b"\xfe", b"\x00"))
                await writer.drain()
                await asyncio.sleep(0.05)
        writer.close()

    async with await asyncio.start_server(garbage, "127.0.0.1", 0) as srv:
        port = srv.sockets[0].getsockname()[1]
        line = await expect_error(f"znp:socket://127.0.0.1:{port}", request_timeout=0.5)
    assert f"no Z-Stack (ZNP) coordinator answered on socket://127.0.0.1:{port}" in line


# ----------------------------------------------------------- the ESI server on EZSP
@pytest.fixture
async def ezsp_fake(monkeypatch: pytest.MonkeyPatch):
    import bellows.ezsp

    from han_emu.radio.fakencp.ezsp.server import serve_ezsp

    # bellows waits 2 s for a spontaneous RSTACK on socket:// before resetting.
    monkeypatch.setattr(bellows.ezsp, "NETWORK_COORDINATOR_STARTUP_RESET_WAIT", 0.05)
    srv = await serve_ezsp("127.0.0.1", 0)
    try:
        yield srv
    finally:
        await srv.close()


async def next_sent(srv, cluster: int, timeout: float = 5.0):
    async with asyncio.timeout(timeout):
        while True:
            message = await srv.sent()
            if message.cluster_id == cluster:
                return message


async def test_ezsp_forms_registers_the_esis_and_answers_from_the_right_endpoint(ezsp_fake) -> None:
    server = make_server(export_wh=6000)
    app = await start_radio(parse_radio("ezsp:" + ezsp_fake.url), server, server.clock, network=NETWORK)
    try:
        info = app.state.network_info
        assert (info.channel, info.pan_id) == (20, 0x1A62)
        assert str(info.extended_pan_id) == "00:0d:6f:ff:fe:12:34:56"
        # The NCP forgets endpoints on the reset that commits a new network:
        # they are registered again, on 0x0109, in place of zigpy's 1 and 2.
        eps = ezsp_fake.endpoints
        assert sorted(eps) == [1, 2, 242]
        assert eps[1].profile_id == eps[2].profile_id == SE
        assert {METERING, PRICE} <= set(eps[2].input_clusters)
        ezsp_fake.sent_nowait()

        ezsp_fake.inject_incoming(IHD_NWK, IHD_IEEE, 9, 2, SE, METERING, bytes.fromhex("00 51 00 01 00"))
        reply = await next_sent(ezsp_fake, METERING)
        assert (reply.kind, reply.destination) == ("unicast", IHD_NWK)
        assert (reply.src_ep, reply.dst_ep, reply.profile_id) == (2, 9, SE)
        assert reply.data == bytes.fromhex("18 51 01 01 00 00 25 70 17 00 00 00 00")
        assert reply.options & 0x0020  # EMBER_APS_OPTION_ENCRYPTION

        ezsp_fake.inject_incoming(IHD_NWK, IHD_IEEE, 9, 1, SE, METERING, bytes.fromhex("00 52 00 01 00"))
        reply = await next_sent(ezsp_fake, METERING)
        assert reply.src_ep == 1
        assert reply.data == bytes.fromhex("18 52 01 01 00 00 25 00 00 00 00 00 00")
    finally:
        await app.shutdown()


async def test_ezsp_duty_cycle_view_and_link_keys(ezsp_fake) -> None:
    app = await start_radio(parse_radio("ezsp:" + ezsp_fake.url), make_server())
    try:
        ezsp_fake.duty_cycle.limit_thresh, ezsp_fake.duty_cycle.crit_thresh = 90, 150
        ezsp_fake.duty_cycle.consumed = {0x0000: 37, IHD_NWK: 4}
        dc = await app.read_duty_cycle()
        assert dc.supported and dc.state_name == "normal"
        assert dc.limits == (90, 150, 250)
        assert dc.consumed == {0x0000: 37, IHD_NWK: 4}

        # dutyCycleHandler: the NCP tells of a state change by itself.
        ezsp_fake.emit_duty_cycle(state=3, consumed={0x0000: 190})
        await asyncio.wait_for(_until(lambda: app.duty_cycle.state == 3), 5)
        assert app.duty_cycle.consumed == {0x0000: 190}
        assert app.duty_cycle.describe() == (
            "NCP duty cycle: critical (limits: limited 32.4 s/h (0.90 %), critical 54 s/h (1.50 %), "
            "regulated 90 s/h (2.50 %)), used 0x0000 68.4 s/h (1.90 %)")

        # A CBKE link key goes into the NCP's key table; joining with an install code.
        assert await app.install_link_key(IHD_IEEE, bytes(range(16)))
        assert (IHD_IEEE, bytes(range(16))) in ezsp_fake.tokens.link_keys.values()
        key = await app.permit_with_install_code(IHD_IEEE, INSTALL_CODE, 30)
        assert bytes(key) == INSTALL_CODE_KEY
    finally:
        await app.shutdown()


async def _until(predicate) -> None:
    while not predicate():
        await asyncio.sleep(0.02)
