"""The MP184 study's simulations run at once in worker processes: the same
figures as one after another, progress per run, and a clean stop on Ctrl-C."""

from __future__ import annotations

import json
from pathlib import Path

from han_emu.han.config import load
from han_emu.study.compare import SimulationSettings, compare_mp184, comparison_json, study_variants
from tests.cli.test_outputs_and_input import MONTH, Lines, interrupt, started


def test_the_pool_gives_the_figures_one_after_another_gives() -> None:
    """In this process one after another (the old way), one worker at a
    time, two at once: the same figures."""
    config = load(None)
    settings = SimulationSettings(duration_s=900.0, sub_ghz_devices=2, cbke=False)
    serial = comparison_json(compare_mp184(config, settings, workers=0))
    one = comparison_json(compare_mp184(config, settings, workers=1))
    assert json.dumps(one, sort_keys=True) == json.dumps(serial, sort_keys=True)
    heard: dict[int, float] = {}
    ups: list[bool] = []
    pooled = comparison_json(compare_mp184(
        config, settings, workers=2, started=lambda: ups.append(True),
        variant_progress=lambda i, done, total: heard.__setitem__(i, max(heard.get(i, 0.0), done / total))))
    assert json.dumps(pooled, sort_keys=True) == json.dumps(serial, sort_keys=True)
    assert [r["sub_ghz_devices"] for r in pooled["runs"]] == [1, 2]
    variants = study_variants(config, settings)
    assert variants == [(1, True), (1, False), (2, True), (2, False)]
    assert heard == {i: 1.0 for i in range(len(variants))}  # each run told its way to the end
    assert len(ups) == len(variants)


def test_ctrl_c_stops_every_worker_with_one_line_and_status_130(tmp_path: Path) -> None:
    proc = started(tmp_path, "dutycycle", "--simulate", MONTH, "--compare", "mp184", "--devices", "2",
                   "--no-cbke", "--jobs", "2", "--format", "json")
    err = Lines(proc.stderr)
    out, text = interrupt(proc, err, "Ctrl-C stops with the figures so far")
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    lines = [line for line in text.splitlines() if "Ctrl-C stops with the figures so far" not in line]
    assert lines == ["han-emu dutycycle: interrupted before the first comparison was done: nothing to show"], text
    assert out == ""


def test_jobs_is_refused_where_it_would_do_nothing(tmp_path: Path) -> None:
    from tests.cli.test_outputs_and_input import han_emu, one_line_error

    line = one_line_error(han_emu(tmp_path, "dutycycle", "--simulate", "1h", "--jobs", "2"))
    assert "--jobs" in line and "--compare" in line
    line = one_line_error(han_emu(tmp_path, "dutycycle", "--simulate", "1h", "--compare", "mp184", "--jobs", "0"))
    assert "--jobs must be at least 1" in line
