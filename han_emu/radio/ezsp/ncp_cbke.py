"""CBKE on the EmberZNet NCP itself: the Key Establishment responder for NCP images
that carry the Smart Energy CBKE/ECC libraries and a certificate.

Such an NCP holds its private key in manufacturing tokens that the host cannot
read, so the software responder (:class:`~han_emu.server.key_establishment.KeyEstablishmentServer`)
cannot run; instead the host runs the Key Establishment cluster's message flow
and lets the NCP do the arithmetic, as Silicon Labs' key-establishment plugin
does:

1. InitiateKeyEstablishment: the host checks the partner's certificate (suite,
   issuer, subject = sender) and answers with the NCP's own (getCertificate).
2. EphemeralData: generateCbkeKeys gives our ephemeral key (generateCbkeKeysHandler);
   calculateSmacs with the partner's certificate and ephemeral key gives both
   confirmation MACs (calculateSmacsHandler).
3. ConfirmKeyData: the partner's MACU must equal the initiator SMAC; then
   clearTemporaryDataMaybeStoreLinkKey(true) puts KeyData in the NCP's key
   table as the partner's link key, and MACV goes back.

The 283k1 commands serve suite 2.  The NCP keeps one exchange's temporary
data per suite, so exchanges run one at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import bellows.types as bt
import zigpy.types as t

from clusters.ids import KEY_ESTABLISHMENT, SE_PROFILE_ID
from han_emu.crypto.certsets import eui64_to_cert
from han_emu.crypto.cbke import InitiatePayload, Suite, TerminatePayload, TerminateStatus
from han_emu.crypto.certificates import Certificate, CertificateError, Suite2Certificate, parse_certificate

LOGGER = logging.getLogger(__name__)

# EmberLibraryId values (stack/include/library.h) and the "present" bit of a status.
CBKE_LIBRARY_ID = 0x06
ECC_LIBRARY_ID = 0x08
CBKE_LIBRARY_283K1_ID = 0x0D
ECC_LIBRARY_283K1_ID = 0x0E
LIBRARY_PRESENT_MASK = 0x80
LIBRARY_ERROR = 0xFF

#: Per suite: the libraries it needs, the commands and handler callbacks.
SUITE_COMMANDS: dict[Suite, dict[str, Any]] = {
    Suite.SUITE_1: {
        "libraries": (CBKE_LIBRARY_ID, ECC_LIBRARY_ID),
        "certificate": "getCertificate",
        "generate": "generateCbkeKeys",
        "generated": "generateCbkeKeysHandler",
        "smacs": "calculateSmacs",
        "smacs_done": "calculateSmacsHandler",
        "clear": "clearTemporaryDataMaybeStoreLinkKey",
        "point": 22,
    },
    Suite.SUITE_2: {
        "libraries": (CBKE_LIBRARY_283K1_ID, ECC_LIBRARY_283K1_ID),
        "certificate": "getCertificate283k1",
        "generate": "generateCbkeKeys283k1",
        "generated": "generateCbkeKeysHandler283k1",
        "smacs": "calculateSmacs283k1",
        "smacs_done": "calculateSmacsHandler283k1",
        "clear": "clearTemporaryDataMaybeStoreLinkKey283k1",
        "point": 37,
    },
}
HANDLERS = frozenset(c[k] for c in SUITE_COMMANDS.values() for k in ("generated", "smacs_done"))

#: (EphemeralDataGenerateTime, ConfirmKeyGenerateTime) advertised, in seconds:
#: an NCP's ECC arithmetic takes a second or two on a Cortex-M.
GENERATE_TIMES = (10, 10)
#: Seconds to wait for a library handler before giving up on the exchange.
HANDLER_TIMEOUT = 20.0
#: Seconds a partner may stay silent mid-exchange before it is dropped.
EXCHANGE_TIMEOUT = 30.0
WAIT_TIME = 10

_OK = (bt.sl_Status.OK, bt.sl_Status.IN_PROGRESS)


def sl_status(status: Any) -> bt.sl_Status:
    """A status as ``sl_Status``: EZSP v14 and later send those, earlier
    versions an EmberStatus byte (a v14 IN_PROGRESS read as an EmberStatus
    byte would be INCOMPATIBLE_STATIC_MEMORY_DEFINITIONS)."""
    if isinstance(status, bt.sl_Status):
        return status
    return bt.sl_Status.from_ember_status(bt.EmberStatus(t.uint8_t(status)))


async def probe_ncp_cbke(ezsp: Any) -> dict[Suite, bytes]:
    """The suites whose CBKE and ECC libraries the NCP has, with the certificate
    it holds for each; empty for an ordinary coordinator image."""
    found: dict[Suite, bytes] = {}
    for suite, spec in SUITE_COMMANDS.items():
        try:
            for library in spec["libraries"]:
                (status,) = await ezsp.getLibraryStatus(libraryId=library)
                if int(status) == LIBRARY_ERROR or not int(status) & LIBRARY_PRESENT_MASK:
                    raise LookupError(f"library 0x{library:02X} is a stub")
            status, cert = await getattr(ezsp, spec["certificate"])()
        except Exception as exc:  # old firmware answers invalidCommand: no CBKE there
            LOGGER.debug("No NCP CBKE for suite %d: %r", suite.number, exc)
            continue
        raw = bytes(cert)
        if sl_status(status) != bt.sl_Status.OK or raw in (bytes(len(raw)), b"\xff" * len(raw)):
            LOGGER.debug("The NCP has the suite-%d libraries but no certificate", suite.number)
            continue
        found[suite] = raw
    return found


class NcpCbkeError(Exception):
    """The NCP's CBKE library failed or did not answer."""


