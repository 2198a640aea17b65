"""Replay to jsonl on several processes, with the output of one.

A capture is cut into chunks of whole records (``capture.capture_chunks``,
which reads only the record headers), and worker processes decode the chunks
while this process writes them out in file order.  A worker starts from what
the capture had taught when its chunk was handed out (keys in their order,
short -> IEEE addresses, warnings already given) and notes what its chunk
took from that state and what it learnt.  Before a chunk is written, this
process checks that the state the chunk really starts from agrees with what
the worker took: the same keys in the same order, the same address wherever
the worker looked one up from the start state, no APS fragment set open
across the chunk's start.  A chunk that fails the check is decoded again here,
in order, with the real state, the way a single process does.  So the output
(every line, its order, the warnings and the summary) is that of
:class:`~han_emu.replay.player.Replay` on the whole file; only the time
differs.  ``tests/replay/test_parallel.py`` holds the two to each other.

A live sniffer's records (``replay.live``) go the same way in batches:
:meth:`ParallelReplay.run_live`.

Memory stays flat: a few chunks are in flight at a time.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from han_emu.frames import decoder as d
from han_emu.frames.keyring import KeyRing
from han_emu.frames.record import RawFrame
from han_emu.replay.capture import CaptureProblem, Chunk, capture_chunks, chunk_records
from han_emu.replay.jsonl import jsonl_line
from han_emu.replay.player import ErrorEvent, Replay, ReplaySummary

#: Bytes of capture per chunk: about 2,500 Smart Energy frames (small chunks
#: keep the workers equally busy to the end; each costs about a millisecond).
CHUNK_BYTES = 1 << 18
#: Below this a capture is replayed in one process (starting workers costs more than it saves).
MIN_BYTES = 4 << 20
_COUNTS = ("frames", "decoded", "failed_to_decrypt", "malformed", "nwk_secured", "nwk_decrypted", "aps_decrypted")


def worker_count() -> int:
    """Processes to decode on: the CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def can_fork_workers() -> bool:
    """Whether there are several CPUs to decode on, on a system that forks."""
    return worker_count() > 1 and "fork" in multiprocessing.get_all_start_methods()


