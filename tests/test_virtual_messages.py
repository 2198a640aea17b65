"""Messages end to end on the virtual HAN: the configured schedule, the
simulated IHD showing and confirming, the message and its confirmation kept
in the state database across a restart, and the summary naming it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from han_emu.han.config import loads
from han_emu.han.store import StateStore
from han_emu.han.summary import summary_text
from han_emu.han.virtual import VirtualHan
from han_emu.meter.model import TwinMeter
from han_emu.radio.vtime import run_virtual
from han_emu.sim.schedule import DeviceSettings

START = datetime(2026, 6, 1, 10, tzinfo=timezone.utc).timestamp()
QUIET = [DeviceSettings(kind, kind.upper(), demand_s=0, registers_s=0, prices_s=0, profile_s=0,
                        history_s=0, time_s=0, report=False) for kind in ("ihd", "ppmid", "cad")]
CONFIG = """
[[messages]]
at = "+10m"
text = "Your supplier will visit on Monday"
duration_min = 120
confirm = true
"""


def run_han(config, store: StateStore | None, meter: TwinMeter, seconds: float, then=None) -> VirtualHan:
    async def main() -> VirtualHan:
        han = VirtualHan(config, meter, store=store, devices=QUIET)
        await han.start()
        await han.run_for(seconds)
        if then is not None:
            await then(han)
        await han.stop()
        return han

    return run_virtual(main(), meter.time)


def test_configured_message_is_shown_confirmed_and_kept_across_a_restart(tmp_path: Path) -> None:
    config = loads(CONFIG)
    store = StateStore(tmp_path / "m.db")
    han = run_han(config, store, TwinMeter(config.meter, START), 900)
    board = han.meter.messages
    message = board.current
    assert message is not None and message.start == START + 600 and message.id == 1
    ihd, ppmid, cad = han.devices
    # The IHD and PPMID asked GetLastMessage at start (NOT_FOUND then), so the ESI
    # pushed the message to them when it fell due; each confirmed it once.
    for display in (ihd, ppmid):
        shown = display.readout.message
        assert shown is not None and shown.text == "Your supplier will visit on Monday"
        assert (shown.id, shown.duration_min, shown.confirm_required, shown.confirmed) == (1, 120, True, True)
        assert display.confirmed_messages == {1}
    # The CAD asked for price pushes, so it is pushed the message too, but it
    # shows and confirms none.
    assert cad.confirmed_messages == set() and not cad.shows_messages
    by = {f"0x{int(d.nwk):04X}" for d in (ihd, ppmid)}
    assert {c.by for c in board.confirmations} == by and len(board.confirmations) == 2
    assert message.confirmed_by in by and message.confirmed_at is not None
    summary = han.summary()
    assert summary["message"]["id"] == 1 and summary["devices"]["IHD"]["readout"]["message"]["confirmed"]
    assert "last message: #1 'Your supplier will visit on Monday'" in summary_text(summary, 1.0)
    store.close()

    # A restart 5 minutes later: the message in force and its confirmation come back from the
    # state database; the IHD's GetLastMessage gets it with the confirmed bit, and does not confirm again.
    store = StateStore(tmp_path / "m.db")
    meter = store.load(config.meter)
    assert meter is not None
    meter.resume(meter.time + 300)
    again = run_han(replace(config, messages=()), store, meter, 60)
    kept = again.meter.messages.current
    assert kept is not None and (kept.id, kept.confirmed_at) == (1, message.confirmed_at)
    ihd2 = again.devices[0]
    assert ihd2.readout.message is not None and ihd2.readout.message.confirmed
    assert ihd2.confirmed_messages == set() and len(again.meter.messages.confirmations) == 2
    store.close()


def test_a_composed_message_reaches_the_displays_at_once() -> None:
    config = loads("")
    meter = TwinMeter(config.meter, START)

    async def compose(han: VirtualHan) -> None:
        han.send_message("Meter reading due", confirm=False)
        await han.run_for(5)

    han = run_han(config, None, meter, 30, then=compose)
    shown = han.devices[0].readout.message
    assert shown is not None and (shown.text, shown.confirm_required, shown.confirmed) == (
        "Meter reading due", False, False)
    assert han.meter.messages.confirmations == []


def test_cancel_all_messages_clears_the_displays() -> None:
    config = loads("")
    meter = TwinMeter(config.meter, START)

    async def compose_then_cancel(han: VirtualHan) -> None:
        han.send_message("Meter reading due", confirm=False)
        await han.run_for(5)
        han.server.cancel_all_messages()
        await han.run_for(5)

    han = run_han(config, None, meter, 30, then=compose_then_cancel)
    shown = han.devices[0].readout.message
    assert shown is not None and shown.text == "Meter reading due" and shown.cancelled
    assert han.meter.messages.in_force(han.clock.now()) is None
    assert han.meter.messages.cancelled_all_at is not None
