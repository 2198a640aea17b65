"""Live sniffer sources for the replay engine: ZEP datagrams and growing pcap streams.

A sniffer on the HAN (a CC2531/CC26xx or nRF52840 with sniffer firmware, a
WSTK, Ubiqua, Wireshark forwarding) either sends each frame it hears as a ZEP
datagram or writes a pcap/pcapng stream to a pipe.  Both are read here into
the records a capture file gives (:class:`RawFrame` or
:class:`CaptureProblem`), so :class:`~han_emu.replay.player.Replay` decodes
them exactly as it decodes a file.

Reading blocks (``recv`` waits for a datagram, a pipe for its writer), so each
source can read on a background thread and hand its records to a callback:
the dashboard passes one that posts to its event loop (see
``han_emu.tui.sniff_source``); iterating a pcap stream (the text CLI) waits on
a thread-safe queue, which keeps Ctrl-C and ``duration`` working.  Iterating
a ZEP listener reads on the iterating thread instead, every waiting datagram
at once into a large receive buffer: a thread hand-off per datagram cannot
keep up with tens of thousands of frames a second.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
import queue
import select
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from han_emu.frames.errors import FrameError
from han_emu.frames.pcap import LinkType, PcapngWriter
from han_emu.frames.record import RawFrame
from han_emu.frames.zep import ZEP_PORT
from han_emu.replay.capture import CaptureProblem, iter_records, zep_frame

Record = RawFrame | CaptureProblem
#: How often a blocked reader looks at its stop flag, seconds.
POLL_S = 0.1
#: Bytes asked for a ZEP socket's receive buffer (as sniffers do): at 20,000 frames/s
#: it holds about a second of datagrams while the decoder catches up.
RECEIVE_BUFFER = 16 << 20
#: Datagrams read at once when several are waiting.
BATCH = 512


def grow_receive_buffer(sock: socket.socket, size: int) -> int:
    """Ask for a ``size``-byte receive buffer: past the system's limit where
    the process may (``SO_RCVBUFFORCE``), else up to the limit; the size granted."""
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    for option in (force, socket.SO_RCVBUF):
        if option is None:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, size)
            break
        except OSError:
            continue
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


class FrameSaver:
    """A pcapng (802.15.4 TAP, so the channel is kept) of every frame heard,
    flushed per frame so Wireshark can open it while it grows."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: BinaryIO | None = open(path, "wb")  # noqa: SIM115 - kept open for the session
        self._writer = PcapngWriter(self._file, LinkType.IEEE802_15_4_TAP)
        self._file.flush()
        self._lock = threading.Lock()
        self.frames = 0

    def write(self, raw: RawFrame) -> None:
        with self._lock:
            if self._file is None:
                return
            self._writer.write(raw.psdu, raw.time, channel=raw.channel, page=raw.page or 0)
            self._file.flush()
            self.frames += 1

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class LiveRecords(ABC):
    """Records read by a background thread, as long as the source lives.

    Iterate it (blocking) for the records until the source ends, ``duration``
    seconds pass, or :meth:`stop`; or :meth:`start` it with a callback that
    gets each record and then None at the end.  ``save`` gets every frame
    heard, before any decoding.  ``warn`` hears a problem with the source
    itself (datagrams that are not ZEP), once.
    """

    name = "live"

    def __init__(self, *, save: FrameSaver | None = None, duration: float | None = None,
                 warn: Callable[[str], None] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.save = save
        self.duration = duration
        self.warn = warn
        self.clock = clock
        self.frames = 0  # records handed on
        self.error: BaseException | None = None  # what stopped the reader, if not the source's end
        self.ended = False  # the source ended (end of stream, or stopped)
        self.damaged = False  # a record problem stopped the reading (a stream that is not a capture)
        #: Called (on the iterating thread) before iterating waits for the source: the
        #: moment to flush what was written of the records so far.
        self.on_wait: Callable[[], None] | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what each source provides -------------------------------------------------------------
    @abstractmethod
    def _produce(self, emit: Callable[[Record], None]) -> None:
        """Read records and ``emit`` them until the source ends or stops."""

    def _close(self) -> None:
        """Release what the reader holds (called once, from :meth:`stop`)."""

    # -- running ------------------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self, deliver: Callable[[Record | None], None]) -> None:
        """Start reading on a daemon thread: ``deliver`` gets each record, then None."""
        if self._thread is not None:
            raise RuntimeError("a live source reads once")

        def emit(rec: Record) -> None:
            self._handed(rec)
            deliver(rec)

        def main() -> None:
            try:
                self._produce(emit)
            except Exception as exc:  # noqa: BLE001 - reported through .error and the end of the records
                if not self.stopping:
                    self.error = exc
            finally:
                self.ended = True
                deliver(None)

        self._thread = threading.Thread(target=main, name=f"sniff {self.name}", daemon=True)
        self._thread.start()

    def _handed(self, rec: Record) -> None:
        """Account for a record about to be handed on (and save its frame)."""
        if type(rec) is RawFrame:
            if self.save is not None:
                self.save.write(rec)
        elif rec.fatal:
            self.damaged = True
        self.frames += 1

    def stop(self) -> None:
        """Stop reading (a reader blocked in a pipe is left to the process's end)."""
        if not self._stopping.is_set():
            self._stopping.set()
            self._close()
        if self.save is not None:
            self.save.close()

    def __iter__(self) -> Iterator[Record]:
        q: queue.SimpleQueue[Record | None] = queue.SimpleQueue()
        self.start(q.put)
        deadline = None if self.duration is None else self.clock() + self.duration
        try:
            while True:
                wait = POLL_S if deadline is None else min(POLL_S, deadline - self.clock())
                if wait <= 0:
                    return
                try:
                    rec = q.get_nowait()
                except queue.Empty:
                    if self.on_wait is not None:
                        self.on_wait()
                    try:
                        rec = q.get(timeout=wait)
                    except queue.Empty:
                        continue
                if rec is None:
                    return
                yield rec
        finally:
            self.stop()


class ZepListener(LiveRecords):
    """ZEP v1/v2 datagrams on a UDP socket (bound at construction, so a port
    in use or a bad address fails there, with :class:`OSError`).

    Frames are numbered from 1 in arrival order; a datagram that is not ZEP
    is counted in :attr:`not_zep` (and reported once through ``warn``), a ZEP
    datagram too damaged to carry a frame becomes a :class:`CaptureProblem`.
    """

    def __init__(self, host: str = "0.0.0.0", port: int = ZEP_PORT, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.bind(address)
        except OSError:
            sock.close()
            raise
        grow_receive_buffer(sock, RECEIVE_BUFFER)
        sock.settimeout(POLL_S)
        self.sock = sock
        self.not_zep = 0
        self.bytes = 0
        self._index = 0
        host, port = self.address = sock.getsockname()[:2]
        self.name = f"ZEP on [{host}]:{port}" if ":" in host else f"ZEP on {host}:{port}"

    def _produce(self, emit: Callable[[Record], None]) -> None:
        try:
            self._receive(emit)
        finally:  # closed by the reader, never under it
            self.sock.close()

    def _receive(self, emit: Callable[[Record], None]) -> None:
        while not self.stopping:
            try:
                payload, sender = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            rec = self._record(payload, sender, time.time())
            if rec is not None:
                emit(rec)

    def _record(self, payload: bytes, sender: tuple, arrival: float) -> Record | None:
        """The record of one datagram (None for one that is not ZEP, or a ZEP ack)."""
        offset, self.bytes = self.bytes, self.bytes + len(payload)
        if payload[:2] != b"EX" or len(payload) < 3 or payload[2] not in (1, 2):
            self.not_zep += 1
            if self.not_zep == 1 and self.warn is not None:
                self.warn(f"a {len(payload)}-byte datagram from {sender[0]}:{sender[1]} is not ZEP; "
                          "such datagrams are ignored and counted")
            return None
        index = self._index + 1
        try:
            rec: Record | None = zep_frame(index, payload, arrival, offset)
        except FrameError as exc:
            rec = CaptureProblem(index, offset, f"frame {index}: damaged ZEP datagram from "
                                                f"{sender[0]}:{sender[1]}: {exc}")
        if rec is not None:  # a ZEP ack carries no frame
            self._index = index
        return rec

    def __iter__(self) -> Iterator[Record]:
        """The records, read on the iterating thread: every datagram waiting is
        read at once (up to ``BATCH``), so the decoder never waits on a thread
        hand-off and the socket's buffer takes the bursts."""
        if self._thread is not None:
            raise RuntimeError("a live source reads once")
        self._thread = threading.current_thread()
        sock = self.sock
        sock.setblocking(False)
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        recvfrom = sock.recvfrom
        deadline = None if self.duration is None else self.clock() + self.duration
        timed_out = False
        try:
            while not self.stopping:
                wait = POLL_S if deadline is None else min(POLL_S, deadline - self.clock())
                if wait <= 0:
                    timed_out = True
                    return
                if self.on_wait is not None:
                    self.on_wait()
                if not poller.poll(wait * 1000):
                    continue
                batch = []
                try:
                    while len(batch) < BATCH:
                        payload, sender = recvfrom(65535)
                        batch.append((payload, sender, time.time()))
                except (BlockingIOError, InterruptedError):
                    pass
                for payload, sender, arrival in batch:
                    rec = self._record(payload, sender, arrival)
                    if rec is not None:
                        self._handed(rec)
                        yield rec
        finally:
            self.ended = not timed_out
            self.stop()
            sock.close()

    def _close(self) -> None:
        if self._thread is None:  # never read: nobody else will close it
            self.sock.close()


class _Follow:
    """A regular file read as ``tail -f`` does: at its end, wait for more."""

    def __init__(self, f: BinaryIO, stopping: threading.Event) -> None:
        self.f = f
        self.stopping = stopping

    def read1(self, n: int = -1) -> bytes:
        while True:
            data = self.f.read(n)
            if data or self.stopping.is_set():
                return data
            self.stopping.wait(POLL_S)

    read = read1


class StreamRecords(LiveRecords):
    """A pcap or pcapng stream read as it grows: ``-`` (standard input), a
    pipe or FIFO (read until its writer closes it), or a regular file that a
    sniffer is still writing (followed until stopped).  Records come out as
    soon as their last byte has arrived."""

    def __init__(self, source: str | Path | BinaryIO, *, follow: bool | None = None, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._path: Path | None = None
        self._stream: BinaryIO | None = None
        if isinstance(source, (str, Path)) and str(source) == "-":
            self._stream = sys.stdin.buffer
            self.name = "pcap stream on standard input"
        elif isinstance(source, (str, Path)):
            mode = os.stat(source).st_mode  # OSError for a missing file, before any thread starts
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(f"{source} is a directory")
            self._path = Path(source)
            self.name = f"pcap stream {self._path.name}"
            follow = stat.S_ISREG(mode) if follow is None else follow
        else:
            self._stream = source
            self.name = "pcap stream"
        self.follow = bool(follow)

    def _produce(self, emit: Callable[[Record], None]) -> None:
        # A FIFO's open waits for its writer, so it happens here, off the caller's thread.
        stream = self._stream if self._stream is not None else open(self._path, "rb")  # type: ignore[arg-type]
        try:
            reader = _Follow(stream, self._stopping) if self.follow else stream
            for rec in iter_records(reader):  # type: ignore[arg-type]
                if self.stopping:
                    return
                emit(rec)
        finally:
            if self._path is not None:
                stream.close()
