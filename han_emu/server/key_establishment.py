"""The ESI's Key Establishment cluster (0x0800): CBKE responder per partner, and initiator on demand.

A device that joined with its install-code link key runs CBKE against the
trust centre's ESI to get a link key bound to its certificate.  This module
attaches the server side of the Key Establishment cluster to an ESI
:class:`~han_emu.server.endpoint.Endpoint` and runs one
:class:`~han_emu.crypto.cbke.Responder` per partner, keyed by the partner's
IEEE address (the packet carries only its NWK address, hence ``ieee_of``).

On success the agreed key goes to ``on_key(ieee, key_data)``, for the radio
backend to install as the APS link key, and the partner counts as
*authorised*: :meth:`KeyEstablishmentServer.guard` makes the ZCL server refuse
Smart Energy cluster requests from anyone who is not (unless the lab
override accepts everything).

Failures answer with TerminateKeyEstablishment and a status; the
KeyEstablishmentSuite field of every Terminate this server sends carries its
KeyEstablishmentSuite attribute (the suites it supports), so the initiator
learns what it may use.  Everything is synchronous and clock-driven; an
abandoned exchange is dropped when its deadline passes (checked on every
message and by :meth:`KeyEstablishmentServer.expire`).

The cluster is client and server on every Smart Energy device, so either side
may start CBKE: :meth:`KeyEstablishmentServer.initiate` makes the ESI the
initiator (U) towards a display's Key Establishment server (a re-key), the
client side of this endpoint taking the display's responses.  The partner's
current link key stays in force until the new one is agreed, as Silicon
Labs' key-establishment plugin does (the trust centre's key-table entry for
the partner is rewritten only on success, by
``emberClearTemporaryDataMaybeStoreLinkKey(true)``; a failed exchange leaves it).
"""

from __future__ import annotations

import collections
import logging
import math
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import zigpy.types as t

from clusters.ids import KEY_ESTABLISHMENT
from clusters.key_establishment import KeyEstablishment
from han_emu.crypto.certsets import CertificateSet, eui64_from_cert, eui64_to_cert
from han_emu.meter.clock import Clock
from han_emu.crypto.cbke import (
    DEFAULT_WAIT_TIME,
    Command,
    InitiatePayload,
    Initiator,
    Message,
    Responder,
    State,
    Suite,
    TerminatePayload,
    TerminateStatus,
)
from han_emu.server.attributes import AttributeTable
from han_emu.server.command import ZclReply, ZclRequest
from han_emu.server.endpoint import Endpoint

LOGGER = logging.getLogger(__name__)

DEFAULT_SLACK = 10.0
"""Seconds allowed on top of the partner's advertised generate time before an
exchange is abandoned (radio latency, retries, a slow initiator)."""

DEFAULT_MAX_SESSIONS = 8
"""Exchanges with different partners that may run at the same time."""

IeeeLookup = Callable[[int], "t.EUI64 | None"]
KeyCallback = Callable[[t.EUI64, bytes], None]
_P = TypeVar("_P", Initiator, Responder)


@dataclass
class _Session:
    responder: Responder
    deadline: float


@dataclass
class _Initiation:
    """An exchange this ESI started (it is U), waiting for the partner's next response."""

    initiator: Initiator
    deadline: float


class KeyEstablishmentBusy(RuntimeError):
    """An exchange with that partner is already under way."""


@dataclass(frozen=True)
class Outcome:
    """How one exchange (or one refused attempt) ended, for logs and displays."""

    time: float
    ieee: t.EUI64 | None
    suite: int
    #: True when a link key was established.
    established: bool
    #: The Terminate status this server sent, if it sent one.
    sent: TerminateStatus | None = None
    #: The Terminate status the partner sent, if it sent one.
    received: int | None = None
    timed_out: bool = False
    #: True when this ESI started the exchange (a re-key), False when the partner did.
    initiated: bool = False


