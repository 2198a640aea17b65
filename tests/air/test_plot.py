"""The PNG charts: titles, axes, labelled thresholds and a legend naming every transmitter."""

from __future__ import annotations

import io

import pytest
from matplotlib.image import imread
from matplotlib.lines import Line2D

from han_emu.air.dutycycle import DutyCycleLimits
from han_emu.study.plot import comparison_figure, png_bytes, report_figure
from han_emu.study.compare import Comparison, DeviceReport, DutyReport

START = 1_780_272_000.0  # 2026-06-01 00:00 UTC
LIMITS = DutyCycleLimits(36.0, 75.0, 100.0)


def _device(key: str, name: str, hours: list[float]) -> DeviceReport:
    return DeviceReport(key=key, name=name, airtime_s=sum(hours), frames=10 * len(hours),
                        peak_hour_s=max(hours), hours_s=hours)


def _simulation(hub: list[float], ihd: list[float], *, mp184: bool = True) -> DutyReport:
    return DutyReport(
        source="simulation", phy="gb868", duration_s=3600.0 * len(hub),
        devices={"0x0000": _device("0x0000", "hub", hub), "0x4d2c": _device("0x4d2c", "IHD", ihd)},
        limits=LIMITS,
        extra={"variant": "with_mp184" if mp184 else "without_mp184", "sub_ghz_devices": 1, "page": 28,
               "channel": 0, "start": START},
        leg={"0x0000": _device("0x0000", "hub", [5.0] * len(hub)),
             "0x0001": _device("0x0001", "ESME", [6.0] * len(hub))},
    )


def _texts(fig) -> tuple[str, str, str, list[str]]:
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    return fig._suptitle.get_text(), ax.get_xlabel(), ax.get_ylabel(), legend


def test_report_chart_is_titled_labelled_and_names_every_transmitter() -> None:
    fig = report_figure(_simulation([20.0, 30.0, 25.0], [10.0, 12.0, 11.0]))
    title, xlabel, ylabel, legend = _texts(fig)
    assert title == "GB-868 airtime per hour: virtual HAN, 1 sub-GHz display, with MP184"
    assert xlabel == "time of day (UTC), start of each hour" and ylabel == "airtime per hour (s)"
    assert legend[:2] == ["hub (0x0000): peak 30 s", "IHD (0x4d2c): peak 12 s"]
    assert "ESME (0x0001) on the 2.4 GHz leg: peak 6 s" in legend
    assert legend[-3:] == ["Limited 36 s/h (1.00 %)", "Critical 75 s/h (2.08 %)", "Regulated 100 s/h (2.78 %)"]
    ax = fig.axes[0]
    # the thresholds are horizontal lines at their values, also written on the plot
    levels = sorted(line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == "--")
    assert levels == [36.0, 75.0, 100.0]
    assert {"Limited 36 s/h (1.00 %)", "Regulated 100 s/h (2.78 %)"} <= {t.get_text() for t in ax.texts}
    # hour ticks carry UTC times from the start; y reaches above the regulated limit
    fig.canvas.draw()
    lo, hi = ax.get_xlim()
    shown = [t.get_text() for t in ax.get_xticklabels() if lo <= t.get_position()[0] <= hi]
    assert shown == ["00:00", "01:00", "02:00", "03:00"]
    assert ax.get_ylim()[1] > 100.0
    # the right axis converts seconds per hour to percent of the hour
    assert any(a.get_ylabel() == "duty cycle (% of the hour)" for a in fig.axes[0].child_axes)


def test_leg_is_dotted_and_gb868_lines_are_solid() -> None:
    fig = report_figure(_simulation([20.0], [10.0]))
    ax = fig.axes[0]
    styles = {h.get_label(): h.get_linestyle() for h in ax.get_legend_handles_labels()[0]}
    assert styles["hub (0x0000): peak 20 s"] == "-"
    assert styles["hub (0x0000) on the 2.4 GHz leg: peak 5 s"] == ":"


def _insets(fig) -> list:
    return [a for a in fig.axes[0].child_axes if hasattr(a, "get_title") and a.get_title().startswith("zoomed")]


def test_small_traffic_gets_a_zoomed_inset_at_its_own_scale() -> None:
    report = _simulation([0.4, 0.2], [0.3, 0.1])
    report.leg = {}
    fig = report_figure(report)
    (inset,) = _insets(fig)
    assert inset.get_ylim()[1] == pytest.approx(0.46)
    busy = report_figure(_simulation([20.0, 30.0], [10.0, 12.0]))
    assert not _insets(busy)


def test_capture_on_2400_has_no_thresholds() -> None:
    report = DutyReport(source="captures/x.pcapng", phy="2.4", duration_s=90.0,
                        devices={"0x0000": _device("0x0000", "0x0000", [0.2])})
    fig = report_figure(report)
    title, xlabel, _, legend = _texts(fig)
    assert title == "2.4 GHz airtime per hour: x.pcapng"
    assert xlabel == "hours from the first frame (h)"
    assert legend == ["0x0000: peak 0.2 s"]
    assert "measured (no duty-cycle rule on 2.4 GHz)" in fig.axes[0].get_title()
    assert not [line for line in fig.axes[0].get_lines() if isinstance(line, Line2D)]


def test_comparison_chart_pairs_with_and_without_per_display_count() -> None:
    comparisons = [
        Comparison(1, _simulation([18.0, 19.0], [9.0, 9.0]), _simulation([16.0, 16.5], [8.0, 8.0], mp184=False)),
        Comparison(2, _simulation([26.0, 27.0], [9.0, 9.0]), _simulation([23.0, 24.0], [8.0, 8.0], mp184=False)),
    ]
    fig = comparison_figure(comparisons)
    title, _, _, legend = _texts(fig)
    assert title == "MP184 impact on the hub's GB-868 airtime per hour"
    assert legend[:4] == ["1 display, with MP184: peak 19 s", "1 display, without MP184: peak 16.5 s",
                          "2 displays, with MP184: peak 27 s", "2 displays, without MP184: peak 24 s"]
    assert "Critical 75 s/h (2.08 %)" in legend
    with pytest.raises(ValueError):
        comparison_figure([])


def test_png_decodes_at_the_figure_size_and_is_reproducible() -> None:
    report = _simulation([20.0, 30.0], [10.0, 12.0])
    data = png_bytes(report_figure(report))
    assert data == png_bytes(report_figure(report))
    pixels = imread(io.BytesIO(data))
    assert pixels.shape[:2] == (560, 1000)
