"""Issue 15, sections 4 and 5, from the command line: on a terminal and on a pipe in a
process of its own, otherwise in the test's process (tests/support/command.py).

Right defaults: ``dutycycle`` and ``sniff`` take the PHY from a capture's TAP or
ZEP metadata, ``--phy`` overrides it, and an assumed PHY is said to be assumed.
Readable output: progress bars on a terminal and none on a pipe, ISO times with
their zone, cluster names beside ids (ZDO apart from ZCL), prices with their
trailing digit, the ``--compare`` note on throttling, and the NCP's duty-cycle
limits in the units of the GB limits.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from han_emu.frames.fcs import fcs_bytes
from han_emu.frames.pcap import LinkType, PcapWriter
from tests.support.command import run_main
from ..replay.helpers import conversation_psdus, pcap_bytes, zep_capture

REPO = Path(__file__).resolve().parents[2]
CAPTURE = REPO / "captures" / "ihd-mp184.pcapng"
"""The emulator's own capture (``han-emu run --pcap``): 2.4 GHz, page 0 channel 15 in its TAP headers."""
KEYS = CAPTURE.with_suffix(".keys")
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?[+-]\d\d:\d\d"
BUSY_IHD = """\
[[devices]]
kind = "ihd"
name = "IHD"
band = "gb868"
demand_s = 4.0
registers_s = 15.0
prices_s = 120.0
profile_s = 600.0
"""
"""One sub-GHz IHD polling hard enough to take the hub past its limited threshold within the hour."""


@dataclass
class Result:
    code: int
    out: str
    err: str


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["TERM"] = "xterm-256color"
    env.pop("NO_COLOR", None)
    return env


