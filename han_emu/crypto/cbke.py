"""Certificate-Based Key Establishment as two pure state machines.

The Key Establishment cluster (0x0800) runs CBKE in three round trips:
InitiateKeyEstablishment (certificates), EphemeralData (ephemeral public
keys) and ConfirmKeyData (MACU / MACV), any of which may be answered with
TerminateKeyEstablishment.  ``Initiator`` plays the client (the joining IHD,
U) and ``Responder`` the server (trust centre / ESI, V).  Both consume and
produce only the *payload bytes* of those commands, so the same code runs
behind the virtual air, a real radio or a unit test, with no I/O or asyncio.

On success both sides expose ``key_data``: the 16-byte key that becomes the
new APS link key between them.  The curve arithmetic underneath is not
constant-time (fine for an emulator, not for production keys).
"""

from __future__ import annotations

import hmac
import math
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import Enum, IntEnum

from clusters.key_establishment import KeyEstablishment, KeyEstablishmentSuite, Mac
from clusters.key_establishment import TerminateStatus as _TerminateStatus
from han_emu.meter.clock import Clock
from han_emu.crypto.certificates import (
    Certificate,
    CertificateError,
    Suite2Certificate,
    parse_certificate,
    reconstruct_public_key,
)
from han_emu.crypto.curves import Curve, InvalidPoint, Point
from han_emu.crypto.ecmqv import kdf, mac_u, mac_v, shared_secret

MAC_LENGTH = Mac.LENGTH
_REQUESTS = KeyEstablishment.ServerCommandDefs
_INITIATE = _REQUESTS.initiate_key_establishment_request.schema
_TERMINATE = _REQUESTS.terminate_key_establishment.schema


class Suite(IntEnum):
    """KeyEstablishmentSuite values (bitmap16; one bit per crypto suite)."""

    SUITE_1 = int(KeyEstablishmentSuite.CBKE_ECMQV_163K1)  # sect163k1, 48-byte certificates
    SUITE_2 = int(KeyEstablishmentSuite.CBKE_ECMQV_283K1)  # sect283k1, 74-byte certificates

    @property
    def number(self) -> int:
        return 1 if self is Suite.SUITE_1 else 2


class Command(IntEnum):
    """Key Establishment command ids (the same ids serve both directions)."""

    INITIATE_KEY_ESTABLISHMENT = _REQUESTS.initiate_key_establishment_request.id
    EPHEMERAL_DATA = _REQUESTS.ephemeral_data_request.id
    CONFIRM_KEY_DATA = _REQUESTS.confirm_key_data_request.id
    TERMINATE_KEY_ESTABLISHMENT = _REQUESTS.terminate_key_establishment.id


class TerminateStatus(IntEnum):
    """TerminateKeyEstablishment status codes, as the cluster definition numbers them."""

    UNKNOWN_ISSUER = _TerminateStatus.Unknown_Issuer.value
    BAD_KEY_CONFIRM = _TerminateStatus.Bad_Key_Confirm.value
    BAD_MESSAGE = _TerminateStatus.Bad_Message.value
    NO_RESOURCES = _TerminateStatus.No_Resources.value
    UNSUPPORTED_SUITE = _TerminateStatus.Unsupported_Suite.value
    INVALID_CERTIFICATE = _TerminateStatus.Invalid_Certificate.value


class State(Enum):
    IDLE = "idle"
    WAIT_INITIATE = "wait-initiate"
    WAIT_EPHEMERAL_DATA = "wait-ephemeral-data"
    WAIT_CONFIRM_KEY = "wait-confirm-key"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class InitiatePayload:
    """Payload of Initiate Key Establishment Request and Response (the
    cluster definition's schema holds the layout)."""

    suite: int
    ephemeral_data_generate_time: int
    confirm_key_generate_time: int
    certificate: bytes

    @classmethod
    def parse(cls, payload: bytes) -> InitiatePayload:
        if len(payload) < 4:
            raise ValueError("initiate payload shorter than its fixed fields")
        p, _ = _INITIATE.deserialize(payload)
        return cls(
            int(p.key_establishment_suite), int(p.ephemeral_data_generate_time),
            int(p.confirm_key_generate_time), bytes(p.identity),
        )

    def to_bytes(self) -> bytes:
        return _INITIATE(
            key_establishment_suite=self.suite,
            ephemeral_data_generate_time=self.ephemeral_data_generate_time,
            confirm_key_generate_time=self.confirm_key_generate_time,
            identity=self.certificate,
        ).serialize()


