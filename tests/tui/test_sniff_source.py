"""The dashboard on a live sniffer: frames that arrive after it started are
shown as they come (the readout, the frame log, the status line), with no
progress bar, and the screen keeps answering keys while nothing arrives."""

from __future__ import annotations

import asyncio
import socket

from han_emu.frames.zep import zep_v2_data
from han_emu.replay.live import ZepListener
from han_emu.tui import DashboardApp
from han_emu.tui.screens import HanScreen, IhdScreen
from han_emu.tui.sniff_source import SniffSource
from han_emu.tui.widgets import ProgressLine

from ..replay.helpers import encode, mac_ack, se_frame
from ..support.waiting import wait_until_async
from .helpers import SIZE
from .replay_capture import EXPECTED, FRAMES, LINK_KEY, NWK_KEY, T0
from .test_app import squash, text_of


def datagrams() -> list[bytes]:
    """The dashboard capture's frames as a ZEP-forwarding sniffer sends them."""
    out = []
    for i, (zcl, src, dst, sep, dep, cluster) in enumerate(FRAMES):
        out.append(zep_v2_data(se_frame(i, zcl, src, dst, sep, dep, cluster), channel=11, timestamp=T0 + i,
                               sequence=2 * i))
        out.append(zep_v2_data(encode(mac_ack(seq=i & 0xFF)), channel=11, timestamp=T0 + i + 0.002,
                               sequence=2 * i + 1))
    return out


async def test_dashboard_shows_frames_that_arrive_after_it_started() -> None:
    live = ZepListener("127.0.0.1", 0)
    src = SniffSource(live, [NWK_KEY], [LINK_KEY])
    app = DashboardApp(src, src, auto_refresh=False)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        async with app.run_test(size=SIZE) as pilot:
            src.start()
            # A fixed interval on purpose: the sniffer idles with nothing to hear, and
            # nothing may appear meanwhile (no frames, no progress line).
            await asyncio.sleep(0.2)
            app.refresh_data()
            await pilot.pause()
            assert src.decoded == 0
            assert not app.screen.query_one(ProgressLine).display  # a live source has no end to measure
            await pilot.press("3")  # the keys answer while the sniffer waits
            assert isinstance(app.screen, HanScreen)
            await pilot.press("1")
            assert isinstance(app.screen, IhdScreen)

            sent = datagrams()
            tx.sendto(b"not zep", live.address)
            for d in sent:
                tx.sendto(d, live.address)
            await wait_until_async(lambda: src.replay.summary.frames == len(sent))
            app.refresh_data()
            await pilot.pause()
            assert src.decoded == len(FRAMES)
            now = squash(text_of(app, "#now"))
            assert f"Import now {EXPECTED['import_kw']:.3f} kW" in now
            assert f"Export secondary {EXPECTED['export_kw']:.3f} kW" in now
            export = squash(text_of(app, "#export"))
            assert f"Export register {EXPECTED['export_register_kwh']:.3f} kWh" in export
            status = squash(text_of(app, "#status"))
            assert f"sniffing ZEP on 127.0.0.1:{live.address[1]}: {len(sent)} frames, {len(FRAMES)} ZCL" in status
            assert "1 datagrams not ZEP" in status
            await src.stop()
    assert src.finished and src.error is None


def test_sniff_dashboard_runs_for_its_duration_and_keeps_what_it_heard() -> None:
    import threading

    from han_emu.tui.launch import run_sniff_dashboard

    live = ZepListener("127.0.0.1", 0)
    sent = datagrams()

    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for d in sent:
                tx.sendto(d, live.address)

    threading.Timer(0.3, send).start()
    src = run_sniff_dashboard(live, [NWK_KEY], [LINK_KEY], duration=1.5, headless=True)
    assert src.replay.summary.frames == len(sent) and src.decoded == len(FRAMES)
    assert src.readout.to_json()["elements"]["secondary"]["export_kwh"] == float(EXPECTED["export_register_kwh"])
