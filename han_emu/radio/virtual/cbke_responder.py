"""A simulated device's Key Establishment server: CBKE started by the trust centre.

The Key Establishment cluster is client and server on every Smart Energy
device, so the trust centre's ESI may start key establishment itself (a
re-key).  The device then plays the responder (V): it answers the ESI's
InitiateKeyEstablishmentRequest with its own certificate, its ephemeral key,
then MACV, each as the response to the request (server to client, same TSN,
no APS encryption), and takes KeyData as its trust-centre link key when the
exchange succeeds.  A Terminate from the ESI shortly after (it refused MACV)
puts the old key back, as the initiator's refusal voids the new one.

Only the trust centre is answered: the ESI's EUI-64 must be the subject of
its certificate, and it is the address the device learnt when it joined (or
asks with IEEE_addr_req).  The arithmetic is the crypto package's
:class:`~han_emu.crypto.cbke.Responder`, as the ESI runs it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

import zigpy.exceptions
import zigpy.types as t
import zigpy.zcl.foundation as foundation

from clusters.ids import KEY_ESTABLISHMENT, SE_PROFILE_ID
from clusters.zcl_header import ZclHeader
from han_emu.crypto.cbke import Command, Message, Responder, State, TerminatePayload, TerminateStatus
from han_emu.crypto.certsets import CertificateSet, eui64_to_cert
from han_emu.meter.clock import Clock
from han_emu.radio.virtual.medium import COORDINATOR_NWK
from han_emu.radio.virtual.node import SimNode, ZclFrame

LOGGER = logging.getLogger(__name__)

CONFIRM_SLACK = 10.0
"""Seconds after its MACV during which the initiator may still refuse it (and void the key)."""


def refuse_key_establishment(node: SimNode, frame: ZclFrame) -> foundation.Status | None:
    """A frame handler for a device that takes no part in key establishment it did not
    start: each request is refused (Default Response UNSUP_CLUSTER_COMMAND)."""
    if (int(frame.packet.cluster_id) == KEY_ESTABLISHMENT and not frame.header.frame_control.is_general
            and frame.header.direction == foundation.Direction.Client_to_Server):
        return foundation.Status.UNSUP_CLUSTER_COMMAND
    return None


class CbkeResponder:
    """Answers key establishment the trust centre starts with ``node``.

    Put :meth:`handle` in the node's handlers, ahead of any that take every
    cluster command.  ``on_key(key)`` hears each new link key once installed;
    ``trust_centre`` is the ESI's EUI-64 when the node knows it already."""

    def __init__(self, node: SimNode, certs: CertificateSet, clock: Clock, *,
                 random: Callable[[int], bytes] | None = None,
                 on_key: Callable[[bytes], None] | None = None,
                 trust_centre: t.EUI64 | None = None) -> None:
        self.node = node
        self.certs = certs
        self.clock = clock
        self.random = random or secrets.token_bytes
        self.on_key = on_key
        self.trust_centre = trust_centre
        self.exchanges = 0
        """Exchanges completed (a new key installed)."""
        self._responder: Responder | None = None
        self._previous: tuple[t.KeyData | None, float] | None = None  # (old key, refusable until)

    def handle(self, node: SimNode, frame: ZclFrame) -> foundation.Status | None:
        """A frame handler: takes the Key Establishment requests (client to server) from
        the trust centre, and answers each from a task of the node's."""
        header = frame.header
        if (int(frame.packet.cluster_id) != KEY_ESTABLISHMENT or header.frame_control.is_general
                or header.direction != foundation.Direction.Client_to_Server):
            return None
        src = frame.packet.src
        if src is None or src.addr_mode != t.AddrMode.NWK or int(src.address) != COORDINATOR_NWK:
            return foundation.Status.UNSUP_CLUSTER_COMMAND  # key establishment is with the trust centre only
        node._spawn(self._answer(frame))  # the initiator sends the next request only after our answer
        return foundation.Status.SUCCESS

    async def _answer(self, frame: ZclFrame) -> None:
        try:
            await self._step(frame)
        except Exception:  # one bad exchange must not stop the next
            LOGGER.exception("%s: answering key establishment failed", self.node.name)

    async def _step(self, frame: ZclFrame) -> None:
        command, payload = frame.header.command_id, frame.payload
        if command == Command.TERMINATE_KEY_ESTABLISHMENT:
            self._terminated(payload)
            return
        if command == Command.INITIATE_KEY_ESTABLISHMENT:
            partner = await self._trust_centre()
            if partner is None:
                return  # no answer to IEEE_addr_req: the initiator times out
            self._previous = None
            self._responder = Responder(
                self.certs.suite, self.certs.certificate, self.certs.private_key, self.certs.ca_public_key,
                eui64_to_cert(partner), {self.certs.issuer}, random=self.random, now=self.clock,
            )
        responder = self._responder
        if responder is None or responder.finished:
            payload = TerminatePayload(TerminateStatus.BAD_MESSAGE, 10, int(self.certs.suite)).to_bytes()
            await self._send(frame, Message(Command.TERMINATE_KEY_ESTABLISHMENT, payload))
            return
        answer = responder.receive(command, payload)
        if responder.state is State.SUCCEEDED:
            key = responder.key_data
            assert key is not None
            self._previous = (self.node.link_key, self.clock.now() + responder.generate_times[1] + CONFIRM_SLACK)
            self.node.link_key = t.KeyData(key)  # KE frames go unsecured: the new key serves what follows
            self.exchanges += 1
            LOGGER.info("%s: key establishment started by the trust centre succeeded", self.node.name)
            if self.on_key is not None:
                self.on_key(key)
        if answer is not None:
            await self._send(frame, answer)
        if responder.finished and responder.state is not State.SUCCEEDED:
            self._responder = None

    def _terminated(self, payload: bytes) -> None:
        """The initiator gave up; after our success, it refused MACV: the old key is back."""
        responder, self._responder = self._responder, None
        if responder is not None and not responder.finished:
            responder.receive(Command.TERMINATE_KEY_ESTABLISHMENT, payload)
        previous, self._previous = self._previous, None
        if previous is not None and self.clock.now() <= previous[1]:
            self.node.link_key = previous[0]
            LOGGER.info("%s: the trust centre refused our key confirmation; back to the old key", self.node.name)

    async def _trust_centre(self) -> t.EUI64 | None:
        if self.trust_centre is None:
            from han_emu.radio.virtual.cbke_client import CbkeError, ieee_address

            try:
                self.trust_centre = await ieee_address(self.node, COORDINATOR_NWK)
            except (CbkeError, zigpy.exceptions.DeliveryError, TimeoutError) as exc:
                LOGGER.info("%s: the trust centre's address is unknown (%s)", self.node.name, exc)
                return None
        return self.trust_centre

    async def _send(self, request: ZclFrame, message: Message) -> None:
        """``message`` as the response to ``request``: server to client, its TSN, unsecured."""
        packet = request.packet
        tsn = int(request.header.tsn)
        header = ZclHeader.make(tsn, int(message.command), general=False, direction=foundation.Direction.Server_to_Client,
                                disable_default_response=True)
        reply = t.ZigbeePacket(
            src_ep=packet.dst_ep, dst=packet.src, dst_ep=packet.src_ep, tsn=tsn, profile_id=SE_PROFILE_ID,
            cluster_id=KEY_ESTABLISHMENT, data=t.SerializableBytes(header.serialize() + message.payload),
            tx_options=t.TransmitOptions.ACK,
        )
        try:
            await self.node.send(reply)
        except zigpy.exceptions.DeliveryError as exc:
            LOGGER.info("%s: key establishment response not delivered: %s", self.node.name, exc)
