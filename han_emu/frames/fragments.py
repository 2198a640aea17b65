"""APS fragment reassembly: the blocks of one transmission -> one frame.

A Smart Energy answer larger than one APS frame (a GetProfileResponse of a
day's half-hours, a long PublishPrice) travels in blocks, each APS-encrypted
on its own.  The extended APS header says which: fragmentation FIRST carries
the number of blocks in ``block_number``, SUBSEQUENT blocks carry their own
index (1 .. count - 1).  Only the whole frame is ZCL, so the decoder buffers the
blocks of each transmission until all are there.

Captures repeat blocks (MAC and APS retries) and lose them (a sniffer that
missed one), so: a block already held with the same bytes is a duplicate; the
same block with other bytes means the sender's APS counter came round again
and a new transmission took the slot; a set that sees no new block for
``timeout`` seconds of capture time is dropped.  Finished sets stay a while
(same timeout) so that a retry of their last block is not taken for a new
transmission.  Memory is bounded by ``max_pending`` sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from han_emu.frames.aps import Fragmentation

FIRST, SUBSEQUENT = Fragmentation.FIRST, Fragmentation.SUBSEQUENT  # the extended header's fragmentation field

#: (NWK source, NWK destination, APS counter, profile, cluster, source endpoint, destination endpoint)
TransmissionKey = tuple[int | None, int | None, int, int | None, int | None, int | None, int | None]


@dataclass(slots=True)
class Reassembled:
    """A whole frame put together from its blocks."""

    payload: bytes
    first_frame: int
    blocks: int


@dataclass(slots=True)
class _Transmission:
    first_frame: int
    last_time: float
    total: int | None = None
    blocks: dict[int, bytes] = field(default_factory=dict)
    done: bool = False


class Reassembler:
    """Collects APS blocks per transmission; counts what completed and what did not.

    ``complete`` counts frames handed on whole; ``incomplete`` counts sets
    dropped without all their blocks (timed out, slot reused, evicted, or
    still open at :meth:`finish`); ``duplicates`` counts repeated blocks.
    """

    def __init__(self, timeout: float = 30.0, max_pending: int = 256) -> None:
        self.timeout = timeout
        self.max_pending = max_pending
        self.complete = 0
        self.incomplete = 0
        self.duplicates = 0
        self._sets: dict[TransmissionKey, _Transmission] = {}

    @property
    def pending(self) -> int:
        """Sets still waiting for blocks."""
        return sum(1 for s in self._sets.values() if not s.done)

    def add(self, key: TransmissionKey, fragmentation: int, block_number: int, payload: bytes,
            frame: int, time: float) -> Reassembled | None:
        """Take one block (its decrypted APS payload); the whole frame when this block completes it."""
        if fragmentation == FIRST:
            index, total = 0, block_number
            if total < 1:
                return None  # a first block announcing no blocks: nothing to build
        elif fragmentation == SUBSEQUENT and block_number >= 1:
            index, total = block_number, None
        else:
            return None  # reserved fragmentation value or a subsequent block numbered 0
        self.expire(time)
        sets = self._sets
        s = sets.get(key)
        if s is not None:
            held = s.blocks.get(index)
            if held is not None:
                if held == payload and (total is None or total == s.total):
                    self.duplicates += 1
                    s.last_time = time
                    return None
                self._drop(key, s)  # same slot, other bytes: a new transmission
                s = None
            elif s.done:
                self._drop(key, s)  # a block the finished set never had: a new transmission
                s = None
        if s is None:
            if len(sets) >= self.max_pending:
                oldest = next(iter(sets))
                self._drop(oldest, sets[oldest])
            s = sets[key] = _Transmission(frame, time)
        if total is not None:
            s.total = total
        if s.total is not None and index >= s.total:
            return None  # a block beyond the announced count: not part of this frame
        s.blocks[index] = payload
        s.last_time = time
        blocks = s.blocks
        total = s.total
        if total is None or len(blocks) < total or not all(i in blocks for i in range(total)):
            return None
        s.done = True
        self.complete += 1
        return Reassembled(b"".join(blocks[i] for i in range(total)), s.first_frame, total)

    def expire(self, now: float) -> None:
        """Drop the sets that have seen no block for ``timeout`` seconds before ``now``."""
        stale = [k for k, s in self._sets.items() if now - s.last_time > self.timeout]
        for k in stale:
            self._drop(k, self._sets[k])

    def finish(self) -> None:
        """End of capture: every set still open is incomplete."""
        for k, s in list(self._sets.items()):
            self._drop(k, s)

    def _drop(self, key: TransmissionKey, s: _Transmission) -> None:
        del self._sets[key]
        if not s.done:
            self.incomplete += 1