@dataclass
class _Exchange:
    ieee: t.EUI64
    suite: Suite
    partner: Certificate
    deadline: float
    state: str = "wait-ephemeral"
    initiator_smac: bytes = b""
    responder_smac: bytes = b""


@dataclass
class NcpKeyEstablishment:
    """The Key Establishment server side for an NCP that does CBKE itself.

    ``ezsp`` returns the live bellows EZSP object; ``ieee_of(nwk)`` the sender's
    IEEE address; ``on_established(ieee)`` is awaited after the NCP stored a
    partner's new link key.
    """

    ezsp: Callable[[], Any]
    certificates: dict[Suite, bytes]
    ieee_of: Callable[[int], t.EUI64 | None]
    on_established: Callable[[t.EUI64], Any] | None = None
    handler_timeout: float = HANDLER_TIMEOUT
    exchange_timeout: float = EXCHANGE_TIMEOUT
    authorised: set[t.EUI64] = field(default_factory=set)
    _exchange: _Exchange | None = None
    _waiting: dict[str, asyncio.Future[list[Any]]] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def suites(self) -> int:
        """The KeyEstablishmentSuite bitmap this NCP offers."""
        bits = 0
        for suite in self.certificates:
            bits |= int(suite)
        return bits

    def issuers(self) -> dict[Suite, bytes]:
        return {s: parse_certificate(s.number, c).issuer for s, c in self.certificates.items()}

    # -- the NCP's callbacks ---------------------------------------------------
    def callback(self, frame_name: str, args: list[Any]) -> bool:
        """Take a CBKE handler callback; False for frames that are not ours."""
        if frame_name not in HANDLERS:
            return False
        future = self._waiting.pop(frame_name, None)
        if future is not None and not future.done():
            future.set_result(list(args))
        else:
            LOGGER.debug("Unexpected %s from the NCP", frame_name)
        return True

    async def _call(self, command: str, handler: str, **kwargs: Any) -> list[Any]:
        """Issue a library command and wait for its handler callback."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._waiting[handler] = future
        try:
            (status,) = await getattr(self.ezsp(), command)(**kwargs)
            if sl_status(status) not in _OK:
                raise NcpCbkeError(f"{command}: {sl_status(status).name}")
            async with asyncio.timeout(self.handler_timeout):
                args = await future
        except TimeoutError:
            raise NcpCbkeError(f"{handler} did not come") from None
        finally:
            self._waiting.pop(handler, None)
        if sl_status(args[0]) != bt.sl_Status.OK:
            raise NcpCbkeError(f"{handler}: status {args[0]!r}")
        return args[1:]

    async def _clear(self, suite: Suite, store: bool) -> None:
        (status,) = await getattr(self.ezsp(), SUITE_COMMANDS[suite]["clear"])(storeLinkKey=store)
        if sl_status(status) != bt.sl_Status.OK:
            raise NcpCbkeError(f"{SUITE_COMMANDS[suite]['clear']}: status {status!r}")

    # -- the cluster -------------------------------------------------------------
    async def handle(self, packet: t.ZigbeePacket) -> list[t.ZigbeePacket]:
        """Answer one Key Establishment frame (replies go out without APS encryption)."""
        data = _payload(packet)
        if len(data) < 3:
            return []
        fc = data[0]
        offset = 3 if fc & 0x04 else 1
        if len(data) < offset + 2 or fc & 0x08:  # server-to-client frames are not for us
            return []
        tsn, command, payload = data[offset], data[offset + 1], data[offset + 2:]
        if fc & 0x03 == 0x00:
            return self._general(packet, tsn, command, payload)
        if fc & 0x03 != 0x01:
            return []
        async with self._lock:
            try:
                answer = await self._step(packet, command, payload)
            except NcpCbkeError as exc:
                LOGGER.warning("CBKE on the NCP failed: %s", exc)
                await self._abandon()
                answer = self._terminate(TerminateStatus.NO_RESOURCES)
        if answer is None:
            return []
        cmd, body = answer
        return [_reply(packet, bytes([0x19, tsn, cmd]) + body)]

    def _general(self, packet: t.ZigbeePacket, tsn: int, command: int, payload: bytes) -> list[t.ZigbeePacket]:
        """Read Attributes of KeyEstablishmentSuite (0x0000); others unsupported."""
        if command != 0x00:
            return []
        records = b""
        for i in range(0, len(payload) - 1, 2):
            attr = int.from_bytes(payload[i:i + 2], "little")
            if attr == 0x0000:
                records += attr.to_bytes(2, "little") + b"\x00\x19" + self.suites.to_bytes(2, "little")
            else:
                records += attr.to_bytes(2, "little") + b"\x86"
        return [_reply(packet, bytes([0x18, tsn, 0x01]) + records)]

    def _terminate(self, status: TerminateStatus, wait: int = WAIT_TIME) -> tuple[int, bytes]:
        return 0x03, TerminatePayload(status, wait, self.suites).to_bytes()

    async def _abandon(self) -> None:
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            try:
                await self._clear(exchange.suite, False)
            except Exception as exc:
                LOGGER.debug("Clearing the NCP's CBKE data failed: %r", exc)

    async def _step(self, packet: t.ZigbeePacket, command: int, payload: bytes) -> tuple[int, bytes] | None:
        now = time.monotonic()
        if self._exchange is not None and now >= self._exchange.deadline:
            LOGGER.info("CBKE with %s timed out", self._exchange.ieee)
            await self._abandon()
        src = packet.src
        ieee = self.ieee_of(int(src.address)) if src is not None and src.addr_mode == t.AddrMode.NWK else None
        if ieee is None and src is not None and src.addr_mode == t.AddrMode.IEEE:
            ieee = t.EUI64(src.address)
        exchange = self._exchange
        if command == 0x03:  # the partner gave up
            if exchange is not None and exchange.ieee == ieee:
                await self._abandon()
            elif ieee is not None and ieee in self.authorised:
                self.authorised.discard(ieee)  # it refused our MACV: the key is void
            return None
        if command == 0x00:
            return await self._initiate(ieee, payload, now)
        if exchange is None or exchange.ieee != ieee:
            return self._terminate(TerminateStatus.BAD_MESSAGE)
        exchange.deadline = now + self.exchange_timeout
        spec = SUITE_COMMANDS[exchange.suite]
        if command == 0x01 and exchange.state == "wait-ephemeral":
            if len(payload) != spec["point"]:
                await self._abandon()
                return self._terminate(TerminateStatus.BAD_MESSAGE)
            (ours,) = await self._call(spec["generate"], spec["generated"])
            u_smac, v_smac = await self._call(
                spec["smacs"], spec["smacs_done"], amInitiator=False,
                partnerCertificate=list(exchange.partner.to_bytes()), partnerEphemeralPublicKey=list(payload),
            )
            exchange.initiator_smac, exchange.responder_smac = bytes(u_smac), bytes(v_smac)
            exchange.state = "wait-confirm"
            return 0x01, bytes(ours)
        if command == 0x02 and exchange.state == "wait-confirm":
            if payload != exchange.initiator_smac:
                await self._abandon()
                return self._terminate(TerminateStatus.BAD_KEY_CONFIRM)
            await self._clear(exchange.suite, True)
            self._exchange = None
            self.authorised.add(exchange.ieee)
            LOGGER.info("CBKE with %s done on the NCP (suite %d)", exchange.ieee, exchange.suite.number)
            if self.on_established is not None:
                result = self.on_established(exchange.ieee)
                if asyncio.iscoroutine(result):
                    await result
            return 0x02, exchange.responder_smac
        await self._abandon()
        return self._terminate(TerminateStatus.BAD_MESSAGE)

    async def _initiate(self, ieee: t.EUI64 | None, payload: bytes, now: float) -> tuple[int, bytes]:
        try:
            initiate = InitiatePayload.parse(payload)
        except ValueError:
            return self._terminate(TerminateStatus.BAD_MESSAGE)
        running = self._exchange
        if running is not None and running.ieee != ieee:
            wait = max(1, min(255, int(running.deadline - now) + 1))
            return self._terminate(TerminateStatus.NO_RESOURCES, wait)
        if running is not None:
            await self._abandon()  # the same partner starts over
        try:
            suite = Suite(initiate.suite)
        except ValueError:
            return self._terminate(TerminateStatus.UNSUPPORTED_SUITE)
        if suite not in self.certificates:
            return self._terminate(TerminateStatus.UNSUPPORTED_SUITE)
        if ieee is None:
            return self._terminate(TerminateStatus.INVALID_CERTIFICATE)
        try:
            partner = parse_certificate(suite.number, initiate.certificate)
        except CertificateError:
            return self._terminate(TerminateStatus.BAD_MESSAGE)
        if partner.issuer != self.issuers()[suite]:
            return self._terminate(TerminateStatus.UNKNOWN_ISSUER)
        if partner.subject != eui64_to_cert(ieee):
            return self._terminate(TerminateStatus.INVALID_CERTIFICATE)
        if isinstance(partner, Suite2Certificate) and not partner.is_supported_format:
            return self._terminate(TerminateStatus.INVALID_CERTIFICATE)
        if not partner.allows_key_agreement or not partner.is_valid_at(time.time()):
            return self._terminate(TerminateStatus.INVALID_CERTIFICATE)
        self.authorised.discard(ieee)
        self._exchange = _Exchange(ieee, suite, partner, now + self.exchange_timeout)
        eph, confirm = GENERATE_TIMES
        return 0x00, InitiatePayload(suite, eph, confirm, self.certificates[suite]).to_bytes()


def _payload(packet: t.ZigbeePacket) -> bytes:
    data = packet.data
    return bytes(data.value if hasattr(data, "value") else data)


def _reply(request: t.ZigbeePacket, frame: bytes) -> t.ZigbeePacket:
    return t.ZigbeePacket(
        src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(0x0000)),
        src_ep=request.dst_ep,
        dst=request.src,
        dst_ep=request.src_ep,
        tsn=t.uint8_t(frame[1]),
        profile_id=t.uint16_t(SE_PROFILE_ID),
        cluster_id=t.uint16_t(KEY_ESTABLISHMENT),
        data=t.SerializableBytes(frame),
        tx_options=t.TransmitOptions.ACK,
    )
