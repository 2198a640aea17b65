"""An emulated Z-Stack NCP on a TCP port, for zigpy-znp's ``socket://`` URLs.

``serve_znp`` starts it; the CLI calls it for ``han-emu fake-ncp --protocol znp``.
Bytes on the socket are the real MT serial protocol (SOF 0xFE, length, two
command bytes, payload, XOR FCS), framed and parsed with zigpy-znp's own
``frames`` and ``commands`` codecs, so the host cannot tell it from a stick on
a serial-to-TCP bridge.

The emulator drives the far side of the air through this object:
:meth:`FakeZnpServer.inject_incoming` plays a frame some node sent to the
coordinator, :meth:`FakeZnpServer.inject_device_join` a node joining, and
:attr:`FakeZnpServer.frames` (or :meth:`FakeZnpServer.add_frame_listener`)
yields every frame the host transmits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

import zigpy_znp.commands as c
import zigpy_znp.types as t
from zigpy_znp.exceptions import InvalidFrame
from zigpy_znp.frames import GeneralFrame, TransportFrame

from han_emu.radio.fakencp.znp.af_frames import OutgoingFrame, RegisteredEndpoint
from han_emu.radio.fakencp.znp.device import FakeZStack
from han_emu.radio.fakencp.znp.zstack_images import DEFAULT_FIRMWARE, FIRMWARE_IMAGES
from han_emu.radio.fakencp.znp.nvram import ALIGN_STRUCTS, ZnpNvram

LOGGER = logging.getLogger(__name__)

SOF = int(TransportFrame.SOF)
MAX_PAYLOAD = 250
FRAME_QUEUE_SIZE = 1024

#: The firmware images ``--firmware`` offers, name -> what it is (:mod:`.zstack_images`).
FIRMWARES: dict[str, str] = {name: image.description for name, image in FIRMWARE_IMAGES.items()}


def encode(command: t.CommandBase) -> bytes:
    """One MT command as it travels on the wire."""
    return TransportFrame(command.to_frame(align=ALIGN_STRUCTS)).serialize()


class MtStreamDecoder:
    """Cuts a byte stream into MT frames, resynchronising on garbage.

    Like a UART driver, it drops bytes up to the next SOF when a frame is
    malformed or its FCS is wrong, and waits when a frame is incomplete.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.dropped = 0

    def feed(self, data: bytes) -> list[GeneralFrame]:
        self._buf += data
        out: list[GeneralFrame] = []
        while self._buf:
            if self._buf[0] != SOF:
                sof = self._buf.find(SOF)
                cut = len(self._buf) if sof < 0 else sof
                self.dropped += cut
                del self._buf[:cut]
                continue
            if len(self._buf) < 2:
                break
            length = self._buf[1]
            if length > MAX_PAYLOAD:
                self._drop_one()
                continue
            size = length + 5
            if len(self._buf) < size:
                break
            try:
                frame, _ = TransportFrame.deserialize(bytes(self._buf[:size]))
            except InvalidFrame:
                self._drop_one()
                continue
            del self._buf[:size]
            out.append(frame.payload)
        return out

    def _drop_one(self) -> None:
        del self._buf[:1]
        self.dropped += 1


def decode_request(frame: GeneralFrame) -> t.CommandBase | None:
    """The host request in ``frame``, or None if zigpy-znp declares no such request."""
    cls = c.COMMANDS_BY_ID.get(frame.header)
    if cls is None or cls.Req is not cls:
        return None
    return cls.from_frame(frame, align=ALIGN_STRUCTS)


