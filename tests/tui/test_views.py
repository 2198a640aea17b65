"""The pieces under the screens: frame descriptions from hand-written ZCL
bytes, hex dumps, bar charts, speed steps, ambient levels and period lengths."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from han_emu.meter.scenario import ScenarioSettings
from han_emu.tui.controls import SPEEDS, next_speed, scenario_variants
from han_emu.tui.fmt import bar_chart
from han_emu.tui.framelog import cluster_label, describe, hexdump
from han_emu.tui.views import AmbientThresholds, period_days


@pytest.mark.parametrize(
    ("profile", "cluster", "data", "expected"),
    [
        # Read Attributes (general, client to server), TSN 0x01, attribute 0x0000 of Metering.
        (0x0109, 0x0702, bytes.fromhex("00 01 00 0000"), "-> Read_Attributes current_summ_delivered"),
        # Read Attributes Response: 0x0400 InstantaneousDemand, SUCCESS, int24 (0x2A) = -198.
        (0x0109, 0x0702, bytes.fromhex("18 02 01 0004 00 2a 3aff ff"),
         "<- Read_Attributes_rsp instantaneous_demand=-198"),
        # Report Attributes: 0x0001 CurrentSummationReceived, uint48 (0x25) = 3702.
        (0x0109, 0x0702, bytes.fromhex("18 03 0a 0100 25 760e00000000"),
         "<- Report_Attributes current_summ_received=3702"),
        # Cluster-specific GetCurrentPrice (Price 0x00, client to server), one byte of payload.
        (0x0109, 0x0700, bytes.fromhex("01 04 00 01"), "-> get_current_price (1 bytes)"),
        # Cluster-specific GetProfile on Metering.
        (0x0109, 0x0702, bytes.fromhex("01 05 00 01 00000000 18"), "-> get_profile (6 bytes)"),
        # Default Response to command 0x00, SUCCESS.
        (0x0109, 0x0700, bytes.fromhex("18 06 0b 00 00"), "<- Default_Response cmd 0x00 SUCCESS"),
        (0x0000, 0x0006, bytes.fromhex("01 ffff 0901 00 01 0207"), "Match_Desc_req"),
        (0x0109, 0x0702, b"\x00", "not ZCL (1 bytes)"),
    ],
)
def test_frames_are_described_from_their_bytes(profile: int, cluster: int, data: bytes, expected: str) -> None:
    assert describe(profile, cluster, data) == expected


def test_cluster_labels() -> None:
    assert cluster_label(0x0109, 0x0702) == "Metering 0x0702"
    assert cluster_label(0x0109, 0x000A) == "Time 0x000A"
    assert cluster_label(0x0109, 0x0B05) == "Diagnostic 0x0B05"  # zigpy names the clusters SE does not
    assert cluster_label(0x0109, 0xFF42) == "0xFF42"
    assert cluster_label(0x0000, 0x8006) == "ZDO Match_Desc_rsp"


def test_hexdump_lines() -> None:
    data = bytes(range(0x41, 0x41 + 18))
    assert hexdump(data) == (
        "0000  41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f 50  ABCDEFGHIJKLMNOP\n"
        "0010  51 52                                            QR"
    )
    assert hexdump(b"") == "(no payload)"


def test_bar_chart_scales_to_the_largest_and_marks_gaps() -> None:
    chart = bar_chart([Decimal(0), Decimal(1), None, Decimal("0.5")], height=2)
    rows = chart.plain.split("\n")
    assert rows == [" █  ", " █·█"]  # full-scale bar two rows tall; half-scale one row; gap dotted


def test_speed_steps() -> None:
    assert next_speed(1, 1) == 2 and next_speed(1, -1) == 1
    assert next_speed(3600, 1) == 3600
    assert next_speed(None, -1) == SPEEDS[-1]
    assert next_speed(45, -1) == 30 and next_speed(45, 1) == 60


def test_scenario_variants_change_pv_and_load() -> None:
    base = ScenarioSettings()
    variants = scenario_variants(base)
    assert list(variants) == ["configured", "no PV", "winter"]
    assert variants["configured"] == base
    assert variants["no PV"].primary_pv_kwp == variants["no PV"].secondary_pv_kwp == 0
    assert variants["winter"].secondary_pv_kwp == base.secondary_pv_kwp * 0.25
    assert variants["winter"].house_peak_w == base.house_peak_w * 1.5


def test_ambient_levels_follow_the_thresholds() -> None:
    t = AmbientThresholds(Decimal("0.5"), Decimal("2"))
    assert [t.level(Decimal(x)) for x in ("0", "0.499", "0.5", "1.999", "2", "9")] == \
        ["Low", "Low", "Medium", "Medium", "High", "High"]
    assert t.level(None) is None
    with pytest.raises(ValueError):
        AmbientThresholds(Decimal("2"), Decimal("1"))


def test_period_days_include_today_and_whole_past_periods() -> None:
    wednesday = date(2026, 6, 3)
    assert period_days("day", wednesday, 0) == 1
    assert period_days("week", wednesday, 0) == 3  # Monday to Wednesday
    assert period_days("week", wednesday, 2) == 7
    assert period_days("month", wednesday, 0) == 3
    assert period_days("month", wednesday, 1) == 31  # May
    assert period_days("month", wednesday, 4) == 28  # February 2026
