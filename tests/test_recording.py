"""Recording the virtual HAN: ``han-emu run --pcap/--keylog/--zep`` and the
shipped example captures, each decoded by tshark with the tool's key log and
compared with the packets the HAN's listener saw.

The oracle reads tshark's PDML: for every Smart Energy ZCL frame it gives the
command, the attribute ids, each value's bytes as tshark dissected them, and
where each field sits, so the test can also check that tshark dissected every
byte of the ZCL frame the server sent, and nothing else.  Our side is parsed
independently of the emulator with zigpy's ZCL foundation types.
"""

from __future__ import annotations

import importlib.util
import socket
import stat
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import zigpy.util
import zigpy.zcl.foundation as foundation

import han_emu.han.virtual
from han_emu.frames.keylog import read_keylog_rows
from han_emu.crypto.certsets import eui64_to_cert, install_code_for
from han_emu.cli.main import main as cli_main
from han_emu.frames import read_capture
from han_emu.han.recording import HanRecording, RecordingError
from han_emu.frames.zep import parse_zep

REPO = Path(__file__).resolve().parent.parent
CAPTURES = REPO / "captures"
SE_PROFILE = 0x0109
BAD = "_ws.malformed || _ws.expert.severity >= error"
GC = foundation.GeneralCommand


# -- our side: the packets the HAN's listener saw ---------------------------------------


@dataclass
class Zcl:
    """One ZCL frame, as sent or as tshark decoded it."""

    cluster: int
    cluster_specific: bool
    server_to_client: bool
    tsn: int
    command: int
    attr_ids: list[int] | None = None
    values: list[bytes] | None = None
    payload: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)


def sent_zcl(air_frames: list[Any]) -> list[Zcl]:
    """Smart Energy ZCL frames put on the air, in order (APS ACK reports left out)."""
    out = []
    for frame in air_frames:
        packet = frame.packet
        if frame.aps_ack or packet.profile_id != SE_PROFILE:
            continue
        data = packet.data.serialize()
        header, body = foundation.ZCLHeader.deserialize(data)
        z = Zcl(int(packet.cluster_id), bool(header.frame_control.is_cluster), bool(header.direction),
                int(header.tsn), int(header.command_id), payload=data)
        if not z.cluster_specific:
            _general(z, body)
        out.append(z)
    return out


def _general(z: Zcl, body: bytes) -> None:
    schema = foundation.GENERAL_COMMANDS[GC(z.command)].schema if z.command in set(GC) else None
    if z.command == GC.Read_Attributes:
        z.attr_ids = [int(a) for a in schema.deserialize(body)[0].attribute_ids]
    elif z.command == GC.Read_Attributes_rsp:
        records = schema.deserialize(body)[0].status_records
        z.attr_ids = [int(r.attrid) for r in records]
        # None when every record failed (attributes not served): tshark then shows no value either
        z.values = [r.value.serialize()[1:] for r in records if r.status == foundation.Status.SUCCESS] or None
    elif z.command == GC.Report_Attributes:
        reports = schema.deserialize(body)[0].attribute_reports
        z.attr_ids = [int(r.attrid) for r in reports]
        z.values = [r.value.serialize()[1:] for r in reports]
    elif z.command == GC.Configure_Reporting:
        z.attr_ids = [int(r.attrid) for r in schema.deserialize(body)[0].config_records]


# -- tshark's side ------------------------------------------------------------------------------


def tshark_keys(keys: Path) -> str:
    return "uat:zigbee_pc_keys:" + keys.read_text().strip()


def tshark_bad(tshark: str, path: Path, keys: Path) -> str:
    return subprocess.run([tshark, "-r", str(path), "-o", tshark_keys(keys), "-Y", BAD],
                          capture_output=True, text=True, timeout=120, check=True).stdout.strip()


def _raw(f: ET.Element) -> bytes | None:
    """A field's bytes as on the wire (bit fields give their whole byte)."""
    size = int(f.get("size", "0"))
    for attr in ("unmaskedvalue", "value"):
        text = f.get(attr)
        if text is not None and len(text) == 2 * size:
            try:
                return bytes.fromhex(text)
            except ValueError:
                return None
    return None


@dataclass
class _Field:
    name: str
    pos: int
    size: int
    raw: bytes | None
    show: str


