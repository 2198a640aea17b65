"""Defects a first user met (issue 15, section 6), each run as the user runs
it: ``permit`` in a process of its own beside an emulated stick, the others
through the command's ``main()`` in the test's process (tests/support/command.py)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

from tests.support.command import run_main
from tests.replay.helpers import ESI, IHD, LINK_KEY, NWK_KEY, T0, pcap_bytes, se_frame
from tests.test_cbke_cli import CA, EXPECTED, U_CERT, U_EPH, U_KEY, V_CERT, V_EPH_PUB

REPO = Path(__file__).resolve().parents[2]
ZCL_EPOCH = 946_684_800


def han_emu(*args: str, timeout: float = 120.0, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_main(args, cwd=cwd or REPO, timeout=timeout)


# --- 1. run --scenario-from: registers never below zero, the capture's own times ---------------

FIRST = T0 + 1500  # 00:25: the capture begins with a meter just started (0 Wh) ...
IMPORT_W = 2000  # ... then importing 2 kW


def _read_rsp(tsn: int, summ: int) -> bytes:
    return bytes([0x18, tsn, 0x01]) + struct.pack("<HBB", 0x0000, 0, 0x25) + summ.to_bytes(6, "little")


def fresh_meter_capture() -> bytes:
    """An IHD reading the primary import every 20 minutes for an hour, then its profile."""
    frames = []
    for k in range(4):
        t = FIRST + 1200 * k
        frames.append((t, bytes([0x00, 10 + k, 0x00, 0x00, 0x00]), IHD, ESI, 1, 1))
        frames.append((t + 0.2, _read_rsp(10 + k, int(IMPORT_W * (t + 0.2 - FIRST) / 3600)), ESI, IHD, 1, 1))
    end, t = T0 + 5400, FIRST + 3600
    intervals = [IMPORT_W * 1800 // 3600, IMPORT_W * 1800 // 3600, IMPORT_W * 300 // 3600]  # newest first
    frames.append((t, bytes([0x01, 20, 0x00, 0x00]) + struct.pack("<I", 0) + bytes([3]), IHD, ESI, 1, 1))
    frames.append((t + 0.2, bytes([0x09, 20, 0x00]) + struct.pack("<IBBB", int(end) - ZCL_EPOCH, 0, 2, 3)
                   + b"".join(v.to_bytes(3, "little") for v in intervals), ESI, IHD, 1, 1))
    return pcap_bytes([(ts, se_frame(i, zcl, src, dst, sep, dep, 0x0702))
                       for i, (ts, zcl, src, dst, sep, dep) in enumerate(frames)])


def test_scenario_from_a_fresh_meter_never_goes_negative_and_keeps_the_capture_times(tmp_path: Path) -> None:
    capture = tmp_path / "fresh.pcap"
    capture.write_bytes(fresh_meter_capture())
    config = tmp_path / "han.toml"  # one display reading the summations every 10 s
    config.write_text('[[devices]]\nkind = "ihd"\nname = "IHD"\nregisters_s = 0\nprices_s = 0\nprofile_s = 0\n'
                      'history_s = 0\ntime_s = 0\nreport = false\n')
    summary = tmp_path / "summary.json"
    out = han_emu("run", "--config", str(config), "--scenario-from", str(capture), "--scenario-key", NWK_KEY.hex(),
                  "--scenario-key", LINK_KEY.hex(), "--simulate", "3600.2", "--summary-json", str(summary),
                  "--no-cbke")
    assert out.returncode == 0, out.stderr
    assert "does not fit" not in out.stderr and out.stderr == ""
    data = json.loads(summary.read_text())
    # It began at the capture's first frame, so a run as long as the capture ends where the capture ends.
    assert abs(data["meter_time"] - (FIRST + 3600.2)) < 1
    seen = data["devices"]["IHD"]["readout"]["elements"]["primary"]
    assert 1.9 <= seen["import_kwh"] <= 2.0


# --- 3. permit: an exit status scripts can use ----------------------------------------------------

IHD_IEEE = "00:0d:6f:00:0a:bc:de:f1"
OTHER_IEEE = "00:0d:6f:00:0a:bc:de:f2"
INSTALL_CODE = "83FED3407A939723A5C639B26916D505C3B5"


async def _permit_while(joins: list[str], tmp_path: Path) -> tuple[int, str, str]:
    """``han-emu permit`` on the emulated Z-Stack stick, ``joins`` joining once it is open."""
    import asyncio

    import zigpy.types as zt

    from han_emu.radio.fakencp.znp.server import FakeZnpServer

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    async with FakeZnpServer(state_path=tmp_path / "nv.json") as fake:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "han_emu.cli", "permit", "--radio", f"znp:{fake.url}", "--state", "none",
            "--install-code", f"{IHD_IEEE}:{INSTALL_CODE}", "--duration", "2",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path)
        try:
            first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert first.startswith(f"joining open for {IHD_IEEE}"), first
            for n, ieee in enumerate(joins):
                fake.inject_device_join(0x3C2A + n, zt.EUI64.convert(ieee))
            out, err = await asyncio.wait_for(proc.communicate(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    return proc.returncode, first + out.decode(), err.decode()


async def test_permit_exits_0_when_the_device_joined(tmp_path: Path) -> None:
    code, out, err = await _permit_while([IHD_IEEE], tmp_path)
    assert code == 0, err
    assert f"joined: {IHD_IEEE}" in out and "did not join" not in out


async def test_permit_exits_1_when_the_device_did_not_join(tmp_path: Path) -> None:
    code, out, err = await _permit_while([OTHER_IEEE], tmp_path)  # another device is not the one asked for
    assert code == 1, err
    assert f"joined: {OTHER_IEEE}" in out and f"{IHD_IEEE} did not join" in out


def test_permit_help_documents_the_exit_status() -> None:
    out = han_emu("permit", "--help")
    assert out.returncode == 0
    assert "0 the device(s) joined, 1 one did not join" in " ".join(out.stdout.split())


# --- 4. cbke derive: the wrong role is caught, not silently derived ---------------------------

INITIATOR_SIDE = ("cbke", "derive", "--suite", "1", "--ca", CA, "--own-cert", U_CERT, "--own-key", U_KEY,
                  "--own-ephemeral-key", U_EPH, "--peer-cert", V_CERT, "--peer-ephemeral", V_EPH_PUB)
CAPTURED_MACS = ("--macu", EXPECTED["macu"], "--macv", EXPECTED["macv"])


def test_cbke_derive_with_the_wrong_role_says_so_in_one_line() -> None:
    out = han_emu(*INITIATOR_SIDE, "--responder", *CAPTURED_MACS)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.splitlines() == [
        "cbke derive: the captured MACs fit own side as the initiator, not the responder: use --initiator"]


def test_cbke_derive_with_the_right_role_checks_the_macs() -> None:
    out = han_emu(*INITIATOR_SIDE, "--initiator", *CAPTURED_MACS)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == EXPECTED


def test_cbke_derive_with_macs_of_another_exchange_fits_neither_role() -> None:
    out = han_emu(*INITIATOR_SIDE, "--initiator", "--macu", "00" * 16)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        "cbke derive: the captured MACs fit neither role: other keys, certificates or ephemeral data"]


def test_cbke_derive_with_the_certificates_swapped_says_so() -> None:
    swapped = [V_CERT if a == U_CERT else U_CERT if a == V_CERT else a for a in INITIATOR_SIDE]
    out = han_emu(*swapped, "--initiator")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.splitlines() == [
        "cbke derive: the own key does not belong to --own-cert (is that the peer's certificate?)"]