@dataclass(frozen=True)
class TerminatePayload:
    """Payload of Terminate Key Establishment (both directions)."""

    status: int
    wait_time: int
    suite: int

    @classmethod
    def parse(cls, payload: bytes) -> TerminatePayload:
        p, rest = _TERMINATE.deserialize(payload)
        if rest:
            raise ValueError("terminate payload must be 4 bytes")
        return cls(int(p.status_code), int(p.wait_time), int(p.key_establishment_suite))

    def to_bytes(self) -> bytes:
        return _TERMINATE(
            status_code=self.status, wait_time=self.wait_time, key_establishment_suite=self.suite
        ).serialize()


@dataclass(frozen=True)
class Message:
    """One Key Establishment command to send: its id and payload bytes."""

    command: Command
    payload: bytes

    @property
    def is_terminate(self) -> bool:
        return self.command is Command.TERMINATE_KEY_ESTABLISHMENT

    @property
    def terminate(self) -> TerminatePayload | None:
        return TerminatePayload.parse(self.payload) if self.is_terminate else None


GENERATE_TIMES: dict[Suite, tuple[int, int]] = {
    Suite.SUITE_1: (1, 1),
    Suite.SUITE_2: (1, 1),
}
"""Advertised (EphemeralDataGenerateTime, ConfirmKeyGenerateTime) in seconds.

Measured with ``benchmarks/bench_cbke.py`` on a 2-core build machine: the
costliest step of either side (ephemeral key plus ECMQV) takes about 0.05 s
for suite 1 and 0.12 s for suite 2, as does a whole responder exchange;
rounded up to whole seconds, the unit the cluster uses.
"""

DEFAULT_WAIT_TIME = 10
"""Seconds a terminated partner is asked to wait before retrying."""


class _Abort(Exception):
    def __init__(self, status: TerminateStatus) -> None:
        super().__init__(status.name)
        self.status = status


