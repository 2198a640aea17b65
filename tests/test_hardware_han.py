"""The ESI server on a coordinator stick, tried the way a user would: the
emulated Z-Stack NCP on 127.0.0.1, ``han-emu run --radio znp:socket://...``,
``han-emu permit`` and ``han-emu fake-ncp`` as separate processes, the stick
going away mid-run and coming back.

ZCL frames are written by hand from the ZCL spec.
"""

from __future__ import annotations

import asyncio
import json
import contextlib
import os
import socket
import sys
import time
from pathlib import Path

import pytest
import zigpy_znp.types as t

from han_emu.cli import main as cli
from han_emu.frames.keylog import KeyLog, read_keylog_rows
from han_emu.han.config import load
from han_emu.han.hardware import HardwareHan
from han_emu.han.linkstate import DOWN, UP, Backoff
from han_emu.meter.model import Channel, TwinMeter
from han_emu.radio.backend import RadioError, parse_radio
from han_emu.radio.fakencp.znp.server import FakeZnpServer
from han_emu.han.store import StateStore

REPO = Path(__file__).resolve().parent.parent
SE = 0x0109
METERING = 0x0702
IHD_NWK = 0x3C2A
IHD_IEEE = t.EUI64.convert("00:0d:6f:00:0a:bc:de:f1")
#: Read Attributes (0x00) of CurrentSummationReceived (0x0001), client to server.
READ_RECEIVED = "00 {tsn:02X} 00 01 00"
INSTALL_CODE = "83FED3407A939723A5C639B26916D505C3B5"
INSTALL_CODE_KEY = bytes.fromhex("66B6900981E1EE3CA4206B6B861C02BB")
ZIGBEE_ALLIANCE_09 = b"ZigBeeAlliance09"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def read_received(fake: FakeZnpServer, dst_ep: int, tsn: int, timeout: float = 5.0):
    """Inject an IHD's read of CurrentSummationReceived; return the reply frame."""
    fake.inject_incoming(IHD_NWK, IHD_IEEE, 7, dst_ep, METERING, bytes.fromhex(READ_RECEIVED.format(tsn=tsn)))
    async with asyncio.timeout(timeout):
        while True:
            frame = await fake.frames.get()
            if frame.cluster_id == METERING and frame.tsn == tsn:
                return frame


def summation_received(frame) -> int:
    """CurrentSummationReceived out of a Read Attributes Response (uint48, LE)."""
    assert frame.data[:7] == bytes([0x18, frame.tsn, 0x01, 0x01, 0x00, 0x00, 0x25])
    return int.from_bytes(frame.data[7:13], "little")


