"""NWK frame counters on the virtual air: strictly increasing per sender, replays
dropped by their receivers, the coordinator's counter kept across restarts."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging

import pytest
import zigpy.types as t

from han_emu.radio.virtual import VirtualAir, VirtualControllerApplication
from han_emu.radio.virtual.medium import AirFrame
from han_emu.radio.virtual.counters import RESTART_MARGIN, IncomingCounters, after_restart
from han_emu.radio.vtime import run_virtual

from .test_air import Probe, broadcast, setup, unicast


def test_counters_strictly_increase_per_sender_acks_included() -> None:
    async def main() -> list[AirFrame]:
        air, a, b = setup()
        frames: list[AirFrame] = []
        air.add_listener(frames.append)
        for i in range(5):
            await air.transmit(a, unicast(0x1111, tsn=i))  # each acknowledged by b
            await air.transmit(b, unicast(0x0000, tsn=i, ack=False))
        await air.transmit(a, broadcast(0xFFFF))
        return frames

    frames = run_virtual(main())
    by_sender: dict[bytes, list[int]] = {}
    for frame in frames:
        by_sender.setdefault(bytes(frame.src_ieee), []).append(frame.nwk_counter)
    a, b = (0xA).to_bytes(8, "little"), (0xB).to_bytes(8, "little")
    assert by_sender[a] == [0, 1, 2, 3, 4, 5]
    # b sends its five ACKs and its five frames, interleaved, on one counter
    assert by_sender[b] == list(range(10))
    assert len(frames) == 16


def test_air_frame_counter_field_defaults_for_older_callers() -> None:
    frame = AirFrame(time=0.0, src_ieee=t.EUI64(bytes(8)), src=t.NWK(0), dst=unicast(1).dst,
                     packet=unicast(1), tx_options=t.TransmitOptions.NONE, aps_ack=False, aps_counter=0)
    assert frame.nwk_counter == 0


def test_a_replayed_frame_is_dropped_not_acknowledged_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        air, a, b = setup()
        frames: list[AirFrame] = []
        air.add_listener(frames.append)
        await air.transmit(a, unicast(0x1111, data=b"\x00\x07\x00"))
        captured = frames[0]
        await air.transmit(a, unicast(0x1111, data=b"\x00\x08\x00"))
        assert len(b.got) == 2

        await asyncio.sleep(60)  # much later, and past any duplicate filter
        frames.clear()
        caplog.clear()
        with caplog.at_level(logging.INFO):
            for _ in range(3):
                assert air.replay(captured) == (b.ieee,)  # b hears it...
                await asyncio.sleep(1)
        assert len(b.got) == 2  # ...and drops it
        assert not any(f.aps_ack for f in frames)  # never acknowledged
        assert air.incoming(b.ieee).dropped[bytes(a.ieee)] == 3
        assert air.replays_dropped == 3
        warnings = [r for r in caplog.records if "replayed" in r.getMessage()]
        assert len(warnings) == 1  # one line per sender, the rest counted

        # The genuine sender carries on: its counter is higher than any seen.
        await air.transmit(a, unicast(0x1111, data=b"\x00\x09\x00"))
        assert len(b.got) == 3 and b.got[-1][1].data.serialize() == b"\x00\x09\x00"

        # Control: the same frame with forged higher counters is accepted, so
        # it is the counters, not the bytes, that stopped the replays.
        forged = dataclasses.replace(captured, nwk_counter=captured.nwk_counter + 1000,
                                     aps_frame_counter=captured.aps_frame_counter + 1000)
        air.replay(forged)
        await asyncio.sleep(1)
        assert len(b.got) == 4

    run_virtual(main())


def test_aps_frame_counters_ride_on_aps_encrypted_frames_and_their_acks_only() -> None:
    async def main() -> list[AirFrame]:
        air, a, b = setup()
        frames: list[AirFrame] = []
        air.add_listener(frames.append)
        for i in range(3):
            await air.transmit(a, unicast(0x1111, tsn=i))  # encrypted, acknowledged (encrypted)
        plain = dataclasses.replace(unicast(0x1111, ack=False), tx_options=t.TransmitOptions.NONE)
        await air.transmit(a, plain)
        await air.transmit(a, broadcast(0xFFFF))  # SE: broadcasts are NWK-secured only
        await air.transmit(b, unicast(0x0000, ack=False))
        return frames

    frames = run_virtual(main())
    a, b = (0xA).to_bytes(8, "little"), (0xB).to_bytes(8, "little")
    aps = [(bytes(f.src_ieee), f.aps_ack, f.aps_frame_counter) for f in frames]
    assert [x for x in aps if x[0] == a] == [(a, False, 0), (a, False, 1), (a, False, 2), (a, False, None), (a, False, None)]
    # b's three encrypted ACKs and its encrypted frame share b's own APS counter
    assert [x[2] for x in aps if x[0] == b] == [0, 1, 2, 3]
    # the NWK counter still counts every frame, APS-secured or not
    assert [f.nwk_counter for f in frames if bytes(f.src_ieee) == a] == [0, 1, 2, 3, 4]


def test_a_frame_resecured_with_a_fresh_nwk_counter_is_stopped_by_its_aps_counter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An insider holding the network key (or a relaying router) can put an old
    APS-encrypted request on the air under a new NWK header: the end-to-end APS
    counter is what catches it."""

    async def main() -> None:
        air, a, b = setup()
        frames: list[AirFrame] = []
        air.add_listener(frames.append)
        await air.transmit(a, unicast(0x1111, data=b"\x00\x07\x00", ack=False))
        plain = dataclasses.replace(unicast(0x1111, data=b"\x00\x08\x00", ack=False),
                                    tx_options=t.TransmitOptions.NONE)
        await air.transmit(a, plain)
        secured, unsecured = frames[0], frames[1]
        await air.transmit(a, unicast(0x1111, data=b"\x00\x09\x00", ack=False))
        assert len(b.got) == 3
        await asyncio.sleep(60)
        fresh = air.nwk_counter(a) + 100
        with caplog.at_level(logging.WARNING):
            air.replay(secured, nwk_counter=fresh)
            await asyncio.sleep(1)
        assert len(b.got) == 3  # the NWK layer let it through; the APS layer did not
        assert air.incoming_aps(b.ieee).dropped[bytes(a.ieee)] == 1
        assert air.incoming(b.ieee).total_dropped == 0
        assert any("APS frame counter" in r.getMessage() for r in caplog.records)
        # Control: without APS security nothing end to end stops it.
        air.replay(unsecured, nwk_counter=fresh + 1)
        await asyncio.sleep(1)
        assert len(b.got) == 4 and b.got[-1][1].data.serialize() == b"\x00\x08\x00"

    run_virtual(main())