def han_emu(*args: str, cwd: Path, stdin: bytes | None = None, timeout: float = 180) -> Result:
    """``han-emu ARGS`` with standard output and error on pipes, run in this process."""
    proc = run_main(args, cwd=cwd, env={"TERM": "xterm-256color", "NO_COLOR": None}, stdin=stdin or b"",
                    timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def han_emu_on_a_pipe(*args: str, cwd: Path, timeout: float = 180) -> Result:
    """``han-emu ARGS`` in a process of its own, standard output and error on pipes."""
    proc = subprocess.run([sys.executable, "-m", "han_emu.cli", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, cwd=cwd, env=_env(), timeout=timeout)
    return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def han_emu_on_a_terminal(*args: str, cwd: Path, timeout: float = 180) -> Result:
    """``han-emu ARGS`` with standard error on a terminal (a pty), standard output on a pipe."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "han_emu.cli", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave, cwd=cwd, env=_env())
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:  # the child blocks once the pty's buffer is full
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child has closed its end
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(10)
        os.close(master)
    return Result(proc.returncode, out.decode(), b"".join(chunks).decode(errors="replace"))


def _mac_data(seq: int, src: int, payload: bytes) -> bytes:
    """A MAC data frame, PAN-compressed, short addresses, no ACK asked (with its FCS)."""
    frame = struct.pack("<HBHHH", 0x8841, seq & 0xFF, 0x1A62, 0x0000, src) + payload
    return frame + fcs_bytes(frame)


def tap_capture(path: Path, *, page: int, channel: int, frames: int, spacing: float = 0.45) -> Path:
    """A TAP (link type 283) pcap of one busy sender on ``page``/``channel``:
    125-byte PSDUs, enough of them to cross GB-868's limited threshold (36 s/h)."""
    buf = io.BytesIO()
    writer = PcapWriter(buf, LinkType.IEEE802_15_4_TAP)
    start = 1_780_300_800.0  # 2026-06-01 08:00 UTC
    for i in range(frames):
        writer.write(_mac_data(i, 0x1234, bytes(114)), start + i * spacing, channel=channel, page=page)
    path.write_bytes(buf.getvalue())
    return path


def _no_bar(err: str) -> None:
    assert "\x1b[" not in err and "\r" not in err and "━" not in err


# -- 4. right defaults -------------------------------------------------------------------------


def test_the_emulators_own_capture_is_measured_on_2_4_ghz(tmp_path: Path) -> None:
    r = han_emu("dutycycle", str(CAPTURE), "--format", "json", cwd=tmp_path)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["phy"] == "2.4" and doc["phy_from"] == "capture"
    assert "limits" not in doc and "headroom_s" not in doc  # 2.4 GHz is not regulated: no GB-868 thresholds
    assert {d["state"] for d in doc["devices"].values()} == {"TRACKING_OFF"}

    text = han_emu("dutycycle", str(CAPTURE), "--no-chart", cwd=tmp_path)
    assert "2.4 GHz O-QPSK (from the capture)" in text.out.splitlines()[0]
    assert "measured, not regulated" in text.out and "assumed" not in text.out


def test_phy_option_overrides_the_capture(tmp_path: Path) -> None:
    r = han_emu("dutycycle", str(CAPTURE), "--phy", "gb868", "--format", "json", cwd=tmp_path)
    doc = json.loads(r.out)
    assert doc["phy"] == "gb868" and doc["phy_from"] == "option" and doc["limits"]["regulated_s"] == 100.0


def test_a_gb868_tap_capture_is_measured_on_gb868(tmp_path: Path) -> None:
    path = tap_capture(tmp_path / "subghz.pcap", page=28, channel=3, frames=20)
    doc = json.loads(han_emu("dutycycle", str(path), "--format", "json", cwd=tmp_path).out)
    assert doc["phy"] == "gb868" and doc["phy_from"] == "capture"
    assert doc["limits"] == {"limited_s": 36.0, "critical_s": 75.0, "regulated_s": 100.0}


def test_a_zep_capture_on_a_2_4_ghz_channel_is_measured_on_2_4_ghz(tmp_path: Path) -> None:
    path = tmp_path / "zep.pcap"
    path.write_bytes(zep_capture(conversation_psdus(), channel=15))
    doc = json.loads(han_emu("dutycycle", str(path), "--format", "json", cwd=tmp_path).out)
    assert doc["phy"] == "2.4" and doc["phy_from"] == "capture"


@pytest.mark.parametrize("kind", ["no metadata (link type 195)", "ZEP on channel 3 (no page)"])
def test_a_capture_that_does_not_say_gets_the_default_and_says_so(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "plain.pcap"
    if kind.startswith("ZEP"):
        path.write_bytes(zep_capture(conversation_psdus(), channel=3))
    else:
        path.write_bytes(pcap_bytes(conversation_psdus(), 195))
    doc = json.loads(han_emu("dutycycle", str(path), "--format", "json", cwd=tmp_path).out)
    assert doc["phy"] == "gb868" and doc["phy_from"] == "default"
    text = han_emu("dutycycle", str(path), "--no-chart", cwd=tmp_path).out
    assumed = [line for line in text.splitlines() if line.startswith("PHY assumed")]
    assert len(assumed) == 1 and "GB-868" in assumed[0] and "--phy" in assumed[0]


def test_sniff_takes_the_phy_from_the_stream(tmp_path: Path) -> None:
    stream = CAPTURE.read_bytes()
    auto = han_emu("sniff", "--pcap-stream", "-", "--phy", "auto", "--keylog", str(KEYS), cwd=tmp_path, stdin=stream)
    assert auto.code == 0, auto.err
    assert "airtime on 2.4 GHz O-QPSK (from the capture) (317 frames):" in auto.out
    assert "page 0 ch 15" in auto.out
    named = han_emu("sniff", "--pcap-stream", "-", "--phy", "gb868", cwd=tmp_path, stdin=stream)
    assert "airtime on GB-868 2-FSK (317 frames):" in named.out
    plain = pcap_bytes(conversation_psdus(), 195)
    jsonl = han_emu("sniff", "--pcap-stream", "-", "--phy", "auto", "--format", "jsonl", cwd=tmp_path, stdin=plain)
    report = next(json.loads(line)["dutycycle"] for line in jsonl.out.splitlines() if '"dutycycle"' in line)
    assert report["phy"] == "GB-868 2-FSK" and report["phy_from"] == "default"
    text = han_emu("sniff", "--pcap-stream", "-", "--phy", "auto", cwd=tmp_path, stdin=plain).out
    assert "airtime on GB-868 2-FSK (assumed: the capture does not say which PHY; --phy names it)" in text


# -- 5. progress bars: on a terminal, never on a pipe -----------------------------------------


def test_dutycycle_simulate_draws_a_bar_on_a_terminal_only(tmp_path: Path) -> None:
    args = ("dutycycle", "--simulate", "1h", "--devices", "1", "--no-cbke", "--no-chart")
    tty = han_emu_on_a_terminal(*args, cwd=tmp_path)
    assert tty.code == 0 and "simulating" in tty.err and "━" in tty.err
    assert "simulation: GB-868 2-FSK" in tty.out  # the table is the same, on standard output
    piped = han_emu_on_a_pipe(*args, cwd=tmp_path)
    assert piped.code == 0 and "simulating" not in piped.err
    _no_bar(piped.err)


def test_dutycycle_compare_draws_a_bar_on_a_terminal_only(tmp_path: Path) -> None:
    (tmp_path / "busy.toml").write_text(BUSY_IHD)
    args = ("dutycycle", "--simulate", "20m", "--compare", "mp184", "-c", "busy.toml", "--no-cbke", "--no-chart")
    tty = han_emu_on_a_terminal(*args, cwd=tmp_path)
    assert tty.code == 0 and "MP184 comparison, 2 runs" in tty.err
    piped = han_emu_on_a_pipe(*args, cwd=tmp_path)
    assert piped.code == 0 and "MP184 impact" in piped.out
    _no_bar(piped.err)


def test_run_simulate_draws_a_bar_on_a_terminal_only(tmp_path: Path) -> None:
    args = ("run", "--simulate", "30m", "--no-cbke")
    tty = han_emu_on_a_terminal(*args, cwd=tmp_path)
    assert tty.code == 0 and "simulating" in tty.err and "simulated until" in tty.out
    piped = han_emu_on_a_pipe(*args, cwd=tmp_path)
    assert piped.code == 0
    _no_bar(piped.err)


def test_replay_of_a_big_capture_draws_a_bar_on_a_terminal_only(tmp_path: Path) -> None:
    psdus = conversation_psdus()
    big = [(t + n * 60.0, p) for n in range(1600) for t, p in psdus]
    path = tmp_path / "big.pcap"
    path.write_bytes(pcap_bytes(big, 195))
    assert path.stat().st_size >= 1 << 20
    tty = han_emu_on_a_terminal("replay", str(path), cwd=tmp_path)
    assert tty.code == 0 and "reading big.pcap" in tty.err
    piped = han_emu_on_a_pipe("replay", str(path), cwd=tmp_path)
    assert piped.code == 0 and piped.out.rstrip().endswith("APS decrypted 0")
    _no_bar(piped.err)


# -- 5. times as ISO dates with their zone ----------------------------------------------------


def test_duty_cycle_transitions_are_iso_times(tmp_path: Path) -> None:
    path = tap_capture(tmp_path / "busy.pcap", page=28, channel=3, frames=4000)
    table = han_emu("dutycycle", str(path), "--no-chart", cwd=tmp_path)
    assert table.code == 0, table.err
    lines = table.out.splitlines()
    at = lines.index("transitions (1):")
    assert re.match(rf"  {ISO}  0x1234  NORMAL -> LIMITED  0x8F20", lines[at + 1]), lines[at + 1]
    assert lines[at + 1].split()[0].startswith("2026-06-01T08:") and lines[at + 1].split()[0].endswith("+00:00")
    doc = json.loads(han_emu("dutycycle", str(path), "--format", "json", cwd=tmp_path).out)
    assert isinstance(doc["transitions"][0]["time"], float)  # JSON keeps POSIX seconds for programs

    replay = han_emu("replay", str(path), "--phy", "auto", cwd=tmp_path).out
    assert "airtime on GB-868 2-FSK (from the capture)" in replay
    assert re.search(rf"^  {ISO} 0x1234 NORMAL -> LIMITED \(alert 0x8F20\)$", replay, re.M)


def test_simulated_transitions_are_iso_times(tmp_path: Path) -> None:
    (tmp_path / "busy.toml").write_text(BUSY_IHD)
    out = han_emu("dutycycle", "--simulate", "1h", "-c", "busy.toml", "--no-cbke", "--no-chart", cwd=tmp_path).out
    rows = [row for row in out.split("transitions (", 1)[1].splitlines()[1:] if row.startswith("  ")]
    assert rows and all(re.match(rf"  {ISO}  0x", row) for row in rows if not row.startswith("  ..."))
    assert "NORMAL -> LIMITED" in rows[0]


def test_replay_text_gives_iso_times_and_decoded_utc_times(tmp_path: Path) -> None:
    r = han_emu("replay", str(CAPTURE), "--keylog", str(KEYS), cwd=tmp_path)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert all(re.match(rf"#\d+ {ISO} ", line) for line in lines[:-1])
    assert lines[0].split()[1] == "2025-06-21T12:00:00.000+00:00"
    time_rsp = next(line for line in lines if "Time (0x000A) read_attributes_rsp" in line)
    assert "time=2025-06-21T12:00:00+00:00" in time_rsp
    assert "dst_start=2025-03-30T01:00:00+00:00" in time_rsp and "dst_end=2025-10-26T01:00:00+00:00" in time_rsp
    assert re.search(r"local_time=2025-06-21T13:00:00( |$)", time_rsp)  # BST, on the local clock: no offset
    publish = next(line for line in lines if "publish_price" in line)
    assert "current_time=2025-06-21T12:00:00+00:00" in publish and "start_time=now" in publish
    assert "end_time=2025-06-21T12:00:00+00:00" in next(line for line in lines if "get_profile_response" in line)


# -- 5. cluster names beside ids, ZDO apart from ZCL --------------------------------------------


def test_replay_lines_name_the_cluster_beside_its_id(tmp_path: Path) -> None:
    out = han_emu("replay", str(CAPTURE), "--keylog", str(KEYS), cwd=tmp_path).out
    assert " Metering (0x0702) read_attributes_rsp " in out and " Price (0x0700) publish_price " in out
    assert " Time (0x000A) " in out and " KeyEstablishment (0x0800) " in out


def test_run_simulate_summary_names_clusters_and_keeps_zdo_apart(tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    r = han_emu("run", "--simulate", "10m", "--no-cbke", "--summary-json", str(summary), cwd=tmp_path)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert re.match(rf"simulated until {ISO} \({ISO} GB local\) in ", lines[0])
    zcl_at = lines.index("ZCL frames on the air (APS data frames, by transmitter and cluster):")
    zdo_at = lines.index("ZDO frames on the air (by transmitter and command):")
    zcl, zdo = lines[zcl_at + 1:zdo_at], [line for line in lines[zdo_at + 1:] if line.startswith("  ")]
    assert any("Metering (0x0702) " in line for line in zcl) and any("Price (0x0700) " in line for line in zcl)
    assert not any("_req" in line or "_rsp" in line or "annce" in line for line in zcl)
    assert any("Device_annce (0x0013) 1" in line for line in zdo)
    assert not any("Metering" in line for line in zdo)
    doc = json.loads(summary.read_text())
    assert "0x0013" in doc["zdo_frames"]["IHD"] and "0x0013" not in doc["frames"]["IHD"]
    assert "0x0702" in doc["frames"]["IHD"]


# -- 5. prices with their trailing digit ------------------------------------------------------


def test_replay_prices_have_their_trailing_digit_applied(tmp_path: Path) -> None:
    lines = han_emu("replay", str(CAPTURE), "--keylog", str(KEYS), cwd=tmp_path).out.splitlines()
    # PriceTrailingDigit 0x50 (5 digits) read with the prices it scales: 28500 -> 0.28500
    read = next(line for line in lines if "tier1_block1_price=" in line and "standing_charge=" in line)
    assert "price_trailing_digit=5 " in read
    assert "tier1_block1_price=£0.28500" in read and "standing_charge=£0.53200" in read
    # PublishPrice carries its own digit, currency and unit
    publish = next(line for line in lines if "publish_price" in line)
    assert publish.endswith("price=£0.28500/kWh") or " price=£0.28500/kWh " in publish
    # an element's export prices read later from the same server: the digit it gave before applies
    received = [line for line in lines if "received_tier1_block1_price=" in line and "read_attributes_rsp" in line]
    assert (received[0] + " ").count("received_tier1_block1_price=£0.05500 ") == 1  # before any PublishPrice: no unit
    assert "received_tier1_block1_price=£0.05500/kWh" in received[-1]  # after it: per kWh


# -- 5. the --compare table and throttling ----------------------------------------------------


def test_compare_explains_a_negative_added_when_throttling_held_the_hub(tmp_path: Path) -> None:
    (tmp_path / "busy.toml").write_text(BUSY_IHD)
    args = ("dutycycle", "--simulate", "1h", "--compare", "mp184", "-c", "busy.toml", "--no-cbke", "--no-chart")
    r = han_emu(*args, cwd=tmp_path)
    assert r.code == 0, r.err
    ihd = next(line for line in r.out.splitlines() if line.split()[2:3] == ["IHD"])
    assert float(ihd.split()[5]) < 0  # the IHD "saves" airtime with MP184 ...
    notes = [line.strip() for line in r.out.splitlines() if line.strip().startswith("note:")]
    assert len(notes) == 1 and "throttling held the hub" in notes[0]  # ... because the hub held it back
    assert "not airtime MP184 saves" in r.out and "--no-throttle" in r.out
    doc = json.loads(han_emu(*args, "--format", "json", cwd=tmp_path).out)
    assert doc["difference"]["throttled"] is True and doc["difference"]["suspensions"]["with_mp184"] > 0

    free = han_emu(*args, "--no-throttle", cwd=tmp_path)
    assert free.code == 0 and "note:" not in free.out


# -- 5. the NCP's duty-cycle limits in the units of the GB limits ------------------------------


def test_the_ncps_limits_read_in_seconds_an_hour_and_percent(tmp_path: Path) -> None:
    fake = subprocess.Popen([sys.executable, "-m", "han_emu.cli", "fake-ncp", "--protocol", "ezsp",
                             "--listen", "127.0.0.1:0", "--duration", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env=_env())
    try:
        assert fake.stdout is not None
        url = fake.stdout.readline().decode().split()[-1]
        r = han_emu("run", "--radio", f"ezsp:{url}", "--no-tui", "--duration", "2", "--state", "none",
                    cwd=tmp_path, timeout=120)
    finally:
        fake.terminate()
        fake.communicate(timeout=20)
    assert r.code == 0, r.err
    status = r.out.splitlines()[0]
    # the emulated NCP's 100 / 180 / 250 hundredths of a percent, as the GB thresholds are written
    assert ("NCP duty cycle: normal (limits: limited 36 s/h (1.00 %), critical 64.8 s/h (1.80 %), "
            "regulated 90 s/h (2.50 %)), used 0x0000 0 s/h (0.00 %)") in status
    gb = han_emu("dutycycle", str(CAPTURE), "--phy", "gb868", "--no-chart", cwd=tmp_path).out
    assert "thresholds per rolling hour: limited 36 s/h (1.00 %), critical 75 s/h (2.08 %), " \
           "regulated 100 s/h (2.78 %)" in gb
