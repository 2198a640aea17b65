"""``han-emu dutycycle`` and ``han-emu run --status-json`` from the command line."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from han_emu.cli.main import main

REPO = Path(__file__).resolve().parent.parent
CAPTURE = REPO / "captures" / "ihd-mp184.pcapng"


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG that decodes (matplotlib reads it back)."""
    from matplotlib.image import imread

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    pixels = imread(path)
    assert pixels.shape[:2] == (height, width)
    assert len({tuple(p) for p in pixels[::20, ::20].reshape(-1, pixels.shape[2])}) > 3  # not a blank image
    return width, height


def ihd_nwk() -> int:
    """The IHD's NWK address in the example capture (the one non-coordinator sender)."""
    from han_emu.replay import Replay

    replay = Replay(CAPTURE, keylog=CAPTURE.with_suffix(".keys"))
    senders = {e.src for e in replay.frames() if getattr(e, "src", None) not in (None, 0)}
    assert len(senders) == 1
    return senders.pop()


def test_capture_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dutycycle", str(CAPTURE), "--phy", "2.4", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["phy"] == "2.4"
    ihd = f"0x{ihd_nwk():04x}"
    assert set(doc["devices"]) == {"0x0000", ihd}
    for dev in doc["devices"].values():
        assert {"airtime_s", "frames", "peak_hour_s"} <= set(dev)
        assert dev["peak_hour_s"] == dev["airtime_s"] > 0


def test_capture_table_chart_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plot = tmp_path / "air.png"
    assert main(["dutycycle", str(CAPTURE), "--phy", "gb868", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert f"0x{ihd_nwk():04x}" in out and "peak hour s" in out
    # the terminal chart, scaled to the regulated limit: a tiny bar at 0.05 s
    assert "airtime per hour" in out and "\nh0 " in out
    assert "L limited 36 s" in out and "R regulated 100 s" in out
    assert _png_size(plot) == (1000, 560)


def test_simulation_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dutycycle", "--simulate", "10m", "--devices", "1", "--no-cbke", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "0x0000" in doc["devices"] and len(doc["devices"]) == 2
    hub = doc["devices"]["0x0000"]
    assert hub["airtime_s"] > 0 and hub["frames"] > 0 and hub["peak_hour_s"] > 0
    assert doc["limits"] == {"limited_s": 36.0, "critical_s": 75.0, "regulated_s": 100.0}
    assert doc["variant"] == "with_mp184"
    # the hub's 2.4 GHz leg to the ESME, measured beside the regulated figures
    leg = doc["esme_leg"]
    assert leg["band"] == "2.4" and leg["regulated"] is False
    assert set(leg["devices"]) == {"0x0000", "0x0001"}
    display = next(k for k in doc["devices"] if k != "0x0000")
    assert set(leg["per_display_s"]) == {display}
    assert leg["per_display_s"][display] == pytest.approx(
        sum(d["airtime_s"] for d in leg["devices"].values()), abs=1e-5)


def test_compare_json_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "cmp.json"
    assert main(["dutycycle", "--simulate", "10m", "--compare", "mp184", "--devices", "1", "--no-cbke",
                 "--format", "json", "--output", str(out_file)]) == 0
    doc = json.loads(out_file.read_text())
    assert set(doc["variants"]) == {"with_mp184", "without_mp184"}
    for variant in doc["variants"].values():
        assert {"airtime_s", "frames", "peak_hour_s"} <= set(variant["devices"]["0x0000"])
    assert doc["difference"]["devices"]["0x0000"]["per_hour_s"] > 0
    assert doc["difference"]["esme_leg"]["0x0001"]["airtime_s"] > 0  # MP184 costs the 2.4 GHz leg too
    assert [r["sub_ghz_devices"] for r in doc["runs"]] == [1]
    plot = tmp_path / "cmp.png"
    assert main(["dutycycle", "--simulate", "10m", "--compare", "mp184", "--devices", "1", "--no-cbke",
                 "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "MP184 impact" in out and "hub peak rolling hour" in out and "(2.4 GHz leg, measured)" in out
    assert _png_size(plot) == (1000, 560)


def test_bad_invocations(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dutycycle"]) == 2
    assert main(["dutycycle", str(CAPTURE), "--compare", "mp184"]) == 2
    assert main(["dutycycle", "missing.pcap"]) == 2
    assert "give a capture" in capsys.readouterr().err


def test_run_writes_status_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = tmp_path / "status.json"
    assert main(["run", "--simulate", "5m", "--state", "none", "--no-cbke", "--status-json", str(status)]) == 0
    doc = json.loads(status.read_text())
    assert "0x0000" in doc["devices"]
    for dev in doc["devices"].values():
        assert {"airtime_s", "frames", "peak_hour_s", "state", "bands"} <= set(dev)
        assert dev["bands"]["2.4"]["state"] == "TRACKING_OFF"
    assert doc["devices"]["0x0000"]["frames"] > 0


def test_run_accounts_a_gb868_display_on_the_hubs_regulated_budget(tmp_path: Path) -> None:
    config = tmp_path / "han.toml"
    config.write_text('[[devices]]\nkind = "ihd"\nname = "IHD"\nband = "gb868"\n\n'
                      '[[devices]]\nkind = "ppmid"\nname = "PPMID"\nprofile_s = 0.0\n', encoding="utf-8")
    status = tmp_path / "status.json"
    assert main(["run", "--simulate", "5m", "--state", "none", "--no-cbke", "--config", str(config),
                 "--status-json", str(status)]) == 0
    doc = json.loads(status.read_text())
    by_name = {dev["name"]: (key, dev) for key, dev in doc["devices"].items()}
    ihd_key, ihd = by_name["IHD"]
    _, ppmid = by_name["PPMID"]
    assert set(ihd["bands"]) == {"gb868"} and ihd["state"] == "NORMAL"
    assert ihd["bands"]["gb868"]["headroom_s"] > 0
    assert set(ppmid["bands"]) == {"2.4"} and ppmid["state"] == "TRACKING_OFF"
    hub = doc["devices"]["0x0000"]
    # the hub pays on GB-868 for the IHD only, and relays its exchanges over the 2.4 GHz leg
    assert hub["bands"]["gb868"]["frames"] > 0 and hub["bands"]["gb868"]["state"] == "NORMAL"
    assert ihd["bands"]["gb868"]["relayed_s"] > 0 and ihd["bands"]["gb868"]["leg_2400_s"] > 0
    leg = doc["esme_leg"]
    assert set(leg["per_peer_s"]) == {ihd_key}
    assert leg["devices"]["0x0001"]["name"] == "ESME" and leg["devices"]["0x0001"]["airtime_s"] > 0
    assert doc["devices"]["0x0001"]["bands"]["2.4"]["state"] == "TRACKING_OFF"
