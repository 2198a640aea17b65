"""The virtual-time loop: asyncio, timeouts and our clock agree, and idle time costs nothing."""

from __future__ import annotations

import asyncio
import time

import pytest

from han_emu.meter.clock import WallClock
from han_emu.radio.vtime import VirtualTimeLoop, clock_for_loop, run_virtual

EPOCH = 1_700_000_000.0


def test_sleep_moves_virtual_time_exactly() -> None:
    async def main() -> tuple[float, float, float, float]:
        loop = asyncio.get_running_loop()
        clock = clock_for_loop()
        t0, c0 = loop.time(), clock.now()
        await asyncio.sleep(1234.5)
        return t0, c0, loop.time(), clock.now()

    t0, c0, t1, c1 = run_virtual(main(), EPOCH)
    assert t0 == 0.0
    assert c0 == EPOCH
    assert t1 == pytest.approx(1234.5, abs=1e-6)
    assert c1 == pytest.approx(EPOCH + 1234.5, abs=1e-6)


def test_timeout_fires_at_virtual_deadline() -> None:
    async def main() -> float:
        clock = clock_for_loop()
        start = clock.now()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(30):
                await asyncio.Event().wait()
        return clock.now() - start

    assert run_virtual(main(), EPOCH) == pytest.approx(30.0, abs=1e-6)


def test_timers_run_in_order_of_due_time() -> None:
    async def main() -> list[str]:
        order: list[str] = []

        async def after(delay: float, tag: str) -> None:
            await asyncio.sleep(delay)
            order.append(tag)

        await asyncio.gather(after(3, "c"), after(1, "a"), after(2, "b"))
        return order

    assert run_virtual(main()) == ["a", "b", "c"]


def test_a_day_of_periodic_sleeps_takes_well_under_a_second() -> None:
    async def main() -> tuple[int, float]:
        ticks = 0

        async def every(period: float) -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(period)
                ticks += 1

        tasks = [asyncio.create_task(every(p)) for p in (10.0, 30.0, 1800.0)]
        await asyncio.sleep(86_400.5)  # half a second past the last ticks
        for task in tasks:
            task.cancel()
        return ticks, clock_for_loop().now()

    wall = time.perf_counter()
    ticks, now = run_virtual(main(), EPOCH)
    elapsed = time.perf_counter() - wall
    assert ticks == 8640 + 2880 + 48
    assert now == pytest.approx(EPOCH + 86_400.5)
    assert elapsed < 10.0  # it never waits on the wall clock (a day would take 86,400 s)


def test_real_work_in_threads_still_completes() -> None:
    """With no timer pending, the loop waits for real I/O (the executor's wake-up)."""

    async def main() -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: (time.sleep(0.05), "done")[1])

    assert run_virtual(main()) == "done"


def test_clock_for_an_ordinary_loop_is_the_wall_clock() -> None:
    async def main() -> object:
        return clock_for_loop()

    assert isinstance(asyncio.run(main()), WallClock)


def test_loop_is_a_selector_loop_with_a_clock() -> None:
    loop = VirtualTimeLoop(start_epoch=EPOCH)
    try:
        assert isinstance(loop, asyncio.SelectorEventLoop)
        assert loop.clock.now() == EPOCH
    finally:
        loop.close()


async def _turns_until_heard(pause: float) -> int:
    """Turns of the loop (each awaiting ``asyncio.sleep(pause)``, so never idle)
    until a byte already waiting on a socket is read."""
    import socket

    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    heard = asyncio.Event()
    loop.add_reader(a, lambda: (a.recv(16), heard.set()))
    try:
        b.send(b"x")
        turns = 0
        while not heard.is_set():
            await asyncio.sleep(pause)
            turns += 1
        return turns
    finally:
        loop.remove_reader(a)
        a.close()
        b.close()


@pytest.mark.parametrize("pause", [0.0, 1.0], ids=["callbacks keep the loop busy", "timers keep it jumping"])
def test_real_io_is_served_while_the_loop_never_idles(pause: float) -> None:
    from han_emu.radio.vtime import BUSY_POLL_EVERY

    assert run_virtual(_turns_until_heard(pause)) <= 2 * BUSY_POLL_EVERY


def test_timers_due_at_the_same_instant_fire_in_the_order_they_were_set() -> None:
    """Ties go by when each timer was set, whatever the heap held before (here
    cancelled timers, which change the shape of asyncio's heap)."""

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        fired: list[int] = []
        for i in range(40):
            if i % 2:
                loop.call_at(10.0 + i % 3, lambda: None).cancel()
            loop.call_at(5.0, fired.append, i)
        await asyncio.sleep(6.0)
        return fired

    assert run_virtual(main()) == list(range(40))
