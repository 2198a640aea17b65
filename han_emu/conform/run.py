"""Conformance runs: a plan's events played on the meter while the display under test is watched.

:class:`VirtualRun` puts a simulated display (the device under test, DUT,
with its faults) alone on a virtual HAN and runs the plan in virtual time, as
fast as it goes.  :class:`RadioRun` serves the meter from a coordinator stick
on the wall clock, admits a real display by its install code (as ``han-emu
permit`` does) and runs the plan from there.

Either way every packet to or from the DUT becomes an
:class:`~han_emu.conform.model.Observation`.  When the run is recorded (a
capture or a key log), each carries the frame number Wireshark gives its
(first) data frame in the capture: a counting sink sits beside the capture
file on the HAN's recorder.  Without a recording nothing is synthesized (the
frames' encryption is most of a recorded run's time) and frame numbers are None.
"""

from __future__ import annotations

import asyncio
import logging
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import zigpy.types as t

from han_emu.air.synth import FrameKind, OnAirFrame
from han_emu.conform import events as ev
from han_emu.conform.model import EventRecord, Observation, RunLog, Verdict
from han_emu.conform.partial import verdicts_so_far
from han_emu.conform.plan import KINDS, Plan
from han_emu.han.config import Config
from han_emu.han.store import StateStore
from han_emu.meter.clock import OffsetClock, WallClock
from han_emu.meter.model import TwinMeter
from han_emu.replay.zcl import ZclDecodeError, decode_zcl
from clusters.zcl_header import read_header

LOGGER = logging.getLogger(__name__)

FAULTS = ("ignore-secondary", "slow-poll", "no-cbke", "ignore-price-push", "no-confirm", "no-recovery")
"""What a simulated DUT can be told to get wrong (each fails the checks that watch for it)."""
UPDATES = 200
"""Progress reports over a run, and one after each event (the checks so far are judged at most
every :data:`JUDGE_EVERY_S` of wall time, and after each event)."""
JUDGE_EVERY_S = 0.5
"""Wall seconds at least between two judgements of a run's checks so far (events and the end excepted)."""
EPSILON = 1e-6
"""Times this close count as reached."""
STICK_START_S = 120.0
"""Seconds a stick's start may take before the display is let in (the radio's
start timeout and the permit request, with room to spare)."""
NO_SAVE = 1e12
"""The run's meter is saved when a restart asks, not on a timer (saves cost a virtual run time)."""


class RunError(RuntimeError):
    """A run that could not be made (the display did not join, a plan the radio cannot play)."""


@dataclass(frozen=True)
class VirtualDut:
    """A simulated display as the device under test: its kind and faults."""

    kind: str = "ihd"
    faults: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> VirtualDut:
        """``KIND[:FAULT,...]``, e.g. ``ihd:slow-poll,no-cbke``; ValueError says what is wrong."""
        kind, _, rest = text.partition(":")
        kind = kind.strip().lower()
        if kind not in KINDS:
            raise ValueError(f"{text!r}: the kind is one of {', '.join(KINDS)}")
        faults = frozenset(f.strip() for f in rest.split(",") if f.strip())
        unknown = sorted(faults - set(FAULTS))
        if unknown:
            raise ValueError(f"{text!r}: no fault {', '.join(unknown)} (faults: {', '.join(FAULTS)})")
        return cls(kind, faults)

    def describe(self) -> str:
        return f"virtual {self.kind}" + (f" ({', '.join(sorted(self.faults))})" if self.faults else "")


@dataclass
class RunStatus:
    """How far a run has got, for progress lines and the dashboard."""

    plan: Plan
    dut: str
    done_s: float = 0.0
    step: str = "starting"
    events_done: int = 0
    verdicts: list[Verdict] = field(default_factory=list)
    finished: bool = False
    #: Stopped before the plan's end (:meth:`VirtualRun.stop`, :meth:`RadioRun.stop`): the verdicts are those so far.
    interrupted: bool = False

    def counts(self) -> tuple[int, int, int]:
        """(passed, failed, pending) among the verdicts so far."""
        passed = sum(v.passed is True for v in self.verdicts)
        failed = sum(v.passed is False for v in self.verdicts)
        return passed, failed, len(self.plan.checks) - passed - failed


