"""Header-parsing speed: construct declarations against the struct fast path.

Parses MAC+NWK(+APS where readable without keys) headers of a set of frames
many times with each parser and prints frames/s and the ratio.  Frames come
from the pcap/pcapng files named on the command line, or else are built
here (NWK+APS-secured Smart Energy frames, as an ESI sends them).

    python benchmarks/bench_frames.py [capture ...] [--seconds 2]
"""

from __future__ import annotations

import argparse
import struct
import time
from collections.abc import Callable

from han_emu.frames import fastparse, read_capture
from han_emu.frames.aps import ApsFrame
from han_emu.frames.builders import aps_data, mac_data, nwk_frame, zcl_header
from han_emu.frames.mac import MacPsdu
from han_emu.frames.nwk import NwkFrame
from han_emu.frames.stack import encode


def synthetic_frames(n: int = 200) -> list[bytes]:
    key = bytes(range(16))
    out = []
    for i in range(n):
        payload = struct.pack("<HBB", 0, 0, 0x25) + (1000 + i).to_bytes(6, "little")
        out.append(encode(
            mac_data(seq=i & 0xFF, pan=0x1A62, dst=0x4D2C, src=0),
            nwk_frame(dst=0x4D2C, src=0, seq=i & 0xFF, frame_counter=i, source_ieee=0x0011223344556677),
            aps_data(cluster=0x0702, dst_endpoint=1, src_endpoint=1, counter=i & 0xFF, frame_counter=i,
                     source_ieee=0x0011223344556677),
            zcl_header(tsn=i & 0xFF, command_id=1, server_to_client=True), payload,
            network_key=key, link_key=key,
        ))
    return out


def with_construct(psdu: bytes) -> None:
    mac = MacPsdu.parse(psdu)
    if mac.frame_control.frame_type == 1 and mac.body.payload:
        nwk = NwkFrame.parse(mac.body.payload)
        if nwk.aux is None and nwk.frame_control.frame_type == 0:
            ApsFrame.parse(nwk.payload)


def with_fastparse(psdu: bytes) -> None:
    mac = fastparse.parse_mac(psdu)
    if mac["frame_type"] == 1 and mac["payload_end"] > mac["payload_start"]:
        nwk = fastparse.parse_nwk(psdu, mac["payload_start"])
        if not nwk["security"] and nwk["frame_type"] == 0:
            fastparse.parse_aps(psdu, mac["payload_start"] + nwk["payload_start"])


def rate(parse: Callable[[bytes], None], frames: list[bytes], seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for f in frames:
            parse(f)
        done += len(frames)
    return done / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("captures", nargs="*")
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    frames = [r.psdu for path in args.captures for r in read_capture(path) if r.fcs_ok is not False]
    frames = [f for f in frames if _fast_ok(f)] or synthetic_frames()
    slow = rate(with_construct, frames, args.seconds)
    fast = rate(with_fastparse, frames, args.seconds)
    print(f"frames: {len(frames)}")
    print(f"construct:  {slow:12,.0f} frames/s")
    print(f"fastparse:  {fast:12,.0f} frames/s")
    print(f"ratio:      {fast / slow:12.1f}x")


def _fast_ok(psdu: bytes) -> bool:
    try:
        with_fastparse(psdu)
        return True
    except Exception:
        return False


if __name__ == "__main__":
    main()