class _Connection(asyncio.Protocol):
    def __init__(self, server: FakeZnpServer) -> None:
        self._server = server
        self._decoder = MtStreamDecoder()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._server._connections.add(self)
        LOGGER.debug("Host connected: %s", transport.get_extra_info("peername"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._server._connections.discard(self)
        self.transport = None
        LOGGER.debug("Host disconnected: %s", exc)

    def data_received(self, data: bytes) -> None:
        for frame in self._decoder.feed(data):
            self.send(self._server._answer(frame))

    def send(self, commands: list[t.CommandBase]) -> None:
        if self.transport is None or self.transport.is_closing() or not commands:
            return
        self.transport.write(b"".join(encode(cmd) for cmd in commands))


class FakeZnpServer:
    """A TCP server hosting one emulated Z-Stack 3.30 coordinator.

    With ``state_path`` the NV memory is loaded from and saved to that JSON
    file, so a restarted server resumes the same network, as a real stick
    does after a power cycle.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        state_path: str | os.PathLike[str] | None = None,
        device: FakeZStack | None = None,
        save_delay: float = 0.25,
        firmware: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.state_path = Path(state_path) if state_path is not None else None
        if device is None:
            nvram = None
            if self.state_path is not None and self.state_path.exists():
                nvram = ZnpNvram.load(self.state_path)
            device = FakeZStack(nvram, image=firmware or DEFAULT_FIRMWARE)
        self.device = device
        self.device.on_frame = self._on_frame
        self.frames: asyncio.Queue[OutgoingFrame] = asyncio.Queue(FRAME_QUEUE_SIZE)
        self._listeners: list[Callable[[OutgoingFrame], None]] = []
        #: Told every host request once the device has answered it (the radio
        #: side on an air follows permits and install codes through it).
        self.request_listeners: list[Callable[[t.CommandBase], None]] = []
        self._connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self._save_delay = save_delay
        self._save_handle: asyncio.TimerHandle | None = None
        self._join_timers: dict[t.EUI64, asyncio.TimerHandle] = {}
        loaded = self.state_path is not None and self.state_path.exists()
        self._saved_version = self.device.nvram.version if loaded else -1
        if loaded:  # a power cycle: carry on above the saved counter, and say so in NV at once
            self.device.restore_margin()
            self.save()

    # -------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _Connection(self), self.host, self.port
        )
        self.port = self._server.sockets[0].getsockname()[1]
        LOGGER.info("Emulated Z-Stack NCP listening on %s:%d", self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for conn in list(self._connections):
                if conn.transport is not None:
                    conn.transport.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        if self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None
        for timer in self._join_timers.values():
            timer.cancel()
        self._join_timers.clear()
        self.save()

    async def __aenter__(self) -> FakeZnpServer:
        if self._server is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        """The serial URL a zigpy radio library opens to reach this NCP."""
        return f"socket://{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return bool(self._connections)

    def save(self) -> None:
        """Write NV memory to ``state_path`` if it changed since the last save."""
        if self.state_path is None or self.device.nvram.version == self._saved_version:
            return
        self.device.nvram.save(self.state_path)
        self._saved_version = self.device.nvram.version

    # ------------------------------------------------------------ driving API
    @property
    def endpoints(self) -> dict[int, RegisteredEndpoint]:
        """Endpoints the host registered with ``AF.Register`` since the last reset."""
        return self.device.endpoints

    def add_frame_listener(self, callback: Callable[[OutgoingFrame], None]) -> Callable[[], None]:
        """Call ``callback`` for every frame the host transmits; returns an unsubscriber."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def inject_incoming(
        self,
        src_nwk: int,
        src_ieee: t.EUI64 | None,
        src_ep: int,
        dst_ep: int,
        cluster_id: int,
        data: bytes,
        lqi: int = 255,
        encrypted: bool = True,
        *,
        tsn: int | None = None,
        group_id: int = 0x0000,
        broadcast: bool = False,
        profile_id: int | None = None,
    ) -> bool:
        """Deliver ``data`` (a ZCL frame) to the host as received over the
        air; False when the chip drops it.

        Z-Stack reports no source IEEE in ``AF.IncomingMsg``; when given, the
        pair is kept in the address manager, as the stack learns it on joins.
        An APS-secured frame from a sender the address manager cannot place
        is dropped: the APS layer finds the sender's key and nonce by its IEEE
        address (``APSME_LookupExtAddr`` in ``APSME_TCLinkKeySync``,
        ``zd_sec_mgr.c``), so with the table full such frames are lost.
        ``profile_id`` is the APS profile the sender used (None: the
        endpoint's own); see :meth:`FakeZStack.incoming_message`.
        """
        if src_ieee is not None:
            self.device.learn_address(src_nwk, src_ieee)
        if encrypted and self.device.addrmgr_ieee(src_nwk) is None:
            LOGGER.info("Dropped an APS-secured frame from 0x%04X: not in the address manager", src_nwk)
            return False
        message = self.device.incoming_message(
            src_nwk=src_nwk, src_ep=src_ep, dst_ep=dst_ep, cluster_id=cluster_id, data=data,
            tsn=tsn, lqi=lqi, encrypted=encrypted, group_id=group_id, broadcast=broadcast,
            profile_id=profile_id,
        )
        if message is None:
            return False
        self._broadcast([message])
        return True

    def confirm_sent(self, endpoint: int, tsn: int, status: t.Status) -> None:
        """``AF_DATA_CONFIRM`` of a unicast the radio has finished with."""
        self._broadcast([c.AF.DataConfirm.Callback(Status=status, Endpoint=endpoint, TSN=tsn)])

    def inject_device_join(self, nwk: int, ieee: t.EUI64, *, capabilities: int = 0x80) -> None:
        """A node joins through the coordinator and announces itself; unless it
        does the Zigbee 3.0 key exchange (:meth:`inject_key_exchange`) in
        ``device.node_join_timeout`` seconds, the trust centre may remove it
        (:meth:`FakeZStack.join_timeout`)."""
        ieee = t.EUI64(ieee)
        self._broadcast(self.device.device_join(nwk, ieee, capabilities=capabilities))
        if ieee in self.device.joining:
            old = self._join_timers.pop(ieee, None)
            if old is not None:
                old.cancel()
            self._join_timers[ieee] = asyncio.get_running_loop().call_later(
                self.device.node_join_timeout, self._join_expired, nwk, ieee)

    def inject_key_exchange(self, ieee: t.EUI64) -> t.KeyData:
        """The node does the Zigbee 3.0 trust-centre key request and verification."""
        timer = self._join_timers.pop(t.EUI64(ieee), None)
        if timer is not None:
            timer.cancel()
        key = self.device.zigbee3_key_exchange(t.EUI64(ieee))
        self._schedule_save()
        return key

    def _join_expired(self, nwk: int, ieee: t.EUI64) -> None:
        self._join_timers.pop(ieee, None)
        self._broadcast(self.device.join_timeout(ieee, nwk))

    def inject_zdo(
        self, src_nwk: int, cluster_id: int, tsn: int, payload: bytes, *, broadcast: bool = False
    ) -> None:
        """A ZDO frame (``payload`` without its TSN) some node sent, e.g. a
        Node_Desc_rsp answering the host."""
        self._broadcast(
            self.device.zdo_message(
                src_nwk=src_nwk,
                cluster_id=cluster_id,
                tsn=tsn,
                payload=payload,
                broadcast=broadcast,
            )
        )

    # --------------------------------------------------------------- internals
    def _answer(self, frame: GeneralFrame) -> list[t.CommandBase]:
        try:
            request = decode_request(frame)
        except ValueError:
            LOGGER.warning("Malformed MT request %s: %s", frame.header, bytes(frame.data).hex())
            reply = self.device.not_recognized(frame.header, c.rpc_error.ErrorCode.InvalidParameter)
        else:
            if request is None:
                reply = self.device.not_recognized(frame.header)
            else:
                LOGGER.debug("Request: %s", request)
                try:
                    reply = self.device.handle(request)
                except Exception:
                    # A firmware bug must not take the serial link down with it.
                    LOGGER.exception("Emulated Z-Stack failed on %s", request)
                    reply = self.device.not_recognized(
                        frame.header, c.rpc_error.ErrorCode.InvalidParameter
                    )
                for listener in list(self.request_listeners):
                    try:
                        listener(request)
                    except Exception:
                        LOGGER.exception("Request listener failed on %s", request)
        self._schedule_save()
        return reply

    def _broadcast(self, commands: list[t.CommandBase]) -> None:
        for conn in list(self._connections):
            conn.send(commands)
        self._schedule_save()

    def _on_frame(self, frame: OutgoingFrame) -> None:
        if self.frames.full():
            self.frames.get_nowait()  # keep the newest
        self.frames.put_nowait(frame)
        for callback in list(self._listeners):
            try:
                callback(frame)
            except Exception:
                LOGGER.exception("Frame listener failed")

    def _schedule_save(self) -> None:
        if self.state_path is None or self._save_handle is not None:
            return
        if self.device.nvram.version == self._saved_version:
            return
        loop = asyncio.get_running_loop()
        self._save_handle = loop.call_later(self._save_delay, self._timed_save)

    def _timed_save(self) -> None:
        self._save_handle = None
        try:
            self.save()
        except OSError:
            LOGGER.exception("Cannot save NV memory to %s", self.state_path)


async def serve_znp(
    host: str, port: int, *, state_path: str | None = None, firmware: str | None = None
) -> FakeZnpServer:
    """Start an emulated Z-Stack NCP on ``host:port`` (0 picks a free port)
    running ``firmware`` (a key of :data:`FIRMWARES`; ValueError otherwise)."""
    if firmware is not None and firmware not in FIRMWARES:
        raise ValueError(f"unknown Z-Stack firmware {firmware!r} (choose from {', '.join(sorted(FIRMWARES))})")
    server = FakeZnpServer(host, port, state_path=state_path, firmware=firmware)
    await server.start()
    return server


__all__ = [
    "FIRMWARES",
    "FakeZnpServer",
    "FakeZStack",
    "MtStreamDecoder",
    "OutgoingFrame",
    "RegisteredEndpoint",
    "decode_request",
    "encode",
    "serve_znp",
]