Listener = Callable[[RunStatus], None]


def evaluate(plan: Plan, log: RunLog) -> list[Verdict]:
    """The plan's checks judged on ``log`` (``checks.evaluate``)."""
    from han_emu.conform.checks import evaluate as judge

    return judge(plan.checks, log)


def judged(plan: Plan, log: RunLog, status: RunStatus) -> list[Verdict]:
    """The final verdicts once the run has reached the plan's end; before (or
    when stopped short) the verdicts so far, where what may still come is pending."""
    if status.finished and not status.interrupted:
        return evaluate(plan, log)
    return verdicts_so_far(plan.checks, log, status.done_s)


# -- observing ----------------------------------------------------------------------------------


class FrameCounter:
    """A recorder sink that numbers frames as Wireshark does (from 1), and
    remembers the first data frame of the packet being recorded."""

    def __init__(self) -> None:
        self.count = 0
        self.first_data: int | None = None

    def emit(self, frame: OnAirFrame, time: float) -> None:
        self.count += 1
        if self.first_data is None and frame.kind in (FrameKind.DATA, FrameKind.FRAGMENT):
            self.first_data = self.count


def _addr(addr: t.AddrModeAddress | None) -> int:
    if addr is None or addr.addr_mode not in (t.AddrMode.NWK, t.AddrMode.Broadcast):
        return 0xFFFE
    return int(addr.address)


def observation(packet: t.ZigbeePacket, *, frame: int | None, time: float, incoming: bool,
                src_nwk: int | None = None) -> Observation:
    """What a check needs of one packet: addresses, endpoints, and for ZCL the
    command, the attribute ids it carries and its first failing status."""
    data = packet.data.serialize() if hasattr(packet.data, "serialize") else bytes(packet.data)
    profile = int(packet.profile_id or 0)
    cluster = int(packet.cluster_id)
    base = dict(frame=frame, time=time, incoming=incoming,
                src_nwk=_addr(packet.src) if src_nwk is None else src_nwk, dst_nwk=_addr(packet.dst),
                profile=profile, cluster=cluster, src_ep=int(packet.src_ep or 0), dst_ep=int(packet.dst_ep or 0),
                secured=t.TransmitOptions.APS_Encryption in (packet.tx_options or t.TransmitOptions.NONE), data=data)
    if profile == 0:
        return Observation(**base)
    try:
        fc, manufacturer, _tsn, command, _off = read_header(data)
    except ValueError:
        return Observation(**base)
    general = fc & 0x03 == 0
    attributes: tuple[int, ...] = ()
    status = None
    if general:
        try:
            message = decode_zcl(cluster, data)
        except ZclDecodeError:
            message = None
        if message is not None:
            attributes = tuple(int(k, 16) for k in (message.attributes or {}))
            status = _first_failure(command, message.payload, data[_off:])
            if command == 0x06:  # Configure Reporting: the attributes configured
                attributes = _configured(data[_off:])
    return Observation(**base, general=general, command=command, attributes=attributes, status=status,
                       manufacturer=manufacturer)


def _configured(body: bytes) -> tuple[int, ...]:
    from zigpy.zcl import foundation

    try:
        value, _ = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Configure_Reporting].schema.deserialize(body)
    except (ValueError, KeyError):
        return ()
    return tuple(int(r.attrid) for r in value.config_records)


def _first_failure(command: int, payload: dict[str, Any] | None, body: bytes) -> int | None:
    payload = payload or {}
    if "statuses" in payload:
        bad = [int(s) for s in payload["statuses"].values() if int(s)]
        return bad[0] if bad else None
    if command == 0x0B or "status" in payload:
        value = int(payload.get("status", 0))
        return value or None
    if command == 0x07 and body:  # Configure Reporting Response: status first in each record
        return body[0] or None
    return None


