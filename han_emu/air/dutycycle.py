"""Rolling-hour duty-cycle ledgers: one that regulates (GB-868), one that only measures.

GB-868 devices may spend only so many seconds an hour transmitting, counted over
a rolling hour per device and channel.  As a device's airtime in the window
rises it moves Normal -> Limited -> Critical -> Suspended ("Regulated" in GBCS
wording), and back down as old frames leave the window.  GBCS raises an alert on
every step up and down, and another whenever a frame is discarded because the
device is suspended; the ledger produces those as :class:`DutyCycleEvent`.

Conventions (chosen to be exact and easy to reason about):

- A frame's whole airtime is charged at the moment it is offered, and leaves the
  window exactly one hour later: a frame offered at ``t`` counts for queries in
  ``[t, t + 3600)`` and not at ``t + 3600``.
- Airtime is kept in integer microseconds (every PHY byte time is a whole number
  of microseconds), so the running sum never drifts however long the run.
- A threshold is reached when the window holds *at least* that much airtime.
- The state is checked before a frame goes out, as a radio stack does: a frame
  offered below the regulated limit is sent even if it takes the device over it;
  the next one is discarded.
- A single frame or expiry that crosses several thresholds yields one event per
  threshold, in order, so listeners always see the full ladder of alerts.
- Down-steps caused by expiry carry the instant the window actually fell below
  the threshold, not the (possibly later) time of the query that noticed it.
- Time never runs backwards: a ``now`` earlier than one already seen is an error.
- Hysteresis (optional, ``hysteresis`` seconds on :class:`DutyCycleLedger`):
  steps up happen at the thresholds, but a state is left downwards only once
  the window has fallen ``hysteresis`` below that state's threshold.  Without
  it a device sending steadily at a threshold flips state (and raises a pair
  of alerts) every time one old frame leaves the window; with it a device
  stays put until it has really drained.  The default is 0 (the exact rule);
  the live accounting and the study use a small margin.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from han_emu.air.airtime import frame_airtime_us
from han_emu.air.phy import SUB_GHZ_PAGES, US_PER_S, validate_channel
from han_emu.meter.clock import Clock

HOUR_S = 3600.0


class DutyCycleState(IntEnum):
    """Duty-cycle states, numbered as EZSP's EmberDutyCycleState."""

    TRACKING_OFF = 0
    """Measured only, never regulated (the 2.4 GHz ledger)."""
    NORMAL = 1
    LIMITED = 2
    CRITICAL = 3
    SUSPENDED = 4
    """GBCS "Regulated": the device must stop transmitting."""


class AlertCode(IntEnum):
    """GBCS alert codes for duty-cycle management."""

    LIMITED_ACTION_TAKEN = 0x8F20
    BELOW_LIMITED = 0x8F21
    """Back below the Normal/Limited threshold."""
    CRITICAL_ACTION_TAKEN = 0x8F22
    BELOW_CRITICAL = 0x8F23
    """Back below the Limited/Critical threshold."""
    REGULATED_ACTION_TAKEN = 0x8F24
    BELOW_REGULATED = 0x8F25
    """Back below the Critical/Regulated threshold."""
    MESSAGE_DISCARDED = 0x8F2C
    """A message was not sent because of duty-cycle management."""


_UP_ALERT = {
    DutyCycleState.LIMITED: AlertCode.LIMITED_ACTION_TAKEN,
    DutyCycleState.CRITICAL: AlertCode.CRITICAL_ACTION_TAKEN,
    DutyCycleState.SUSPENDED: AlertCode.REGULATED_ACTION_TAKEN,
}
_DOWN_ALERT = {
    DutyCycleState.LIMITED: AlertCode.BELOW_LIMITED,
    DutyCycleState.CRITICAL: AlertCode.BELOW_CRITICAL,
    DutyCycleState.SUSPENDED: AlertCode.BELOW_REGULATED,
}


def _to_us(seconds: float) -> int:
    return round(seconds * US_PER_S)


