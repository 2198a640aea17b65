"""Outputs are checked before the work starts; bad input is one clear line; Ctrl-C stops cleanly.

Every case runs ``han-emu`` as a user does, with a scratch directory as its
working directory and state directory: in the test's process (its ``main()``,
tests/support/command.py) where what counts is what it prints and its exit
status, in a subprocess where Ctrl-C, SIGTERM or a pipe is the point.  A
refusal is one line on stderr, a non-zero exit status and never a traceback.
A refusal of a long run (a month of simulation) has to come at once: the
command's time limit is far shorter than the run.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from han_emu.frames import read_capture
from tests.support.command import run_main
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
CAPTURE = FIXTURES / "04-aps-testing.pcap"  # 11 frames, link type 195, encrypted (no keys given)
IEEE = "00:0d:6f:00:0a:bc:de:f1"
LINK_KEY = "5A6967426565416C6C69616E63653039"
MONTH = "30d"  # a run far longer than any test's timeout
QUICK = 60  # seconds: what a refusal may take, imports included, on a loaded machine


def environment(tmp: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO), XDG_STATE_HOME=str(tmp / "state"))


def _sigint_default() -> None:
    """The child hears Ctrl-C even if the test runner was started with SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def han_emu(tmp: Path, *args: str | Path, timeout: float = QUICK) -> subprocess.CompletedProcess[str]:
    return run_main(args, cwd=tmp, env={"XDG_STATE_HOME": str(tmp / "state")}, timeout=timeout)


def started(tmp: Path, *args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "han_emu.cli", *map(str, args)], cwd=tmp, env=environment(tmp),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_sigint_default)


def one_line_error(out: subprocess.CompletedProcess[str], status: int = 2) -> str:
    """The single stderr line of a refused command."""
    assert out.returncode == status, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("han-emu"), lines[0]
    return lines[0]


