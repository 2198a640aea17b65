"""``han-emu replay FILE --tui [--speed N|max]``: the options, the fallback to
text when stdout is not a terminal, and the dashboard run without a terminal
to the end of a capture, whose readout then equals the plain replay's."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from functools import partial

import pytest

from han_emu.cli.args import speed_or_max
from han_emu.cli.main import main
from han_emu.readout import Readout
from han_emu.replay import Replay
from han_emu.tui import launch
from han_emu.tui.launch import run_replay_dashboard

from .helpers import LINK_KEY, NWK_KEY, conversation_psdus, pcap_bytes

KEYS = ["--key", NWK_KEY.hex(), "--link-key", LINK_KEY.hex()]


@pytest.fixture
def capture(tmp_path):
    path = tmp_path / "han.pcap"
    path.write_bytes(pcap_bytes(conversation_psdus()))
    return path


def test_speed_is_a_factor_or_max() -> None:
    assert speed_or_max("max") is None and speed_or_max("MAX") is None
    assert speed_or_max("1") == 1.0 and speed_or_max("3600") == 3600.0 and speed_or_max("7.5") == 7.5
    for bad in ("0.5", "0", "-2", "3601", "fast"):
        with pytest.raises(argparse.ArgumentTypeError):
            speed_or_max(bad)


def test_bad_speed_is_a_usage_error(capture, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["replay", str(capture), "--tui", "--speed", "0.5"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err == ("han-emu replay: error: argument --speed: '0.5': must be between 1 and 3600, or max "
                   "(see 'han-emu replay --help')\n")


def test_tui_without_a_terminal_falls_back_to_text(capture, capsys) -> None:
    assert main(["replay", str(capture), *KEYS, "--tui", "--speed", "max"]) == 0
    out = capsys.readouterr()
    assert "--tui needs a terminal" in out.err
    assert "read_attributes_rsp" in out.out and "frames" in out.out  # the text output and its summary


async def _quit_when_finished(pilot) -> None:
    source = pilot.app.source
    while not source.finished:
        await asyncio.sleep(0.01)
    pilot.app.refresh_data()
    await pilot.pause()
    assert "finished" in str(pilot.app.screen.query_one("#status").content)
    await pilot.press("q")


def test_dashboard_plays_the_capture_through_the_readout(capture) -> None:
    source = run_replay_dashboard(capture, [NWK_KEY], [LINK_KEY], speed=None, headless=True,
                                  auto_pilot=_quit_when_finished)
    assert source.finished and source.error is None
    plain = Readout()
    summary = Replay(capture, [NWK_KEY], [LINK_KEY], readout=plain).run()
    assert source.decoded == summary.decoded == 6
    assert source.readout.to_json() == plain.to_json()
    assert source.progress().fraction == 1.0


def test_tui_branch_writes_the_readout_at_the_end(capture, tmp_path, monkeypatch) -> None:
    out = tmp_path / "readout.json"
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setattr(launch, "run_replay_dashboard",
                        partial(run_replay_dashboard, headless=True, auto_pilot=_quit_when_finished))
    assert main(["replay", str(capture), *KEYS, "--tui", "--speed", "max", "--readout-json", str(out)]) == 0
    readout = json.loads(out.read_text())
    # From the hand-written frames: 1234567 Wh delivered, 98765 Wh received on the secondary (the last report).
    assert readout["elements"]["primary"]["import_kwh"] == 1234.567
    assert readout["elements"]["secondary"]["export_kwh"] == 98.765
    assert readout["elements"]["secondary"]["profile_intervals"] == {"1": 3}