def tshark_zcl(tshark: str, path: Path, keys: Path) -> list[Zcl]:
    """Every Smart Energy ZCL frame tshark decodes, with fields placed relative to the ZCL header."""
    xml = subprocess.run([tshark, "-2", "-r", str(path), "-o", tshark_keys(keys), "-Y", "zbee_zcl && zbee_aps.profile == 0x0109",
                          "-T", "pdml"], capture_output=True, text=True, timeout=120, check=True).stdout
    out = []
    for packet in ET.fromstring(xml).iter("packet"):
        aps = {}
        fields: list[_Field] = []
        for f in packet.iter("field"):
            name = f.get("name") or ""
            if name.startswith("zbee_aps."):
                aps[name] = f.get("show", "")
            elif name.startswith("zbee_zcl"):
                fields.append(_Field(name, int(f.get("pos", "0")), int(f.get("size", "0")), _raw(f), f.get("show", "")))
        by_name: dict[str, list[_Field]] = {}
        for f in fields:
            by_name.setdefault(f.name, []).append(f)
        base = by_name["zbee_zcl.type"][0].pos
        at_pos: dict[int, list[_Field]] = {}
        for f in fields:
            f.pos -= base
            at_pos.setdefault(f.pos, []).append(f)
        cmd = next(f for f in fields if f.name == "zbee_zcl.cmd.id" or f.name.endswith((".srv_rx.id", ".srv_tx.id")))
        z = Zcl(int(aps["zbee_aps.cluster"], 16), by_name["zbee_zcl.type"][0].show == "0x01",
                by_name["zbee_zcl.dir"][0].show == "1", int(by_name["zbee_zcl.cmd.tsn"][0].show), int(cmd.show, 16))
        ids = [f for f in fields if f.name.endswith(".attr_id") or f.name == "zbee_zcl.attr.id"]
        if ids:
            z.attr_ids = [int.from_bytes(f.raw or b"", "little") for f in ids]
        # each value sits right after its data-type byte
        values = []
        for dt in by_name.get("zbee_zcl.attr.data.type", []):
            cands = [f for f in at_pos.get(dt.pos + 1, []) if f.raw is not None
                     and f.name not in ("zbee_zcl.attr.status", "zbee_zcl.attr.data.type")]
            if not cands:  # a data type with no value after it: a Discover Attributes record
                continue
            best = max(cands, key=lambda f: f.size)
            values.append(best.raw or b"")
            if best.name.startswith("zbee_zcl.attr.uint"):
                z.extra.setdefault("uints", []).append(int(best.show.split()[0]))
        if values:
            z.values = values
        # every byte tshark dissected, placed where it sits
        covered: dict[int, int] = {}
        for f in fields:
            if f.raw is not None:
                for i, b in enumerate(f.raw):
                    covered[f.pos + i] = b
        size = max(covered) + 1
        z.payload = bytes(covered.get(i, 0) for i in range(size))
        z.extra["gaps"] = [i for i in range(size) if i not in covered]
        intervals = by_name.get("zbee_zcl_se.met.get_profile_response.intervals")
        if intervals:
            z.extra["intervals"] = [int(f.show) for f in intervals]
        out.append(z)
    return out


DISCOVER_ATTRIBUTES_RSP = foundation.GeneralCommand.Discover_Attributes_rsp


def assert_tshark_agrees(tshark: str, path: Path, keys: Path, air_frames: list[Any]) -> list[Zcl]:
    """tshark decodes ``path`` cleanly with ``keys``; its ZCL frames are the ones sent."""
    assert tshark_bad(tshark, path, keys) == ""
    ours, theirs = sent_zcl(air_frames), tshark_zcl(tshark, path, keys)
    assert len(theirs) == len(ours) > 0
    for n, (mine, seen) in enumerate(zip(ours, theirs)):
        where = f"ZCL frame {n} (tsn {mine.tsn}, cluster 0x{mine.cluster:04X}, command 0x{mine.command:02X})"
        assert (seen.cluster, seen.cluster_specific, seen.server_to_client, seen.tsn, seen.command) == \
            (mine.cluster, mine.cluster_specific, mine.server_to_client, mine.tsn, mine.command), where
        if mine.attr_ids is not None:
            assert seen.attr_ids == mine.attr_ids, where
        if mine.values is not None:
            assert seen.values == mine.values, where
            uints = [int.from_bytes(v, "little") for v, s in zip(mine.values, seen.values or []) if v == s]
            assert set(seen.extra.get("uints", [])) <= set(uints), where
        # tshark 4.0 shows no field for a Discover Attributes Response's
        # discovery-complete byte (the first after the 3-byte header); only that
        # byte may go undissected, and it must be a flag
        flag = [3] if not mine.cluster_specific and mine.command == DISCOVER_ATTRIBUTES_RSP else []
        assert seen.extra["gaps"] in ([], flag), where
        mask = bytearray(mine.payload)
        for i in seen.extra["gaps"]:
            assert mask[i] in (0, 1), where
            mask[i] = 0
        assert seen.payload == bytes(mask), where
        if "intervals" in seen.extra:
            count = mine.payload[9]
            assert seen.extra["intervals"] == [int.from_bytes(mine.payload[10 + 3 * i:13 + 3 * i], "little")
                                               for i in range(count)], where
    return theirs