@dataclass(frozen=True, slots=True)
class DutyCycleLimits:
    """Thresholds in seconds of airtime per rolling hour; each state starts at its value."""

    limited: float
    critical: float
    suspended: float
    """The regulated limit: at or above it the device is Suspended."""

    def __post_init__(self) -> None:
        l, c, s = self.limited, self.critical, self.suspended
        if not 0 < l < c < s <= HOUR_S:
            raise ValueError(
                "duty-cycle limits must satisfy 0 < limited < critical < suspended <= 3600 s/h, "
                f"got limited={l}, critical={c}, suspended={s}"
            )

    @classmethod
    def from_percent(cls, limited: float, critical: float, suspended: float) -> DutyCycleLimits:
        """Limits given as percentages of the hour."""
        return cls(limited * 36.0, critical * 36.0, suspended * 36.0)

    @classmethod
    def from_hundredths(cls, limited: int, critical: int, suspended: int) -> DutyCycleLimits:
        """Limits in hundredths of a percent, the encoding of Silicon Labs' stack
        (setDutyCycleLimitsInStack): 250 = 2.5 % = 90 s/h."""
        return cls(limited * 0.36, critical * 0.36, suspended * 0.36)

    def as_percent(self) -> tuple[float, float, float]:
        """(limited, critical, suspended) as percentages of the hour."""
        return (self.limited / 36.0, self.critical / 36.0, self.suspended / 36.0)

    def describe(self) -> str:
        """The thresholds as people compare them: ``limited 36 s/h (1.00 %), ...``
        (seconds a rolling hour and the share of the hour, whoever set them)."""
        return (f"limited {per_hour_text(self.limited)}, critical {per_hour_text(self.critical)}, "
                f"regulated {per_hour_text(self.suspended)}")

    def state_for(self, airtime: float) -> DutyCycleState:
        """The state a device is in with ``airtime`` seconds in its window."""
        if airtime >= self.suspended:
            return DutyCycleState.SUSPENDED
        if airtime >= self.critical:
            return DutyCycleState.CRITICAL
        if airtime >= self.limited:
            return DutyCycleState.LIMITED
        return DutyCycleState.NORMAL


def per_hour_text(seconds: float) -> str:
    """Airtime a rolling hour in the units of the GB limits: ``36 s/h (1.00 %)``."""
    return f"{seconds:.6g} s/h ({seconds / HOUR_S * 100:.2f} %)"


DEFAULT_LIMITED_S = 36.0
"""Default Limited threshold: 36 s/h = 1.0 % of the hour.  It is an implementation
setting; 1 % is the example vendor limit and also the 863-870 MHz allowance
without LBT, so above it the device is relying on LBT's larger allowance."""

DEFAULT_LIMITS: Mapping[int, DutyCycleLimits] = {
    28: DutyCycleLimits(DEFAULT_LIMITED_S, 75.0, 100.0),
    29: DutyCycleLimits(DEFAULT_LIMITED_S, 75.0, 100.0),
    30: DutyCycleLimits(DEFAULT_LIMITED_S, 75.0, 90.0),
}
"""GB-868 per page: pages 28/29 regulated 100 s/h, page 30 90 s/h, critical 75 s/h."""


@dataclass(frozen=True, slots=True)
class DutyCycleEvent:
    """A state change (one threshold crossed) or a discarded frame."""

    time: float
    device: Hashable
    page: int
    channel: int
    previous: DutyCycleState
    state: DutyCycleState
    alert: AlertCode
    airtime: float
    """Seconds of airtime in the device's window at that instant."""

    @property
    def discarded(self) -> bool:
        return self.alert is AlertCode.MESSAGE_DISCARDED


@dataclass(frozen=True, slots=True)
class ChannelUsage:
    """A device's figures on one (page, channel) at one instant."""

    device: Hashable
    page: int
    channel: int
    time: float
    airtime: float
    """Seconds transmitted in the rolling hour ending now."""
    state: DutyCycleState
    peak: float
    """Highest rolling-hour airtime seen so far, in seconds."""
    frames: int
    """Frames transmitted in total."""
    total_airtime: float
    discarded: int
    discarded_airtime: float
    limits: DutyCycleLimits | None

    @property
    def percent(self) -> float:
        return self.airtime / HOUR_S * 100.0

    @property
    def peak_percent(self) -> float:
        return self.peak / HOUR_S * 100.0

    @property
    def headroom(self) -> float | None:
        """Seconds left before the regulated limit (None when not regulated)."""
        if self.limits is None:
            return None
        return max(0.0, self.limits.suspended - self.airtime)


