"""A Silicon Labs EZSP NCP on a TCP port, for hosts without a stick.

``han-emu fake-ncp --protocol ezsp --listen HOST:PORT`` runs
:func:`serve_ezsp`; an unmodified bellows ``ControllerApplication`` then
connects with ``socket://HOST:PORT``.  The server puts real ASH framing
(:mod:`.ash`) under the EZSP interpreter (:mod:`.ncp`) and gives the
emulator the NCP's radio side: :meth:`FakeEzspServer.inject_incoming` and
:meth:`FakeEzspServer.inject_device_join` play frames "heard on air" to the
host, and every frame the host sends comes out of :meth:`FakeEzspServer.sent`
(or a listener) for a simulated IHD to answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterable

import bellows.types as bt
import zigpy.types as zt

from clusters.ids import ZDO_PROFILE_ID
from han_emu.radio.fakencp.ezsp import local_zdo
from han_emu.radio.fakencp.ezsp.ash import AshNcp
from han_emu.crypto.certsets import CertificateSet, TestCA, eui64_to_cert
from han_emu.crypto.cbke import Suite

from han_emu.radio.fakencp.ezsp.cbke_library import NcpCbkeLibrary
from han_emu.radio.fakencp.ezsp.firmwares import FIRMWARES, ncp_class
from han_emu.radio.fakencp.ezsp.ncp import SentMessage
from han_emu.radio.fakencp.ezsp.state import DutyCycle, Endpoint, Tokens

__all__ = ["FIRMWARES", "FakeEzspServer", "SentMessage", "Endpoint", "serve_ezsp"]

_LOGGER = logging.getLogger(__name__)


class FakeEzspServer:
    """One emulated NCP listening on TCP; one host connection at a time
    (a new connection replaces the old one, as re-opening a serial port does)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        state_path: str | os.PathLike[str] | None = None,
        eui64: zt.EUI64 | None = None,
        rstack_on_connect: float | None = None,
        t_rx_ack: float = 1.6,
        cbke: Iterable[CertificateSet] | None = None,
        cbke_random: Callable[[int], bytes] | None = None,
        firmware: str | None = None,
    ) -> None:
        """``cbke`` gives the NCP a Smart Energy image: the CBKE and ECC
        libraries of each certificate set's suite, holding that certificate
        (whose subject should be this NCP's EUI-64).  ``firmware`` names the
        image (:data:`FIRMWARES`; ValueError for another name)."""
        self.host = host
        self.requested_port = port
        self.state_path = state_path
        self._rstack_on_connect = rstack_on_connect
        self._t_rx_ack = t_rx_ack
        tokens = self._load_tokens()
        if eui64 is not None:
            tokens.eui64 = bt.EUI64(eui64)
        library = NcpCbkeLibrary(cbke or (), **({"random": cbke_random} if cbke_random else {}))
        self.ncp = ncp_class(firmware)(self._to_host, tokens=tokens, on_tokens_changed=self._save_tokens, cbke=library)
        self.ncp.send_listeners.append(self._queue_sent)
        self._sent: asyncio.Queue[SentMessage] = asyncio.Queue()
        self._server: asyncio.Server | None = None
        self.link: AshNcp | None = None
        self.connections = 0
        self._rx_seq = 0
        #: (NWK, cluster, payload) of encrypted frames the NCP could not take.
        self.dropped: list[tuple[int, int, bytes]] = []

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_link, self.host, self.requested_port)
        _LOGGER.info("fake EZSP NCP listening on %s:%d", self.host, self.port)

    async def close(self) -> None:
        if self.link is not None:
            self.link.close()
            self.link = None
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeEzspServer:
        if self._server is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def port(self) -> int:
        """The bound port (useful when started on port 0)."""
        if self._server is None or not self._server.sockets:
            return self.requested_port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """What to give bellows as the device path."""
        return f"socket://{self.host}:{self.port}"

    def _new_link(self) -> AshNcp:
        if self.link is not None:
            _LOGGER.info("new host connection replaces the previous one")
            self.link.close()
        self.connections += 1
        self.ncp.reset()
        link = AshNcp(
            self.ncp.handle_frame,
            on_reset=self.ncp.reset,
            on_lost=lambda: self._lost(link),
            rstack_on_connect=self._rstack_on_connect,
            t_rx_ack=self._t_rx_ack,
        )
        self.link = link
        return link

    def _lost(self, link: AshNcp) -> None:
        if self.link is link:
            self.link = None
            self.ncp.reset()

    def _to_host(self, frame: bytes) -> None:
        if self.link is not None:
            self.link.send(frame)

    # -- tokens ------------------------------------------------------------------
    def _load_tokens(self) -> Tokens:
        if self.state_path is not None and os.path.exists(self.state_path):
            return Tokens.load(self.state_path)
        return Tokens()

    def _save_tokens(self, tokens: Tokens) -> None:
        if self.state_path is not None:
            tokens.save(self.state_path)

    # -- what the host registered and sent --------------------------------------------
    @property
    def tokens(self) -> Tokens:
        return self.ncp.tokens

    @property
    def endpoints(self) -> dict[int, Endpoint]:
        """Endpoints registered since the NCP's last reset."""
        return dict(self.ncp.ram.endpoints)

    @property
    def endpoint_log(self) -> list[Endpoint]:
        """Every addEndpoint the NCP accepted, across resets."""
        return list(self.ncp.endpoint_log)

    @property
    def network_up(self) -> bool:
        return self.ncp.network_up

    @property
    def unreachable(self) -> set[int]:
        """NWK addresses whose unicasts end in DELIVERY_FAILED."""
        return self.ncp.unreachable

    def _queue_sent(self, message: SentMessage) -> None:
        self._sent.put_nowait(message)

    async def sent(self, timeout: float | None = None) -> SentMessage:
        """The next frame the host transmitted (unicast, broadcast or multicast)."""
        if timeout is None:
            return await self._sent.get()
        return await asyncio.wait_for(self._sent.get(), timeout)

    def sent_nowait(self) -> list[SentMessage]:
        """Drain and return what the host has transmitted so far."""
        out: list[SentMessage] = []
        while not self._sent.empty():
            out.append(self._sent.get_nowait())
        return out

    def add_send_listener(self, listener: Callable[[SentMessage], None]) -> Callable[[], None]:
        """Call ``listener`` for every transmission; returns a remover."""
        self.ncp.send_listeners.append(listener)
        return lambda: self.ncp.send_listeners.remove(listener)

    # -- the radio side ---------------------------------------------------------------
    def inject_incoming(
        self,
        src_nwk: int,
        src_ieee: zt.EUI64 | None,
        src_ep: int,
        dst_ep: int,
        profile_id: int,
        cluster_id: int,
        data: bytes,
        lqi: int = 255,
        encrypted: bool = True,
        *,
        rssi: int = -40,
        aps_sequence: int | None = None,
        broadcast: bool = False,
    ) -> None:
        """Deliver an APS frame "heard on air" to the host (incomingMessageHandler).

        ``src_ieee`` is the sender's EUI-64 when the frame carries it (NWK
        header or APS extended nonce); None when it does not, and the NCP then
        looks the sender up in its own tables (:mod:`.address_cache`): an
        encrypted frame from a sender it holds no EUI-64 for is dropped, and
        listed in :attr:`dropped`.  A ZDO request is answered on air by the
        stack where it handles it, and reaches the host as
        CONFIG_APPLICATION_ZDO_FLAGS says (:func:`.local_zdo.route`).
        """
        self._require_network()
        if src_ieee is not None:
            self.ncp.address_book[int(src_nwk)] = bt.EUI64(src_ieee)
        options = bt.EmberApsOption.APS_OPTION_NONE
        if profile_id == ZDO_PROFILE_ID and dst_ep == 0:
            self._answer_zdo(src_nwk, cluster_id, bytes(data), broadcast=broadcast)
            to_host, extra = local_zdo.route(cluster_id, self.ncp.zdo_flags)
            if not to_host:
                return
            options |= extra
        if encrypted and src_ieee is None and self.ncp.sender_eui64(int(src_nwk)) is None:
            _LOGGER.info("dropped an encrypted frame from 0x%04X: no EUI-64 for it", src_nwk)
            self.dropped.append((int(src_nwk), int(cluster_id), bytes(data)))
            return
        if encrypted:
            options |= bt.EmberApsOption.APS_OPTION_ENCRYPTION
        if aps_sequence is None:
            aps_sequence = self._next_rx_seq()
        aps = bt.EmberApsFrame(
            profileId=profile_id,
            clusterId=cluster_id,
            sourceEndpoint=src_ep,
            destinationEndpoint=dst_ep,
            options=options,
            groupId=0,
            sequence=aps_sequence,
        )
        self.ncp.incoming_message(
            (
                bt.EmberIncomingMessageType.INCOMING_BROADCAST
                if broadcast
                else bt.EmberIncomingMessageType.INCOMING_UNICAST
            ),
            aps,
            lqi,
            rssi,
            int(src_nwk),
            bytes(data),
        )

    def _answer_zdo(self, src_nwk: int, cluster_id: int, data: bytes, *, broadcast: bool = False) -> None:
        """Discovery requests about the coordinator are answered by the stack
        itself, on air, from its endpoint table (the host also sees them)."""
        answer = self.ncp.zdo_answer(cluster_id, data, broadcast=broadcast)
        if answer is None:
            return
        cluster, payload = answer
        self.ncp.record_outgoing(
            "unicast",
            src_nwk,
            bt.EmberApsFrame(
                profileId=ZDO_PROFILE_ID, clusterId=cluster, sourceEndpoint=0, destinationEndpoint=0,
                options=bt.EmberApsOption.APS_OPTION_NONE, groupId=0, sequence=payload[0],
            ),
            0,
            payload,
            0,
        )

    def _next_rx_seq(self) -> int:
        self._rx_seq = (self._rx_seq + 1) % 256
        return self._rx_seq

    def inject_device_join(
        self,
        nwk: int,
        ieee: zt.EUI64,
        *,
        end_device: bool = True,
        secured_rejoin: bool = False,
        parent: int | None = None,
    ) -> None:
        """A device joins: childJoinHandler (for an end device joining the
        coordinator itself, which becomes its child) then
        trustCenterJoinHandler.  ``parent`` is the NWK address of the router
        it joined through (default: the coordinator); the trust centre's
        address cache keeps every join it authenticates."""
        self._require_network()
        ieee = bt.EUI64(ieee)
        parent = self.ncp.tokens.node_id if parent is None else int(parent)
        direct = parent == self.ncp.tokens.node_id
        if direct and end_device:
            self.ncp.tokens.children[ieee] = int(nwk)
            index = list(self.ncp.tokens.children).index(ieee)
            self.ncp.callback(
                "childJoinHandler",
                index=index,
                joining=True,
                childId=nwk,
                childEui64=ieee,
                childType=bt.EmberNodeType.SLEEPY_END_DEVICE,
            )
        elif direct:
            self.ncp.address_book[int(nwk)] = ieee  # a neighbouring router
        self.ncp.remember_join(int(nwk), ieee)
        self.ncp.callback(
            "trustCenterJoinHandler",
            newNodeId=nwk,
            newNodeEui64=ieee,
            status=(
                bt.EmberDeviceUpdate.STANDARD_SECURITY_SECURED_REJOIN
                if secured_rejoin
                else bt.EmberDeviceUpdate.STANDARD_SECURITY_UNSECURED_JOIN
            ),
            policyDecision=bt.EmberJoinDecision.USE_PRECONFIGURED_KEY,
            parentOfNewNodeId=parent,
        )
        self.ncp.persist()

    @property
    def cbke(self) -> NcpCbkeLibrary:
        """The NCP's CBKE libraries; ``cbke.stored`` lists the keys CBKE kept."""
        return self.ncp.cbke

    def link_key(self, partner: zt.EUI64) -> bytes | None:
        """The key-table entry for ``partner``, if there is one."""
        for eui64, key in self.ncp.tokens.link_keys.values():
            if eui64 == bt.EUI64(partner):
                return key
        return None

    @property
    def duty_cycle(self) -> DutyCycle:
        """Figures the NCP reports; change them, then :meth:`emit_duty_cycle`."""
        return self.ncp.duty_cycle

    def emit_duty_cycle(
        self, state: int | None = None, consumed: dict[int, int] | None = None
    ) -> None:
        """Update the duty-cycle state and send dutyCycleHandler (0x4D)."""
        if state is not None:
            self.ncp.duty_cycle.state = bt.EmberDutyCycleState(state)
        if consumed is not None:
            self.ncp.duty_cycle.consumed = dict(consumed)
        self.ncp.duty_cycle_callback()

    def _require_network(self) -> None:
        if not self.ncp.network_up:
            raise RuntimeError("the emulated NCP has no network up")


