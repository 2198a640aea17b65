"""The meter on a clock, as both HANs run it: stepped, saved, and resumed.

:class:`MeterRunner` steps the meter with its scenario up to the clock, tells
the HAN after each step (so the ESI can report what changed), saves the meter
(and whatever the HAN keeps beside it) every ``save_every_s`` and once more at
stop.  A store that stops working never stops the meter: the first failed save
is logged as an error, the first good one after it as a warning, and saving is
retried in between.  :func:`open_meter` is where a run's meter comes from,
:func:`backfill_meter` gives it its history first (``--backfill``).

A live run serves the wall clock, and the state database keeps only that
meter: when a live run is sped up, :meth:`MeterRunner.detach_store` saves a
last time and lets the store go, and the run goes on with a throwaway copy.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from han_emu.han.config import Config
from han_emu.han.store import StateStore, StoreError, default_state_path
from han_emu.meter.clock import Clock
from han_emu.meter.model import TwinMeter
from han_emu.meter.gbtime import iso_gb
from han_emu.meter.scenario import Scenario
from han_emu.meter.simulate import backfill, step

LOGGER = logging.getLogger(__name__)


#: A saved meter clock at most this far ahead of the wall clock is not worth a word.
CLOCK_SLACK_S = 60.0


def describe_span(seconds: float) -> str:
    """``3 d 4 h``, ``5 h 12 min``, ``7 min``, ``40 s``: a span as a person reads it."""
    s = int(round(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def clock_ahead_note(path: Path, ahead: float) -> str:
    """One line: the meter clock saved in ``path`` is ``ahead`` seconds ahead of the wall clock."""
    return (f"the meter clock saved in {path} is {describe_span(ahead)} ahead of the wall clock, so this run "
            f"serves a clock in the future; `han-emu state resync {path}` brings it back (registers are kept)")


def open_meter(
    config: Config,
    state: str | None,
    now: float,
    *,
    warn: Callable[[str], None] | None = None,
    backfill: float | None = None,
    inform: Callable[[str], None] | None = None,
) -> tuple[TwinMeter, StateStore | None]:
    """The meter a run starts from, and the store that keeps it.

    ``state`` is the state database's path, None for the configured one (or
    the user's state directory), or ``"none"`` to keep nothing.  The store is
    opened ``exclusive``: while this run has it, another run on the same
    database is refused.  A saved meter resumes at ``now``; without one a new
    meter starts there.  A saved meter clock ahead of ``now`` (a sped-up or
    simulated run saved it) is kept, never wound back here, and reported
    through ``warn`` (default: a logged warning) with the way to resynchronise.

    ``backfill`` (seconds): the meter runs its configured scenario over the
    past up to ``now`` before it is served (:func:`backfill_meter`); what was
    done is said in one line through ``inform`` (default: logged).
    """
    store = None
    meter = None
    if state != "none":
        path = Path(state or config.state_path or default_state_path())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot make the directory of state database {path}: {exc.strerror}") from None
        store = StateStore(path, exclusive=True)
        try:
            meter = store.load(config.meter)
        except BaseException:
            store.close()
            raise
    if meter is not None:
        assert store is not None
        if meter.time - now > CLOCK_SLACK_S:
            (warn or LOGGER.warning)(clock_ahead_note(store.path, meter.time - now))
    if backfill:
        try:
            meter = backfill_meter(config, meter, now, backfill, store=store, inform=inform)
        except BaseException:
            if store is not None:
                store.close()
            raise
    elif meter is None:
        meter = TwinMeter(config.meter, now)
    else:
        meter.resume(now)
    return meter, store


def backfill_meter(
    config: Config,
    meter: TwinMeter | None,
    now: float,
    seconds: float,
    *,
    store: StateStore | None = None,
    inform: Callable[[str], None] | None = None,
) -> TwinMeter:
    """A meter with ``seconds`` of history up to ``now``, the scenario run over it in virtual time.

    Without a saved meter (``meter`` None) a new one starts ``seconds``
    before ``now``: its first reading is there.  A meter that has history
    already is never rewritten: it continues from its last reading, the
    scenario filling the time since (at most the last ``seconds``; anything
    earlier is a gap, as after any downtime).  The result is saved to
    ``store`` in one transaction; ``inform`` hears one line saying what was done."""
    say = inform or LOGGER.info
    first = now - seconds
    wall0 = time.monotonic()
    scenario = Scenario(config.scenario)
    if meter is None:
        meter = TwinMeter(config.meter, first)
        backfill(meter, scenario, now)
        line = (f"backfill: {describe_span(seconds)} of history filled in {{:.1f}} s; "
                f"the meter's first reading is at {iso_gb(first)}")
    else:
        where = f"state database {store.path}" if store is not None else "the saved state"
        last = meter.time
        if last >= now:
            say(f"backfill: {where} already holds this meter's history, up to {iso_gb(last)}: "
                "nothing to fill (a new --state backfills from scratch)")
            return meter
        if last < first:
            meter.resume(first)  # the meter was off before the backfill's reach: a gap, as after downtime
        backfill(meter, scenario, now)
        gap = f"; the {describe_span(first - last)} before {iso_gb(first)} stay unmeasured" if last < first else ""
        line = (f"backfill: {where} already holds this meter's history: continuing from its last reading at "
                f"{iso_gb(last)}, {describe_span(now - max(last, first))} filled in {{:.1f}} s{gap} "
                "(a new --state backfills from scratch)")
    if store is not None:
        store.save(meter)  # the whole history in one transaction
    say(line.format(time.monotonic() - wall0))
    return meter


class MeterRunner:
    """Steps and saves one meter on one clock (the virtual and the hardware HAN's)."""

    def __init__(
        self,
        meter: TwinMeter,
        scenario: Any,
        *,
        clock: Clock | None = None,
        store: StateStore | None = None,
        step_s: float = 10.0,
        save_every_s: float = 60.0,
        on_step: Callable[[], None] | None = None,
        save_also: Callable[[], None] | None = None,
    ) -> None:
        """``scenario``: a :class:`~han_emu.meter.scenario.Scenario` or anything
        :func:`~han_emu.meter.simulate.step` takes (a recorded one);
        ``clock``: may be given later, before the first :meth:`drive` (a
        virtual-time clock exists only once its loop runs); ``on_step``: called
        after each periodic step; ``save_also``: writes what the HAN keeps
        beside the meter, with each save (it may raise :class:`StoreError`)."""
        self.meter = meter
        self.scenario = scenario
        self.clock = clock
        self.store = store
        self.step_s = step_s
        self.save_every_s = save_every_s
        self.on_step = on_step
        self.save_also = save_also
        #: Saves made (periodic, and the one at stop).
        self.saves = 0
        #: True from a failed save until the next good one.
        self.failing = False
        self._task: asyncio.Task[None] | None = None

    # -- stepping ---------------------------------------------------------------------
    def drive(self) -> None:
        """Bring the meter up to the clock, in steps of at most ``step_s``."""
        assert self.clock is not None, "the runner has no clock yet"
        now = self.clock.now()
        while self.meter.time < now:
            step(self.meter, self.scenario, min(now, self.meter.time + self.step_s))

    def start(self) -> None:
        """Step (and save) periodically on the running loop until :meth:`stop`."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="meter")

    async def stop(self) -> None:
        """Stop stepping; :meth:`save_on_stop` then keeps the meter as it ends."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        assert self.clock is not None
        last_save = self.clock.now()
        while True:
            self.drive()
            if self.on_step is not None:
                self.on_step()
            if self.store is not None and self.clock.now() - last_save >= self.save_every_s:
                self.save()
                last_save = self.clock.now()
            await asyncio.sleep(self.step_s)

    # -- saving -----------------------------------------------------------------------
    def save(self) -> bool:
        """Save the meter (and what is kept beside it) now; False if the store
        failed, which is reported and retried at the next save."""
        if self.store is None:
            return True
        try:
            self._write()
        except StoreError as exc:  # e.g. the disk is full: keep metering
            self._failed(exc)
            return False
        self._worked()
        return True

    def save_meta(self, key: str, value: str) -> bool:
        """Keep ``value`` in the store's meta table now (e.g. a table that just
        changed); a failure is reported as a failed save is."""
        if self.store is None:
            return True
        try:
            self.store.set_meta(key, value)
        except StoreError as exc:
            self._failed(exc)
            return False
        self._worked()
        return True

    def detach_store(self) -> StateStore | None:
        """Save the meter as it is now, then keep nothing more: the store is
        closed (its lock given up) and the meter runs on as a throwaway copy.

        For a live run leaving the wall clock (sped up): every later save would
        move the saved meter clock ahead of the wall clock.  Returns the store
        let go (None if there was none); a failure of the last save is
        reported as any failed save is."""
        store = self.store
        if store is None:
            return None
        if self.clock is not None:
            self.drive()
        self.save()
        self.store = None
        store.close()
        return store

    def save_on_stop(self) -> None:
        """Bring the meter up to the clock and save it a last time.  A store
        error is raised, not retried: the caller must know the end was not kept."""
        if self.clock is not None:  # None: stopped before it ever started
            self.drive()
        if self.store is not None:
            self._write()

    def _write(self) -> None:
        assert self.store is not None
        self.store.save(self.meter)
        if self.save_also is not None:
            self.save_also()
        self.saves += 1

    def _failed(self, exc: StoreError) -> None:
        if not self.failing:
            LOGGER.error("%s; the meter keeps running and saving is retried", exc)
        self.failing = True

    def _worked(self) -> None:
        if self.failing:
            LOGGER.warning("state saved again after earlier failures")
        self.failing = False