def test_counter_state_round_trips_and_restores_with_a_margin() -> None:
    async def main() -> None:
        air, a, b = setup()
        for i in range(3):
            await air.transmit(a, unicast(0x1111, tsn=i))
        state = air.counter_state()
        json.dumps(state)  # JSON-ready, as saved in the state database
        ka, kb = bytes(a.ieee).hex(), bytes(b.ieee).hex()
        assert state["outgoing"]["nwk"][ka] == 3 and state["outgoing"]["aps"][ka] == 3
        assert state["incoming"]["nwk"][kb] == {ka: 2} and state["incoming"]["aps"][kb] == {ka: 2}
        assert state["incoming"]["nwk"][ka] == {kb: 2}  # b's three ACKs, heard by a

        fresh, a2, b2 = setup()  # a new process
        fresh.restore_counters(state, margin=100)
        assert fresh.nwk_counter(a2) == 103 and fresh.aps_frame_counter(a2) == 103
        assert fresh.incoming(b2.ieee).highest(bytes(a.ieee)) == 2
        fresh.restore_counters(state, margin=0)  # never goes back
        assert fresh.nwk_counter(a2) == 103
        with pytest.raises(ValueError, match="not readable"):
            fresh.restore_counters({"outgoing": {"nwk": {"zz": 1}, "aps": {}}, "incoming": {"nwk": {}, "aps": {}}})

    run_virtual(main())


def test_incoming_table_is_per_sender_and_per_receiver() -> None:
    table = IncomingCounters("r")
    assert table.accept(b"A" * 8, 5) and table.accept(b"B" * 8, 0)  # B's own sequence
    assert not table.accept(b"A" * 8, 5) and not table.accept(b"A" * 8, 4)
    assert table.accept(b"A" * 8, 6)
    assert table.highest(b"A" * 8) == 6 and table.total_dropped == 2

    async def main() -> None:
        air = VirtualAir(latency=0.01)
        a, b, c = Probe(0xA, 0x0000), Probe(0xB, 0x1111), Probe(0xC, 0x2222)
        for node in (a, b, c):
            air.attach(node)
        frames: list[AirFrame] = []
        air.add_listener(frames.append)
        await air.transmit(a, unicast(0x1111, ack=False))
        await air.transmit(a, unicast(0x2222, ack=False))
        # c never heard counter 0, yet frame 0 replayed to c... was addressed to b:
        assert air.replay(frames[0]) == (b.ieee,)
        await asyncio.sleep(1)
        assert len(b.got) == 1 and len(c.got) == 1
        assert air.incoming(c.ieee).total_dropped == 0

    run_virtual(main())