class KeyEstablishmentServer:
    """The responder side of CBKE on one ESI endpoint.

    ``identities`` holds this device's certificate set for each suite it
    offers (its certificate's subject should be the coordinator's EUI-64).
    ``ieee_of(nwk)`` tells the IEEE address of a network address (None when
    unknown).  ``random`` draws the ephemeral keys (tests pass a fixed source).
    """

    def __init__(
        self,
        endpoint: Endpoint,
        identities: CertificateSet | Iterable[CertificateSet],
        clock: Clock,
        ieee_of: IeeeLookup,
        *,
        on_key: KeyCallback | None = None,
        on_revoke: Callable[[t.EUI64], None] | None = None,
        slack: float = DEFAULT_SLACK,
        wait_time: int = DEFAULT_WAIT_TIME,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        generate_times: tuple[int, int] | None = None,
        random: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        if isinstance(identities, CertificateSet):
            identities = [identities]
        self.identities: dict[Suite, CertificateSet] = {}
        for identity in identities:
            if identity.suite in self.identities:
                raise ValueError(f"two certificate sets for suite {identity.suite.number}")
            self.identities[identity.suite] = identity
        if not self.identities:
            raise ValueError("a Key Establishment server needs at least one certificate set")
        self.endpoint = endpoint
        self.clock = clock
        self.ieee_of = ieee_of
        self.on_key = on_key
        self.on_revoke = on_revoke
        self.slack = slack
        self.wait_time = wait_time
        self.max_sessions = max_sessions
        self.generate_times = generate_times
        self.random = random
        self.outcomes: collections.deque[Outcome] = collections.deque(maxlen=100)
        self._sessions: dict[t.EUI64, _Session] = {}
        self._initiated: dict[t.EUI64, _Initiation] = {}
        #: Each partner's Key Establishment endpoint, as its own exchanges came from it.
        self._partner_endpoints: dict[bytes, int] = {}
        self._authorised = _IeeeSet()
        #: Partners that just succeeded: they may still reject our MACV.
        self._confirming: dict[t.EUI64, float] = {}
        self._attach(endpoint)

    # -- wiring ----------------------------------------------------------------

    @property
    def suites(self) -> int:
        """The KeyEstablishmentSuite attribute: one bit per suite offered."""
        bits = 0
        for suite in self.identities:
            bits |= int(suite)
        return bits

    def _attach(self, endpoint: Endpoint) -> None:
        if endpoint.side(KEY_ESTABLISHMENT, server=True) is not None:
            raise ValueError(f"endpoint {endpoint.id} already serves Key Establishment")
        table = AttributeTable.from_cluster(
            KeyEstablishment, {"key_establishment_suite": lambda: self.suites}
        )
        # Added by id, not class: payloads reach the handlers unparsed, so a
        # short or garbled one gets Terminate BAD_MESSAGE as CBKE requires,
        # rather than the engine's generic Default Response.
        endpoint.add_server_cluster(KEY_ESTABLISHMENT, table)
        if endpoint.side(KEY_ESTABLISHMENT, server=False) is None:
            endpoint.add_client_cluster(
                KEY_ESTABLISHMENT,
                AttributeTable.from_cluster(
                    KeyEstablishment, {"key_establishment_suite": lambda: self.suites}
                ),
            )
        generated = [int(c) for c in Command]
        endpoint.on_command(KEY_ESTABLISHMENT, Command.INITIATE_KEY_ESTABLISHMENT,
                            self._on_initiate, generates=generated)
        endpoint.on_command(KEY_ESTABLISHMENT, Command.EPHEMERAL_DATA, self._on_step)
        endpoint.on_command(KEY_ESTABLISHMENT, Command.CONFIRM_KEY_DATA, self._on_step)
        endpoint.on_command(KEY_ESTABLISHMENT, Command.TERMINATE_KEY_ESTABLISHMENT,
                            self._on_terminate)
        # The client side takes the partner's responses when this ESI initiates.
        for command in (Command.INITIATE_KEY_ESTABLISHMENT, Command.EPHEMERAL_DATA, Command.CONFIRM_KEY_DATA):
            endpoint.on_command(KEY_ESTABLISHMENT, command, self._on_response, server=False,
                                generates=generated)
        endpoint.on_command(KEY_ESTABLISHMENT, Command.TERMINATE_KEY_ESTABLISHMENT, self._on_response,
                            server=False)

    def guard(self, zcl_server: object) -> None:
        """Make ``zcl_server`` (a ZclServer) refuse Smart Energy cluster
        requests from senders that have not completed key establishment."""
        zcl_server.encryption.authorised = self.sender_authorised  # type: ignore[attr-defined]

    # -- authorisation -----------------------------------------------------------

    def authorised(self, ieee: t.EUI64) -> bool:
        """True once ``ieee`` has completed CBKE with this server."""
        return t.EUI64(ieee) in self._authorised

    def sender_authorised(self, src: t.AddrModeAddress | None) -> bool:
        """:meth:`authorised` for a packet's source address (NWK or IEEE)."""
        ieee = self._ieee_of_address(src, copy=False)
        return ieee is not None and ieee in self._authorised

    def authorise(self, ieee: t.EUI64) -> None:
        """Count ``ieee`` as authorised without CBKE (e.g. restored from storage)."""
        self._authorised.add(t.EUI64(ieee))

    def forget(self, ieee: t.EUI64) -> None:
        """Withdraw authorisation (the device left, or its key was revoked)."""
        ieee = t.EUI64(ieee)
        self._authorised.discard(ieee)
        self._sessions.pop(ieee, None)
        self._initiated.pop(ieee, None)
        self._confirming.pop(ieee, None)

    @property
    def authorised_devices(self) -> frozenset[t.EUI64]:
        return frozenset(self._authorised)

    # -- sessions and time ---------------------------------------------------------

    def busy(self, ieee: t.EUI64) -> bool:
        """True while an exchange with ``ieee`` is in progress."""
        self.expire()
        return t.EUI64(ieee) in self._sessions or t.EUI64(ieee) in self._initiated

    def expire(self, now: float | None = None) -> list[t.EUI64]:
        """Drop exchanges whose partner went quiet past the deadline; returns
        the partners dropped."""
        now = self.clock.now() if now is None else now
        gone = [ieee for ieee, s in self._sessions.items() if now >= s.deadline]
        for ieee in gone:
            session = self._sessions.pop(ieee)
            LOGGER.info("key establishment with %s timed out in state %s",
                        ieee, session.responder.state.value)
            self._record(ieee, session.responder.suite, timed_out=True)
        for ieee in [ieee for ieee, s in self._initiated.items() if now >= s.deadline]:
            initiation = self._initiated.pop(ieee)
            LOGGER.info("key establishment we started with %s timed out in state %s",
                        ieee, initiation.initiator.state.value)
            self._record(ieee, initiation.initiator.suite, timed_out=True, initiated=True)
            gone.append(ieee)
        for ieee, until in list(self._confirming.items()):
            if now >= until:
                del self._confirming[ieee]
        return gone

    def next_expiry(self) -> float | None:
        """When :meth:`expire` will next have something to drop."""
        deadlines = [s.deadline for s in self._sessions.values()]
        deadlines += [s.deadline for s in self._initiated.values()]
        deadlines += self._confirming.values()
        return min(deadlines, default=None)

    # -- handlers ----------------------------------------------------------------------

    def _on_initiate(self, request: ZclRequest) -> list[ZclReply]:
        now = self.clock.now()
        self.expire(now)
        ieee = self._ieee_of_address(request.packet.src)
        try:
            initiate = InitiatePayload.parse(request.payload)
        except ValueError:
            return self._refuse(ieee, 0, TerminateStatus.BAD_MESSAGE, "initiate payload too short")
        running = (self._sessions.get(ieee) or self._initiated.get(ieee)) if ieee is not None else None
        if running is not None:
            wait = min(255, max(1, math.ceil(running.deadline - now)))
            return self._refuse(ieee, initiate.suite, TerminateStatus.NO_RESOURCES,
                                "an exchange with this partner is already running", wait)
        if len(self._sessions) >= self.max_sessions:
            return self._refuse(ieee, initiate.suite, TerminateStatus.NO_RESOURCES,
                                "too many exchanges at once")
        try:
            suite = Suite(initiate.suite)
        except ValueError:
            suite = None
        identity = self.identities.get(suite) if suite is not None else None
        if identity is None:
            return self._refuse(ieee, initiate.suite, TerminateStatus.UNSUPPORTED_SUITE,
                                f"suite 0x{initiate.suite:04X} not offered")
        if ieee is None:
            # Without the sender's EUI-64 its certificate cannot be bound to it.
            return self._refuse(None, initiate.suite, TerminateStatus.INVALID_CERTIFICATE,
                                f"unknown sender {request.packet.src}")
        responder = self._party(Responder, identity, ieee)
        self._confirming.pop(ieee, None)
        self._partner_endpoints[bytes(ieee)] = int(request.packet.src_ep or 0)
        answer = responder.receive(Command.INITIATE_KEY_ESTABLISHMENT, request.payload)
        assert answer is not None
        if answer.is_terminate:
            return self._failed(ieee, responder, answer)
        assert responder.partner_generate_times is not None
        self._sessions[ieee] = _Session(
            responder, now + responder.partner_generate_times[0] + self.slack
        )
        LOGGER.info("key establishment with %s started (suite %d)", ieee, identity.suite.number)
        return [ZclReply(answer.command, answer.payload)]

    def _on_step(self, request: ZclRequest) -> list[ZclReply]:
        now = self.clock.now()
        self.expire(now)
        ieee = self._ieee_of_address(request.packet.src)
        session = self._sessions.get(ieee) if ieee is not None else None
        if session is None:
            return self._refuse(ieee, self.suites, TerminateStatus.BAD_MESSAGE,
                                f"command 0x{request.command_id:02X} outside an exchange")
        responder = session.responder
        answer = responder.receive(request.command_id, request.payload)
        if answer is None:  # cannot happen for these commands; be safe
            self._sessions.pop(ieee, None)
            return []
        if answer.is_terminate:
            return self._failed(ieee, responder, answer)
        if responder.state is State.SUCCEEDED:
            del self._sessions[ieee]
            key = responder.key_data
            assert key is not None and ieee is not None
            self._authorised.add(ieee)
            # The initiator still checks MACV: a Terminate shortly after
            # means it refused our confirmation, and the key is void.
            assert responder.partner_generate_times is not None
            self._confirming[ieee] = now + responder.partner_generate_times[1] + self.slack
            self._record(ieee, responder.suite, established=True)
            LOGGER.info("key establishment with %s succeeded", ieee)
            if self.on_key is not None:
                self.on_key(ieee, key)
        else:
            assert responder.partner_generate_times is not None
            session.deadline = now + responder.partner_generate_times[1] + self.slack
        return [ZclReply(answer.command, answer.payload)]

    def _on_terminate(self, request: ZclRequest) -> list[ZclReply]:
        ieee = self._ieee_of_address(request.packet.src)
        if ieee is None:
            return []
        try:
            status: int | None = TerminatePayload.parse(request.payload).status
        except ValueError:
            status = None
        session = self._sessions.pop(ieee, None)
        if session is not None:
            session.responder.receive(Command.TERMINATE_KEY_ESTABLISHMENT, request.payload)
            self._record(ieee, session.responder.suite, received=status)
            LOGGER.info("%s terminated key establishment (status %s)", ieee, status)
        elif self._confirming.pop(ieee, None) is not None:
            LOGGER.warning("%s rejected our key confirmation (status %s); key revoked", ieee, status)
            self._authorised.discard(ieee)
            self._record(ieee, self.suites, received=status)
            if self.on_revoke is not None:
                self.on_revoke(ieee)
        return []

    # -- this ESI as initiator (a re-key) -----------------------------------------------

    def partner_endpoint(self, ieee: t.EUI64) -> int | None:
        """The endpoint ``ieee`` ran its own key establishment from (its Key
        Establishment client and server share it on a Smart Energy device), if known."""
        return self._partner_endpoints.get(bytes(t.EUI64(ieee)))

    def _party(self, role: type[_P], identity: CertificateSet, ieee: t.EUI64) -> _P:
        """Our side of one exchange with ``ieee``, as responder or initiator."""
        return role(identity.suite, identity.certificate, identity.private_key, identity.ca_public_key,
                    eui64_to_cert(ieee), {identity.issuer}, random=self.random, now=self.clock,
                    generate_times=self.generate_times, wait_time=self.wait_time)

    def initiate(self, ieee: t.EUI64, *, suite: Suite | int | None = None) -> Message:
        """Start CBKE with ``ieee`` as the initiator (U); returns the
        InitiateKeyEstablishmentRequest to send to its Key Establishment server
        (client to server, without APS encryption).  Its responses come back
        to this endpoint's client side.  The partner's link key and authorisation
        stay as they are until the exchange succeeds.

        ``suite``: the one to use; by default the suite of the partner's last
        completed exchange, else the lowest offered.  KeyEstablishmentBusy when
        an exchange with ``ieee`` runs; ValueError for a suite not offered."""
        now = self.clock.now()
        self.expire(now)
        ieee = t.EUI64(ieee)
        if ieee in self._sessions or ieee in self._initiated:
            raise KeyEstablishmentBusy(f"key establishment with {ieee} is already under way")
        if suite is None:
            used = [o.suite for o in self.outcomes if o.established and o.ieee == ieee and o.suite in self.identities]
            suite = used[-1] if used else min(self.identities)
        identity = self.identities.get(Suite(suite)) if int(suite) in {int(s) for s in Suite} else None
        if identity is None:
            raise ValueError(f"suite 0x{int(suite):04X} is not offered")
        initiator = self._party(Initiator, identity, ieee)
        self._confirming.pop(ieee, None)
        message = initiator.start()
        self._initiated[ieee] = _Initiation(initiator, now + self.slack)
        LOGGER.info("key establishment with %s started by us (suite %d)", ieee, identity.suite.number)
        return message

    def _on_response(self, request: ZclRequest) -> list[ZclReply]:
        """A response (or Terminate) from a partner this ESI initiated with: the next
        request goes back to its Key Establishment server; success installs the key."""
        now = self.clock.now()
        self.expire(now)
        ieee = self._ieee_of_address(request.packet.src)
        initiation = self._initiated.get(ieee) if ieee is not None else None
        if initiation is None:
            if request.command_id == Command.TERMINATE_KEY_ESTABLISHMENT:
                return []
            LOGGER.info("key establishment response 0x%02X from %s outside an exchange we started",
                        request.command_id, ieee)
            return [self._terminate(TerminateStatus.BAD_MESSAGE)]
        assert ieee is not None
        initiator = initiation.initiator
        answer = initiator.receive(request.command_id, request.payload)
        if request.command_id == Command.TERMINATE_KEY_ESTABLISHMENT:
            del self._initiated[ieee]
            received = initiator.received_terminate
            self._record(ieee, initiator.suite, received=None if received is None else received.status,
                         initiated=True)
            LOGGER.info("%s terminated the key establishment we started (status %s)",
                        ieee, None if received is None else received.status)
            return []
        if answer is not None and answer.is_terminate:
            del self._initiated[ieee]
            LOGGER.info("key establishment we started with %s failed: %s", ieee,
                        initiator.sent_terminate.name if initiator.sent_terminate else "?")
            self._record(ieee, initiator.suite, sent=initiator.sent_terminate, initiated=True)
            return [ZclReply(answer.command, answer.payload)]
        if initiator.state is State.SUCCEEDED:
            del self._initiated[ieee]
            key = initiator.key_data
            assert key is not None
            self._authorised.add(ieee)
            self._partner_endpoints[bytes(ieee)] = int(request.packet.src_ep or 0)
            self._record(ieee, initiator.suite, established=True, initiated=True)
            LOGGER.info("key establishment we started with %s succeeded", ieee)
            if self.on_key is not None:
                self.on_key(ieee, key)
            return []
        if answer is None:  # out of order after the end: nothing to say
            return []
        assert initiator.partner_generate_times is not None
        ephemeral, confirm = initiator.partner_generate_times
        initiation.deadline = now + (ephemeral if initiator.state is State.WAIT_EPHEMERAL_DATA else confirm) \
            + self.slack
        return [ZclReply(answer.command, answer.payload)]

    # -- helpers -------------------------------------------------------------------------

    def _ieee_of_address(self, src: t.AddrModeAddress | None, copy: bool = True) -> t.EUI64 | None:
        """The IEEE address of a packet's source; ``copy=False`` may give the
        lookup's own EUI64 (to be read only), which saves building one per request."""
        if src is None:
            return None
        if src.addr_mode == t.AddrMode.IEEE:
            return t.EUI64(src.address)
        if src.addr_mode != t.AddrMode.NWK:
            return None
        try:
            ieee = self.ieee_of(int(src.address))
        except Exception:
            LOGGER.exception("looking up the IEEE address of 0x%04X failed", int(src.address))
            return None
        if ieee is None or (not copy and type(ieee) is t.EUI64):
            return ieee
        return t.EUI64(ieee)

    def _terminate(self, status: TerminateStatus, wait_time: int | None = None) -> ZclReply:
        payload = TerminatePayload(
            status, self.wait_time if wait_time is None else wait_time, self.suites
        )
        return ZclReply(Command.TERMINATE_KEY_ESTABLISHMENT, payload.to_bytes())

    def _refuse(
        self,
        ieee: t.EUI64 | None,
        suite: int,
        status: TerminateStatus,
        why: str,
        wait_time: int | None = None,
    ) -> list[ZclReply]:
        LOGGER.info("key establishment from %s refused (%s): %s", ieee, status.name, why)
        self._record(ieee, suite, sent=status)
        return [self._terminate(status, wait_time)]

    def _failed(self, ieee: t.EUI64 | None, responder: Responder, answer: Message) -> list[ZclReply]:
        if ieee is not None:
            self._sessions.pop(ieee, None)
        status = responder.sent_terminate
        assert status is not None
        LOGGER.info("key establishment with %s failed: %s", ieee, status.name)
        self._record(ieee, responder.suite, sent=status)
        return [self._terminate(status)]

    def _record(
        self,
        ieee: t.EUI64 | None,
        suite: int,
        *,
        established: bool = False,
        sent: TerminateStatus | None = None,
        received: int | None = None,
        timed_out: bool = False,
        initiated: bool = False,
    ) -> None:
        self.outcomes.append(
            Outcome(self.clock.now(), ieee, int(suite), established, sent, received, timed_out, initiated)
        )


def ieee_from_certificate(subject: bytes) -> t.EUI64:
    """The zigpy EUI64 of a certificate subject (big-endian bytes)."""
    return t.EUI64(eui64_from_cert(subject))


class _IeeeSet:
    """A set of EUI-64s keyed by their bytes: zigpy's EUI64 hashes through
    repr(), and this set is asked about every Smart Energy request."""

    def __init__(self) -> None:
        self._items: dict[bytes, t.EUI64] = {}

    def add(self, ieee: t.EUI64) -> None:
        self._items[bytes(ieee)] = t.EUI64(ieee)

    def discard(self, ieee: t.EUI64) -> None:
        self._items.pop(bytes(ieee), None)

    def __contains__(self, ieee: object) -> bool:
        try:
            return bytes(ieee) in self._items  # type: ignore[call-overload]
        except TypeError:
            return False

    def __iter__(self):
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)
