from pathlib import Path

from han_emu.cli.main import main
from han_emu.han.store import StateStore
from han_emu.han.config import load
from tests.support.command import run_main

REPO = Path(__file__).resolve().parent.parent


def test_config_example_round_trips(tmp_path: Path, capsys) -> None:
    assert main(["config", "example"]) == 0
    text = capsys.readouterr().out
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert main(["config", "check", str(path)]) == 0
    assert "OK" in capsys.readouterr().out


def test_bad_config_exits_2_with_the_key(tmp_path: Path, capsys) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[mpan]\nprimary_import = '1234'\n")
    assert main(["config", "check", str(path)]) == 2
    assert "mpan.primary_import" in capsys.readouterr().err


def test_run_shows_the_meter_live_and_persists(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    out = run_main(["run", "--state", str(db), "--speed", "3600", "--duration", "1.5", "--interval", "0.5"],
                   cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "secondary" in out.stdout and "MPAN 1200023305994" in out.stdout
    assert "T4" in out.stdout
    meter = StateStore(db).load(load(None).meter)
    assert meter is not None and sum(meter.readings()) > 0
