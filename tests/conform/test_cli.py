"""``han-emu conform``: exit statuses, reports, and one line for every mistake."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from han_emu.cli.main import main

PLAN = """
name = "short"
duration = "3m"
start = 2026-06-01T08:00:00Z

[[event]]
at = "+1m"
kind = "message"
text = "please confirm"
confirm = true

[[check]]
type = "confirms-message"
name = "confirms the message"
within_s = 60

[[check]]
type = "reads-attribute"
name = "reads demand"
endpoint = "primary"
cluster = 0x0702
attribute = 0x0400
every_s = 12
"""


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    path = tmp_path / "short.toml"
    path.write_text(PLAN)
    return path


def test_list_plans_names_the_built_in_plans(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", "--list-plans"]) == 0
    out = capsys.readouterr().out
    for name in ("mp184-ihd", "gb-ihd-basics", "price-change", "dst-change", "restart-recovery", "subghz-suspend"):
        assert name in out


def test_a_good_display_passes_and_the_reports_say_so(plan: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    junit, report = tmp_path / "out.xml", tmp_path / "out.md"
    assert main(["conform", "--plan", str(plan), "--junit", str(junit), "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "PASS    confirms the message" in out and "2 passed, 0 failed, 0 pending" in out
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert [c.get("name") for c in cases] == ["confirms the message", "reads demand"]
    assert not ET.parse(junit).getroot().findall(".//failure")
    assert "confirms the message" in report.read_text()


def test_a_faulty_display_fails_with_evidence_and_exit_1(plan: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    junit, pcap, keys = tmp_path / "out.xml", tmp_path / "run.pcap", tmp_path / "run.keys"
    status = main(["conform", "--plan", str(plan), "--virtual-dut", "ihd:no-confirm", "--junit", str(junit),
                   "--pcap", str(pcap), "--keylog", str(keys)])
    assert status == 1
    out = capsys.readouterr().out
    assert "FAIL    confirms the message" in out and "PASS    reads demand" in out
    failures = ET.parse(junit).getroot().findall(".//failure")
    assert len(failures) == 1 and "confirms the message" in failures[0].get("message", "")
    assert "run.pcap" in failures[0].get("message", "") and pcap.stat().st_size > 0 and keys.stat().st_size > 0


@pytest.mark.parametrize(("argv", "message"), [
    (["--plan", "nonsense"], "no built-in plan"),
    (["--plan", "price-change", "--virtual-dut", "ihd:sleepy"], "no fault sleepy"),
    (["--plan", "mp184-ihd", "--virtual-dut", "cad"], "plan mp184-ihd is written for ihd, not a cad"),
    (["--plan", "price-change", "--radio", "ezsp:/dev/null"], "--radio needs --install-code"),
    (["--plan", "price-change", "--install-code",
      "00:0d:6f:00:0a:bc:de:f1:83FED3407A939723A5C639B26916D505C3B5"], "give --radio"),
    (["--plan", "subghz-suspend", "--radio", "ezsp:/dev/null", "--install-code",
      "00:0d:6f:00:0a:bc:de:f1:83FED3407A939723A5C639B26916D505C3B5"], "cannot play subghz-suspend"),
    (["--plan", "price-change", "--junit", "/nonexistent/dir/out.xml"], "cannot write"),
    (["--plan", "price-change", "--radio", "ezsp:/dev/null", "--tui", "--speed", "60", "--install-code",
      "00:0d:6f:00:0a:bc:de:f1:83FED3407A939723A5C639B26916D505C3B5"], "--speed is for a virtual DUT"),
    ([], "give --plan"),
])
def test_usage_and_plan_errors_are_one_line_and_exit_2(argv: list[str], message: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_a_bad_plan_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(PLAN.replace('kind = "message"', 'kind = "message"\ncolour = "red"'))
    assert main(["conform", "--plan", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{bad}: [[event]] 1 (message): unknown key 'colour'" in err


def test_tui_without_a_terminal_says_so_and_runs_as_text(plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", "--plan", str(plan), "--tui", "--speed", "3600"]) == 0
    captured = capsys.readouterr()
    assert "--tui needs a terminal; showing progress as text" in captured.err
    assert "2 passed, 0 failed, 0 pending" in captured.out
