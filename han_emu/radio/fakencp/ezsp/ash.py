"""The NCP side of ASH (UART host protocol, Silicon Labs UG101), over any stream.

bellows implements the *host* side; its frame classes (CRC-CCITT, data
randomisation, control-byte layout) serve both directions, so they are reused
here.  What the NCP needs beyond them is written here: flag/escape framing of
an incoming byte stream, the NCP's sequence and acknowledgement rules, the
reject condition (NAK), retransmission with an adaptive ACK timeout, and the
RST -> RSTACK handshake.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Callable

from bellows.ash import (
    AckFrame,
    AshFrame,
    DataFrame,
    ErrorFrame,
    NakFrame,
    ParsingError,
    RStackFrame,
    RstFrame,
    parse_frame,
)
import bellows.types as bt

_LOGGER = logging.getLogger(__name__)

FLAG = 0x7E
ESCAPE = 0x7D
XON = 0x11
XOFF = 0x13
SUBSTITUTE = 0x18
CANCEL = 0x1A
RESERVED = frozenset({FLAG, ESCAPE, XON, XOFF, SUBSTITUTE, CANCEL})
ESCAPE_XOR = 0x20

ASH_VERSION = 0x02
# ASH's data field holds one EZSP frame: 200 bytes plus the extended header's
# extra bytes and the secure-EZSP overhead (EZSP_MAX_FRAME_LENGTH = 220)
MAX_DATA_FIELD = 220

# UG101 timing: t_rx_ack starts at 1.6 s and adapts between 0.4 s and 3.2 s.
T_RX_ACK_INIT = 1.6
T_RX_ACK_MIN = 0.4
T_RX_ACK_MAX = 3.2
MAX_TIMEOUTS = 4  # consecutive ACK timeouts before the NCP gives up (FAILED)


def stuff(frame: bytes) -> bytes:
    """Escape reserved bytes (UG101 section 4.2): 0x7D then the byte XOR 0x20."""
    out = bytearray()
    for byte in frame:
        if byte in RESERVED:
            out += bytes((ESCAPE, byte ^ ESCAPE_XOR))
        else:
            out.append(byte)
    return bytes(out)


def unstuff(data: bytes) -> bytes:
    """Undo :func:`stuff`; raise ParsingError on an escape that hides no reserved byte."""
    out = bytearray()
    escaped = False
    for byte in data:
        if escaped:
            byte ^= ESCAPE_XOR
            if byte not in RESERVED:
                raise ParsingError(f"invalid escaped byte 0x{byte:02X}")
            out.append(byte)
            escaped = False
        elif byte == ESCAPE:
            escaped = True
        else:
            out.append(byte)
    if escaped:
        raise ParsingError("frame ends inside an escape")
    return bytes(out)


def encode(frame: AshFrame) -> bytes:
    """A frame as it goes on the wire: stuffed, then terminated by a flag byte."""
    return stuff(frame.to_bytes()) + bytes((FLAG,))


class FrameSplitter:
    """Cut a received byte stream into unstuffed frame bodies.

    CANCEL drops what came since the last flag, SUBSTITUTE marks the frame in
    progress as damaged, XON/XOFF are flow control and are removed.  Damaged
    bodies are reported as ``None`` so the caller can enter the reject condition.
    """

    MAX_BUFFER = 1024

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._damaged = False

    def feed(self, data: bytes) -> list[bytes | None]:
        frames: list[bytes | None] = []
        for byte in data:
            if byte == FLAG:
                if self._damaged:
                    frames.append(None)
                elif self._buffer:
                    try:
                        frames.append(unstuff(bytes(self._buffer)))
                    except ParsingError:
                        frames.append(None)
                self._buffer.clear()
                self._damaged = False
            elif byte == CANCEL:
                self._buffer.clear()
                self._damaged = False
            elif byte == SUBSTITUTE:
                self._damaged = True
            elif byte in (XON, XOFF):
                continue
            else:
                self._buffer.append(byte)
                if len(self._buffer) > self.MAX_BUFFER:
                    self._buffer.clear()
                    self._damaged = True
        return frames


class LinkState(enum.Enum):
    """Whether the link carries DATA, or only waits for an RST."""

    CONNECTED = "connected"
    FAILED = "failed"


class AshNcp(asyncio.Protocol):
    """ASH as the NCP speaks it, for one host connection.

    ``on_data`` receives each in-sequence EZSP frame; ``on_reset`` runs when the
    host resets the NCP (before the RSTACK goes out).  :meth:`send` queues an
    EZSP frame; frames go out one at a time (window of one) and are resent, with
    the retransmit flag, on NAK or when no ACK arrives in time.
    """

    def __init__(
        self,
        on_data: Callable[[bytes], None],
        *,
        on_reset: Callable[[], None] | None = None,
        on_lost: Callable[[], None] | None = None,
        rstack_on_connect: float | None = None,
        t_rx_ack: float = T_RX_ACK_INIT,
    ) -> None:
        self._on_data = on_data
        self._on_reset = on_reset
        self._on_lost = on_lost
        self._rstack_on_connect = rstack_on_connect
        self._t_rx_ack_init = t_rx_ack
        self._transport: asyncio.Transport | None = None
        self._splitter = FrameSplitter()
        self._queue: deque[bytes] = deque()
        self._in_flight: DataFrame | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timeouts = 0
        self._sent_at = 0.0
        self.state = LinkState.CONNECTED
        self.t_rx_ack = t_rx_ack
        self.tx_seq = 0  # frmNum of the next new DATA frame
        self.rx_seq = 0  # frmNum expected next from the host (our ackNum)
        self.rejecting = False
        self.stats: dict[str, int] = {
            "rx_data": 0,
            "rx_bad": 0,
            "tx_data": 0,
            "retransmits": 0,
            "naks_sent": 0,
            "resets": 0,
        }

    # -- asyncio.Protocol -------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if self._rstack_on_connect is not None:
            # zigbeed-style NCPs announce themselves with an RSTACK when the
            # host connects; bellows waits briefly for one on socket:// ports
            loop = asyncio.get_running_loop()
            loop.call_later(self._rstack_on_connect, self._announce)

    def _announce(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._reset(bt.NcpResetCode.RESET_POWER_ON)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._cancel_timer()
        if self._on_lost is not None:
            self._on_lost()

    def data_received(self, data: bytes) -> None:
        for body in self._splitter.feed(data):
            self._frame_body_received(body)

    # -- public -------------------------------------------------------------
    def send(self, ezsp_frame: bytes) -> None:
        """Queue one EZSP frame for the host."""
        if len(ezsp_frame) > MAX_DATA_FIELD:
            raise ValueError(f"EZSP frame of {len(ezsp_frame)} bytes exceeds ASH's limit")
        if self.state is not LinkState.CONNECTED:
            return
        self._queue.append(ezsp_frame)
        self._pump()

    def close(self) -> None:
        self._cancel_timer()
        if self._transport is not None:
            self._transport.close()

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing waiting for an acknowledgement."""
        return not self._queue and self._in_flight is None

    # -- receiving ------------------------------------------------------------
    def _frame_body_received(self, body: bytes | None) -> None:
        frame: AshFrame | None = None
        if body is not None:
            try:
                frame = parse_frame(body)
            except Exception:  # noqa: BLE001 - any malformed frame is just damaged
                frame = None
        if frame is None:
            self.stats["rx_bad"] += 1
            _LOGGER.debug("damaged frame from host: %s", body.hex() if body else body)
            self._reject()
            return

        if isinstance(frame, RstFrame):
            self._reset(bt.NcpResetCode.RESET_SOFTWARE)
            return
        if self.state is not LinkState.CONNECTED:
            return  # a failed NCP answers nothing but RST
        if isinstance(frame, DataFrame):
            self._ack_received(frame.ack_num)
            self._data_received(frame)
        elif isinstance(frame, AckFrame):
            self._ack_received(frame.ack_num)
        elif isinstance(frame, NakFrame):
            self._ack_received(frame.ack_num)
            self._nak_received(frame.ack_num)
        else:  # RSTACK / ERROR only travel NCP -> host
            self._reject()

    def _data_received(self, frame: DataFrame) -> None:
        if frame.frm_num == self.rx_seq:
            self.rx_seq = (self.rx_seq + 1) % 8
            self.rejecting = False
            self.stats["rx_data"] += 1
            self._write(AckFrame(res=0, ncp_ready=0, ack_num=self.rx_seq))
            try:
                self._on_data(frame.ezsp_frame)
            except Exception:  # noqa: BLE001 - the link outlives a bad upper layer
                _LOGGER.exception("EZSP layer failed on %s", frame.ezsp_frame.hex())
        elif frame.re_tx:
            # a resend of a frame we already took: acknowledge it again
            self._write(AckFrame(res=0, ncp_ready=0, ack_num=self.rx_seq))
        else:
            self._reject()

    def _reject(self) -> None:
        if self.state is LinkState.CONNECTED and not self.rejecting:
            self.rejecting = True
            self.stats["naks_sent"] += 1
            self._write(NakFrame(res=0, ncp_ready=0, ack_num=self.rx_seq))

    def _ack_received(self, ack_num: int) -> None:
        frame = self._in_flight
        if frame is None or ack_num != (frame.frm_num + 1) % 8:
            return
        loop = asyncio.get_running_loop()
        delta = loop.time() - self._sent_at
        if self._timeouts == 0:
            # UG101: t_rx_ack = 7/8 t_rx_ack + 1/2 measured round trip
            self.t_rx_ack = min(
                T_RX_ACK_MAX, max(T_RX_ACK_MIN, 7 / 8 * self.t_rx_ack + delta / 2)
            )
        self._timeouts = 0
        self._in_flight = None
        self._cancel_timer()
        self._pump()

    def _nak_received(self, ack_num: int) -> None:
        frame = self._in_flight
        if frame is not None and frame.frm_num == ack_num:
            self._transmit(frame, retransmit=True)

    # -- sending ------------------------------------------------------------------
    def _pump(self) -> None:
        if self._in_flight is not None or not self._queue:
            return
        payload = self._queue.popleft()
        frame = DataFrame(frm_num=self.tx_seq, re_tx=False, ack_num=self.rx_seq, ezsp_frame=payload)
        self.tx_seq = (self.tx_seq + 1) % 8
        self._transmit(frame, retransmit=False)

    def _transmit(self, frame: DataFrame, *, retransmit: bool) -> None:
        frame = frame.replace(re_tx=retransmit, ack_num=self.rx_seq)
        self._in_flight = frame
        if retransmit:
            self.stats["retransmits"] += 1
        else:
            self.stats["tx_data"] += 1
        loop = asyncio.get_running_loop()
        self._sent_at = loop.time()
        self._write(frame)
        self._cancel_timer()
        self._timer = loop.call_later(self.t_rx_ack, self._ack_timeout)

    def _ack_timeout(self) -> None:
        self._timer = None
        frame = self._in_flight
        if frame is None:
            return
        self._timeouts += 1
        if self._timeouts > MAX_TIMEOUTS:
            _LOGGER.debug("host stopped acknowledging: entering FAILED state")
            self.state = LinkState.FAILED
            self._in_flight = None
            self._queue.clear()
            self._write(
                ErrorFrame(
                    version=ASH_VERSION,
                    reset_code=bt.NcpResetCode.ERROR_EXCEEDED_MAXIMUM_ACK_TIMEOUT_COUNT,
                )
            )
            return
        self.t_rx_ack = min(T_RX_ACK_MAX, 2 * self.t_rx_ack)
        self._transmit(frame, retransmit=True)

    def _reset(self, code: bt.NcpResetCode) -> None:
        self._cancel_timer()
        self._queue.clear()
        self._in_flight = None
        self._timeouts = 0
        self.tx_seq = 0
        self.rx_seq = 0
        self.rejecting = False
        self.t_rx_ack = self._t_rx_ack_init
        self.state = LinkState.CONNECTED
        self.stats["resets"] += 1
        if self._on_reset is not None:
            self._on_reset()
        self._write(RStackFrame(version=ASH_VERSION, reset_code=code))

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _write(self, frame: AshFrame) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        _LOGGER.debug("NCP -> host %r", frame)
        self._transport.write(encode(frame))