class Observer:
    """Turns the packets of one HAN into the run's observations, in capture order."""

    def __init__(self, origin: float) -> None:
        self.origin = origin
        self.counter = FrameCounter()
        self.observations: list[Observation] = []

    def rebase(self, origin: float) -> None:
        """Count run seconds from ``origin`` from now on, the observations so far
        included (those before it get negative times)."""
        shift = origin - self.origin
        self.observations[:] = [replace(o, time=o.time - shift) for o in self.observations]
        self.origin = origin

    def before(self, *_: Any) -> None:
        self.counter.first_data = None

    def virtual_after(self, han: Any, frame: Any) -> None:
        """A ``VirtualHan`` listener (after the recording's): every packet on
        the air is to or from the DUT, the only display."""
        if frame.aps_ack:
            return
        coordinator = han.app.state.node_info.ieee if han.app is not None else None
        incoming = coordinator is None or frame.src_ieee != coordinator
        self.observations.append(observation(frame.packet, frame=self.counter.first_data, incoming=incoming,
                                             time=han.clock.now() - self.origin, src_nwk=int(frame.src)))

    def served_after(self, dut_nwk: Callable[[], int | None], clock: Any) -> Callable[[t.ZigbeePacket, bool], None]:
        """A ``HardwareHan`` packet listener (after the recording's) keeping the DUT's packets."""
        def after(packet: t.ZigbeePacket, incoming: bool) -> None:
            nwk = dut_nwk()
            peer = _addr(packet.src if incoming else packet.dst)
            if nwk is None or (peer != nwk and not (not incoming and peer >= 0xFFF8)):
                return
            src = peer if incoming else 0x0000
            self.observations.append(observation(packet, frame=self.counter.first_data, incoming=incoming,
                                                 time=clock.now() - self.origin, src_nwk=src))
        return after


# -- playing a plan -------------------------------------------------------------------------------


