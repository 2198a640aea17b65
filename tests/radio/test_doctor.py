"""``han-emu doctor`` against both emulated sticks: what it reports is what the
emulation holds, problems come with a fix, and a stick that cannot be probed
ends in one line and exit status 3 within the timeout.

Expected values are read from the emulation (its NV tables, its tokens, the
configuration the NCP ran with), never written down here, so the tests follow
the emulations' table sizes and versions wherever they go.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import bellows.types as bt
import pytest
import zigpy.types as zt
import zigpy_znp.types as znp_t
from zigpy_znp.types.nvids import ExNvIds, OsalNvIds

from han_emu.cli.main import main
from han_emu.crypto.certsets import TestCA, eui64_to_cert
from han_emu.radio.backend import start_radio
from han_emu.radio.doctor import NOT_USABLE, READY, READY_WITH_WARNINGS, probe_stick
from han_emu.radio.doctor.findings import certificate_text

from .stick_support import IHD_IEEE, IHD_NWK, STICK_IEEE, Stick, quick_ezsp_reset

KEY = bytes(range(16))
OTHER_IEEE = zt.EUI64.convert("00:0d:6f:00:00:00:00:99")


@pytest.fixture(autouse=True)
def _quick_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    quick_ezsp_reset(monkeypatch)


def ezsp_ran_with(stick: Stick) -> dict[str, int]:
    """The configuration values the emulated EZSP NCP gave the host, as the
    host had set them for its session (the NCP forgets them at each reset)."""
    ncp = stick.fake.ncp
    names = {bt.EzspConfigId.CONFIG_KEY_TABLE_SIZE: "key_table",
             bt.EzspConfigId.CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE: "tc_cache",
             bt.EzspConfigId.CONFIG_ADDRESS_TABLE_SIZE: "address_table"}
    seen: dict[str, int] = {}
    config_value = ncp.config_value

    def remembering(config_id: bt.EzspConfigId) -> int:
        value = config_value(config_id)
        if config_id in names and ncp.ram.config:  # the host configured this session
            seen[names[config_id]] = int(value)
        return value

    ncp.config_value = remembering
    return seen


def znp_tables(stick: Stick) -> dict[str, int]:
    """The Z-Stack emulation's NV table sizes."""
    nvram = stick.fake.device.nvram
    return {"aps": len(nvram.table(ExNvIds.APS_KEY_DATA_TABLE)), "tclk": len(nvram.table(ExNvIds.TCLK_TABLE)),
            "addrmgr": len(nvram.table(ExNvIds.ADDRMGR))}


async def form(stick: Stick) -> None:
    """Have the host form a network on the stick, as the first `han-emu run` does."""
    app = await start_radio(stick.spec, None, auto_form=True)
    await app.shutdown(db=False)


def add_display(stick: Stick, ieee: zt.EUI64 = IHD_IEEE, nwk: int = IHD_NWK, key: bytes = KEY) -> None:
    """A display the stick keeps after a session: joined as our child, CBKE key installed."""
    if stick.kind == "znp":
        stick.fake.device.device_join(nwk, znp_t.EUI64(ieee))
        assert stick.fake.device.add_link_key(nwk, znp_t.EUI64(ieee), znp_t.KeyData(key)) == znp_t.Status.SUCCESS
    else:
        tokens = stick.fake.tokens
        tokens.children[bt.EUI64(ieee)] = nwk
        free = next(i for i in range(256) if i not in tokens.link_keys)
        tokens.link_keys[free] = (bt.EUI64(ieee), key)


def held_network(stick: Stick) -> dict[str, Any]:
    """Channel, PAN ids and key sequence as the emulation holds them."""
    if stick.kind == "znp":
        device = stick.fake.device
        nib = device.nib
        key = device.nvram.osal_get(OsalNvIds.NWK_ACTIVE_KEY_INFO, znp_t.NwkKeyDesc)
        return {"channel": int(nib.nwkLogicalChannel), "pan_id": f"0x{int(nib.nwkPanId):04X}",
                "extended_pan_id": str(nib.extendedPANID), "network_key_sequence": int(key.KeySeqNum)}
    tokens = stick.fake.tokens
    return {"channel": tokens.channel, "pan_id": f"0x{tokens.pan_id:04X}",
            "extended_pan_id": str(zt.ExtendedPanId.deserialize(tokens.extended_pan_id)[0]),
            "network_key_sequence": tokens.network_key_seq}


def firmware_of(stick: Stick) -> tuple[str, str]:
    """(stack name, a piece of the firmware summary) as the emulation reports itself."""
    if stick.kind == "znp":
        return "Z-Stack", f"build {stick.fake.device.image.code_revision}"
    ncp = stick.fake.ncp
    return "EmberZNet", ".".join(map(str, ncp.STACK_VERSION)) + f" build {ncp.STACK_BUILD}"


