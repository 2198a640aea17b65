"""The command line's shared argument parsers, and usage errors in one line."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from han_emu.cli import args
from han_emu.cli.main import build_parser, main

REPO = Path(__file__).resolve().parent.parent
IEEE = "00:0d:6f:00:0a:bc:de:f1"
INSTALL_CODE = "83FED3407A939723A5C639B26916D505C3B5"


# -- one line per usage error --------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "prog", "words"), [
    (["run", "--speed", "0.5"], "han-emu run", "argument --speed: '0.5': must be between 1 and 3600"),
    (["run", "--simulate", "soon"], "han-emu run", "argument --simulate: not a duration: 'soon'"),
    (["run", "--zep", "localhost:notaport"], "han-emu run", "argument --zep: 'localhost:notaport': port"),
    (["run", "--no-such-option"], "han-emu run", "unrecognized arguments: --no-such-option"),
    (["permit", "--link-key", f"{IEEE}:00"], "han-emu permit", "argument --link-key: a Zigbee link key is 16 bytes"),
    (["permit", "--radio", "znp:/dev/null"], "han-emu permit", "one of the arguments --install-code --install-codes --link-key"),
    (["replay", "x.pcap", "--key", "zz"], "han-emu replay", "argument --key: key is not hex: 'zz'"),
    (["sniff", "--zep", "127.0.0.1:99999"], "han-emu sniff", "port 99999 is out of range 0-65535"),
    (["dutycycle", "--simulate", "0h"], "han-emu dutycycle", "a duration must be more than zero"),
    (["fake-ncp", "--protocol", "znp", "--listen", "8765"], "han-emu fake-ncp", "expected HOST:PORT"),
    (["config", "check"], "han-emu config check", "the following arguments are required: file"),
    (["state"], "han-emu state", "the following arguments are required: action"),
    (["frobnicate"], "han-emu", "invalid choice: 'frobnicate'"),
    (["--frobnicate", "run"], "han-emu", "unrecognized arguments: --frobnicate"),
    (["state", "check", "db", "extra"], "han-emu state check", "unrecognized arguments: extra"),
])
def test_a_usage_error_is_one_line_with_a_hint(argv: list[str], prog: str, words: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith(f"{prog}: error: ") and words in line, line
    assert line.endswith(f"(see '{prog} --help')")
    assert captured.out == ""


def test_the_module_runs_as_a_command_with_the_same_usage_errors() -> None:
    out = subprocess.run([sys.executable, "-m", "han_emu.cli", "run", "--speed", "fast"],
                         capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.returncode == 2
    assert out.stderr == ("han-emu run: error: argument --speed: not a speed: 'fast' (a factor from 1 to 3600) "
                          "(see 'han-emu run --help')\n")
    version = subprocess.run([sys.executable, "-m", "han_emu.cli", "--version"], capture_output=True, text=True,
                             timeout=60, cwd=REPO)
    assert version.returncode == 0 and version.stdout.startswith("han-emu ")


def test_every_subcommand_has_a_handler() -> None:
    parser = build_parser()
    for argv in (["run"], ["permit", "--link-key", f"{IEEE}:{'00' * 16}"], ["fake-ncp", "--protocol", "znp"],
                 ["config", "example"], ["config", "check", "f"], ["cert", "check", "--suite", "1", "--ca", "00",
                 "--cert", "00", "--key", "00"], ["replay", "f"], ["sniff"], ["state", "check", "db"],
                 ["state", "restore", "db"], ["dutycycle"]):
        assert callable(parser.parse_args(argv).handler), argv


# -- the parsers ----------------------------------------------------------------------------------


def test_durations() -> None:
    assert args.duration("90") == 90 and args.duration("90s") == 90 and args.duration("15m") == 900
    assert args.duration("24H") == 86400 and args.duration("3d") == 3 * 86400 and args.duration("1.5") == 1.5
    for bad in ("", "h", "soon", "0", "-1m", "nan", "inf"):
        with pytest.raises(argparse.ArgumentTypeError):
            args.duration(bad)


def test_speeds() -> None:
    assert args.speed("1") == 1.0 and args.speed("3600") == 3600.0
    for bad in ("0.9", "3601", "max", "inf", "fast"):
        with pytest.raises(argparse.ArgumentTypeError):
            args.speed(bad)


def test_permit_seconds() -> None:
    assert args.permit_seconds("1") == 1 and args.permit_seconds("254") == 254
    for bad in ("0", "255", "1.5", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            args.permit_seconds(bad)


def test_zep_addresses() -> None:
    assert args.zep_address("127.0.0.1:17754") == ("127.0.0.1", 17754)
    assert args.zep_address("wireshark-host") == ("wireshark-host", 17754)
    assert args.zep_address("[::1]:5000") == ("::1", 5000)
    assert args.zep_address("[::1]") == ("::1", 17754)
    for bad in (":5000", "[::1]x", "host:0", "fe80::1:5000x", "[::1", "localhost:70000", "nothex::1:5"):
        with pytest.raises(argparse.ArgumentTypeError):
            args.zep_address(bad)


@pytest.mark.parametrize(("text", "expected"), [
    ("17754", ("0.0.0.0", 17754)),
    ("127.0.0.1:0", ("127.0.0.1", 0)),
    ("localhost:9999", ("localhost", 9999)),
    ("[::1]:17754", ("::1", 17754)),
    (":17754", ("0.0.0.0", 17754)),
])
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert args.listen_address(text) == expected


@pytest.mark.parametrize("text", ["70000", "host:port", "[::1]17754", "-1"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        args.listen_address(text)


def test_endpoints_need_host_and_port() -> None:
    assert args.endpoint("127.0.0.1:0") == ("127.0.0.1", 0)
    assert args.endpoint("[::1]:8765") == ("::1", 8765)
    for bad in ("8765", ":8765", "127.0.0.1:", "127.0.0.1"):
        with pytest.raises(argparse.ArgumentTypeError):
            args.endpoint(bad)


def test_keys_and_devices() -> None:
    assert args.key("0x" + "ab" * 16) == b"\xab" * 16
    assert args.eui64_key(f"000D6F000ABCDEF1:{'5A' * 16}") == (IEEE, b"\x5a" * 16)
    assert args.install_code(f"{IEEE}:{INSTALL_CODE}") == (IEEE, bytes.fromhex(INSTALL_CODE))
    for parse, bad in ((args.key, "ab" * 15), (args.eui64_key, "not-an-eui"), (args.eui64_key, f":{'00' * 16}"),
                       (args.eui64_key, f"00:11:{'00' * 16}"), (args.install_code, f"{IEEE}:{INSTALL_CODE[:-2]}00"),
                       (args.install_code, f"{IEEE}:xyz")):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(bad)


# -- a command line that names its subcommand imports that one's module only ----------------------


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_the_command_table_is_every_subcommand_in_help_order() -> None:
    from han_emu.cli.main import COMMANDS

    assert list(_subparsers(build_parser())) == [name for name, _, _ in COMMANDS]


def test_a_subcommand_alone_parses_and_helps_as_in_the_whole_parser() -> None:
    """``build_parser(name)`` (what ``main`` builds when the command line starts with
    ``name``) gives that subcommand the same parser: the same help, the same defaults."""
    whole = _subparsers(build_parser())
    for name, parser in whole.items():
        alone = _subparsers(build_parser(name))
        assert list(alone) == [name]
        assert alone[name].format_help() == parser.format_help(), name
        assert alone[name].prog == parser.prog


def test_the_whole_help_is_unchanged_when_no_subcommand_comes_first(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = capsys.readouterr().out
    assert listed == build_parser().format_help()
    for name in ("run", "permit", "replay", "sniff", "conform"):
        assert name in listed


def test_replay_starts_without_the_other_commands_or_the_cluster_library(tmp_path: Path) -> None:
    """``han-emu replay --format jsonl`` of Smart Energy traffic (reads, reports,
    profiles, prices) imports neither the other subcommands' modules nor zigpy's
    cluster library: they cost more than the decode of a small capture.  (A
    payload no written plan reads, such as CBKE's, still imports zigpy then.)"""
    from benchmarks.bench_replay import LINK_KEY, NWK_KEY, build_capture

    capture = tmp_path / "se.pcap"
    build_capture(capture, 600)
    probe = ("import runpy, sys\n"
             "sys.argv = ['han-emu', 'replay', *sys.argv[1:], '--format', 'jsonl']\n"
             "try:\n    runpy.run_module('han_emu.cli.main', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "sys.__stderr__.write(' '.join(sorted(m for m in sys.modules if m.startswith(('zigpy.zcl', 'han_emu.cli',"
             " 'han_emu.han', 'han_emu.readout', 'clusters.'))) ) + '\\n')\n")
    out = subprocess.run([sys.executable, "-c", probe, str(capture), "--key", NWK_KEY.hex(), "--link-key",
                          LINK_KEY.hex()], capture_output=True, text=True, timeout=120, cwd=REPO)
    loaded = set(out.stderr.strip().splitlines()[-1].split())
    assert out.stdout.count('"command"') == 600 and '"decoded":600' in out.stdout.splitlines()[-1]
    assert not {m for m in loaded if m.startswith("zigpy.zcl")}, loaded
    assert {m for m in loaded if m.startswith("han_emu.cli.")} <= {
        "han_emu.cli.main", "han_emu.cli.args", "han_emu.cli.replay", "han_emu.cli.progress"}, loaded
    assert not {m for m in loaded if m.startswith(("han_emu.han", "han_emu.readout"))}, loaded
