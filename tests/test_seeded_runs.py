"""Seeded simulations stay the same byte for byte, across changes made for speed.

A ``han-emu run --simulate ... --seed N`` with a configured start is
deterministic: its capture, key log and summary are the same on every run.
The digests below were taken from the code as it was before the virtual HAN
and the duty-cycle study were made faster, so they also say that nothing a
user can see has changed: not a frame, not its order, not a byte of its
security.  The study's comparison is held to its figures the same way.

When behaviour changes on purpose (a new request a display makes, a new
attribute, ...), regenerate the digests with

    python -m tests.test_seeded_runs

which prints the new table to paste here; say in the commit what changed.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

#: sha256 of each output, as recorded before the speed work (see the module docstring).
DIGESTS = {
    "run.pcapng": "dfcc79a63aac0b3261666cafa09a31da8207147d27bad60242a803d1aebc3485",
    "run.keys": "e6f2bd6e4177482f093d7c0d830e8d7c4579d3770967e73963e3dee2aaf28ac3",
    "run.summary.json": "5524c0743a5a6823176540c40ace54fa80ad280379d3c2ea689acb786e69df71",
    "study.json": "1fbdbfc0d2285471c8e695097e33484db74dca6f79d8db4363fb39fed01d4efe",
}

#: The GB local midnight (23:00 UTC in summer) falls inside the run: the displays read their whole history then.
CONFIG = '[meter]\nstart = "2026-06-01T22:20:00Z"\n'
SEED = "7"


def seeded_run(folder: Path) -> dict[str, bytes]:
    """``han-emu run --simulate 50m --seed 7`` with a capture, its key log and the summary."""
    from han_emu.cli.main import main as cli_main

    config = folder / "han.toml"
    config.write_text(CONFIG)
    capture = folder / "run.pcapng"
    args = ["run", "--config", str(config), "--simulate", "50m", "--seed", SEED, "--pcap", str(capture),
            "--keylog", str(folder / "run.keys"), "--summary-json", str(folder / "run.summary.json")]
    assert cli_main(args) == 0
    return {name: (folder / name).read_bytes() for name in ("run.pcapng", "run.keys", "run.summary.json")}


def seeded_study() -> bytes:
    """The MP184 comparison for 1 and 2 sub-GHz displays over 20 virtual minutes, as JSON."""
    from han_emu.han.config import load
    from han_emu.study.compare import SimulationSettings, compare_mp184, comparison_json

    comparisons = compare_mp184(load(None), SimulationSettings(duration_s=1200.0, sub_ghz_devices=2))
    return json.dumps(comparison_json(comparisons), indent=2, sort_keys=True).encode()


def digests(folder: Path) -> dict[str, str]:
    outputs = seeded_run(folder)
    outputs["study.json"] = seeded_study()
    return {name: hashlib.sha256(data).hexdigest() for name, data in outputs.items()}


def test_a_seeded_run_and_the_study_give_what_they_gave_before(tmp_path: Path, capsys) -> None:
    got = digests(tmp_path)
    capsys.readouterr()
    assert len((tmp_path / "run.pcapng").read_bytes()) > 100_000  # a real capture, both displays polling
    assert got == DIGESTS


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        table = digests(Path(tmp))
    print("DIGESTS = {", file=sys.stderr)
    for name, value in table.items():
        print(f'    "{name}": "{value}",', file=sys.stderr)
    print("}", file=sys.stderr)
