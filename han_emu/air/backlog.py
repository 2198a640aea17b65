"""Packets held back and charged in bulk: the quiet stretches of a live accounting.

A live :class:`~han_emu.air.accounting.AirAccounting` charges every frame of a
virtual day (a million frames for three sub-GHz displays with the hub's
2.4 GHz leg) to a rolling-hour window, one frame at a time.  Most of those
charges can change nothing anyone hears at the time: a 2.4 GHz track is only
measured, and a GB-868 track that is Normal, with room under its next
threshold for everything charged since, cannot step up (steps down need a
state above Normal).  Such packets are logged here as (time, shape) and
charged later, all at once, over numpy arrays: before anything reads the
ledgers or the per-hour figures, and before a packet that might move a state
is charged frame by frame.

The bulk charge is exact, not an estimate: the frames get the same times
(each frame's time is its packet's plus its offset, never earlier than the
band's last frame), the same windows, sums, peaks, counters and per-hour
buckets as one by one (integer microseconds, the same float additions).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from han_emu.air.dutycycle import HOUR_S, DutyCycleState, _Track

if TYPE_CHECKING:
    import numpy as np

# numpy is imported where it is used: loading it takes a good part of a
# second on a busy machine, and most commands that account airtime never
# hold a packet back (the study's worker processes have it preloaded).


MARGIN_US = 2_000_000
"""Room (us) every regulated track of a band must have under its next
threshold for the band's packets to be held back: with less, nearly every
packet would settle the backlog first, so the band goes frame by frame."""
SMALL = 16
"""Up to this many packets held back are charged frame by frame (arrays cost more)."""
LIVE_S = 60.0
"""How long (virtual s) a band goes frame by frame before it looks again
whether its tracks have room."""


@dataclass(slots=True)
class Plan:
    """One packet shape's frames as arrays, to charge many packets at once."""

    offsets: np.ndarray
    """Each frame's offset (s) from its packet's time."""
    amounts: np.ndarray
    """Each frame's airtime (us)."""
    targets: np.ndarray
    """Each frame's target in its :class:`Backlog` (the sinks it is charged to)."""
    reach: float
    """The largest offset: where the band's last frame time ends up."""
    regulated: tuple[tuple[Any, int], ...]
    """The sinks on regulated tracks, each with its airtime (us) in one packet."""
    hub_us: int
    """The hub's airtime (us) in one packet."""
    total_us: int
    frames: tuple[tuple[float, int, int], ...]
    """(offset, airtime, target) of each frame, for a backlog too small for arrays."""


