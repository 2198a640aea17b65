"""The replay engine: a capture file in, decoded ZCL events out.

``Replay(path, network_keys, link_keys).frames()`` is the library entry point
used by the CLI, the dashboard and the duty-cycle tools: it streams the file
(memory stays flat however long the capture), decodes every frame, and
yields one :class:`ZclEvent` per ZCL frame and one :class:`ErrorEvent` per
frame that could not be decoded.  An APS-fragmented frame is one event,
timed and numbered at its last block.  Given a :class:`Readout`, it applies each
ZCL event to it, so after the capture the readout shows what an IHD would.
:meth:`Replay.play` does the same at the capture's own pace (or N times it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from clusters.ids import SE_PROFILE_ID
from han_emu.frames import decoder as d
from han_emu.frames.keylog import KeylogFollower, parse_key, read_keyring
from han_emu.frames.keyring import KeyRing
from han_emu.frames.record import RawFrame
from han_emu.replay.capture import CaptureProblem, RecordSource, records_of
from han_emu.replay.zcl import ZclDecodeError, ZclMessage, decode_zcl

if TYPE_CHECKING:
    from clusters.mp184 import EndpointMap
    from han_emu.readout import Readout, ZclIngest


@dataclass(slots=True)
class ZclEvent:
    """One decoded ZCL frame of the capture."""

    frame: int
    time: float
    src: int | None
    dst: int | None
    src_ep: int | None
    dst_ep: int | None
    profile: int
    cluster: int
    message: ZclMessage
    zcl: bytes
    first_frame: int | None = None  # the first block's frame, when APS fragments were reassembled

    @property
    def command(self) -> str:
        return self.message.command

    def to_json(self) -> dict[str, Any]:
        """The jsonl object: frame, time, src, dst, src_ep, dst_ep, profile,
        cluster, command, attributes, payload (and first_frame after the
        frame when it was reassembled from APS fragments)."""
        m = self.message
        out = {
            "frame": self.frame,
            "time": round(self.time, 6),
            "src": None if self.src is None else f"0x{self.src:04x}",
            "dst": None if self.dst is None else f"0x{self.dst:04x}",
            "src_ep": self.src_ep,
            "dst_ep": self.dst_ep,
            "profile": self.profile,
            "cluster": self.cluster,
            "command": m.command,
            "attributes": m.attributes,
            "payload": m.payload,
        }
        if self.first_frame is None:
            return out
        return {"frame": self.frame, "first_frame": self.first_frame, **out}


@dataclass(slots=True)
class ErrorEvent:
    """A frame (or damaged record) that could not be decoded.

    ``kind`` is "malformed" or "undecrypted"."""

    frame: int
    time: float | None
    kind: str
    error: str

    def to_json(self) -> dict[str, Any]:
        return {"frame": self.frame, "error": self.error}


Event = ZclEvent | ErrorEvent


@dataclass
class ReplaySummary:
    """Counts over the capture so far."""

    frames: int = 0  # 802.15.4 frames and damaged records read
    decoded: int = 0  # ZCL frames decoded
    failed_to_decrypt: int = 0
    malformed: int = 0
    nwk_secured: int = 0
    nwk_decrypted: int = 0
    aps_decrypted: int = 0
    reassembled: int = 0  # ZCL frames put together from APS fragments
    reassembly_incomplete: int = 0  # fragment sets dropped without all their blocks
    first_time: float | None = None
    last_time: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def build_keyring(network_keys: Iterable[bytes | str] = (), link_keys: Iterable[bytes | str] = (),
                  keylog: str | Path | None = None) -> KeyRing:
    """A key ring from keys given as bytes or hex text, plus a key-log file."""
    ring = KeyRing()
    if keylog is not None:
        read_keyring(keylog, ring)
    for k in link_keys:
        ring.add_link_key(parse_key(k) if isinstance(k, str) else bytes(k))
    for k in network_keys:
        ring.add_network_key(parse_key(k) if isinstance(k, str) else bytes(k))
    return ring


class Replay:
    """Decode a capture (path, bytes or binary stream, or an iterable of
    records such as a live sniffer) with the keys given.

    ``warnings`` collects one line per distinct problem (a key that does not
    fit a device, a damaged record, a key learnt from the capture); pass
    ``warn`` to hear of them as they happen.  ``on_frame`` sees every
    802.15.4 frame read (the duty-cycle accounting hooks in there).
    """

    def __init__(
        self,
        source: RecordSource,
        network_keys: Iterable[bytes | str] = (),
        link_keys: Iterable[bytes | str] = (),
        *,
        keylog: str | Path | None = None,
        keys: KeyRing | None = None,
        readout: Readout | None = None,
        endpoints: EndpointMap | None = None,
        warn: Callable[[str], None] | None = None,
        on_frame: Callable[[RawFrame], None] | None = None,
        follow_keylog: bool = False,
    ) -> None:
        self.source = source
        self.keys = keys if keys is not None else KeyRing()
        # A live source's key log may still be growing (or not there yet): follow it.
        self.keylog = KeylogFollower(keylog, self.keys) if keylog is not None and follow_keylog else None
        build = build_keyring(network_keys, link_keys, None if self.keylog is not None else keylog)
        for k in reversed(build.network_keys):
            self.keys.add_network_key(k)
        for k in build.link_keys:
            self.keys.add_link_key(k)
        self.readout = readout
        self.ingest: ZclIngest | None = None
        if readout is not None:
            from han_emu.readout import ZclIngest  # only with a readout: the jsonl hot path does without

            self.ingest = ZclIngest(readout, endpoints)
        self.summary = ReplaySummary()
        self.warnings: list[str] = []
        self._warn_cb = warn
        self.on_frame = on_frame
        self.decoder = d.Decoder(self.keys, self._warn)

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        if self._warn_cb is not None:
            self._warn_cb(message)

    @property
    def devices(self) -> dict[int, int]:
        """Short address -> IEEE address, as learnt so far."""
        return self.keys.addresses

    # -- decoding --------------------------------------------------------------------
    def _events(self, finish: bool = True) -> Iterator[Event]:
        """The events of the source; ``finish``: the source is the whole capture
        (else one chunk of it: APS fragment sets left open may go on in the next)."""
        s = self.summary
        decode = self.decoder.decode
        on_frame = self.on_frame
        follower = self.keylog
        if follower is not None:
            follower.poll(force=True)
        for rec in records_of(self.source):
            if type(rec) is CaptureProblem:
                if rec.index:
                    s.frames += 1
                    s.malformed += 1
                self._warn(rec.message)
                yield ErrorEvent(rec.index, None, d.MALFORMED, rec.message)
                continue
            s.frames += 1
            if s.first_time is None:
                s.first_time = rec.time
            s.last_time = rec.time
            if on_frame is not None:
                on_frame(rec)
            p = decode(rec)
            if follower is not None:
                follower.poll()
                if p.kind == d.UNDECRYPTED and follower.poll(force=True):
                    p = decode(rec)  # its key has just been written
            if p.nwk_secured:
                s.nwk_secured += 1
            if p.nwk_decrypted:
                s.nwk_decrypted += 1
            if p.aps_decrypted:
                s.aps_decrypted += 1
            if p.fragment:
                self._count_fragments()
            kind = p.kind
            if kind == d.ZCL:
                try:
                    msg = decode_zcl(p.cluster, p.zcl)
                except ZclDecodeError as exc:
                    s.malformed += 1
                    yield ErrorEvent(rec.index, rec.time, d.MALFORMED, f"zcl: {exc}")
                    continue
                s.decoded += 1
                yield ZclEvent(rec.index, rec.time, p.src, p.dst, p.src_ep, p.dst_ep, p.profile, p.cluster, msg, p.zcl,
                               p.first_frame)
            elif kind == d.MALFORMED:
                s.malformed += 1
                yield ErrorEvent(rec.index, rec.time, kind, p.error or "malformed")
            elif kind == d.UNDECRYPTED:
                s.failed_to_decrypt += 1
                yield ErrorEvent(rec.index, rec.time, kind, p.error or "not decrypted")
        if finish:
            self.decoder.finish()
        self._count_fragments()

    def _count_fragments(self) -> None:
        s, r = self.summary, self.decoder.fragments
        s.reassembled, s.reassembly_incomplete = r.complete, r.incomplete

    def apply(self, event: Event) -> None:
        """Apply a ZCL event to the readout (if any)."""
        if self.ingest is not None and type(event) is ZclEvent and event.profile == SE_PROFILE_ID:
            self.ingest.frame(
                -1 if event.src is None else event.src, event.src_ep or 0,
                -1 if event.dst is None else event.dst, event.dst_ep or 0,
                event.cluster, event.zcl, event.time,
            )

    def frames(self) -> Iterator[Event]:
        """Every decoded ZCL frame and every undecodable frame, in file order."""
        if self.ingest is None:  # nothing to apply the events to
            yield from self._events()
            return
        for event in self._events():
            self.apply(event)
            yield event

    def run(self) -> ReplaySummary:
        """Decode the whole capture (updating the readout); the summary."""
        for _ in self.frames():
            pass
        return self.summary

    async def play(self, speed: float | None = 1.0, *, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                   clock: Callable[[], float] = time.monotonic) -> AsyncIterator[Event]:
        """The events at the capture's pace: ``speed`` 1 is real time, N is N
        times faster, None (or 0) as fast as possible.  Each event is applied
        to the readout when it is yielded, not before."""
        async for event in paced(self._events(), speed, sleep=sleep, clock=clock):
            self.apply(event)
            yield event


_E = TypeVar("_E", ZclEvent, ErrorEvent)


async def paced(events: Iterable[_E], speed: float | None = 1.0, *,
                sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                clock: Callable[[], float] = time.monotonic, batch: int = 256) -> AsyncIterator[_E]:
    """Yield ``events`` spaced as their ``time`` says, divided by ``speed``.

    The schedule is anchored at the first timed event, so sleeping late never
    accumulates drift.  Without a speed the loop still yields to the event
    loop every ``batch`` events so a dashboard stays responsive.
    """
    if speed is not None and speed < 0:
        raise ValueError("speed must be positive (or None for as fast as possible)")
    origin: tuple[float, float] | None = None
    n = 0
    for event in events:
        ts = event.time
        if speed and ts is not None:
            if origin is None:
                origin = (ts, clock())
            delay = origin[1] + (ts - origin[0]) / speed - clock()
            if delay > 0:
                await sleep(delay)
        else:
            n += 1
            if n % batch == 0:
                await sleep(0)
        yield event