def can_run_parallel(path: str | Path) -> bool:
    """Whether ``path`` is a file worth replaying on several processes, on a system that forks."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return False
    return size >= MIN_BYTES and Path(path).is_file() and can_fork_workers()


# --- a worker: one chunk, from a given state -------------------------------------------------


@dataclass(slots=True)
class _Start:
    """The state a chunk is decoded from: what the capture had taught when it was handed out."""

    network_keys: list[bytes]
    link_keys: list[bytes]
    addresses: dict[int, int]
    warned: frozenset


@dataclass(slots=True)
class _Done:
    """A decoded chunk: its jsonl text, its counts and what it took and learnt."""

    text: str
    summary: ReplaySummary
    damaged: bool
    log: list[tuple[Any, str]]  # (token of a once-only warning or None, message), in order
    network_keys: list[bytes]
    link_keys: list[bytes]
    learnt: dict[int, int]  # addresses written in the chunk (the last value of each)
    looked_up: dict[int, int | None]  # addresses read from the start state, as read
    fragments: bool  # the chunk held APS blocks
    open_sets: dict | None  # the reassembler's sets at the chunk's end (only if it held blocks)
    complete: int
    incomplete: int
    duplicates: int


class _Addresses(dict):
    """Short -> IEEE addresses written in the chunk; a lookup of one it has not
    written falls back to the start state and is noted."""

    __slots__ = ("start", "looked_up")

    def __init__(self, start: dict[int, int]) -> None:
        super().__init__()
        self.start = start
        self.looked_up: dict[int, int | None] = {}

    def get(self, key: int, default: Any = None) -> Any:  # type: ignore[override]
        if key in self:
            return self[key]
        value = self.start.get(key)
        self.looked_up.setdefault(key, value)
        return default if value is None else value


class _ChunkDecoder(d.Decoder):
    """The decoder with its once-only warnings kept (with their tokens) for
    the parent to give, and a note of any APS block."""

    def __init__(self, keys: KeyRing, warn: Callable[[str], None], log: list[tuple[Any, str]],
                 warned: Iterable) -> None:
        super().__init__(keys, warn)
        self._warned = set(warned)
        self._log = log
        self.held_blocks = False

    def _once(self, token: tuple, message: str) -> None:
        if token not in self._warned:
            self._warned.add(token)
            self._log.append((token, message))

    def _block(self, out: d.Peeled, counter: int, fragmentation: int, block_number: int,
               payload: bytes) -> Any:
        self.held_blocks = True
        return super()._block(out, counter, fragmentation, block_number, payload)


def _decode_chunk(path: str, chunk: Chunk, start: _Start) -> _Done:
    return _decode(chunk_records(path, chunk), start)


def _decode_rows(rows: list, start: _Start) -> _Done:
    """A live batch: frames as plain tuples (cheap to send), problems as they are."""
    return _decode((RawFrame(*row) if type(row) is tuple else row for row in rows), start)


def _decode(records: Iterable[RawFrame | CaptureProblem], start: _Start) -> _Done:
    log: list[tuple[Any, str]] = []
    addresses = _Addresses(start.addresses)
    ring = KeyRing(list(start.network_keys), list(start.link_keys), addresses)
    replay = Replay(records, keys=ring, warn=lambda message: log.append((None, message)))
    decoder = replay.decoder = _ChunkDecoder(ring, replay._warn, log, start.warned)
    lines = []
    add = lines.append
    damaged = False
    for event in replay._events(finish=False):
        if type(event) is ErrorEvent and event.kind == d.MALFORMED and event.time is None:
            damaged = True
        add(jsonl_line(event))
    lines.append("")
    r = decoder.fragments
    return _Done("\n".join(lines) if len(lines) > 1 else "", replay.summary, damaged, log, ring.network_keys,
                 ring.link_keys, dict(addresses), addresses.looked_up, decoder.held_blocks,
                 r._sets if decoder.held_blocks else None, r.complete, r.incomplete, r.duplicates)


def _quiet_worker() -> None:
    """Ctrl-C reaches the whole process group: the parent alone answers it (the
    worker was forked with SIGINT blocked, so none reached it before this).  A
    worker writes nothing: the parent's unwritten output, copied by the fork,
    must not come out twice."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the worker's life


def _stop(pool: Any, inflight: Iterable[tuple[Any, Any, Any]], patience: float = 60.0) -> None:
    """Stop the workers, once the chunks still on their way (a stop by Ctrl-C
    or an error) are in.  ``Pool.terminate()`` stops reading results first: a
    worker still writing a chunk bigger than the pipe then keeps the pool's
    result lock for ever, and ``terminate()`` waits on that lock (CPython
    gh-78178).  ``patience`` bounds the wait, should a worker have died."""
    deadline = time.monotonic() + patience
    for _, _, pending in inflight:
        pending.wait(max(0.0, deadline - time.monotonic()))
    pool.terminate()
    pool.join()


# --- the parent: hand out, check, write in order ----------------------------------------------