async def until(predicate, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


# --------------------------------------------------------------- in process
async def test_stick_lost_mid_run_is_retried_and_the_meter_keeps_its_state(tmp_path) -> None:
    config = load(None)
    meter = TwinMeter(config.meter, time.time())
    store = StateStore(tmp_path / "meter.db")
    nv = tmp_path / "znp.json"
    reports: list[str] = []
    fake = FakeZnpServer(state_path=nv)
    await fake.start()
    port = fake.port
    keylog = KeyLog(tmp_path / "keys.txt")
    han = HardwareHan(config, meter, parse_radio(f"znp:socket://127.0.0.1:{port}"), store=store,
                      keylog=keylog, step_s=0.05, save_every_s=0.1, backoff=Backoff(0.1, 2.0, 0.4),
                      report=reports.append)
    try:
        await han.start()
        assert han.is_up and "up, channel" in han.status_line()
        before = meter.reading(Channel.SECONDARY_EXPORT)
        reply = await read_received(fake, 2, 0x21)
        assert reply.src_endpoint == 2 and reply.profile_id == SE
        assert before <= summation_received(reply) <= meter.reading(Channel.SECONDARY_EXPORT)

        await fake.close()  # the stick is unplugged
        await until(lambda: han.link.state == DOWN)
        assert any("connection lost" in r for r in reports)
        saves, meter_time = han.saves, meter.time
        await until(lambda: han.link.attempts >= 2, 5)  # retried, with backoff
        assert any("nothing is listening" in r and "retrying in" in r for r in reports)
        assert han.saves > saves and meter.time > meter_time  # the meter keeps going, and being saved
        assert "down (" in han.status_line()

        fake = FakeZnpServer(port=port, state_path=nv)  # plugged back in: same stick, same network
        await fake.start()
        await han.wait_up(5)
        assert han.link.state == UP and han.link.reconnects == 1
        assert any("reconnected" in r for r in reports)
        assert sorted(fake.endpoints) == [1, 2, 242] and fake.endpoints[2].profile_id == SE
        before = meter.reading(Channel.SECONDARY_EXPORT)
        reply = await read_received(fake, 2, 0x22)
        assert reply.src_endpoint == 2
        assert before <= summation_received(reply) <= meter.reading(Channel.SECONDARY_EXPORT)
    finally:
        await han.stop()
        await fake.close()
        keylog.close()
        store.close()
    # The key log holds the network key once (the network resumed, not re-formed).
    rows = read_keylog_rows(tmp_path / "keys.txt")
    assert [k for k, label in rows if label.startswith("network key")] == [bytes(fake.device.network_key)]
    assert (ZIGBEE_ALLIANCE_09, "trust centre link key") in rows
    assert oct(os.stat(tmp_path / "keys.txt").st_mode & 0o777) == "0o600"
    reopened = StateStore(tmp_path / "meter.db")
    try:
        assert reopened.load(config.meter).time == pytest.approx(meter.time)
    finally:
        reopened.close()


async def test_first_connection_failure_is_not_retried() -> None:
    config = load(None)
    han = HardwareHan(config, TwinMeter(config.meter, time.time()),
                      parse_radio(f"znp:socket://127.0.0.1:{closed_port()}"))
    with pytest.raises(RadioError, match="connection refused"):
        await han.start()
    await han.stop()
    with pytest.raises(ValueError):
        HardwareHan(config, TwinMeter(config.meter, time.time()), parse_radio("virtual"))


async def test_hardware_han_on_ezsp_shows_the_ncp_duty_cycle(monkeypatch) -> None:
    import bellows.ezsp

    from han_emu.radio.fakencp.ezsp.server import serve_ezsp

    monkeypatch.setattr(bellows.ezsp, "NETWORK_COORDINATOR_STARTUP_RESET_WAIT", 0.05)
    fake = await serve_ezsp("127.0.0.1", 0)
    config = load(None)
    meter = TwinMeter(config.meter, time.time())
    han = HardwareHan(config, meter, parse_radio(f"ezsp:{fake.url}"), step_s=0.05)
    try:
        await han.start()
        assert han.ncp_duty_cycle is not None and han.ncp_duty_cycle.state_name == "normal"
        assert han.status_line().endswith(
            "; served traffic 0.00 s airtime in the last hour (han-emu)"
            "; NCP duty cycle: normal (limits: limited 36 s/h (1.00 %), critical 64.8 s/h (1.80 %), "
            "regulated 90 s/h (2.50 %)), used 0x0000 0 s/h (0.00 %)"
        )
        assert han.airtime_last_hour() == 0.0
        before = meter.reading(Channel.SECONDARY_EXPORT)
        fake.inject_incoming(IHD_NWK, IHD_IEEE, 7, 2, SE, METERING, bytes.fromhex(READ_RECEIVED.format(tsn=0x31)))
        async with asyncio.timeout(5):
            while True:
                sent = await fake.sent()
                if sent.cluster_id == METERING:
                    break
        assert (sent.src_ep, sent.dst_ep, sent.profile_id) == (2, 7, SE)
        assert before <= int.from_bytes(sent.data[7:13], "little") <= meter.reading(Channel.SECONDARY_EXPORT)
        # The emulator's own accounting saw the request and the reply: each a
        # MAC data frame with its MAC ACK, plus an APS ACK exchange, on 2.4 GHz.
        charged = {s.nwk: s for s in han.accounting.status(han.clock.now())}
        assert charged[IHD_NWK].frames >= 2 and charged[0x0000].frames >= 2
        assert 0 < han.airtime_last_hour() < 0.01
        assert "s airtime in the last hour (han-emu); NCP duty cycle: normal" in han.status_line()
    finally:
        await han.stop()
        await fake.close()


# ------------------------------------------------------------ the CLI, in process
def test_cli_wrong_port_exits_with_one_line(capsys) -> None:
    port = closed_port()
    code = cli.main(["run", "--radio", f"znp:socket://127.0.0.1:{port}", "--state", "none", "--no-tui"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3
    assert err == [f"han-emu: Z-Stack (ZNP) coordinator at socket://127.0.0.1:{port}: "
                   f"nothing is listening at socket://127.0.0.1:{port} (connection refused)"]


def test_cli_refuses_bad_radio_settings(capsys) -> None:
    assert cli.main(["run", "--radio", "zigate:/dev/ttyUSB0", "--state", "none"]) == 2
    assert cli.main(["run", "--radio", "znp:/dev/ttyUSB0", "--pan-id", "FFFF", "--state", "none"]) == 2
    assert cli.main(["run", "--radio", "znp:/dev/ttyUSB0", "--simulate", "1h", "--state", "none"]) == 2
    err = capsys.readouterr().err
    assert "expected virtual, znp:PORT or ezsp:PORT" in err and "reserved" in err and "--simulate" in err
    assert "Traceback" not in err


def test_cli_permit_checks_the_install_code_first(capsys) -> None:
    port = closed_port()  # never reached: the code is refused before the radio is opened
    with pytest.raises(SystemExit) as info:
        cli.main(["permit", "--radio", f"znp:socket://127.0.0.1:{port}", "--state", "none",
                  "--install-code", f"{IHD_IEEE}:{INSTALL_CODE[:-2]}00"])
    assert info.value.code == 2
    assert "Invalid install code CRC" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["permit", "--radio", "znp:/dev/ttyUSB0", "--link-key", "not-an-eui"])


def test_cli_garbage_on_the_port_exits_with_one_line(capsys, monkeypatch) -> None:
    import threading

    monkeypatch.setattr("han_emu.radio.backend.DEFAULT_REQUEST_TIMEOUT", 0.5)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def babble() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                for _ in range(60):
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                    time.sleep(0.05)

    thread = threading.Thread(target=babble, daemon=True)
    thread.start()
    try:
        code = cli.main(["run", "--radio", f"znp:socket://127.0.0.1:{port}", "--state", "none", "--no-tui"])
    finally:
        listener.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3 and len(err) == 1
    assert err[0].startswith(f"han-emu: Z-Stack (ZNP) coordinator at socket://127.0.0.1:{port}: "
                             "no Z-Stack (ZNP) coordinator answered")


# ------------------------------------------------------- the CLI, as separate processes
def han_emu(*args: str) -> list[str]:
    return [sys.executable, "-m", "han_emu.cli.main", *args]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


async def test_han_emu_run_on_the_emulated_stick(tmp_path) -> None:
    """`han-emu run --radio znp:socket://...` in its own process forms the
    network, registers both ESIs, and answers an IHD from the right endpoint."""
    async with FakeZnpServer(state_path=tmp_path / "nv.json") as fake:
        proc = await asyncio.create_subprocess_exec(
            *han_emu("run", "--radio", f"znp:{fake.url}", "--no-tui", "--duration", "3",
                     "--state", str(tmp_path / "meter.db"), "--keylog", str(tmp_path / "keys.txt"),
                     "--channel", "25", "--pan-id", "0x1A62", "--status-json", str(tmp_path / "status.json")),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=child_env(), cwd=tmp_path,
        )
        try:
            # The first line says the stick carries the ESIs.
            first = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()
            assert first.strip() == (
                f"coordinator: Z-Stack (ZNP) coordinator at {fake.url}: up, channel 25, PAN 0x1A62"
                "; served traffic 0.00 s airtime in the last hour (han-emu)"
            )
            assert fake.endpoints[1].profile_id == fake.endpoints[2].profile_id == SE
            assert fake.device.nib.nwkLogicalChannel == 25 and fake.device.nib.nwkPanId == 0x1A62
            reply = await read_received(fake, 2, 0x5A)
            assert (reply.src_endpoint, reply.dst_endpoint, reply.profile_id) == (2, 7, SE)
            assert reply.dst_addr == IHD_NWK and reply.aps_encrypted
            assert summation_received(reply) >= 0
            out, err = await asyncio.wait_for(proc.communicate(), 15)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert "secondary" in out.decode() and b"Traceback" not in err
    rows = read_keylog_rows(tmp_path / "keys.txt")
    assert (bytes(fake.device.network_key), "network key seq 0") in rows
    assert (tmp_path / "meter.db").exists()
    # The emulator's own accounting of what the stick served: the IHD's request
    # and the ESI's reply were charged on 2.4 GHz (measured, not regulated).
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["devices"][f"0x{IHD_NWK:04x}"]["frames"] >= 1
    assert status["devices"]["0x0000"]["frames"] >= 1


async def test_fake_ncp_command_and_permit_with_an_install_code(tmp_path) -> None:
    """`han-emu fake-ncp` in one process; `han-emu permit --install-code` in
    another forms the network on it, opens joining and logs the derived key."""
    fake = await asyncio.create_subprocess_exec(
        *han_emu("fake-ncp", "--protocol", "znp", "--listen", "127.0.0.1:0",
                 "--state", str(tmp_path / "nv.json"), "--duration", "20"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=child_env(),
    )
    try:
        first = (await asyncio.wait_for(fake.stdout.readline(), 10)).decode()
        assert first.startswith("Emulated Z-Stack (ZNP) NCP listening on socket://127.0.0.1:")
        url = first.split()[-1]
        keys = tmp_path / "permit.keys"
        permit = await asyncio.create_subprocess_exec(
            *han_emu("permit", "--radio", f"znp:{url}", "--install-code", f"{IHD_IEEE}:{INSTALL_CODE}",
                     "--duration", "1", "--state", "none", "--keylog", str(keys)),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=child_env(),
        )
        out, err = await asyncio.wait_for(permit.communicate(), 15)
        assert permit.returncode == 1, err.decode()  # nobody was there to join: scripts can tell
        assert f"joining open for {IHD_IEEE} for 1 s (install-code link key {INSTALL_CODE_KEY.hex()})" in out.decode()
        assert f"{IHD_IEEE} did not join" in out.decode()
        assert (INSTALL_CODE_KEY, f"link key {IHD_IEEE}") in read_keylog_rows(keys)
    finally:
        if fake.returncode is None:
            fake.terminate()
        await asyncio.wait_for(fake.wait(), 10)
    assert fake.returncode == 0
    assert (tmp_path / "nv.json").exists()


async def test_a_display_bound_through_the_stick_is_pushed_prices_and_the_table_is_kept(tmp_path) -> None:
    """A Z-Stack coordinator answers a ZDO Bind_req itself and hands the host a
    copy: the ESI keeps the binding (saved with the meter), pushes PublishPrice
    to the bound display at a tier change, and forgets it at Unbind_req."""
    config = load(None)
    store = StateStore(tmp_path / "meter.db")
    fake = FakeZnpServer(state_path=tmp_path / "znp.json")
    await fake.start()
    radio = parse_radio(f"znp:socket://127.0.0.1:{fake.port}")
    han = HardwareHan(config, TwinMeter(config.meter, time.time()), radio, store=store, step_s=0.05)
    price_ep = config.endpoints.secondary

    def bind(command: int, tsn: int) -> None:
        # Bind_req / Unbind_req written from the ZDP spec: SrcAddress (the stick's IEEE,
        # little-endian), SrcEndp, ClusterId 0x0700, DstAddrMode 0x03, DstAddress, DstEndp 7.
        payload = (bytes(han.app.state.node_info.ieee) + bytes([price_ep, 0x00, 0x07, 0x03])
                   + bytes(IHD_IEEE) + bytes([7]))
        fake.inject_zdo(IHD_NWK, command, tsn, payload)

    try:
        await han.start()
        fake.inject_device_join(IHD_NWK, IHD_IEEE)
        bind(0x0021, 0x31)
        await until(lambda: len(han.bindings) == 1)
        assert han.server.price_subscribers("secondary") == {(IHD_NWK, 7)}
        # A tier change (forced: the server forgets the tiers it last saw) pushes the price.
        han.server.inner._tiers = {}
        han.server.meter_changed()
        han.app.wake_server()
        async with asyncio.timeout(5):
            while True:
                frame = await fake.frames.get()
                if frame.cluster_id == 0x0700 and frame.dst_addr == IHD_NWK:
                    break
        assert frame.src_endpoint == price_ep and frame.dst_endpoint == 7
        assert frame.data[0] & 0x0B == 0x09 and frame.data[2] == 0x00  # cluster-specific, to client: PublishPrice
    finally:
        await han.stop()
        await fake.close()
    # Kept with the meter: a restarted emulator knows the stick's table.
    again = HardwareHan(config, TwinMeter(config.meter, time.time()), radio, store=store)
    again._restore_bindings()
    assert again.bindings.to_json() == [[price_ep, 0x0700, str(IHD_IEEE), 7]]
    fake = FakeZnpServer(state_path=tmp_path / "znp.json")
    await fake.start()
    han = HardwareHan(config, TwinMeter(config.meter, time.time()), parse_radio(f"znp:socket://127.0.0.1:{fake.port}"),
                      store=store, step_s=0.05)
    try:
        await han.start()
        assert len(han.bindings) == 1
        bind(0x0022, 0x32)
        await until(lambda: len(han.bindings) == 0)
        assert han.server.price_subscribers("secondary") == set()
    finally:
        await han.stop()
        await fake.close()
        store.close()


async def test_an_ezsp_stick_hands_the_host_its_bind_requests_too(monkeypatch) -> None:
    import bellows.ezsp

    from han_emu.radio.fakencp.ezsp.server import serve_ezsp

    monkeypatch.setattr(bellows.ezsp, "NETWORK_COORDINATOR_STARTUP_RESET_WAIT", 0.05)
    fake = await serve_ezsp("127.0.0.1", 0)
    config = load(None)
    han = HardwareHan(config, TwinMeter(config.meter, time.time()), parse_radio(f"ezsp:{fake.url}"), step_s=0.05)
    try:
        await han.start()
        fake.inject_device_join(IHD_NWK, IHD_IEEE)
        payload = (bytes([0x41]) + bytes(han.app.state.node_info.ieee) + bytes([config.endpoints.primary, 0x00, 0x07, 0x03])
                   + bytes(IHD_IEEE) + bytes([7]))
        fake.inject_incoming(IHD_NWK, IHD_IEEE, 0, 0, 0x0000, 0x0021, payload, encrypted=False)
        await until(lambda: len(han.bindings) == 1)
        assert han.server.price_subscribers("primary") == {(IHD_NWK, 7)}
    finally:
        await han.stop()
        await fake.close()


async def test_what_the_stick_serves_is_recorded_as_frames_tshark_decodes(tmp_path, tshark) -> None:
    """``run --radio ... --pcap``: the host never sees the stick's air, so the
    packets the ESI took and made are synthesized into frames, secured under
    the keys the key log holds; tshark decodes the IHD's read and the answer."""
    import subprocess

    from han_emu.han.recording import ServedRecording

    config = load(None)
    meter = TwinMeter(config.meter, time.time())
    capture, keys = tmp_path / "served.pcapng", tmp_path / "keys.txt"
    keylog = KeyLog(keys)
    recording = ServedRecording(pcap=capture, pcapng=True)
    async with FakeZnpServer() as fake:
        han = HardwareHan(config, meter, parse_radio(f"znp:{fake.url}"), keylog=keylog, step_s=0.05)
        recording.attach_hardware(han)
        try:
            await han.start()
            fake.inject_device_join(IHD_NWK, IHD_IEEE)
            await until(lambda: han.app.ieee_of(IHD_NWK) is not None)
            reply = await read_received(fake, 2, 0x5B)
            value = summation_received(reply)
        finally:
            await han.stop()
            recording.close()
            keylog.close()
    assert recording.stats.packets >= 2 and recording.stats.failed == 0
    option = "uat:zigbee_pc_keys:" + keys.read_text().strip()
    out = subprocess.run([tshark, "-r", str(capture), "-o", option, "-Y", "zbee_zcl", "-T", "fields",
                          "-e", "zbee_nwk.src", "-e", "zbee_aps.src", "-e", "zbee_zcl.cmd.tsn",
                          "-e", "zbee_zcl_se.met.attr_id", "-e", "zbee_zcl.attr.uint48"],
                         capture_output=True, text=True, timeout=60, check=True).stdout.splitlines()
    rows = [line.split("\t") for line in out]
    assert [r[:3] for r in rows] == [[f"0x{IHD_NWK:04x}", "7", "91"], ["0x0000", "2", "91"]]
    assert int(rows[1][4]) == value  # CurrentSummationReceived as the ESI served it
    bad = subprocess.run([tshark, "-r", str(capture), "-o", option, "-Y", "_ws.malformed || _ws.expert.severity >= error"],
                         capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    assert bad == ""