class _Party(ABC):
    """What Initiator and Responder share: configuration, validation, keys."""

    _INITIAL_STATE = State.IDLE

    def __init__(
        self,
        suite: Suite | int,
        certificate: bytes,
        private_key: int | bytes,
        ca_public_key: bytes | Point,
        partner_eui64: bytes,
        known_issuers: Collection[bytes],
        *,
        random: Callable[[int], bytes] = secrets.token_bytes,
        now: float | Clock | Callable[[], float] | None = None,
        generate_times: tuple[int, int] | None = None,
        wait_time: int = DEFAULT_WAIT_TIME,
    ) -> None:
        self.suite = Suite(suite)
        self.own_certificate = parse_certificate(self.suite.number, certificate)
        self.curve: Curve = self.own_certificate.curve
        if isinstance(private_key, bytes):
            private_key = int.from_bytes(private_key, "big")
        if not 1 <= private_key < self.curve.n:
            raise ValueError("private key out of range")
        self._private_key = private_key
        self.ca_public_key = (
            self.curve.public_key(ca_public_key)
            if isinstance(ca_public_key, bytes)
            else ca_public_key
        )
        if len(partner_eui64) != 8:
            raise ValueError("partner EUI-64 must be 8 big-endian bytes")
        self.partner_eui64 = bytes(partner_eui64)
        self.known_issuers = frozenset(bytes(i) for i in known_issuers)
        self._random = random
        self._now = now
        self.generate_times = generate_times or GENERATE_TIMES[self.suite]
        self.wait_time = wait_time

        self.state = self._INITIAL_STATE
        self.partner_certificate: Certificate | None = None
        self.partner_generate_times: tuple[int, int] | None = None
        self.sent_terminate: TerminateStatus | None = None
        self.received_terminate: TerminatePayload | None = None
        self._partner_public: Point | None = None
        self._ephemeral_private = 0
        self._ephemeral_public: Point | None = None
        self._qe_own = b""
        self._qe_peer = b""
        self._mac_key = b""
        self._key_data = b""

    # -- public view -----------------------------------------------------

    @property
    def own_eui64(self) -> bytes:
        return self.own_certificate.subject

    @property
    def key_data(self) -> bytes | None:
        """The agreed 16-byte link key, once key confirmation has succeeded."""
        return self._key_data if self.state is State.SUCCEEDED else None

    @property
    def finished(self) -> bool:
        return self.state in (State.SUCCEEDED, State.FAILED)

    # -- helpers ---------------------------------------------------------

    def _time(self) -> float:
        now = self._now
        if now is None:
            return time.time()
        if isinstance(now, (int, float)):
            return float(now)
        if isinstance(now, Clock):
            return now.now()
        return now()

    def _initiate_payload(self) -> bytes:
        eph, confirm = self.generate_times
        return InitiatePayload(self.suite, eph, confirm, self.own_certificate.to_bytes()).to_bytes()

    def _terminate(self, status: TerminateStatus) -> Message:
        self.state = State.FAILED
        self.sent_terminate = status
        self._mac_key = b""
        self._key_data = b""
        payload = TerminatePayload(status, self.wait_time, self.suite).to_bytes()
        return Message(Command.TERMINATE_KEY_ESTABLISHMENT, payload)

    def _accept_initiate(self, payload: bytes) -> None:
        """Validate the partner's Initiate payload and reconstruct its key."""
        try:
            initiate = InitiatePayload.parse(payload)
        except ValueError:
            raise _Abort(TerminateStatus.BAD_MESSAGE) from None
        if initiate.suite != self.suite:
            raise _Abort(TerminateStatus.UNSUPPORTED_SUITE)
        try:
            cert = parse_certificate(self.suite.number, initiate.certificate)
        except CertificateError:
            raise _Abort(TerminateStatus.BAD_MESSAGE) from None
        if cert.issuer not in self.known_issuers:
            raise _Abort(TerminateStatus.UNKNOWN_ISSUER)
        if cert.subject != self.partner_eui64:
            raise _Abort(TerminateStatus.INVALID_CERTIFICATE)
        if isinstance(cert, Suite2Certificate) and not cert.is_supported_format:
            raise _Abort(TerminateStatus.INVALID_CERTIFICATE)
        if not cert.allows_key_agreement or not cert.is_valid_at(self._time()):
            raise _Abort(TerminateStatus.INVALID_CERTIFICATE)
        try:
            self._partner_public = reconstruct_public_key(cert, self.ca_public_key)
        except InvalidPoint:
            raise _Abort(TerminateStatus.INVALID_CERTIFICATE) from None
        self.partner_certificate = cert
        self.partner_generate_times = (
            initiate.ephemeral_data_generate_time,
            initiate.confirm_key_generate_time,
        )

    def _new_ephemeral(self) -> bytes:
        """Draw an ephemeral key pair from the random source (rejection sampling
        in [1, n-1]) and return its compressed public key."""
        n = self.curve.n
        mask = (1 << n.bit_length()) - 1
        while True:
            r = int.from_bytes(self._random(self.curve.scalar_length), "big") & mask
            if 1 <= r < n:
                break
        self._ephemeral_private = r
        self._ephemeral_public = self.curve.base_multiply(r)
        self._qe_own = self.curve.compress(self._ephemeral_public)
        return self._qe_own

    def _accept_ephemeral(self, payload: bytes) -> None:
        """Validate the partner's ephemeral key and derive MacKey and KeyData."""
        if len(payload) != self.curve.point_length:
            raise _Abort(TerminateStatus.BAD_MESSAGE)
        try:
            peer = self.curve.public_key(payload)
            assert self._ephemeral_public is not None and self._partner_public is not None
            z = shared_secret(
                self.curve,
                self._private_key,
                self._ephemeral_private,
                self._ephemeral_public,
                self._partner_public,
                peer,
            )
        except InvalidPoint:
            raise _Abort(TerminateStatus.BAD_MESSAGE) from None
        self._qe_peer = bytes(payload)
        keys = kdf(z)
        self._mac_key = keys.mac_key
        self._key_data = keys.key_data

    @abstractmethod
    def _ids_and_points(self) -> tuple[bytes, bytes, bytes, bytes]:
        """(ID_U, ID_V, QEU, QEV): the initiator is always U."""

    def _mac_u(self) -> bytes:
        return mac_u(self._mac_key, *self._ids_and_points())

    def _mac_v(self) -> bytes:
        return mac_v(self._mac_key, *self._ids_and_points())

    def receive(self, command: Command | int, payload: bytes) -> Message | None:
        """Handle one received Key Establishment command.

        Returns the command to send back (possibly a Terminate), or None when
        nothing is to be sent: after success, on a received Terminate, or
        once the exchange has finished.  A Terminate that arrives after this
        side succeeded (the initiator rejecting MACV) revokes ``key_data``.
        """
        if command == Command.TERMINATE_KEY_ESTABLISHMENT:
            if self.state is not State.FAILED:
                self._on_terminate(payload)
            return None
        if self.finished:
            return None
        try:
            command = Command(command)
        except ValueError:
            return self._terminate(TerminateStatus.BAD_MESSAGE)
        try:
            return self._step(command, bytes(payload))
        except _Abort as abort:
            return self._terminate(abort.status)

    def _on_terminate(self, payload: bytes) -> None:
        try:
            self.received_terminate = TerminatePayload.parse(payload)
        except ValueError:
            self.received_terminate = None
        self.state = State.FAILED
        self._mac_key = b""
        self._key_data = b""

    @abstractmethod
    def _step(self, command: Command, payload: bytes) -> Message | None:
        """Advance on an expected command or raise ``_Abort``."""


