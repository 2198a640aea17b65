"""The duty-cycle study: captures, simulations (Suspend ZCL Messages obeyed), MP184 comparison."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from han_emu.air.dutycycle import DutyCycleLimits
from han_emu.study.compare import SimulationSettings, capture_report, compare_mp184, comparison_json, simulate
from han_emu.han.config import load
from han_emu.frames.fcs import fcs_bytes
from han_emu.frames.pcap import LinkType, PcapWriter, read_capture

REPO = Path(__file__).resolve().parents[2]
T0 = 1_780_272_000.0

# By hand: 802.15.4 frame control 0x8861 (data, ACK request, PAN ID compression,
# short addresses), seq 5, PAN 0x1A62, to 0x0000 from 0x1234, 10 payload bytes.
DATA = bytes.fromhex("6188 05 621a 0000 3412".replace(" ", "")) + bytes(10)
ACK = bytes.fromhex("020005")  # MAC ACK of seq 5 (sent by 0x0000)
# 0x8841 (sent as 41 88): data without ACK request, seq 6, broadcast from 0x0000, 20 payload bytes.
BCAST = bytes.fromhex("4188 06 621a ffff 0000".replace(" ", "")) + bytes(20)


def _capture(tmp_path: Path) -> Path:
    path = tmp_path / "hand.pcap"
    stream = io.BytesIO()
    writer = PcapWriter(stream, LinkType.IEEE802_15_4_WITHFCS)
    for i, frame in enumerate((DATA, ACK, BCAST)):
        writer.write(frame + fcs_bytes(frame), T0 + i * 0.01)
    path.write_bytes(stream.getvalue())
    return path


@pytest.mark.parametrize(("phy", "us_per_byte", "overhead"), [("gb868", 80, 12), ("2.4", 32, 6)])
def test_capture_airtime_per_transmitter(tmp_path: Path, phy: str, us_per_byte: int, overhead: int) -> None:
    report = capture_report(_capture(tmp_path), phy)
    assert set(report.devices) == {"0x1234", "0x0000"}
    node, hub = report.devices["0x1234"], report.devices["0x0000"]
    assert len(DATA) + 2 == 21 and len(BCAST) + 2 == 31
    assert round(node.airtime_s * 1e6) == (overhead + 21) * us_per_byte and node.frames == 1
    # the ACK (no source address) belongs to the node that was asked for it
    assert round(hub.airtime_s * 1e6) == (overhead + 5 + overhead + 31) * us_per_byte and hub.frames == 2
    assert hub.peak_hour_s == hub.airtime_s and len(hub.hours_s) == 1


def test_capture_total_is_the_sum_over_its_frames() -> None:
    path = REPO / "captures" / "ihd-mp184.pcapng"
    report = capture_report(path, "2.4")
    expected = sum((6 + len(r.psdu)) * 32 for r in read_capture(path))
    frames = sum(1 for _ in read_capture(path))
    assert round(sum(d.airtime_s for d in report.devices.values()) * 1e6) == expected
    assert sum(d.frames for d in report.devices.values()) == frames
    assert "unknown" not in report.devices


def test_capture_crossing_thresholds_reports_transitions(tmp_path: Path) -> None:
    path = tmp_path / "busy.pcap"
    stream = io.BytesIO()
    writer = PcapWriter(stream, LinkType.IEEE802_15_4_WITHFCS)
    for i in range(400):  # 400 x 3440 us = 1.376 s, limits below
        writer.write(BCAST + fcs_bytes(BCAST), T0 + i)
    path.write_bytes(stream.getvalue())
    report = capture_report(path, "gb868", limits=DutyCycleLimits(0.5, 0.9, 1.2))
    codes = [t["alert"] for t in report.transitions]
    assert codes[:3] == ["0x8F20", "0x8F22", "0x8F24"]
    sent = -(-1_200_000 // 3440)
    assert report.alerts["0x8F2C"] == 400 - sent
    assert report.devices["0x0000"].discarded == 400 - sent


LOW = DutyCycleLimits(2.0, 6.0, 9.0)


def test_hub_suspends_the_display_that_caused_limited_and_it_obeys() -> None:
    config = load(None)
    base = SimulationSettings(duration_s=900.0, sub_ghz_devices=1, limits=LOW, cbke=False)
    throttled = simulate(config, base)
    free = simulate(config, SimulationSettings(**{**base.__dict__, "throttle": False}))
    hub = throttled.devices["0x0000"]
    display = next(k for k in throttled.devices if k != "0x0000")
    first = throttled.transitions[0]
    assert first["device"] == "0x0000" and first["alert"] == "0x8F20" and first["culprit"] == display
    assert throttled.extra["suspensions"]["IHD"] >= 1
    assert throttled.extra["suspended_s"]["IHD"] > 0
    # obeying: the throttled display asked for far less in the same time
    assert throttled.extra["requests"]["IHD"] < free.extra["requests"]["IHD"]
    assert hub.airtime_s < free.devices["0x0000"].airtime_s
    assert free.extra["suspensions"]["IHD"] == 0


def test_compare_mp184_is_deterministic_and_mp184_costs_airtime() -> None:
    config = load(None)
    settings = SimulationSettings(duration_s=900.0, seed=7, cbke=False, throttle=False)
    first = comparison_json(compare_mp184(config, settings, counts=[1]))
    again = comparison_json(compare_mp184(config, settings, counts=[1]))
    assert first == again
    with_, without = first["variants"]["with_mp184"], first["variants"]["without_mp184"]
    assert set(with_["devices"]) == set(without["devices"])
    for key, diff in first["difference"]["devices"].items():
        assert diff["airtime_s"] == pytest.approx(with_["devices"][key]["airtime_s"] - without["devices"][key]["airtime_s"], abs=1e-5)
    assert first["difference"]["devices"]["0x0000"]["airtime_s"] > 0
    assert first["difference"]["devices"]["0x0000"]["frames"] > 0
    head = first["difference"]["hub_headroom_s"]
    assert head["with_mp184"]["limited"] < head["without_mp184"]["limited"]