@dataclass(frozen=True, slots=True)
class LedgerSummary:
    """Figures across every device and channel a ledger has seen."""

    time: float
    channels: tuple[ChannelUsage, ...]
    airtime: float
    """Sum of all devices' airtime in their rolling hours."""
    frames: int
    total_airtime: float
    discarded: int
    states: Mapping[DutyCycleState, int] = field(default_factory=dict)
    """How many (device, page, channel) tracks are in each state."""

    @property
    def busiest(self) -> ChannelUsage | None:
        """The track with the most airtime in its window now."""
        return max(self.channels, key=lambda u: u.airtime, default=None)

    @property
    def peak(self) -> float:
        """Highest rolling-hour airtime any single track has reached."""
        return max((u.peak for u in self.channels), default=0.0)


_NEVER = 1 << 62


class _Track:
    """Window and counters of one device on one (page, channel)."""

    __slots__ = (
        "device", "page", "channel", "expiry", "amount", "head", "sum_us", "peak_us", "frames",
        "total_us", "discarded", "discarded_us", "state", "limits", "thresholds",
        "floor_us", "ceil_us", "hysteresis_us",
    )

    def __init__(self, device: Hashable, page: int, channel: int) -> None:
        self.device = device
        self.page = page
        self.channel = channel
        # The window: entries head.. of two parallel lists (expiry time, airtime us),
        # in the order charged; lists rather than a deque so that a bulk charge
        # (han_emu.air.backlog) can slice them.
        self.expiry: list[float] = []
        self.amount: list[int] = []
        self.head = 0
        self.sum_us = 0
        self.peak_us = 0
        self.frames = 0
        self.total_us = 0
        self.discarded = 0
        self.discarded_us = 0
        self.state = DutyCycleState.TRACKING_OFF
        self.limits: DutyCycleLimits | None = None
        self.thresholds = (0, 0, 0)
        # The state changes when sum_us < floor_us or sum_us >= ceil_us.
        self.floor_us = -1
        self.ceil_us = _NEVER
        self.hysteresis_us = 0

    def regulate(self, limits: DutyCycleLimits | None) -> None:
        self.limits = limits
        if limits is None:
            self.state = DutyCycleState.TRACKING_OFF
            self.floor_us, self.ceil_us = -1, _NEVER
        else:
            self.thresholds = (
                _to_us(limits.limited), _to_us(limits.critical), _to_us(limits.suspended)
            )
            if self.state is DutyCycleState.TRACKING_OFF:
                self.state = DutyCycleState.NORMAL
            self._bounds()

    def target_state(self) -> DutyCycleState:
        """The state for the window now: up at the thresholds, down only below
        the current state's threshold minus the hysteresis."""
        lim, crit, sus = self.thresholds
        s = self.sum_us
        if self.hysteresis_us and s >= self.floor_us:
            # not below the (lowered) floor: only an up-step is possible
            if s < self.ceil_us:
                return self.state
        elif self.hysteresis_us:
            h = self.hysteresis_us
            state = self.state
            while state > DutyCycleState.NORMAL and s < self.thresholds[state - 2] - h:
                state = DutyCycleState(state - 1)
            return state
        if s >= sus:
            return DutyCycleState.SUSPENDED
        if s >= crit:
            return DutyCycleState.CRITICAL
        if s >= lim:
            return DutyCycleState.LIMITED
        return DutyCycleState.NORMAL

    def _bounds(self) -> None:
        lim, crit, sus = self.thresholds
        floor, self.ceil_us = {
            DutyCycleState.NORMAL: (-1, lim),
            DutyCycleState.LIMITED: (lim, crit),
            DutyCycleState.CRITICAL: (crit, sus),
            DutyCycleState.SUSPENDED: (sus, _NEVER),
        }[self.state]
        self.floor_us = floor - self.hysteresis_us if floor > 0 else floor

    def move(self, when: float, emit: Callable[[DutyCycleEvent], None]) -> None:
        """Step to the state the window now calls for, one event per threshold."""
        target = self.target_state()
        airtime = self.sum_us / US_PER_S
        while self.state != target:
            prev = self.state
            if target > prev:
                self.state = DutyCycleState(prev + 1)
                alert = _UP_ALERT[self.state]
            else:
                self.state = DutyCycleState(prev - 1)
                alert = _DOWN_ALERT[prev]
            emit(DutyCycleEvent(
                when, self.device, self.page, self.channel, prev, self.state, alert, airtime
            ))
        self._bounds()

    def expire(self, now: float, emit: Callable[[DutyCycleEvent], None]) -> None:
        expiry, head = self.expiry, self.head
        end = len(expiry)
        while head < end and expiry[head] <= now:
            self.sum_us -= self.amount[head]
            head += 1
            if self.sum_us < self.floor_us:
                self.head = head
                self.move(expiry[head - 1], emit)
        self.head = head
        self.compact()

    def compact(self) -> None:
        """Drop the entries gone from the window once they are the lists' bulk."""
        head = self.head
        if head > 4096 and 2 * head > len(self.expiry):
            del self.expiry[:head], self.amount[:head]
            self.head = 0

    def usage(self, now: float) -> ChannelUsage:
        return ChannelUsage(
            device=self.device, page=self.page, channel=self.channel, time=now,
            airtime=self.sum_us / US_PER_S, state=self.state, peak=self.peak_us / US_PER_S,
            frames=self.frames, total_airtime=self.total_us / US_PER_S,
            discarded=self.discarded, discarded_airtime=self.discarded_us / US_PER_S,
            limits=self.limits,
        )


