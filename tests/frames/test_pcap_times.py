"""A time written to a pcapng file reads back as the same float, however
often it goes round (a saved sniff replays to the times of its source)."""

from __future__ import annotations

from pathlib import Path

from han_emu.frames import read_capture
from han_emu.frames.pcap import LinkType, PcapngWriter, ticks_to_seconds

# A frame time of the shipped IHD capture whose old round trip moved by 240 ns.
TIMES = [1750507200.1606893539428710938, 1750507200.0731575489044189453, 1767225600.000000119, 946684800.5]


def _round_trip(times: list[float], path: Path) -> list[float]:
    with path.open("wb") as out:
        writer = PcapngWriter(out, LinkType.IEEE802_15_4_TAP)
        for t in times:
            writer.write(b"\x03\x08\x01\xff\xff\xff\xff\x07\x00\x00", t, channel=15)
    return [r.timestamp for r in read_capture(path)]


def test_times_survive_write_and_read_exactly(tmp_path: Path) -> None:
    once = _round_trip(TIMES, tmp_path / "once.pcapng")
    assert once == TIMES
    assert _round_trip(once, tmp_path / "twice.pcapng") == TIMES


def test_ticks_split_exactly() -> None:
    assert ticks_to_seconds(1750507200160689354, 1e-9) == 1750507200.160689354
    assert ticks_to_seconds(1750507200160689, 1e-6) == 1750507200.160689
    assert ticks_to_seconds(3 << 20, 2.0 ** -20) == 3.0
