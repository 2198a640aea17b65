"""The two-terminal stick path, as a user runs it: ``han-emu fake-ncp --displays``
in one process, ``han-emu permit --install-codes`` and then ``han-emu run
--radio ... --status-json`` in others; and the one-line refusals of a bad
install-code file.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from tests.support.command import run_main

REPO = Path(__file__).resolve().parents[2]
IEEE = "00:0d:6f:00:0a:bc:de:f1"
CODE = "83FED3407A939723A5C639B26916D505C3B5"


def han_emu(*args: str) -> list[str]:
    return [sys.executable, "-m", "han_emu.cli.main", *args]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


async def test_fake_ncp_with_displays_then_permit_then_run_serves_them_without_refusals(tmp_path: Path) -> None:
    codes, host = tmp_path / "codes.txt", tmp_path / "host.toml"
    fake = await asyncio.create_subprocess_exec(
        *han_emu("fake-ncp", "--protocol", "znp", "--listen", "127.0.0.1:0", "--state", str(tmp_path / "nv.json"),
                 "--displays", "ihd,ppmid", "--codes-file", str(codes), "--displays-state",
                 str(tmp_path / "displays.json"), "--host-config", str(host), "--duration", "60"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=child_env(), cwd=tmp_path,
    )
    try:
        url = (await asyncio.wait_for(fake.stdout.readline(), 15)).decode().split()[-1]
        assert url.startswith("socket://127.0.0.1:")
        while "admit them:" not in (await asyncio.wait_for(fake.stdout.readline(), 15)).decode():
            pass  # the displays are on the air, the host configuration written
        lines = [line for line in codes.read_text().splitlines() if line]
        assert len(lines) == 2 and lines[0].endswith("# IHD") and lines[1].endswith("# PPMID")

        common = ("--radio", f"znp:{url}", "--config", str(host), "--state", str(tmp_path / "meter.db"))
        permit = await asyncio.create_subprocess_exec(
            *han_emu("permit", *common, "--install-codes", str(codes), "--duration", "60"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=child_env(), cwd=tmp_path,
        )
        out, err = await asyncio.wait_for(permit.communicate(), 50)
        assert permit.returncode == 0, err.decode()
        assert out.decode().count(", CBKE done") == 2

        status = tmp_path / "status.json"
        run = await asyncio.create_subprocess_exec(
            *han_emu("run", *common, "--no-tui", "--duration", "8", "--status-json", str(status)),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=child_env(), cwd=tmp_path,
        )
        _, err = await asyncio.wait_for(run.communicate(), 40)
        assert run.returncode == 0, err.decode()
        devices = json.loads(status.read_text())["devices"]
        displays = {k: v for k, v in devices.items() if k != "0x0000" and "requests" in v}
        assert displays, devices  # the IHD polls demand every 10 s
        for entry in displays.values():
            assert entry["requests"] >= 1 and entry["answered"] >= 1 and entry["refused"] == 0
            assert entry["last_seen"] is not None and entry["airtime_s"] > 0
    finally:
        if fake.returncode is None:
            fake.terminate()
        out, _ = await asyncio.wait_for(fake.communicate(), 20)
    assert fake.returncode == 0
    assert "CBKE done" in out.decode()  # each display's line as the stick stops


@pytest.mark.parametrize("text, line", [
    (f"{IEEE}:{CODE}\n00:0d:6f:00:0a:bc:de:f2:{CODE[:-2]}00\n", "line 2: the install code's CRC"),
    (f"# displays\n\n{IEEE}\n", "line 3: expected EUI64:INSTALLCODE"),
    (f"{IEEE}:83FE\n", "line 1: an install code is 6, 8, 12 or 16 bytes"),
    (f"{IEEE}:{CODE}\n{IEEE}:{CODE}\n", "line 2: 00:0d:6f:00:0a:bc:de:f1 is already on line 1"),
    ("00:0d:6f:00:0a:bc:de:{CODE}\n", "line 1:"),
    ("# nothing\n", "no EUI64:INSTALLCODE line"),
])
def test_a_bad_install_code_file_is_one_line_naming_the_line(tmp_path: Path, text: str, line: str) -> None:
    codes = tmp_path / "codes.txt"
    codes.write_text(text)
    result = run_main(["permit", "--radio", "znp:socket://127.0.0.1:9", "--install-codes", codes], cwd=tmp_path)
    assert result.returncode == 2
    err = result.stderr.strip()
    assert "\n" not in err and f"--install-codes {codes}: " in err and line in err, err


def test_fake_ncp_display_options_need_each_other(tmp_path: Path) -> None:
    result = run_main(["fake-ncp", "--protocol", "znp", "--codes-file", "c.txt"], cwd=tmp_path)
    assert result.returncode == 2 and "--codes-file goes with --displays" in result.stderr
    result = run_main(["fake-ncp", "--protocol", "znp", "--displays", "ihd"], cwd=tmp_path)
    assert result.returncode == 2 and "--displays needs --codes-file" in result.stderr
    result = run_main(["fake-ncp", "--protocol", "znp", "--displays", "ihd,tv", "--codes-file", "c.txt"],
                      cwd=tmp_path)
    assert result.returncode == 2 and "'tv' is not a display kind" in result.stderr
