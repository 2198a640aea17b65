"""Recording the air: pcap/pcapng files and live ZEP streams of synthesized frames.

Radios report packets, sniffers see frames: :class:`AirRecorder` sits between
the two.  It takes each packet a backend puts on the air (the virtual air's
``AirFrame`` through :meth:`AirRecorder.attach`, or any backend's packets
through :meth:`AirRecorder.packet`), has a ``FrameSynthesizer`` build the
frames, and hands every frame with its absolute time to its sinks:
:class:`PcapRecorder` (a capture file, flushed per frame so a crash still
leaves a readable file), :class:`ZepStreamer` (ZEP v2 over UDP, for a live
Wireshark) and, optionally, an airtime / duty-cycle ledger.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Protocol

import zigpy.types as t

from han_emu.frames.pcap import LinkType, PcapngWriter, PcapWriter
from han_emu.air.synth import FrameSynthesizer, Ledger, OnAirFrame, ieee_int
from han_emu.frames.zep import ZEP_PORT, zep_v2_data

LOGGER = logging.getLogger(__name__)

MIN_STEP = 1e-6
"""Records never go back in time: a frame that would start before the last
one ended (two packets reported close together) is moved after it."""


class FrameSink(Protocol):
    """Anything that takes synthesized frames with their absolute times."""

    def emit(self, frame: OnAirFrame, time: float) -> None: ...


class PcapRecorder:
    """A capture file of on-air frames.

    The format follows the file name (``.pcapng`` -> pcapng, else classic
    pcap) unless ``pcapng`` says otherwise.  Link type 283 (TAP) carries the
    channel and page, which sub-GHz captures need; 195 keeps the FCS; 230
    drops it.
    """

    def __init__(
        self,
        path: str | Path,
        linktype: int = LinkType.IEEE802_15_4_TAP,
        *,
        channel: int | None = None,
        page: int = 0,
        pcapng: bool | None = None,
        rssi: float | None = None,
        lqi: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.channel, self.page, self.rssi, self.lqi = channel, page, rssi, lqi
        if pcapng is None:
            pcapng = self.path.suffix.lower() == ".pcapng"
        self._stream: BinaryIO = open(self.path, "wb")
        try:
            self._writer = (PcapngWriter if pcapng else PcapWriter)(self._stream, linktype)
        except Exception:
            self._stream.close()
            raise
        self._stream.flush()
        self.frames = 0

    def write(self, psdu: bytes, time: float) -> None:
        """Store one PSDU (MAC frame + FCS) and flush it to disk."""
        self._writer.write(psdu, time, channel=self.channel, page=self.page, rssi=self.rssi, lqi=self.lqi)
        self._stream.flush()
        self.frames += 1

    def emit(self, frame: OnAirFrame, time: float) -> None:
        self.write(frame.psdu, time)

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> PcapRecorder:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class ZepStreamer:
    """Sends each frame as a ZEP v2 data packet to ``host:port`` over UDP.

    Wireshark listening on the port (``udp.port == 17754``) decodes the stream
    live.  ZEP has no channel page: only the channel number goes out.  The
    host is resolved once, here: a name that does not resolve is an OSError
    before anything runs.  A send that fails later (the network went away)
    loses that frame only: the first failure is reported through ``warn``
    and the rest are counted in :attr:`failed`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = ZEP_PORT, *, channel: int = 11,
                 device_id: int = 0, lqi: int = 255, warn: Callable[[str], None] | None = None) -> None:
        try:
            family, _, _, _, self.address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except socket.gaierror as exc:
            raise OSError(exc.errno, f"the host name does not resolve ({exc.strerror})", host) from None
        self.name = f"{host}:{port}"
        self.channel, self.device_id, self.lqi = channel, device_id, lqi
        self.warn = warn
        self._socket = socket.socket(family, socket.SOCK_DGRAM)
        self.sequence = 0
        self.failed = 0
        """Frames that could not be sent."""

    def send(self, psdu: bytes, time: float) -> None:
        datagram = zep_v2_data(psdu, channel=self.channel, timestamp=time, sequence=self.sequence,
                               device_id=self.device_id, lqi=self.lqi)
        self.sequence = (self.sequence + 1) & 0xFFFFFFFF
        try:
            self._socket.sendto(datagram, self.address)
        except OSError as exc:
            self.failed += 1
            if self.failed == 1:
                message = f"ZEP to {self.name}: {exc.strerror or exc}; frames that cannot be sent are dropped"
                (self.warn or LOGGER.warning)(message)

    def emit(self, frame: OnAirFrame, time: float) -> None:
        self.send(frame.psdu, time)

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> ZepStreamer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class AirRecorder:
    """Turns packets on the air into frames and feeds them to sinks and a ledger.

    The synthesizer builds each unicast's APS ACK together with its data
    frame (fragment windows interleave their ACKs), so the virtual air's own
    APS-ACK reports are only used to learn addresses.
    """

    def __init__(self, synthesizer: FrameSynthesizer, sinks: Iterable[FrameSink] = (), *,
                 ledger: Ledger | None = None) -> None:
        self.synthesizer = synthesizer
        self.sinks: list[FrameSink] = list(sinks)
        self.ledger = ledger
        self.frames: list[tuple[float, OnAirFrame]] = []
        self.keep = False
        """Keep every (time, frame) in ``frames`` (tests, short runs)."""
        self._last_end = float("-inf")
        self._air: Any = None

    def attach(self, air: Any) -> Callable[[], None]:
        """Listen to a ``VirtualAir``; returns the function that stops listening."""
        self._air = air
        for node in air.nodes:
            if node.nwk is not None:
                self.synthesizer.network.learn(node.ieee, node.nwk)
        return air.add_listener(self.on_air)

    def on_air(self, air_frame: Any) -> list[tuple[float, OnAirFrame]]:
        """Handle one ``AirFrame`` from the virtual air."""
        net = self.synthesizer.network
        net.learn(air_frame.src_ieee, air_frame.src)
        # The frames carry the counters the air gave them.  The synthesizer
        # spends one per fragment and builds each APS ACK with its data, so it
        # may run ahead of the air, never behind: counters in the capture keep
        # rising per sender, and carry on from a restart instead of from 0.
        counters = net.node(ieee_int(air_frame.src_ieee))
        counters.nwk_frame_counter = max(counters.nwk_frame_counter, int(getattr(air_frame, "nwk_counter", 0)))
        aps_fc = getattr(air_frame, "aps_frame_counter", None)
        if aps_fc is not None:
            counters.aps_frame_counter = max(counters.aps_frame_counter, int(aps_fc))
        if self._air is not None:
            for ieee in air_frame.delivered_to:
                node = self._air.node_by_ieee(ieee)
                if node is not None and node.nwk is not None:
                    net.learn(ieee, node.nwk)
        if air_frame.aps_ack:
            return []
        unicast = air_frame.dst.addr_mode in (t.AddrMode.NWK, t.AddrMode.IEEE)
        return self.packet(
            air_frame.packet, air_frame.time, src_ieee=air_frame.src_ieee, aps_counter=air_frame.aps_counter,
            delivered=bool(air_frame.delivered_to) or not unicast,
        )

    def packet(self, packet: t.ZigbeePacket, time: float, **kwargs: Any) -> list[tuple[float, OnAirFrame]]:
        """Synthesize ``packet`` sent at ``time`` (keywords as ``synthesize``) and emit its frames."""
        frames = self.synthesizer.synthesize(packet, **kwargs)
        return self.feed(frames, time)

    def feed(self, frames: Sequence[OnAirFrame], start: float) -> list[tuple[float, OnAirFrame]]:
        """Emit already-synthesized frames whose offsets count from ``start``."""
        shift = max(0.0, self._last_end + MIN_STEP - start) if frames else 0.0
        out = []
        net = self.synthesizer.network
        for frame in frames:
            when = start + shift + frame.offset
            for sink in self.sinks:
                sink.emit(frame, when)
            if self.ledger is not None:
                self.ledger.record_us(frame.tx_ieee, net.page, net.channel, frame.airtime_us, when)
            out.append((when, frame))
            self._last_end = max(self._last_end, when + frame.airtime)
        if self.keep:
            self.frames.extend(out)
        return out


def ieee_key(ieee: int | str | t.EUI64) -> int:
    """The device key ledgers fed by :class:`AirRecorder` use (the IEEE address as an integer)."""
    return ieee_int(ieee)