class Lines:
    """A child's stream read in the background, line by line (for waiting on what it says)."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)

    def saying(self, words: str) -> bool:
        return any(words in line for line in self.lines)

    def text(self) -> str:
        self._thread.join(10)
        return "".join(self.lines)


def interrupt(proc: subprocess.Popen[str], err: Lines, ready: str, *, timeout: float = QUICK) -> tuple[str, str]:
    """Ctrl-C once the child has said ``ready``; (stdout, stderr) once it has stopped."""
    wait_until(lambda: err.saying(ready) or proc.poll() is not None, timeout=timeout, what=repr(ready))
    assert proc.poll() is None, err.text()
    proc.send_signal(signal.SIGINT)
    try:
        out = proc.stdout.read()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return out, err.text()


# -- 2. outputs are checked before the work starts --------------------------------------------------


def output_cases(tmp: Path) -> dict[str, list[str | Path]]:
    missing = tmp / "no" / "such" / "dir"
    return {
        "--summary-json": ["run", "--simulate", MONTH, "--summary-json", missing / "summary.json"],
        "--status-json": ["run", "--simulate", MONTH, "--status-json", missing / "status.json"],
        "--pcap": ["run", "--simulate", MONTH, "--pcap", missing / "han.pcapng"],
        "--keylog": ["run", "--simulate", MONTH, "--keylog", missing / "keys.txt"],
        "permit --keylog": ["permit", "--radio", "znp:/dev/null", "--link-key", f"{IEEE}:{LINK_KEY}",
                            "--keylog", missing / "keys.txt"],
        "-o": ["dutycycle", "--simulate", MONTH, "-o", missing / "table.txt"],
        "--plot": ["dutycycle", "--simulate", MONTH, "--plot", missing / "chart.png"],
        "replay --readout-json": ["replay", CAPTURE, "--readout-json", missing / "readout.json"],
        "sniff --readout-json": ["sniff", "--pcap-stream", "-", "--readout-json", missing / "readout.json"],
        "--save": ["sniff", "--pcap-stream", "-", "--save", missing / "heard.pcapng"],
        "fake-ncp --state": ["fake-ncp", "--protocol", "znp", "--state", missing / "nv.json"],
    }


@pytest.mark.parametrize("case", sorted(output_cases(Path("/")).keys()))
def test_an_output_in_a_missing_directory_is_refused_before_the_work(tmp_path: Path, case: str) -> None:
    argv = output_cases(tmp_path)[case]
    line = one_line_error(han_emu(tmp_path, *argv))
    assert str(argv[-1]) in line and "no directory" in line, line
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("option", ["--summary-json", "--pcap", "--status-json"])
def test_an_output_that_is_a_directory_is_refused(tmp_path: Path, option: str) -> None:
    line = one_line_error(han_emu(tmp_path, "run", "--simulate", MONTH, option, tmp_path))
    assert f"{option} {tmp_path}" in line and "directory" in line


@pytest.mark.parametrize(("argv", "option"), [
    (["run", "--simulate", "1m", "--pcap", "old.pcap"], "--pcap"),
    (["run", "--simulate", "1m", "--keylog", "old.pcap"], "--keylog"),
    (["sniff", "--pcap-stream", "-", "--save", "old.pcap"], "--save"),
    (["permit", "--radio", "znp:/dev/null", "--link-key", f"{IEEE}:{LINK_KEY}", "--keylog", "old.pcap"], "--keylog"),
])
def test_a_capture_or_key_log_is_not_overwritten_without_force(tmp_path: Path, argv: list[str], option: str) -> None:
    old = tmp_path / "old.pcap"
    old.write_bytes(CAPTURE.read_bytes())
    line = one_line_error(han_emu(tmp_path, *argv))
    assert f"{option} old.pcap" in line and "exists" in line and "--force" in line
    assert old.read_bytes() == CAPTURE.read_bytes()


def test_force_overwrites_a_capture_and_an_empty_file_needs_no_force(tmp_path: Path) -> None:
    old, keys = tmp_path / "old.pcap", tmp_path / "keys.txt"
    old.write_bytes(CAPTURE.read_bytes())
    keys.touch()  # made empty beforehand (mktemp): nothing in it to lose
    out = han_emu(tmp_path, "run", "--state", "none", "--simulate", "2m", "--no-cbke", "--pcap", old, "--keylog", keys,
                  "--force")
    assert out.returncode == 0, out.stderr
    assert old.read_bytes() != CAPTURE.read_bytes() and len(list(read_capture(old))) > 10
    assert keys.read_text().strip()


def test_an_output_may_not_overwrite_an_input_or_another_output(tmp_path: Path) -> None:
    copy = tmp_path / "capture.pcap"
    copy.write_bytes(CAPTURE.read_bytes())
    line = one_line_error(han_emu(tmp_path, "replay", copy, "--readout-json", copy))
    assert "--readout-json" in line and "being read" in line
    assert copy.read_bytes() == CAPTURE.read_bytes()
    line = one_line_error(han_emu(tmp_path, "dutycycle", "--simulate", MONTH, "-o", "same.txt", "--plot", "same.txt"))
    assert "both name same.txt" in line


def test_a_status_file_that_can_no_longer_be_written_is_said_once_and_the_run_goes_on(tmp_path: Path) -> None:
    """The status file is written every 300 s of virtual time; its directory
    goes away mid-run: one warning, the run carries on, and Ctrl-C stops it
    with the summary so far and exit status 130."""
    where = tmp_path / "out"
    where.mkdir()
    status = where / "status.json"
    proc = started(tmp_path, "run", "--state", "none", "--no-cbke", "--simulate", MONTH, "--status-json", status)
    err = Lines(proc.stderr)
    wait_until(lambda: status.exists() or proc.poll() is not None, timeout=QUICK, what="the first status file")
    status.unlink()
    where.rmdir()
    out, text = interrupt(proc, err, "cannot write the status file")
    assert proc.returncode == 130, text
    assert "Traceback" not in text
    assert sum("status file" in line for line in text.splitlines()) == 1, text
    assert "interrupted" in text and "simulated until" in out and "frames on the air" in out


# -- 3. bad input: one clear line, a non-zero exit ---------------------------------------------------


@pytest.mark.parametrize("argv", [["config", "check", "binary.toml"],
                                  ["run", "--config", "binary.toml", "--simulate", MONTH],
                                  ["dutycycle", "--config", "binary.toml", "--simulate", MONTH]])
def test_a_binary_configuration_is_one_line(tmp_path: Path, argv: list[str]) -> None:
    (tmp_path / "binary.toml").write_bytes(bytes(range(256)) * 4)
    line = one_line_error(han_emu(tmp_path, *argv))
    assert "binary.toml" in line and "not a configuration file" in line


def test_a_binary_key_log_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "keys.bin").write_bytes(bytes(range(256)))
    line = one_line_error(han_emu(tmp_path, "replay", CAPTURE, "--keylog", "keys.bin"))
    assert "keys.bin" in line and "not a key log" in line


@pytest.mark.parametrize(("content", "words"), [
    (b"hello, this is text\n", "not a pcap or pcapng file"),
    (b"", "not a pcap or pcapng file (starts empty)"),
    (CAPTURE.read_bytes()[:10], "truncated pcap file header"),
])
def test_dutycycle_on_what_is_not_a_capture_says_so_as_replay_does(tmp_path: Path, content: bytes, words: str) -> None:
    (tmp_path / "file.pcap").write_bytes(content)
    out = han_emu(tmp_path, "dutycycle", "file.pcap")
    assert words in one_line_error(out, 1)
    assert out.stdout == ""  # no table of nothing
    replay = han_emu(tmp_path, "replay", "file.pcap")
    assert replay.returncode == 1 and words in replay.stderr


def test_dutycycle_on_a_truncated_capture_gives_the_figures_and_says_where_it_ends(tmp_path: Path) -> None:
    (tmp_path / "cut.pcap").write_bytes(CAPTURE.read_bytes()[:-7])
    out = han_emu(tmp_path, "dutycycle", "cut.pcap")
    line = one_line_error(out, 1)
    assert "frame 11: truncated record" in line
    assert "cut.pcap: GB-868" in out.stdout  # the ten whole frames are measured


@pytest.mark.parametrize("argv", [
    ["dutycycle", "missing.pcap"],
    ["replay", "missing.pcap"],
    ["run", "--simulate", MONTH, "--scenario-from", "missing.pcap"],
    ["replay", CAPTURE, "--keylog", "missing.keys"],
])
def test_a_missing_input_is_one_line(tmp_path: Path, argv: list[str]) -> None:
    assert "no such file" in one_line_error(han_emu(tmp_path, *argv))


@pytest.mark.parametrize(("argv", "words"), [
    (["run", "--simulate", MONTH, "--channel", "99"], "--channel 99: 2.4 GHz channels are 11 to 26"),
    (["run", "--radio", "virtual", "--channel", "30"], "--channel 30: 2.4 GHz channels are 11 to 26"),
    (["run", "--radio", "znp:/dev/null", "--channel", "99"], "--channel 99"),
    (["dutycycle", "--simulate", MONTH, "--channel", "99"], "channel 99 is not on page 28: valid channels are 0-26"),
    (["dutycycle", "--simulate", MONTH, "--page", "29", "--channel", "9"], "valid channels are 0-8"),
    (["run", "--radio", ":notaport"], "--radio ':notaport': expected virtual, znp:PORT or ezsp:PORT"),
    (["permit", "--radio", "znp:", "--link-key", f"{IEEE}:{LINK_KEY}"], "the port is missing"),
    (["run", "--interval", "0"], "a duration must be more than zero"),
    (["run", "--interval", "-5"], "a duration must be more than zero"),
    (["run", "--duration", "0"], "a duration must be more than zero"),
    (["run", "--duration", "-1"], "a duration must be more than zero"),
    (["sniff", "--duration", "0"], "a duration must be more than zero"),
    (["fake-ncp", "--protocol", "znp", "--duration", "-1"], "a duration must be more than zero"),
    (["dutycycle", "--simulate", MONTH, "--devices", "0"], "--devices must be at least 1"),
])
def test_a_bad_value_is_one_line(tmp_path: Path, argv: list[str], words: str) -> None:
    line = one_line_error(han_emu(tmp_path, *argv))
    assert words in line, line
    assert "ValueError" not in line


def test_an_unresolvable_zep_host_is_refused_at_the_start(tmp_path: Path) -> None:
    line = one_line_error(han_emu(tmp_path, "run", "--state", "none", "--simulate", MONTH, "--zep",
                                  "no-such-host.invalid"))
    assert "cannot stream ZEP to no-such-host.invalid:17754" in line and "does not resolve" in line


def test_a_zep_send_that_fails_later_is_said_once_and_the_run_goes_on(tmp_path: Path) -> None:
    """The broadcast address resolves, but a socket without SO_BROADCAST may
    not send to it: every send fails, the first says so, the rest are dropped."""
    out = han_emu(tmp_path, "run", "--state", "none", "--no-cbke", "--simulate", "5m", "--zep", "255.255.255.255")
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert [line for line in out.stderr.splitlines() if "ZEP" in line] == [
        "han-emu: warning: ZEP to 255.255.255.255:17754: Permission denied; frames that cannot be sent are dropped"]
    assert "simulated until" in out.stdout


@pytest.mark.parametrize(("argv", "words"), [
    (["run", "--state", "none", "--summary-json", "s.json", "--duration", "1"], "--summary-json writes the summary"),
    (["run", "--simulate", MONTH, "--speed", "10"], "--speed paces a live run"),
    (["run", "--simulate", MONTH, "--duration", "1h"], "--duration paces a live run"),
    (["run", "--simulate", MONTH, "--interval", "5"], "--interval paces a live run"),
    (["run", "--simulate", MONTH, "--baudrate", "115200"], "--baudrate sets a stick's serial line"),
    (["run", "--simulate", MONTH, "--scenario-key", "00" * 16], "--scenario-key is about the capture"),
    (["run", "--simulate", MONTH, "--scenario-after", "loop"], "--scenario-after is about the capture"),
    (["run", "--simulate", MONTH, "--scenario-from", CAPTURE, "--state", "m.db"], "keeps no state"),
    (["run", "--simulate", MONTH, "--linktype", "195"], "--linktype sets the link type of the --pcap file"),
    (["run", "--simulate", MONTH, "--pcapng"], "--pcapng sets the format of the --pcap file"),
    (["run", "--radio", "znp:/dev/null", "--no-cbke"], "--no-cbke is for the virtual radio"),
    (["run", "--radio", "znp:/dev/null", "--seed", "3"], "--seed needs the virtual radio"),
    (["run", "--radio", "znp:/dev/null", "--scenario-from", CAPTURE], "--scenario-from needs the virtual radio"),
    (["permit", "--radio", "virtual", "--link-key", f"{IEEE}:{LINK_KEY}"], "permit needs a stick"),
    (["replay", CAPTURE, "--speed", "10"], "--speed sets the pace of --tui"),
    (["dutycycle", CAPTURE, "--devices", "2", "--seed", "1"], "--devices, --seed: for --simulate only"),
    (["dutycycle", "--simulate", MONTH, "--phy", "2.4"], "--phy is for a capture"),
    (["dutycycle", CAPTURE, "--simulate", MONTH], "give a capture FILE or --simulate DURATION (not both)"),
    (["fake-ncp", "--protocol", "znp", "--cbke-test-certificates"], "only the ezsp emulator"),
])
def test_an_option_that_would_be_ignored_is_refused(tmp_path: Path, argv: list[str], words: str) -> None:
    line = one_line_error(han_emu(tmp_path, *argv))
    assert words in line, line
    assert not (tmp_path / "s.json").exists() and not (tmp_path / "m.db").exists()


def test_the_virtual_radio_forms_its_network_on_the_channel_asked_for(tmp_path: Path) -> None:
    out = han_emu(tmp_path, "run", "--state", "none", "--no-cbke", "--simulate", "1m", "--channel", "20",
                  "--pan-id", "1A62", "--pcap", "han.pcap")
    assert out.returncode == 0, out.stderr
    records = list(read_capture(tmp_path / "han.pcap"))
    assert records and {(r.channel, r.page) for r in records} == {(20, 0)}


def test_a_state_file_of_something_else_is_not_taken_for_the_emulators(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"settings": {"theme": "dark"}}\n')
    for protocol in ("znp", "ezsp"):
        line = one_line_error(han_emu(tmp_path, "fake-ncp", "--protocol", protocol, "--state", other,
                                      "--duration", "30"), 1)
        assert f"--state {other}: not a state file of the {protocol} emulator" in line
    assert other.read_text() == '{"settings": {"theme": "dark"}}\n'


# -- Ctrl-C: a clean stop with what was done so far, exit status 130 ---------------------------------


def test_ctrl_c_in_a_dutycycle_simulation_shows_the_figures_so_far(tmp_path: Path) -> None:
    proc = started(tmp_path, "dutycycle", "--simulate", MONTH, "--devices", "1", "--no-cbke", "--format", "json")
    err = Lines(proc.stderr)
    out, text = interrupt(proc, err, "Ctrl-C stops with the figures so far")
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    assert "interrupted: the figures cover the" in text
    report = json.loads(out)
    assert report["interrupted"] is True
    assert 0 <= report["duration_s"] < 30 * 86400


def test_ctrl_c_in_replay_prints_the_summary_of_the_frames_read(tmp_path: Path) -> None:
    """A capture that is still being written (a named pipe held open): the
    replay has read every frame there is when Ctrl-C comes."""
    fifo = tmp_path / "live.pcap"
    os.mkfifo(fifo)
    proc = started(tmp_path, "replay", fifo)
    err = Lines(proc.stderr)
    writer = wait_until(lambda: _open_writer(fifo) if proc.poll() is None else -1, timeout=QUICK, what="the reader")
    assert writer != -1, err.text()
    try:
        junk = b"\x41\x88\x00"  # the last record: a frame whose FCS is wrong, which replay warns of
        os.write(writer, CAPTURE.read_bytes() + struct.pack("<IIII", 1, 0, len(junk), len(junk)) + junk)
        out, text = interrupt(proc, err, "frame 12: mac: FCS mismatch")
    finally:
        os.close(writer)
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    assert "interrupted after 12 frames" in text
    assert out.splitlines()[-1].startswith("12 frames: 0 ZCL decoded, 11 not decrypted, 1 malformed")


def _open_writer(fifo: Path) -> int | None:
    """The write end of ``fifo`` once a reader has it open; None before."""
    try:
        return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return None


def test_ctrl_c_in_a_simulated_run_writes_the_summary_so_far(tmp_path: Path) -> None:
    proc = started(tmp_path, "run", "--state", "none", "--no-cbke", "--simulate", MONTH, "--status-json", "s.json",
                   "--summary-json", "summary.json")
    err = Lines(proc.stderr)
    wait_until(lambda: (tmp_path / "s.json").exists() or proc.poll() is not None, timeout=QUICK, what="the HAN up")
    proc.send_signal(signal.SIGINT)
    out = proc.stdout.read()
    proc.wait(timeout=30)
    text = err.text()
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "interrupted: the summary covers the" in text
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["interrupted"] is True and "simulated until" in out


def test_ctrl_c_stops_the_emulated_stick_with_130_and_sigterm_with_0(tmp_path: Path) -> None:
    for sig, status in ((signal.SIGINT, 130), (signal.SIGTERM, 0)):
        proc = started(tmp_path, "fake-ncp", "--protocol", "znp")
        out = Lines(proc.stdout)
        wait_until(lambda: out.saying("listening") or proc.poll() is not None, timeout=QUICK, what="listening")
        proc.send_signal(sig)
        err = proc.stderr.read()
        assert proc.wait(timeout=30) == status, err
        assert "Traceback" not in err


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(tmp_path: Path, monkeypatch) -> None:
    """The last line of defence: a handler that fails in a way nobody foresaw.
    With --debug, main() lets the error go on to the interpreter, which prints
    its traceback and exits with status 1."""
    from han_emu.cli import config

    def broken(args: object) -> int:
        raise RuntimeError("something nobody foresaw\non two lines")

    monkeypatch.setattr(config, "cmd_config_example", broken)
    line = one_line_error(han_emu(tmp_path, "config", "example"), 1)
    assert line == ("han-emu config example: internal error: RuntimeError: something nobody foresaw on two lines "
                    "(run with --debug for the traceback)")
    for argv in (["--debug", "config", "example"], ["config", "example", "--debug"]):
        with pytest.raises(RuntimeError, match="something nobody foresaw"):
            han_emu(tmp_path, *argv)