@dataclass
class Backlog:
    """One band's packets held back, in order, and where their frames go.

    A target is the tuple of sinks one frame is charged to; a sink (of
    :mod:`han_emu.air.accounting`) is a transmitter's track on one ledger with
    its per-hour buckets, and a ``base`` and ``held``: while ``base + held``
    is below the track's next threshold, no frame held back can have moved
    its state (``base``: at least the track's window from now on, ``held``:
    the airtime of its frames held back).  A frame of the hub's 2.4 GHz leg
    goes to the band's ledger and to the leg's."""

    times: list[float] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)
    base: float = float("-inf")
    """The band's last frame time when the first packet was held back."""
    targets: list[tuple[Any, ...]] = field(default_factory=list)
    quiet: bool = True
    """Whether packets are held back (else charged frame by frame until ``live_until``)."""
    live_until: float = float("-inf")
    packets: int = 0
    """Packets held back so far."""
    _ids: dict[Any, int] = field(default_factory=dict)
    _sinks: dict[int, Any] = field(default_factory=dict)

    def target(self, key: Any, sinks: tuple[Any, ...]) -> int:
        """The id of the target called ``key`` (made with ``sinks`` if new)."""
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self.targets)
            self.targets.append(sinks)
            self._sinks.update((id(sink), sink) for sink in sinks)
        return found

    def plan(self, frames: list[tuple[float, int, int, Any, tuple[Any, ...]]], hub: int) -> Plan:
        """A :class:`Plan` of (offset, transmitter, airtime us, target key,
        sinks) frames; ``hub``: the hub's address.  The sinks' tracks must be open."""
        import numpy as np

        regulated: dict[int, tuple[Any, int]] = {}
        for _, _, us, _, sinks in frames:
            for sink in sinks:
                if sink.track.limits is not None:
                    regulated[id(sink)] = (sink, regulated.get(id(sink), (sink, 0))[1] + us)
        ids = [self.target(f[3], f[4]) for f in frames]
        return Plan(offsets=np.array([f[0] for f in frames], dtype=np.float64),
                    amounts=np.array([f[2] for f in frames], dtype=np.int64),
                    targets=np.array(ids, dtype=np.intp),
                    reach=max((f[0] for f in frames), default=0.0), regulated=tuple(regulated.values()),
                    hub_us=sum(f[2] for f in frames if f[1] == hub), total_us=sum(f[2] for f in frames),
                    frames=tuple((f[0], f[2], k) for f, k in zip(frames, ids)))

    def admit(self, plan: Plan, time: float, start: float) -> bool:
        """Whether a packet of ``plan`` sent at ``time`` can be held back: none
        of its frames can move a regulated track's state (the caller then
        :meth:`add` s it; else it charges it frame by frame).  Settles the
        backlog when one might, and goes frame by frame for :data:`LIVE_S`
        when the tracks have less than :data:`MARGIN_US` of room."""
        regulated = plan.regulated
        if not regulated:
            return True
        if not self.quiet:
            if time < self.live_until:
                return False
            if not self._calm():
                self.live_until = time + LIVE_S
                return False
            self.quiet = True
        for sink, us in regulated:
            track = sink.track
            if track.state > DutyCycleState.NORMAL:
                break
            if sink.base + sink.held + us >= track.ceil_us:
                # the window is smaller by what has left it by ``time`` (and stays so later)
                head = track.head
                sink.base = track.sum_us - sum(track.amount[head:bisect_right(track.expiry, time, head)])
                if sink.base + sink.held + us >= track.ceil_us:
                    break
        else:
            for sink, us in regulated:
                sink.held += us
            return True
        self.flush(start)  # the windows as they are now, then look again
        if self._calm() and all(sink.base + us < sink.track.ceil_us for sink, us in regulated):
            for sink, us in regulated:
                sink.held += us
            return True
        self.quiet, self.live_until = False, time + LIVE_S
        return False

    def _one_by_one(self, times: list[float], plans: list[Plan], start: float) -> None:
        """:meth:`flush` for a few packets (a reader looking often): the
        per-frame path, cheaper than arrays for so few."""
        last = self.base
        for time, plan in zip(times, plans):
            for offset, us, k in plan.frames:
                when = time + offset
                if when < last:
                    when = last
                last = when
                hour = int((when - start) // 3600)
                for sink in self.targets[k]:
                    sink.ledger.charge_us(sink.track, us, when)
                    (sink.hours if sink.hours is not None else sink.bucket())[hour] += us
        self.rebase()

    def _calm(self) -> bool:
        """Whether every regulated track is Normal with :data:`MARGIN_US` of
        room; if so, each sink's base starts again from its window."""
        sinks = [s for s in self._sinks.values() if s.track.limits is not None]
        if any(s.track.state > DutyCycleState.NORMAL or s.track.ceil_us - s.track.sum_us < MARGIN_US
               for s in sinks):
            return False
        self.rebase()
        return True

    def rebase(self) -> None:
        """Each sink's base from its track's window, nothing held (after a
        settle, or a packet charged frame by frame)."""
        for s in self._sinks.values():
            s.base, s.held = s.track.sum_us, 0

    def add(self, time: float, plan: Plan, last: float) -> None:
        """Hold back a packet sent at ``time``; ``last``: the band's last frame time."""
        if not self.times:
            self.base = last
        self.times.append(time)
        self.plans.append(plan)
        self.packets += 1

    def flush(self, start: float) -> None:
        """Charge every packet held back, as one by one would (see the module
        notes); ``start`` anchors the per-hour buckets."""
        if not self.times:
            return
        times, plans = self.times, self.plans
        self.times, self.plans = [], []
        if len(plans) <= SMALL:
            self._one_by_one(times, plans, start)
            return
        import numpy as np

        sizes = np.fromiter((len(p.amounts) for p in plans), dtype=np.intp, count=len(plans))
        whens = np.repeat(np.array(times, dtype=np.float64), sizes) + np.concatenate([p.offsets for p in plans])
        # when = max(packet time + offset, the band's last frame time so far), frame after frame
        np.maximum.accumulate(whens, out=whens)
        np.maximum(whens, self.base, out=whens)
        amounts = np.concatenate([p.amounts for p in plans])
        targets = np.concatenate([p.targets for p in plans])
        # Each sink with the targets it is in (the hub's 2.4 GHz track takes the band's frames and the leg's).
        sinks: dict[int, tuple[Any, list[int]]] = {}
        for k in np.unique(targets).tolist():
            for sink in self.targets[k]:
                sinks.setdefault(id(sink), (sink, []))[1].append(k)
        ledgers = {id(sink.ledger): sink.ledger for sink, _ in sinks.values()}
        for ledger in ledgers.values():
            ledger.advance(float(whens[0]))
        for sink, ks in sinks.values():
            chosen = targets == ks[0] if len(ks) == 1 else np.isin(targets, ks)
            w, a = whens[chosen], amounts[chosen]
            charge_quiet(sink.track, w, a)
            # int((when - start) // 3600) of each frame: w is sorted, so each hour is one run
            hours, first = np.unique(np.floor_divide(w - start, 3600.0), return_index=True)
            bucket: Counter[int] = sink.hours if sink.hours is not None else sink.bucket()
            for hour, us in zip(hours.tolist(), np.add.reduceat(a, first).tolist()):
                bucket[int(hour)] += us
        for ledger in ledgers.values():
            ledger.advance(float(whens[-1]))
        self.rebase()


def charge_quiet(track: _Track, whens: np.ndarray, amounts: np.ndarray) -> None:
    """``ledger.charge_us(track, amounts[i], whens[i])`` for each i in order
    (times non-decreasing), on a track none of them can move: Normal or
    unregulated, and below its next threshold after every one of them
    (checked here: a ValueError, and nothing charged, if not).  The window,
    sum, peak and counters come out exactly as one by one; no event can come
    of it."""
    import numpy as np

    if track.state > DutyCycleState.NORMAL:
        raise ValueError("the track is above Normal: charge its frames one by one")
    expiry, amount, head = track.expiry, track.amount, track.head
    # The entries already in the window that leave it during the batch: a slice, each taken once.
    cut = bisect_right(expiry, float(whens[-1]), head)
    gone = np.array(amount[head:cut], dtype=np.int64)
    stay = track.sum_us - int(gone.sum())  # in the window to the end of the batch
    # sorted: entries expire in the order charged
    expiries = np.concatenate((np.array(expiry[head:cut], dtype=np.float64), whens + HOUR_S))
    cum = np.concatenate(([0], np.cumsum(np.concatenate((gone, amounts)))))
    left = np.searchsorted(expiries, whens, side="right")  # entries gone at each charge (none of the later ones)
    sums = stay + cum[len(gone) + 1:] - cum[left]  # the window just after each charge
    peak = int(sums.max())
    if peak >= track.ceil_us:
        raise ValueError("these frames take the track to a threshold: charge them one by one")
    kept = int(left[-1])  # from here on (all of them the batch's own), still in the window
    expiry.extend(expiries[kept:].tolist())
    amount.extend(amounts[kept - len(gone):].tolist())
    track.head = cut
    track.compact()
    track.sum_us = int(sums[-1])
    track.peak_us = max(track.peak_us, peak)
    track.frames += len(amounts)
    track.total_us += int(amounts.sum())