# -- the shipped captures ------------------------------------------------------------------------


def _generator() -> Any:
    """captures/make_captures.py is a script, not a package module: load it by path."""
    name = "han_emu_captures_generator"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, CAPTURES / "make_captures.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


SHIPPED = ["ihd-mp184", "cad-profile-paging"]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("captures")
    return {name: _generator().run_scenario(name, out) for name in SHIPPED}


def test_every_scenario_is_shipped() -> None:
    assert sorted(_generator().SCENARIOS) == sorted(SHIPPED)
    for name in SHIPPED:
        assert f"`{name}.pcapng`" in (CAPTURES / "README.md").read_text()


@pytest.mark.parametrize("name", SHIPPED)
def test_generator_reproduces_the_shipped_capture(regenerated: dict[str, Any], name: str) -> None:
    result = regenerated[name]
    assert result.capture.read_bytes() == (CAPTURES / f"{name}.pcapng").read_bytes()
    assert result.keys.read_bytes() == (CAPTURES / f"{name}.keys").read_bytes()
    assert result.recorded_frames == len(list(read_capture(CAPTURES / f"{name}.pcapng")))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_capture_decodes_as_sent(tshark: str, regenerated: dict[str, Any], name: str) -> None:
    frames = assert_tshark_agrees(tshark, CAPTURES / f"{name}.pcapng", CAPTURES / f"{name}.keys",
                                  regenerated[name].air_frames)
    records = list(read_capture(CAPTURES / f"{name}.pcapng"))
    assert {(r.linktype, r.channel, r.page) for r in records} == {(283, 15, 0)}
    # install-code key, then the CBKE key: four rows
    labels = [label for _, label in read_keylog_rows(CAPTURES / f"{name}.keys")]
    assert [label.split()[0] for label in labels] == ["network", "default", "install-code", "CBKE"]
    profile_pages = [f for f in frames if f.cluster == 0x0702 and f.cluster_specific and f.server_to_client]
    if name == "cad-profile-paging":
        assert len(profile_pages) == 6 and all(len(f.extra["intervals"]) == 24 for f in profile_pages)
    else:
        assert len(profile_pages) == 1 and len(profile_pages[0].extra["intervals"]) == 4


