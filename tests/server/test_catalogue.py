"""The served-cluster table: complete, sourced, and the same as the documentation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from clusters.ids import KEY_ESTABLISHMENT, METERING, PRICE
from han_emu.cli.main import main
from han_emu.server.catalogue import Entry, collapse, entries, full_server, markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "clusters.md"
START, END = "<!-- served-clusters:start -->", "<!-- served-clusters:end -->"


@pytest.fixture(scope="module")
def rows() -> list[Entry]:
    return entries(full_server())


def covered(rows: list[Entry], endpoint: int, cluster: int, kind: str) -> set[int]:
    out: set[int] = set()
    for e in rows:
        if (e.endpoint, e.cluster_id, e.kind) != (endpoint, cluster, kind) or e.first is None:
            continue
        step = 1
        m = re.search(r"ids every 0x([0-9A-F]+)", e.note)
        if m:
            step = int(m.group(1), 16)
        out.update(range(e.first, (e.last or e.first) + 1, step))
    return out


def test_every_served_attribute_and_command_has_a_row(rows: list[Entry]) -> None:
    server = full_server()
    for ep_id, ep in server.zcl.endpoints.items():
        for cid, side in ep.server_clusters.items():
            assert covered(rows, ep_id, cid, "attribute") == {b.id for b in side.attributes}
            assert covered(rows, ep_id, cid, "received") == {c for c, _m in side.handlers}
            assert covered(rows, ep_id, cid, "generated") == {c for c, _m in side.generated}


def test_sources_follow_the_precedence(rows: list[Entry]) -> None:
    def source(endpoint: int, cluster: int, first: int) -> str:
        return next(e.source for e in rows
                    if (e.endpoint, e.cluster_id, e.kind) == (endpoint, cluster, "attribute") and e.first == first)

    assert source(1, METERING, 0x0100) == "GBCS"          # tier 1 summation delivered
    assert source(2, METERING, 0x0101) == "MP184"         # tier 1 summation received, secondary
    assert source(2, PRICE, 0x8410) == "provisional"      # export TOU price home
    assert source(1, METERING, 0x0304) == "ZSE"           # demand formatting
    assert {e.source for e in rows if e.cluster_id == 0xE307 or e.first == 0xE307} <= {"provisional"}
    ke = [e for e in rows if e.cluster_id == KEY_ESTABLISHMENT and e.kind == "cluster"]
    assert ke and {e.endpoint for e in ke} == {1}


def test_a_family_collapses_into_one_row_and_a_short_run_does_not() -> None:
    def attr(first: int, name: str) -> Entry:
        return Entry(1, "primary", METERING, "Metering", "server", "attribute", first, first, name,
                     "uint24", None, "ZSE", "")

    family = [attr(0x0420 + 2 * (n - 2), f"previous_day{n}_x") for n in range(2, 9)]
    merged = collapse(family)
    assert len(merged) == 1 and merged[0].name == "previous_day{2..8}_x"
    assert (merged[0].first, merged[0].last, merged[0].note) == (0x0420, 0x042C, "ids every 0x2")
    assert collapse(family[:2]) == family[:2]


def test_the_documentation_shows_what_is_served(rows: list[Entry]) -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text.split(START, 1)[1].split(END, 1)[0].strip("\n") + "\n"
    assert table == markdown(rows), ("docs/clusters.md is stale: put the output of `han-emu config clusters` between its "
                                     "served-clusters markers")


def test_the_command_prints_markdown_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "clusters"]) == 0
    assert "### Endpoint 2 (secondary element)" in capsys.readouterr().out
    assert main(["config", "clusters", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"endpoint", "cluster_id", "kind", "ids", "source"} <= set(data[0])


def test_a_configuration_moves_the_endpoints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[endpoints]\nprimary = 7\nsecondary = 9\n", encoding="utf-8")
    assert main(["config", "clusters", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "### Endpoint 7 (primary element)" in out and "### Endpoint 9 (secondary element)" in out