def test_counter_margin_arithmetic() -> None:
    assert RESTART_MARGIN >= 1024
    assert after_restart(0) == RESTART_MARGIN
    assert after_restart(5000, 10) == 5010
    assert after_restart(0xFFFF_FFF0) == 0xFFFF_FFFF  # never wraps to a used value


async def _coordinator_counters(app: VirtualControllerApplication, air: VirtualAir, n: int) -> list[int]:
    node = Probe(0xB, 0x1111)
    air.attach(node)
    frames: list[AirFrame] = []
    remove = air.add_listener(frames.append)
    for i in range(n):
        await app.send_packet(unicast(0x1111, tsn=i, ack=False))
    remove()
    air.detach(node)
    return [f.nwk_counter for f in frames if int(f.src) == 0x0000]


def test_coordinator_counter_lives_in_the_radio_state_and_zigpy_network_info() -> None:
    async def main() -> None:
        air = VirtualAir()
        first = VirtualControllerApplication({}, air=air)
        await first.startup(auto_form=True)
        before = await _coordinator_counters(first, air, 3)
        assert before == sorted(set(before)) and len(before) == 3
        await first.load_network_info()
        assert first.state.network_info.network_key.tx_counter == before[-1] + 1
        assert air.radio("virtual://coordinator").nwk_frame_counter == before[-1] + 1
        await first.shutdown()

        # Restarted on the same radio: it carries on, it does not start again.
        second = VirtualControllerApplication({}, air=air)
        await second.startup(auto_form=False)
        after = await _coordinator_counters(second, air, 2)
        assert min(after) > max(before)
        # Forming the network again (tx_counter 0 from zigpy) does not take it back.
        await second.form_network()
        again = await _coordinator_counters(second, air, 1)
        assert again[0] > max(after)
        await second.shutdown()

    run_virtual(main())


def test_coordinator_restored_from_a_saved_counter_starts_above_it_by_the_margin() -> None:
    async def main() -> None:
        first = VirtualControllerApplication({}, air=VirtualAir())
        await first.startup(auto_form=True)
        before = await _coordinator_counters(first, first.air, 4)
        saved = first.nwk_frame_counter
        # Frames sent after the save: a crash loses their counters.
        lost = await _coordinator_counters(first, first.air, 10)
        await first.shutdown()

        air = VirtualAir()  # a new process: a new air, nothing kept but the saved value
        second = VirtualControllerApplication({}, air=air)
        assert second.restore_nwk_frame_counter(saved) == saved + RESTART_MARGIN
        frames: list[AirFrame] = []
        air.add_listener(frames.append)
        await second.startup(auto_form=True)  # forming and announcing put frames on the air
        after = [f.nwk_counter for f in frames] + await _coordinator_counters(second, air, 1)
        assert after[0] == saved + RESTART_MARGIN  # the very first frame after the restart
        assert after == list(range(after[0], after[0] + len(after)))
        assert min(after) > max(before + lost)
        # Restoring an older value later never moves it back.
        assert second.restore_nwk_frame_counter(0) == after[-1] + 1
        await second.shutdown()

    run_virtual(main())


def test_an_exhausted_counter_refuses_to_send_rather_than_wrap() -> None:
    import zigpy.exceptions

    from han_emu.radio.virtual.counters import COUNTER_MAX

    async def main() -> None:
        air, a, b = setup()
        air.restore_counters({"outgoing": {"nwk": {bytes(a.ieee).hex(): COUNTER_MAX - 1}, "aps": {}},
                              "incoming": {"nwk": {}, "aps": {}}}, margin=0)
        await air.transmit(a, unicast(0x1111, ack=False))  # the last counter there is
        with pytest.raises(zigpy.exceptions.DeliveryError, match="NWK frame counter exhausted"):
            await air.transmit(a, unicast(0x1111, ack=False))
        assert len(b.got) == 1

        app = VirtualControllerApplication({}, air=VirtualAir())
        await app.startup(auto_form=True)
        app.radio_state.aps_frame_counter = COUNTER_MAX
        node = Probe(0xB, 0x1111)
        app.air.attach(node)
        with pytest.raises(zigpy.exceptions.DeliveryError, match="APS frame counter exhausted"):
            await app.send_packet(unicast(0x1111, ack=False))
        await app.shutdown()

    run_virtual(main())