def test_ihd_capture_carries_the_mp184_items(tshark: str) -> None:
    """R1, R2, R3 and R4 of the secondary element, as tshark names them."""
    path, keys = CAPTURES / "ihd-mp184.pcapng", CAPTURES / "ihd-mp184.keys"
    out = subprocess.run([tshark, "-2", "-r", str(path), "-o", tshark_keys(keys), "-Y", "zbee_aps.src == 2 && zbee_zcl",
                          "-T", "fields", "-e", "zbee_zcl_se.met.attr_id", "-e", "zbee_zcl_se.price.attr_id",
                          "-e", "zbee_zcl_se.met.get_profile_response.number_of_periods_delivered"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    seen = set(",".join(out.split()).split(","))
    for item in ["0x0001", "0x0021", "0x0101", "0x0103", "0x0105", "0x0107",  # R1, R2 registers
                 "0x8410", "0x8420", "0x8430", "0x8440"]:  # R2 export prices
        assert item in seen, item
    assert "4" in seen  # R3: four export intervals delivered
    # R4: the export MPAN, manufacturer-specific: tshark reads the code from the ZCL header.
    out = subprocess.run([tshark, "-2", "-r", str(path), "-o", tshark_keys(keys),
                          "-Y", "zbee_aps.src == 2 && zbee_zcl.ms == 1", "-T", "fields",
                          "-e", "zbee_zcl.cmd.mc", "-e", "zbee_zcl.attr.id", "-e", "zbee_zcl.attr.ostr"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    mpan = ":".join(f"{b:02x}" for b in b"1200023305994")
    # read at start-up and again with the MP184 items
    assert out.split() == ["0xfff1", "0xe307", mpan] * 2


# -- han-emu run --------------------------------------------------------------------------------


class WatchedHan(han_emu.han.virtual.VirtualHan):
    """The CLI's VirtualHan with a listener that keeps every frame on the air."""

    last: WatchedHan | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[Any] = []
        self.listeners.append(lambda _han, frame: self.seen.append(frame))
        WatchedHan.last = self


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, WatchedHan]:
    WatchedHan.last = None
    monkeypatch.setattr(han_emu.han.virtual, "VirtualHan", WatchedHan)
    code = cli_main(["run", "--state", "none", *args])
    assert WatchedHan.last is not None
    return code, WatchedHan.last


@pytest.mark.parametrize(("linktype", "suffix"), [(283, "pcap"), (195, "pcapng"), (230, "pcap")])
def test_run_simulate_records_what_tshark_decodes(tshark: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str], linktype: int, suffix: str) -> None:
    capture, keys = tmp_path / f"han.{suffix}", tmp_path / "keys.txt"
    code, han = run_cli(monkeypatch, "--simulate", "10m", "--pcap", str(capture), "--linktype", str(linktype),
                        "--keylog", str(keys))
    assert code == 0 and "simulated until" in capsys.readouterr().out
    assert han.traffic.failed == 0
    records = list(read_capture(capture))
    assert {r.linktype for r in records} == {linktype}
    assert capture.read_bytes()[:4] == (b"\x0a\x0d\x0d\x0a" if suffix == "pcapng" else b"\xd4\xc3\xb2\xa1")
    if linktype == 283:
        assert {(r.channel, r.page) for r in records} == {(15, 0)}
    frames = assert_tshark_agrees(tshark, capture, keys, han.seen)
    assert len(frames) > 300 and any(f.command == GC.Report_Attributes for f in frames)

    # the key log: private, with the network key and each display's install-code and CBKE keys
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    logged = dict(read_keylog_rows(keys))
    assert han.app is not None
    assert bytes(han.app.state.network_info.network_key.key) in logged
    for device in han.devices:
        code_key = bytes(zigpy.util.convert_install_code(install_code_for(eui64_to_cert(device.ieee))))
        cbke_key = bytes(han.app.link_key_for(device.ieee))
        assert device.key_established and cbke_key != code_key
        assert logged[code_key].startswith("install-code") and logged[cbke_key].startswith("CBKE")


def test_run_streams_zep_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # A virtual-time run sends its datagrams in a burst: give the kernel room
    # for all of them (UDP drops what does not fit, and this reader shares the GIL).
    for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
        if option is None:
            continue
        try:
            sink.setsockopt(socket.SOL_SOCKET, option, 16 << 20)
            break
        except OSError:
            continue
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(0.5)
    got: list[bytes] = []

    def receive() -> None:
        while True:
            try:
                got.append(sink.recv(4096))
            except OSError:
                return

    reader = threading.Thread(target=receive)
    reader.start()
    try:
        code, _ = run_cli(monkeypatch, "--simulate", "2m", "--pcap", str(tmp_path / "z.pcapng"),
                          "--zep", f"127.0.0.1:{sink.getsockname()[1]}")
        reader.join(5)
    finally:
        sink.close()
    assert code == 0
    records = list(read_capture(tmp_path / "z.pcapng"))
    zep = [parse_zep(d) for d in got]
    assert len(zep) == len(records) > 50
    assert [bytes(p.content.body.frame) for p in zep] == [r.psdu for r in records]
    assert {p.content.body.channel for p in zep} == {15}
    assert [p.content.body.sequence for p in zep] == list(range(len(zep)))


def test_recording_nothing_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, han = run_cli(monkeypatch, "--simulate", "1m")
    assert code == 0 and len(han.listeners) == 1  # the test's own: recording added nothing
    assert list(tmp_path.iterdir()) == []


# -- bad options ----------------------------------------------------------------------------------


def test_unwritable_capture_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "x.pcap"
    assert cli_main(["run", "--state", "none", "--simulate", "1m", "--pcap", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "cannot record" in err and str(missing) in err


def test_bad_linktype_and_zep_address_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--linktype", "42"], ["--zep", "localhost:notaport"], ["--zep", "localhost:70000"], ["--zep", "[::1"]):
        with pytest.raises(SystemExit) as exc:
            cli_main(["run", "--simulate", "1m", *args])
        assert exc.value.code == 2
    assert "notaport" in capsys.readouterr().err


def test_an_unknown_link_type_is_refused() -> None:
    with pytest.raises(RecordingError, match="link type 42"):
        HanRecording(linktype=42)


def test_capture_carries_the_air_s_frame_counters_across_a_restart(tshark: str, tmp_path: Path) -> None:
    """The NWK frame counters in a capture are the ones the virtual air gave
    the frames: after a restart they carry on from the saved state (plus the
    restart margin), they do not start again from 0, and tshark reads them."""
    from han_emu.han.config import load
    from han_emu.air.synth import ieee_int
    from han_emu.meter.model import TwinMeter
    from han_emu.radio.virtual.counters import RESTART_MARGIN
    from han_emu.radio.vtime import run_virtual
    from han_emu.han.recording import record_han
    from han_emu.han.store import StateStore
    from han_emu.han.virtual import VirtualHan

    config, db = load(None), tmp_path / "state.db"
    start = 1_780_272_000.0
    capture, keys = tmp_path / "after.pcap", tmp_path / "keys.txt"

    async def first() -> dict[str, int]:
        store = StateStore(db)
        han = VirtualHan(config, TwinMeter(config.meter, start), store=store)
        highest: dict[str, int] = {}
        han.listeners.append(lambda _h, f: highest.__setitem__(
            f"{ieee_int(f.src_ieee):016x}", max(highest.get(f"{ieee_int(f.src_ieee):016x}", -1), f.nwk_counter)))
        await han.start()
        await han.run_for(300)
        await han.stop()
        store.close()
        return highest

    async def second() -> dict[str, list[int]]:
        store = StateStore(db)
        han = VirtualHan(config, store.load(config.meter), store=store)
        on_air: dict[str, list[int]] = {}
        han.listeners.append(lambda _h, f: None if f.aps_ack else on_air.setdefault(
            f"{ieee_int(f.src_ieee):016x}", []).append(f.nwk_counter))
        with record_han(han, pcap=capture, keylog=keys):
            await han.start()
            await han.run_for(120)
            await han.stop()
        store.close()
        return on_air

    before = run_virtual(first(), start)
    on_air = run_virtual(second(), start + 400)
    out = subprocess.run(
        [tshark, "-r", str(capture), "-o", tshark_keys(keys), "-T", "fields", "-E", "occurrence=f",
         "-e", "zbee.sec.src64", "-e", "zbee.sec.counter", "-Y", "zbee_nwk"],
        capture_output=True, text=True, timeout=60, check=True).stdout
    captured: dict[str, list[int]] = {}
    for line in out.splitlines():
        src, counter = line.split("\t")
        captured.setdefault(src.replace(":", ""), []).append(int(counter))
    assert len(captured) == 3 and set(captured) == set(before) == set(on_air)  # the coordinator, both displays
    for sender, counters in captured.items():
        assert counters == sorted(set(counters)), sender  # strictly rising, as sent
        assert counters[0] == on_air[sender][0] >= before[sender] + RESTART_MARGIN, sender
        assert counters[-1] >= on_air[sender][-1], sender  # never behind the air


def test_a_seeded_simulation_records_the_same_capture_byte_for_byte(tmp_path: Path) -> None:
    """``--seed`` fixes everything random (network key, PAN ids, addresses,
    CBKE's ephemeral keys); with the start time configured, two runs write the
    same capture, and another seed a different network."""
    config = tmp_path / "han.toml"
    config.write_text('[meter]\nstart = "2026-06-01T00:00:00Z"\n')

    def run(seed: str, name: str) -> bytes:
        path = tmp_path / name
        args = ["run", "--config", str(config), "--simulate", "3m", "--pcap", str(path), "--keylog", str(path) + ".keys"]
        assert cli_main(args + (["--seed", seed] if seed else [])) == 0
        return path.read_bytes()

    first, again, other = run("3", "a.pcap"), run("3", "b.pcap"), run("4", "c.pcap")
    assert first == again and len(first) > 10_000
    assert other != first
    logs = {name: read_keylog_rows(tmp_path / f"{name}.pcap.keys") for name in "abc"}
    assert logs["a"] == logs["b"]
    drawn = {name: {key for key, label in log if not label.startswith("install-code") and key != b"ZigBeeAlliance09"}
             for name, log in logs.items()}
    assert len(drawn["a"]) >= 3  # the network key and each display's CBKE key
    assert not drawn["a"] & drawn["c"]  # drawn afresh for another seed (install-code keys follow the IEEE)