class AirtimeLedger:
    """Rolling-hour airtime per transmitting device and (page, channel), measured only.

    This is the 2.4 GHz ledger (no duty-cycle rules apply there), and the base of
    :class:`DutyCycleLedger`.  It accepts any supported page, so it can also
    show what sub-GHz traffic would cost without regulating it.

    Windows roll lazily, when a track is touched; call :meth:`tick` now and then
    (e.g. every second of simulated time) so listeners hear of down-steps
    promptly.  Either way each event carries the exact instant of its crossing.
    """

    _hysteresis_us = 0

    def __init__(self, clock: Clock | None = None, *, history: int = 10_000) -> None:
        self._clock = clock
        self._tracks: dict[tuple[Hashable, int, int], _Track] = {}
        self._latest = float("-inf")
        self._pending: deque[DutyCycleEvent] = deque(maxlen=history)
        self._listeners: list[Callable[[DutyCycleEvent], None]] = []
        self.before_read: Callable[[], None] | None = None
        """Called before the ledger is read or charged by :meth:`record_us`:
        a feeder holding charges back (:mod:`han_emu.air.backlog`) hands them in."""

    def _settle(self) -> None:
        if self.before_read is not None:
            self.before_read()

    # -- time and events ---------------------------------------------------

    def _time(self, now: float | None) -> float:
        if now is None:
            if self._clock is None:
                raise ValueError("no time given and the ledger has no clock")
            now = self._clock.now()
        if now < self._latest:
            raise ValueError(
                f"time ran backwards: {now} is before {self._latest} already seen"
            )
        self._latest = now
        return now

    def _emit(self, event: DutyCycleEvent) -> None:
        self._pending.append(event)
        for listener in self._listeners:
            listener(event)

    def subscribe(self, listener: Callable[[DutyCycleEvent], None]) -> Callable[[], None]:
        """Call ``listener`` with every event as it happens; returns an unsubscriber."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def drain_events(self) -> list[DutyCycleEvent]:
        """Events produced since the last drain, oldest first (bounded by ``history``)."""
        events = list(self._pending)
        self._pending.clear()
        return events

    # -- recording ---------------------------------------------------------

    def _limits_for(self, page: int) -> DutyCycleLimits | None:
        return None

    def _track(self, device: Hashable, page: int, channel: int) -> _Track:
        key = (device, page, channel)
        track = self._tracks.get(key)
        if track is None:
            validate_channel(page, channel)
            track = _Track(device, page, channel)
            track.hysteresis_us = self._hysteresis_us
            track.regulate(self._limits_for(page))
            self._tracks[key] = track
        return track

    def record_us(
        self, device: Hashable, page: int, channel: int, airtime_us: int,
        now: float | None = None,
    ) -> bool:
        """Charge ``airtime_us`` microseconds sent by ``device`` on (page, channel).

        Returns whether the frame went out (always, unless a regulating ledger
        discarded it).
        """
        self._settle()
        t = self._time(now)
        if airtime_us < 0:
            raise ValueError("airtime cannot be negative")
        track = self._tracks.get((device, page, channel)) or self._track(device, page, channel)
        return self._spend(track, t, airtime_us, device, page, channel)

    def track(self, device: Hashable, page: int, channel: int) -> _Track:
        """The track of ``device`` on (page, channel), for :meth:`charge_us`
        (made here if it is new, as the first :meth:`record_us` would)."""
        return self._tracks.get((device, page, channel)) or self._track(device, page, channel)

    def charge_us(self, track: _Track, airtime_us: int, now: float) -> bool:
        """:meth:`record_us` on a track from :meth:`track`: a caller charging the
        same devices frame after frame skips the lookup."""
        if now < self._latest:
            raise ValueError(
                f"time ran backwards: {now} is before {self._latest} already seen"
            )
        self._latest = now
        if airtime_us < 0:
            raise ValueError("airtime cannot be negative")
        expiry = track.expiry
        head = track.head
        if head < len(expiry) and expiry[head] <= now or track.state is DutyCycleState.SUSPENDED:
            return self._spend(track, now, airtime_us, track.device, track.page, track.channel)
        # nothing leaves the window and the frame goes out: _spend's common case, inline
        expiry.append(now + HOUR_S)
        track.amount.append(airtime_us)
        s = track.sum_us = track.sum_us + airtime_us
        track.frames += 1
        track.total_us += airtime_us
        if s > track.peak_us:
            track.peak_us = s
        if s >= track.ceil_us:
            track.move(now, self._emit)
        return True

    def advance(self, now: float) -> None:
        """Move the ledger's clock to ``now`` (time never runs backwards)."""
        self._time(now)

    def _spend(self, track: _Track, t: float, airtime_us: int, device: Hashable, page: int, channel: int) -> bool:
        expiry = track.expiry
        if track.head < len(expiry) and expiry[track.head] <= t:
            track.expire(t, self._emit)
        if track.state is DutyCycleState.SUSPENDED:
            track.discarded += 1
            track.discarded_us += airtime_us
            self._emit(DutyCycleEvent(
                t, device, page, channel, track.state, track.state,
                AlertCode.MESSAGE_DISCARDED, track.sum_us / US_PER_S,
            ))
            return False
        expiry.append(t + HOUR_S)
        track.amount.append(airtime_us)
        track.sum_us += airtime_us
        track.frames += 1
        track.total_us += airtime_us
        if track.sum_us > track.peak_us:
            track.peak_us = track.sum_us
        if track.sum_us >= track.ceil_us:
            track.move(t, self._emit)
        return True

    def record(
        self, device: Hashable, page: int, channel: int, airtime: float,
        now: float | None = None,
    ) -> bool:
        """Charge ``airtime`` seconds (rounded to the microsecond); see :meth:`record_us`."""
        return self.record_us(device, page, channel, _to_us(airtime), now)

    def record_psdu(
        self, device: Hashable, page: int, channel: int, psdu: int,
        now: float | None = None,
    ) -> bool:
        """Charge one frame of ``psdu`` bytes at the airtime of the page's PHY."""
        return self.record_us(device, page, channel, frame_airtime_us(psdu, page), now)

    def tick(self, now: float | None = None) -> list[DutyCycleEvent]:
        """Roll every window forward to ``now``; returns the events that produced."""
        self._settle()
        t = self._time(now)
        produced: list[DutyCycleEvent] = []

        def emit(event: DutyCycleEvent) -> None:
            produced.append(event)
            self._emit(event)

        for track in self._tracks.values():
            track.expire(t, emit)
        return produced

    # -- queries -----------------------------------------------------------

    def tracks(self) -> list[tuple[Hashable, int, int]]:
        """Every (device, page, channel) seen, in order of first appearance."""
        self._settle()
        return list(self._tracks)

    def devices(self) -> list[Hashable]:
        """Every transmitting device seen, in order of first appearance."""
        self._settle()
        return list(dict.fromkeys(key[0] for key in self._tracks))

    def usage(
        self, device: Hashable, page: int | None = None, channel: int | None = None,
        now: float | None = None,
    ) -> ChannelUsage:
        """``device``'s figures now.  Page and channel may be left out when the
        device has used only one; a device that has sent nothing on a valid
        (page, channel) reads as zero."""
        self._settle()
        t = self._time(now)
        if page is None or channel is None:
            mine = [k for k in self._tracks if k[0] == device]
            if len(mine) != 1:
                raise ValueError(
                    f"device {device!r} has used {len(mine)} channels: give page and channel"
                )
            _, page, channel = mine[0]
        track = self._tracks.get((device, page, channel))
        if track is None:
            validate_channel(page, channel)
            empty = _Track(device, page, channel)
            empty.regulate(self._limits_for(page))
            return empty.usage(t)
        track.expire(t, self._emit)
        return track.usage(t)

    def device_usage(self, device: Hashable, now: float | None = None) -> list[ChannelUsage]:
        """``device``'s figures on every channel it has used."""
        self._settle()
        t = self._time(now)
        out = []
        for key, track in self._tracks.items():
            if key[0] == device:
                track.expire(t, self._emit)
                out.append(track.usage(t))
        return out

    def summary(self, now: float | None = None) -> LedgerSummary:
        """Figures across every device and channel."""
        self._settle()
        t = self._time(now)
        usages = []
        for track in self._tracks.values():
            track.expire(t, self._emit)
            usages.append(track.usage(t))
        states: dict[DutyCycleState, int] = {}
        for u in usages:
            states[u.state] = states.get(u.state, 0) + 1
        return LedgerSummary(
            time=t,
            channels=tuple(usages),
            airtime=sum(tr.sum_us for tr in self._tracks.values()) / US_PER_S,
            frames=sum(u.frames for u in usages),
            total_airtime=sum(tr.total_us for tr in self._tracks.values()) / US_PER_S,
            discarded=sum(u.discarded for u in usages),
            states=states,
        )