class ParallelReplay:
    """``Replay(path, ...)`` to jsonl text on ``workers`` processes.

    :meth:`texts` yields the jsonl text of the capture chunk by chunk, in file
    order; :attr:`summary`, :attr:`warnings` and :attr:`damaged` then are those
    of a one-process replay.  ``redone`` counts the chunks decoded again here.
    """

    def __init__(self, path: str | Path | None, network_keys: Iterable[bytes | str] = (),
                 link_keys: Iterable[bytes | str] = (), *, keylog: str | Path | None = None,
                 warn: Callable[[str], None] | None = None, workers: int | None = None,
                 chunk_bytes: int = CHUNK_BYTES, follow_keylog: bool = False) -> None:
        self.path = str(path)
        # the real state (``path`` None: a live source, see run_live)
        self.replay = Replay(self.path if path is not None else (), network_keys, link_keys, keylog=keylog,
                             warn=warn, follow_keylog=follow_keylog)
        self.workers = workers or worker_count()
        self.chunk_bytes = chunk_bytes
        self.damaged = False
        self.chunks = 0
        self.redone = 0
        self.done_bytes = 0  # file offset of the end of the last chunk written
        #: What each wait for a worker's chunk runs in: the command line lets
        #: Ctrl-C through there only, before the chunk is taken into the state.
        self.waiting: Callable[[], AbstractContextManager[Any]] = nullcontext

    @property
    def summary(self) -> ReplaySummary:
        return self.replay.summary

    @property
    def warnings(self) -> list[str]:
        return self.replay.warnings

    def _state(self) -> _Start:
        keys, decoder = self.replay.keys, self.replay.decoder
        return _Start(list(keys.network_keys), list(keys.link_keys), dict(keys.addresses), frozenset(decoder._warned))

    def _pool(self) -> Any:
        """The workers, forked with SIGINT blocked: a Ctrl-C to the process group
        cannot reach a worker before it ignores it, nor the pool's threads ever
        (it comes to this thread, here once the pool is up)."""
        ctx = multiprocessing.get_context("fork")
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        mask = getattr(signal, "pthread_sigmask", None)
        blocked = mask is not None and signal.SIGINT not in mask(signal.SIG_BLOCK, {signal.SIGINT})
        gc.freeze()  # the workers' collections then leave the inherited objects (and their pages) alone
        try:
            pool = ctx.Pool(self.workers, initializer=_quiet_worker)
        except BaseException:
            if blocked:
                mask(signal.SIG_UNBLOCK, {signal.SIGINT})
            raise
        finally:
            gc.unfreeze()
        try:
            if blocked:
                mask(signal.SIG_UNBLOCK, {signal.SIGINT})  # a Ctrl-C held back meanwhile arrives here
        except BaseException:
            pool.terminate()
            pool.join()
            raise
        return pool

    def texts(self) -> Iterator[str]:
        """The jsonl lines of every event, a chunk's worth at a time, in file order."""
        pool = self._pool()
        inflight: deque[tuple[Chunk, _Start, Any]] = deque()
        try:
            chunks = capture_chunks(self.path, self.chunk_bytes)
            depth = 3 * self.workers
            for chunk in chunks:
                start = self._state()
                inflight.append((chunk, start, pool.apply_async(_decode_chunk, (self.path, chunk, start))))
                if len(inflight) >= depth:
                    text = self._take(*inflight[0])  # left in flight until taken: see _stop
                    inflight.popleft()
                    yield text
            while inflight:
                text = self._take(*inflight[0])
                inflight.popleft()
                yield text
        finally:
            _stop(pool, inflight)
        self.replay.decoder.finish()
        self.replay._count_fragments()

    def run_live(self, live: Iterable[RawFrame | CaptureProblem], write: Callable[[str], None],
                 flush: Callable[[], None], batch_size: int = 2000) -> None:
        """Decode a live source (``replay.live``) on the workers: ``write`` gets the
        jsonl text of each batch in order, ``flush`` is called whenever the source
        is waited on.  A batch goes out when it is full or the source falls
        quiet; the source is read on while the workers decode.  A quiet batch
        with nothing ahead of it is decoded here at once, and the workers start
        only with the first full batch: a sniffer shows a slow source's frames
        as they come, not a worker's round trip (or the pool's start) later."""
        pool: Any = None
        inflight: deque[tuple[list, _Start, Any]] = deque()
        batch: list[RawFrame | CaptureProblem] = []
        depth = 4 * self.workers
        follower = self.replay.keylog

        def dispatch() -> None:
            nonlocal pool
            if follower is not None:
                follower.poll()
            if not inflight and len(batch) < batch_size:
                write(self._redo(list(batch)))
                batch.clear()
                return
            if pool is None:
                pool = self._pool()
            rows = [(r.index, r.time, r.frame, r.fcs, r.offset, r.channel, r.page) if type(r) is RawFrame else r
                     for r in batch]
            start = self._state()
            inflight.append((list(batch), start, pool.apply_async(_decode_rows, (rows, start))))
            batch.clear()

        def written(wait: bool) -> None:
            while inflight and (wait or inflight[0][2].ready()):
                text = self._take(*inflight[0])  # left in flight until taken: see _stop
                inflight.popleft()
                write(text)

        def on_wait() -> None:
            written(False)
            if batch:
                dispatch()
            flush()

        waits = hasattr(live, "on_wait")  # a LiveRecords source says when it waits; a list does not
        if waits:
            setattr(live, "on_wait", on_wait)
        try:
            for rec in live:
                batch.append(rec)
                if len(batch) >= batch_size:
                    dispatch()
                    written(len(inflight) >= depth)
            written(True)
            if batch:
                dispatch()
            written(True)
        finally:
            if waits:
                setattr(live, "on_wait", None)
            if pool is not None:
                _stop(pool, inflight)
        self.replay.decoder.finish()
        self.replay._count_fragments()

    def _take(self, chunk: Chunk | list, start: _Start, pending: Any) -> str:
        with self.waiting():
            done: _Done = pending.get()
        self.chunks += 1
        if type(chunk) is Chunk:
            self.done_bytes = chunk.end if chunk.end is not None else self.done_bytes
        if self._fits(start, done):
            self._apply(done)
            return done.text
        self.redone += 1
        return self._redo(chunk)

    def _fits(self, start: _Start, done: _Done) -> bool:
        """Whether the chunk was decoded from what the real state is where it starts
        (and, live, whether a key log followed has no new key for what failed)."""
        follower = self.replay.keylog
        if done.summary.failed_to_decrypt and follower is not None and follower.poll(force=True):
            return False
        keys = self.replay.keys
        if start.network_keys != keys.network_keys or start.link_keys != keys.link_keys:
            return False
        addresses = keys.addresses
        if any(addresses.get(k) != v for k, v in done.looked_up.items()):
            return False
        return not (done.fragments and self.replay.decoder.fragments._sets)

    def _apply(self, done: _Done) -> None:
        """Carry the real state over the chunk, as decoding it here would have."""
        replay = self.replay
        keys, decoder = replay.keys, replay.decoder
        keys.network_keys[:] = done.network_keys
        keys.link_keys[:] = done.link_keys
        keys.addresses.update(done.learnt)
        warned = decoder._warned
        for token, message in done.log:
            if token is None:
                replay._warn(message)
            elif token not in warned:
                warned.add(token)
                replay._warn(message)
        r = decoder.fragments
        if done.fragments:
            r._sets = done.open_sets or {}
        r.complete += done.complete
        r.incomplete += done.incomplete
        r.duplicates += done.duplicates
        s, c = replay.summary, done.summary
        for name in _COUNTS:
            setattr(s, name, getattr(s, name) + getattr(c, name))
        if s.first_time is None:
            s.first_time = c.first_time
        if c.last_time is not None:
            s.last_time = c.last_time
        replay._count_fragments()
        self.damaged = self.damaged or done.damaged

    def _redo(self, chunk: Chunk | list) -> str:
        """Decode the chunk (or live batch) here, from the real state."""
        replay = self.replay
        replay.source = chunk_records(self.path, chunk) if type(chunk) is Chunk else chunk
        lines = []
        for event in replay._events(finish=False):
            if type(event) is ErrorEvent and event.kind == d.MALFORMED and event.time is None:
                self.damaged = True
            lines.append(jsonl_line(event))
        lines.append("")
        return "\n".join(lines) if len(lines) > 1 else ""