async def serve_ezsp(
    host: str,
    port: int,
    *,
    state_path: str | None = None,
    rstack_on_connect: float | None = None,
    cbke_test_certificates: bool = False,
    firmware: str | None = None,
) -> FakeEzspServer:
    """Start an emulated EZSP NCP on ``host:port``; close it with ``await server.close()``.

    ``state_path`` keeps the NCP's tokens (network, keys, EUI64) in a JSON file
    across restarts.  ``rstack_on_connect`` (seconds) makes the NCP announce a
    power-on reset after each TCP connection, as zigbeed does; bellows then skips
    the 2 s it otherwise waits on ``socket://`` before resetting.  Keep it at
    0.1 s or more: bellows treats an RSTACK that arrives before it listens as a
    failure.  ``cbke_test_certificates`` makes it a Smart Energy image holding
    certificates for its EUI-64 from the built-in test CA (suites 1 and 2).
    ``firmware`` is one of :data:`FIRMWARES` (default: EZSP v13).
    """
    server = FakeEzspServer(host, port, state_path=state_path, rstack_on_connect=rstack_on_connect,
                            firmware=firmware)
    if cbke_test_certificates:
        subject = eui64_to_cert(server.tokens.eui64)
        server.ncp.cbke.identities.update(
            {suite: TestCA.builtin(suite).issue(subject) for suite in (Suite.SUITE_1, Suite.SUITE_2)}
        )
    await server.start()
    return server