class DutyCycleLedger(AirtimeLedger):
    """The GB-868 ledger: measures like :class:`AirtimeLedger` and regulates.

    Only pages with limits are accepted (by default 28, 29 and 30).  A frame
    offered while its device is Suspended on that channel is not transmitted:
    :meth:`offer` returns False, counts it as discarded and raises 0x8F2C.
    """

    def __init__(
        self,
        limits: Mapping[int, DutyCycleLimits] | None = None,
        clock: Clock | None = None,
        *,
        history: int = 10_000,
        hysteresis: float = 0.0,
    ) -> None:
        """``hysteresis``: seconds the window must fall below a state's threshold
        before the state is left downwards (see the module notes)."""
        super().__init__(clock, history=history)
        if hysteresis < 0:
            raise ValueError("hysteresis cannot be negative")
        self._hysteresis_us = _to_us(hysteresis)
        self._limits: dict[int, DutyCycleLimits] = dict(DEFAULT_LIMITS)
        if limits is not None:
            for page, lim in limits.items():
                self._check_limits(page, lim)
                self._limits[page] = lim

    @staticmethod
    def _check_limits(page: int, limits: DutyCycleLimits) -> None:
        if page not in SUB_GHZ_PAGES:
            raise ValueError(f"duty-cycle limits apply to GB-868 pages 28-30, not page {page}")
        if not isinstance(limits, DutyCycleLimits):
            raise TypeError("limits must be DutyCycleLimits")

    def _limits_for(self, page: int) -> DutyCycleLimits | None:
        try:
            return self._limits[page]
        except KeyError:
            raise ValueError(
                f"page {page} is not regulated: use AirtimeLedger to measure it"
            ) from None

    @property
    def hysteresis(self) -> float:
        """Seconds below a threshold needed to step down past it."""
        return self._hysteresis_us / US_PER_S

    @property
    def limits(self) -> Mapping[int, DutyCycleLimits]:
        """The limits in force, per page."""
        return dict(self._limits)

    def set_limits(
        self, page: int, limits: DutyCycleLimits, now: float | None = None
    ) -> list[DutyCycleEvent]:
        """Change a page's limits; tracks on it move to their new states at once.
        Returns the events that produced."""
        self._settle()
        self._check_limits(page, limits)
        t = self._time(now)
        self._limits[page] = limits
        produced: list[DutyCycleEvent] = []

        def emit(event: DutyCycleEvent) -> None:
            produced.append(event)
            self._emit(event)

        for track in self._tracks.values():
            if track.page == page:
                track.expire(t, emit)
                track.regulate(limits)
                track.move(t, emit)
        return produced

    offer = AirtimeLedger.record
    offer_us = AirtimeLedger.record_us
    offer_psdu = AirtimeLedger.record_psdu
