"""Defects a first user met (issue 15, section 6), each run as the user runs
it: ``python -m han_emu.cli`` in a process of its own."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

from tests.replay.helpers import ESI, IHD, LINK_KEY, NWK_KEY, T0, pcap_bytes, se_frame

REPO = Path(__file__).resolve().parents[2]
ZCL_EPOCH = 946_684_800


def han_emu(*args: str, timeout: float = 120.0, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "han_emu.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or REPO, env=env)


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