class Initiator(_Party):
    """The client side (U): the device that joined and asks for a link key.

    ``start()`` gives the Initiate Key Establishment Request; every response
    goes through ``receive()``.
    """

    def start(self) -> Message:
        if self.state is not State.IDLE:
            raise RuntimeError("key establishment already started")
        self.state = State.WAIT_INITIATE
        return Message(Command.INITIATE_KEY_ESTABLISHMENT, self._initiate_payload())

    def _ids_and_points(self) -> tuple[bytes, bytes, bytes, bytes]:
        return self.own_eui64, self.partner_eui64, self._qe_own, self._qe_peer

    def _step(self, command: Command, payload: bytes) -> Message | None:
        if self.state is State.WAIT_INITIATE and command is Command.INITIATE_KEY_ESTABLISHMENT:
            self._accept_initiate(payload)
            qe_u = self._new_ephemeral()
            self.state = State.WAIT_EPHEMERAL_DATA
            return Message(Command.EPHEMERAL_DATA, qe_u)
        if self.state is State.WAIT_EPHEMERAL_DATA and command is Command.EPHEMERAL_DATA:
            self._accept_ephemeral(payload)
            self.state = State.WAIT_CONFIRM_KEY
            return Message(Command.CONFIRM_KEY_DATA, self._mac_u())
        if self.state is State.WAIT_CONFIRM_KEY and command is Command.CONFIRM_KEY_DATA:
            if len(payload) != MAC_LENGTH:
                raise _Abort(TerminateStatus.BAD_MESSAGE)
            if not hmac.compare_digest(payload, self._mac_v()):
                raise _Abort(TerminateStatus.BAD_KEY_CONFIRM)
            self.state = State.SUCCEEDED
            return None
        # Anything else (including responses before start()) is out of order.
        raise _Abort(TerminateStatus.BAD_MESSAGE)


class Responder(_Party):
    """The server side (V): the trust centre / ESI that answers a joining device."""

    _INITIAL_STATE = State.WAIT_INITIATE

    def _ids_and_points(self) -> tuple[bytes, bytes, bytes, bytes]:
        return self.partner_eui64, self.own_eui64, self._qe_peer, self._qe_own

    def _step(self, command: Command, payload: bytes) -> Message | None:
        if self.state is State.WAIT_INITIATE and command is Command.INITIATE_KEY_ESTABLISHMENT:
            self._accept_initiate(payload)
            self.state = State.WAIT_EPHEMERAL_DATA
            return Message(Command.INITIATE_KEY_ESTABLISHMENT, self._initiate_payload())
        if self.state is State.WAIT_EPHEMERAL_DATA and command is Command.EPHEMERAL_DATA:
            if len(payload) != self.curve.point_length:
                raise _Abort(TerminateStatus.BAD_MESSAGE)
            qe_v = self._new_ephemeral()
            self._accept_ephemeral(payload)
            self.state = State.WAIT_CONFIRM_KEY
            return Message(Command.EPHEMERAL_DATA, qe_v)
        if self.state is State.WAIT_CONFIRM_KEY and command is Command.CONFIRM_KEY_DATA:
            if len(payload) != MAC_LENGTH:
                raise _Abort(TerminateStatus.BAD_MESSAGE)
            if not hmac.compare_digest(payload, self._mac_u()):
                raise _Abort(TerminateStatus.BAD_KEY_CONFIRM)
            self.state = State.SUCCEEDED
            return Message(Command.CONFIRM_KEY_DATA, self._mac_v())
        raise _Abort(TerminateStatus.BAD_MESSAGE)


def generate_time_seconds(measured: float) -> int:
    """Round a measured duration up to the whole seconds a generate time holds."""
    return max(1, math.ceil(measured))