async def play(plan: Plan, target: ev.Target, status: RunStatus, log: RunLog,
               report: Callable[[], None]) -> None:
    """Apply the plan's events at their times and report progress until the plan's end."""
    loop = asyncio.get_running_loop()
    # Run seconds on the loop's own clock: small numbers, where a sleep to a
    # time always gets there (POSIX-sized floats lose the last microseconds).
    zero = loop.time() - target.run_time()
    pending = list(plan.events)
    tick = plan.duration / UPDATES
    next_tick = tick
    while True:
        now = loop.time() - zero + EPSILON
        if now >= plan.duration:
            break
        while pending and pending[0].at <= now:
            event = pending.pop(0)
            status.step = f"{event.kind} at {event.at:g} s"
            record = await ev.apply(target, event)
            log.events.append(record)
            status.events_done += 1
            status.done_s = now
            report()
        if now >= next_tick:
            next_tick = (now // tick + 1) * tick
            status.done_s = now
            report()
        wake = min([plan.duration, next_tick] + [e.at for e in pending[:1]])
        await asyncio.sleep(max(EPSILON, wake - (loop.time() - zero)))
    status.done_s = plan.duration
    status.step = "finished"
    await target.finish()


class _Reporting:
    """Progress reports of a run, with the checks judged on what has been seen so far:
    after each event, at the end, and between at most every :data:`JUDGE_EVERY_S`
    of wall time (judging the whole log on every progress step would double a
    virtual run's time)."""

    plan: Plan
    log: RunLog
    status: RunStatus
    judge: bool
    listener: Listener | None
    _judged: tuple[float, int] = (-JUDGE_EVERY_S, -1)  # (wall time, events done) of the last judgement

    def _report(self) -> None:
        status = self.status
        if self.judge:
            wall = time.monotonic()
            last, events = self._judged
            if status.finished or status.events_done != events or wall - last >= JUDGE_EVERY_S:
                status.verdicts = judged(self.plan, self.log, status)
                self._judged = (wall, status.events_done)
        if self.listener is not None:
            self.listener(status)


class VirtualRun(_Reporting):
    """A plan against a simulated display, in virtual time as fast as it goes.

    ``pcap``/``keylog``: the run's capture and key log (for Wireshark); ``start``:
    POSIX time of the meter's clock at the start (default: the plan's, else now);
    ``listener`` hears the :class:`RunStatus` as the run goes (on the run's
    thread); ``on_han`` is given the run's ``VirtualHan`` on its loop before
    it starts (the dashboard's source listens to it from there).  :meth:`stop`,
    from any thread, ends the run early."""

    def __init__(self, plan: Plan, dut: VirtualDut, *, config: Config | None = None, pcap: str | None = None,
                 keylog: str | None = None, seed: int | None = 1, start: float | None = None,
                 speed: float | None = None, listener: Listener | None = None, judge: bool = True,
                 on_han: Callable[[Any], None] | None = None) -> None:
        self.plan = plan
        self.dut = dut
        self.config = config
        self.pcap, self.keylog = pcap, keylog
        self.seed = seed
        self.start = plan.start_for(time.time() if start is None else start)
        self.speed = speed
        self.listener = listener
        self.judge = judge
        self.status = RunStatus(plan, dut.describe())
        self.han: Any = None
        self.log = RunLog(plan.name, dut.describe(), plan.duration, capture=pcap, keylog=keylog)
        self.on_han = on_han
        self._stopping = False
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def stop(self) -> None:
        """End the run before the plan's end (from any thread): the HAN stops, the
        capture is closed, and the verdicts are those so far (``status.interrupted``)."""
        self._stopping = True
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop has closed: the run is over already
                pass

    def devices(self) -> list[Any]:
        from han_emu.air.accounting import BAND_868
        from han_emu.sim.schedule import DeviceSettings, cad, default_devices

        if self.dut.kind == "ihd":
            settings = DeviceSettings("ihd", "IHD")
        elif self.dut.kind == "ppmid":
            settings = next(d for d in default_devices() if d.kind == "ppmid")
        else:
            settings = cad()
        if self.plan.sub_ghz:
            from dataclasses import replace

            settings = replace(settings, band=BAND_868)
        return [settings]

    def run(self) -> RunLog:
        """Run the plan; returns the log (its verdicts are in :attr:`status`)."""
        from han_emu.han.config import load
        from han_emu.han.recording import HanRecording
        from han_emu.radio.vtime import run_virtual

        config = self.config or load(None)
        self.log.endpoints = config.endpoints
        recording = HanRecording(pcap=self.pcap, keylog=self.keylog)  # RecordingError: a path that cannot be written
        observer = Observer(self.start)
        self.log.observations = observer.observations  # the same list: progress judges what is seen so far
        if self.pcap:  # frame numbers only for a capture, where they can be looked up
            recording.sinks.append(observer.counter)
        with tempfile.TemporaryDirectory(prefix="han-emu-conform-") as tmp:
            store = StateStore(Path(tmp) / "meter.sqlite")
            try:
                run_virtual(self._main(config, store, recording, observer), self.start, self.speed)
            except asyncio.CancelledError:
                if not self._stopping:
                    raise
            finally:
                store.close()
                recording.close()
        if self._stopping and self.status.step != "finished":
            self.status.interrupted = True
            self.status.step = f"stopped at {self.status.done_s:.0f} s"
            self.log.duration = self.status.done_s
        self.status.finished = True
        self._report()
        return self.log

    async def _main(self, config: Config, store: StateStore, recording: Any, observer: Observer) -> None:
        from han_emu.han.virtual import VirtualHan

        self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        if self._stopping:
            return
        meter = TwinMeter(config.meter, self.start)
        store.save(meter)
        options: dict[str, Any] = {"faults": self.dut.faults} if self.dut.faults else {}
        han = VirtualHan(config, meter, store=store, devices=self.devices(), save_every_s=NO_SAVE,
                         sub_ghz=self.plan.sub_ghz, seed=self.seed, **options)
        self.han = han
        han.listeners.append(observer.before)
        recording.attach(han)
        han.listeners.append(observer.virtual_after)
        if self.on_han is not None:
            self.on_han(han)
        self.status.step = "joining"
        await han.start()
        self.status.step = "running"
        device = han.devices[0]
        self.log.dut_ieee = str(device.ieee)
        self.log.dut_nwk = None if device.nwk is None else int(device.nwk)
        rng = None if self.seed is None else random.Random(self.seed + 1)  # keys drawn by events
        target = ev.Target(han, dut_ieee=device.ieee, dut_nwk=lambda: None if device.nwk is None else int(device.nwk),
                           origin=self.start, virtual=True, recording=recording,
                           random=None if rng is None else rng.randbytes)
        try:
            await play(self.plan, target, self.status, self.log, self._report)
        finally:
            self._task = None  # a stop from here on does not cut the HAN's own stop short
            if self._stopping:
                self.status.done_s = min(self.plan.duration, max(self.status.done_s, target.run_time()))
            await han.stop()


class RadioRun(_Reporting):
    """A plan against a real display on a coordinator stick, on the wall clock.

    The stick serves a fresh meter (kept in a temporary state store for the
    run); the display is admitted by its install code and the plan starts
    when it has joined (or ``join_timeout`` seconds have passed: RunError).
    A plan that needs another time of year (its ``start``, a ``dst-change``)
    gets a meter whose clock is the wall clock plus an offset
    (:meth:`meter_start`, :meth:`lead_s`)."""

    def __init__(self, plan: Plan, spec: Any, ieee: str, install_code: bytes, *, config: Config | None = None,
                 pcap: str | None = None, keylog: str | None = None, join_timeout: float = 254.0,
                 listener: Listener | None = None, judge: bool = True, report: Callable[[str], None] | None = None
                 ) -> None:
        unsupported = sorted({e.kind for e in plan.events} & ev.RADIO_UNSUPPORTED)
        if unsupported:
            raise RunError(f"plan {plan.name}: a run on a stick cannot play {', '.join(unsupported)} "
                           "(the sticks are 2.4 GHz, with no sub-GHz HAN; use --virtual-dut)")
        if plan.sub_ghz:
            raise RunError(f"plan {plan.name}: needs a sub-GHz HAN; the sticks are 2.4 GHz")
        self.plan, self.spec = plan, spec
        self.ieee = t.EUI64.convert(ieee)
        self.install_code = install_code
        self.config = config
        self.pcap, self.keylog = pcap, keylog
        self.join_timeout = join_timeout
        self.listener = listener
        self.judge = judge
        self.report = report
        self.status = RunStatus(plan, f"{spec.describe()} {self.ieee}")
        self.log = RunLog(plan.name, self.status.dut, plan.duration, dut_ieee=str(self.ieee), capture=pcap,
                          keylog=keylog)
        self.han: Any = None
        #: Given the run's ``HardwareHan`` once the stick is up, before the display is
        #: admitted (the dashboard opens then and listens to it from there).
        self.on_up: Callable[[Any], None] | None = None
        self._stopping = False
        self._task: asyncio.Task[Any] | None = None

    def stop(self) -> None:
        """End the run before the plan's end (on the run's loop): the stick stops, the
        capture is closed, and the verdicts are those so far (``status.interrupted``)."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()

    async def run(self) -> RunLog:
        """Run the plan on the running loop; returns the log (also when :meth:`stop` ended it)."""
        from han_emu.conform import rejoined
        from han_emu.frames.keylog import KeyLog
        from han_emu.han.config import load
        from han_emu.han.hardware import HardwareHan
        from han_emu.han.recording import ServedRecording

        config = self.config or load(None)
        self.log.endpoints = config.endpoints
        recording = ServedRecording(pcap=self.pcap)
        keys = KeyLog(self.keylog) if self.keylog else None
        wall = WallClock()
        start = wall.now()
        aim = self.meter_start(start)
        # The meter's clock: the wall clock, or set so that it can reach the
        # plan's start time (its `start`, or the GB clock change a dst-change
        # needs) when the plan starts: it runs that far behind until then.
        clock = OffsetClock(wall, 0.0 if aim is None else aim - self.lead_s() - start)
        observer = Observer(start)
        self.log.observations = observer.observations  # the same list: progress judges what is seen so far
        self.log.zdo_visible = False  # the stick's firmware answers the DUT's ZDO requests itself
        if self.pcap:  # frames are synthesized only for a capture: numbers then match it
            recording.sinks.append(observer.counter)
        with tempfile.TemporaryDirectory(prefix="han-emu-conform-") as tmp:
            store = StateStore(Path(tmp) / "meter.sqlite")
            han = HardwareHan(config, TwinMeter(config.meter, clock.now()), self.spec, store=store, keylog=keys,
                              clock=clock, save_every_s=NO_SAVE, report=self.report)
            self.han = han
            self._task = asyncio.current_task()
            target: ev.Target | None = None
            try:
                self.status.step = "starting the stick"
                await han.start()
                self._check_rekey(han)
                earlier = rejoined.joined_earlier(self, han)  # on the stick's network before the permit window opens
                if self.on_up is not None:
                    self.on_up(han)
                han.packet_listeners.append(observer.before)
                recording.attach_hardware(han)
                dut_nwk = self._dut_nwk
                # Frames are timed on the wall clock: the meter's may step forward when the plan starts.
                han.packet_listeners.append(observer.served_after(dut_nwk, wall))
                self.status.step = f"waiting for {self.ieee} to join"
                self._report()
                await han.permit_install_code(self.ieee, self.install_code, int(min(254, self.join_timeout)))
                await self._wait_join()
                if earlier:
                    await rejoined.cbke_again(self, ev.Target(han, dut_ieee=self.ieee, dut_nwk=dut_nwk,
                                                              origin=clock.now(), virtual=False, recording=recording))
                self.status.step = "running"
                observer.rebase(wall.now())  # the join and CBKE come before the plan: negative times
                if aim is not None:  # the meter's clock steps forward to the plan's start time
                    clock.catch_up(aim)
                    han.runner.drive()
                self.log.dut_nwk = dut_nwk()
                target = ev.Target(han, dut_ieee=self.ieee, dut_nwk=dut_nwk, origin=clock.now(), virtual=False,
                                   recording=recording)
                await play(self.plan, target, self.status, self.log, self._report)
            except asyncio.CancelledError:
                if not self._stopping:
                    raise
                asyncio.current_task().uncancel()  # type: ignore[union-attr]  # stopped: the run ends normally
                if target is not None:
                    self.status.done_s = min(self.plan.duration, max(self.status.done_s, target.run_time()))
                    await target.finish()
            finally:
                self._task = None  # a stop from here on does not cut the stick's own stop short
                await han.stop()
                store.close()
                recording.close()
                if keys is not None:
                    keys.close()
        self.log.observations = observer.observations
        if self._stopping and self.status.step != "finished":
            self.status.interrupted = True
            self.status.step = f"stopped at {self.status.done_s:.0f} s"
            self.log.duration = self.status.done_s
        self.status.finished = True
        self._report()
        return self.log

    def _check_rekey(self, han: Any) -> None:
        """A plan with cbke-rekey needs the host's software CBKE (the ESI as initiator)."""
        if not any(e.kind == "cbke-rekey" for e in self.plan.events) or han.cbke_mode == "software":
            return
        why = ("the stick's EmberZNet NCP runs key establishment on its own CBKE library, which this host "
               "drives as responder only" if han.cbke_mode == "ncp"
               else "the host runs no CBKE (no [cbke] certificates in the configuration)")
        raise RunError(f"plan {self.plan.name}: a stick run cannot play cbke-rekey here: {why}")

    def meter_start(self, now: float) -> float | None:
        """The meter's time when the plan starts, when the plan needs one: its
        ``start``, or the time that puts a ``dst-change`` on a GB clock change;
        None: the wall clock's."""
        if self.plan.start is None and not any(e.kind == "dst-change" for e in self.plan.events):
            return None
        return self.plan.start_for(now)

    def lead_s(self) -> float:
        """Seconds from opening the stick to the plan's start, at most: the
        meter's clock starts that far before the plan's start time and steps
        forward to it once the display has joined (never backwards)."""
        return self.join_timeout + STICK_START_S

    def _dut_nwk(self) -> int | None:
        han = self.han
        for _, ieee, nwk in reversed(han.joined):
            if ieee == self.ieee:
                return nwk
        return han.app.nwk_of(self.ieee) if han.app is not None else None

    async def _wait_join(self) -> None:
        deadline = self.han.clock.now() + self.join_timeout
        while self._dut_nwk() is None:
            if self.han.clock.now() >= deadline:
                raise RunError(f"{self.ieee} did not join within {self.join_timeout:g} s")
            await asyncio.sleep(0.2)


def record_of(log: RunLog, kind: str) -> list[EventRecord]:
    """The events of ``kind`` the run applied (for reports and tests)."""
    return [e for e in log.events if e.kind == kind]