def doctor(argv: list[str]) -> int:
    """``han-emu doctor`` as a user runs it (its own event loop, in a thread,
    while the emulated stick serves on the test's loop)."""
    return main(["doctor", *argv])


# ---------------------------------------------------------------- a stick without a network
@pytest.mark.parametrize("kind", ["ezsp", "znp"])
async def test_a_new_stick_without_a_network(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    async with Stick(kind) as stick:
        ran = ezsp_ran_with(stick) if kind == "ezsp" else {}
        status = await asyncio.to_thread(doctor, ["--radio", f"{kind}:{stick.fake.url}", "--format", "json"])
        report = json.loads(capsys.readouterr().out)
        status_text = await asyncio.to_thread(doctor, ["--radio", f"{kind}:{stick.fake.url}"])
        text = capsys.readouterr().out
    assert status == status_text == 0
    name, build = firmware_of(stick)
    assert report["stack"]["name"] == name and build in report["firmware"]["summary"]
    assert report["firmware"]["ieee"] == str(STICK_IEEE)
    assert report["network"] is None
    assert report["verdict"] == READY_WITH_WARNINGS
    assert any("holds no network" in p["problem"] and f"han-emu run --radio {kind}:" in p["fix"]
               for p in report["problems"])
    assert report["cbke"]["mode"] == "software"
    if kind == "znp":
        tables = znp_tables(stick)
        assert report["stack"]["zstack_version"] == "3.30"
        assert report["key_table"]["size"] == tables["aps"] and report["key_table"]["free"] == tables["aps"]
        assert report["key_table"]["trust_centre"] == {"size": tables["tclk"], "used": 0, "free": tables["tclk"]}
        assert report["address_cache"]["address_manager"] == tables["addrmgr"]
    else:
        assert report["stack"]["protocol_version"] == stick.fake.ncp.PROTOCOL_VERSION
        table = report["key_table"]
        assert (table["size"], table["used"], table["free"]) == (ran["key_table"], 0, ran["key_table"])
        assert report["address_cache"]["trust_centre_cache"] == ran["tc_cache"]
        assert report["address_cache"]["address_table"] == ran["address_table"]
    assert report["flow_control"]["summary"].startswith("not applicable")  # a TCP link
    assert set(report) >= {"stack", "firmware", "cbke", "key_table", "verdict", "address_cache",
                           "flow_control", "network", "problems"}
    # The text says the same, with the verdict and a fix under each problem.
    assert "read only" in text.splitlines()[0]
    assert "none: the stick holds no network" in text
    assert f"verdict: {READY_WITH_WARNINGS}" in text
    assert text.count("    fix: ") == len(report["problems"])


# ------------------------------------------------------------- a stick holding a network
@pytest.mark.parametrize("kind", ["ezsp", "znp"])
async def test_the_network_and_its_devices_are_reported_as_the_stick_holds_them(kind: str) -> None:
    ca = TestCA.builtin(1)
    async with Stick(kind) as stick:
        await form(stick)
        add_display(stick)
        certificates = (ca.issue(eui64_to_cert(STICK_IEEE)),)
        findings = await probe_stick(stick.spec, certificates=certificates)
    report = findings.as_dict()
    assert {k: report["network"][k] for k in held_network(stick)} == held_network(stick)
    assert report["network"]["devices"] == [
        {"ieee": str(IHD_IEEE), "nwk": f"0x{IHD_NWK:04X}", "child": True, "link_key": True}]
    assert report["network"]["device_count"] == 1
    assert report["key_table"]["used"] == 1
    assert report["key_table"]["free"] == report["key_table"]["size"] - 1
    assert report["cbke"]["mode"] == "software"
    assert not [p for p in findings.problems if "[cbke" in p.problem]  # the set names this stick
    if kind == "ezsp":  # bellows' 2-entry trust-centre address cache is all that stands out
        assert [p.problem for p in findings.problems] == [
            p.problem for p in findings.problems if "address cache" in p.problem]
        assert findings.verdict == (READY_WITH_WARNINGS if findings.problems else READY)
    else:
        assert findings.problems == [] and findings.verdict == READY
    text = findings.to_text()
    assert f"{IHD_IEEE} at 0x{IHD_NWK:04X} (child, link key)" in text
    assert f"channel {held_network(stick)['channel']}" in text


@pytest.mark.parametrize(("kind", "firmware"), [
    ("ezsp", "v13"), ("ezsp", "v14"), ("znp", "zstack-3.x.0"), ("znp", "zstack-3.30")])
async def test_the_key_table_is_read_as_the_host_reads_it_on_each_firmware(kind: str, firmware: str) -> None:
    """One reading of the key table for doctor and for the host installing a
    key (the apps' ``key_table_use``), whatever the firmware's frame layout
    (EZSP v14 answers exportLinkKeyByIndex in another order than v13)."""
    async with Stick(kind, firmware=firmware) as stick:
        await form(stick)
        add_display(stick)
        findings = await probe_stick(stick.spec)
        app = await start_radio(stick.spec, None)
        try:
            size, used = await app.key_table_use()
            first_free = await app.free_key_slot()
        finally:
            await app.shutdown(db=False)
    table = findings.as_dict()["key_table"]
    assert (table["size"], table["used"], table["free"]) == (size, used, size - used)
    assert used == 1 and first_free == 1


@pytest.mark.parametrize("kind", ["ezsp", "znp"])
async def test_a_certificate_for_another_device_makes_the_stick_not_usable(kind: str) -> None:
    async with Stick(kind) as stick:
        findings = await probe_stick(stick.spec, certificates=(TestCA.builtin(1).issue(eui64_to_cert(OTHER_IEEE)),))
    assert findings.verdict == NOT_USABLE
    (problem,) = [p for p in findings.problems if p.severity == "error"]
    assert str(OTHER_IEEE) in problem.problem and str(STICK_IEEE) in problem.fix


# ------------------------------------------------------------------ where CBKE can run
async def test_an_ezsp_smart_energy_image_runs_cbke_on_the_ncp() -> None:
    suite1 = TestCA.builtin(1).issue(eui64_to_cert(STICK_IEEE))
    suite2 = TestCA.builtin(2).issue(eui64_to_cert(STICK_IEEE))
    async with Stick("ezsp", cbke=[suite1, suite2]) as stick:
        findings = await probe_stick(stick.spec)
    cbke = findings.cbke
    assert cbke["mode"] == "ncp"
    assert cbke["ncp_suites"] == {
        str(s.suite.number): {"libraries": True,
                              "certificate": {"issuer": certificate_text(s.parsed.issuer), "subject": str(STICK_IEEE)}}
        for s in (suite1, suite2)}
    assert "on the NCP: suites 1, 2" in findings.to_text()
    assert not [p for p in findings.problems if "cbke" in p.problem.lower()]  # no [cbke] set needed


async def test_an_ezsp_ncp_certificate_for_another_device_is_an_error() -> None:
    wrong = TestCA.builtin(1).issue(eui64_to_cert(OTHER_IEEE))
    async with Stick("ezsp", cbke=[wrong]) as stick:
        findings = await probe_stick(stick.spec)
    assert findings.verdict == NOT_USABLE
    assert any(str(OTHER_IEEE) in p.problem and "NCP" in p.problem for p in findings.problems)


async def test_a_zstack_build_without_key_commands_cannot_do_cbke() -> None:
    async with Stick("znp", key_management=False) as stick:
        findings = await probe_stick(stick.spec)
    assert findings.cbke["mode"] == "impossible"
    assert findings.cbke["software_key_install"]["commands"] == {
        "ZDO_SET_LINK_KEY": False, "ZDO_SEC_ADD_LINK_KEY": False}
    assert findings.verdict == NOT_USABLE
    assert any("MT_SYS_KEY_MANAGEMENT" in p.problem and "--lab-accept-unencrypted" in p.fix
               for p in findings.problems)


# ----------------------------------------------------------------------- a full key table
@pytest.mark.parametrize("kind", ["ezsp", "znp"])
async def test_a_full_key_table_is_not_usable_and_says_how_to_fix_it(
    kind: str, capsys: pytest.CaptureFixture[str],
) -> None:
    async with Stick(kind) as stick:
        ran = ezsp_ran_with(stick) if kind == "ezsp" else {}
        if kind == "znp":
            size = znp_tables(stick)["aps"]
            for i in range(size):
                ieee = znp_t.EUI64(bytes([i + 1, 0, 0, 0, 0, 0, 0x0D, 0])[::-1])
                assert stick.fake.device.add_link_key(0x1000 + i, ieee, znp_t.KeyData(KEY)) == znp_t.Status.SUCCESS
        else:  # more entries than any key table: every one the NCP has is taken
            for i in range(256):
                stick.fake.tokens.link_keys[i] = (bt.EUI64(bytes([i, 0, 0, 0, 0, 0, 0x0D, 0])), KEY)
        status = await asyncio.to_thread(doctor, ["--radio", f"{kind}:{stick.fake.url}", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    expected = size if kind == "znp" else ran["key_table"]
    assert status == 1
    assert report["verdict"] == NOT_USABLE
    assert (report["key_table"]["size"], report["key_table"]["free"]) == (expected, 0)
    (full,) = [p for p in report["problems"] if "full" in p["problem"]]
    assert full["severity"] == "error" and str(expected) in full["problem"] and full["fix"]


# -------------------------------------------------------------- a stick that cannot be probed
def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("kind", ["ezsp", "znp"])
def test_nothing_listening_is_one_line_and_status_3(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    assert doctor(["--radio", f"{kind}:socket://127.0.0.1:{port}", "--timeout", "5"]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "nothing is listening" in one_line(captured.err)
    assert time.monotonic() - started < 5


def test_a_missing_serial_port_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert doctor(["--radio", "znp:/dev/han-emu-no-such-stick", "--timeout", "5"]) == 3
    assert "no such port" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize("kind", ["ezsp", "znp"])
async def test_a_silent_port_gives_up_within_the_timeout(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Something accepts the connection but never answers (not a Zigbee NCP, or a hung one)."""
    silent: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        started = time.monotonic()
        status = await asyncio.to_thread(doctor, ["--radio", f"{kind}:socket://127.0.0.1:{port}", "--timeout", "2"])
        elapsed = time.monotonic() - started
    finally:
        for writer in silent:
            writer.close()
        server.close()
    assert status == 3
    assert "answered" in one_line(capsys.readouterr().err)
    assert elapsed < 2 + 3  # the timeout, and the moment it takes to close the link


@pytest.mark.parametrize("radio", ["virtual", "zigbee:/dev/ttyUSB0", "ezsp:"])
def test_a_bad_radio_url_is_a_usage_error(radio: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert doctor(["--radio", radio]) == 2
    assert "--radio" in one_line(capsys.readouterr().err)


def test_the_help_says_it_is_read_only(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["doctor", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Read only" in text and "never forms" in text



# ------------------------------------------------------------------------- flow control
@pytest.mark.parametrize(("radio", "flow", "firmware", "effective", "fix"), [
    ("ezsp:/dev/ttyUSB0", None, "hardware", "software", "add --flow-control hardware"),  # bellows: XON/XOFF
    ("ezsp:/dev/ttyUSB0", "hardware", "hardware", "hardware", None),
    ("znp:/dev/ttyUSB0", None, None, "none", None),  # Z-Stack does not say: nothing to compare
])
def test_flow_control_is_compared_with_what_the_firmware_reports(
    radio: str, flow: str | None, firmware: str | None, effective: str, fix: str | None,
) -> None:
    from han_emu.radio.backend import parse_radio
    from han_emu.radio.doctor.ezsp_probe import BELLOWS_FLOW_CONTROL
    from han_emu.radio.doctor.findings import Findings, flow_control_section
    from han_emu.radio.doctor.znp_probe import ZNP_FLOW_CONTROL

    spec = parse_radio(radio, flow_control=flow)
    findings = Findings(radio=spec.describe())
    default = BELLOWS_FLOW_CONTROL if spec.kind == "ezsp" else ZNP_FLOW_CONTROL
    section = flow_control_section(spec, library_default=default, firmware=firmware, findings=findings)
    assert section["effective"] == effective and section["firmware"] == firmware
    assert [p.fix for p in findings.problems] == ([fix] if fix else [])


SKYCONNECT = "/dev/serial/by-id/usb-Nabu_Casa_SkyConnect_v1.0_0123456789-if00-port0"


@pytest.mark.parametrize(("port", "flow", "firmware", "effective", "fix"), [
    # Recognised by the USB product name in its by-id path: the default a run uses.
    (SKYCONNECT, None, None, "hardware", None),
    (SKYCONNECT, "software", None, "software", "use --flow-control hardware, or leave it out"),
    ("/dev/ttyAMA1", None, None, "hardware", None),  # Home Assistant Yellow
    # The firmware's own word wins over the table.
    (SKYCONNECT, None, "software", "hardware", "add --flow-control software"),
    # Not recognised: bellows' XON/XOFF, nothing to compare.
    ("/dev/ttyUSB0", None, None, "software", None),
])
def test_doctor_takes_the_flow_control_of_a_recognised_stick(
    port: str, flow: str | None, firmware: str | None, effective: str, fix: str | None,
) -> None:
    """``doctor`` reports the flow control ``run --radio ezsp:PORT`` opens the
    port with, from the per-stick table, and says when the link will not match."""
    from han_emu.radio.backend import parse_radio, zigpy_config
    from han_emu.radio.doctor.ezsp_probe import flow_control_advice
    from han_emu.radio.doctor.findings import Findings

    spec = parse_radio(f"ezsp:{port}", flow_control=flow)
    findings = Findings(radio=spec.describe())
    flow_control_advice(findings, spec, firmware)
    section = findings.flow_control
    assert section["effective"] == effective
    opened = zigpy_config(spec)["device"].get("flow_control") or "software"  # bellows' default: XON/XOFF
    assert opened == effective  # what doctor says is what a run opens the port with
    assert [p.fix for p in findings.problems] == ([fix] if fix else [])
    assert (section["stick"] is None) == (port == "/dev/ttyUSB0")
