"""The CBKE and ECC libraries of an emulated EmberZNet NCP.

A Smart Energy NCP image carries Certicom's CBKE/ECC libraries and keeps its
certificate, private key and CA public key in manufacturing tokens; the host
never sees the private key.  It asks the NCP for an ephemeral key pair
(generateCbkeKeys), for both key-confirmation MACs once the partner's
certificate and ephemeral key are known (calculateSmacs), and finally tells it
to keep or drop the derived link key (clearTemporaryDataMaybeStoreLinkKey).
This module does that arithmetic with :mod:`han_emu.crypto`, so the fake NCP
can stand in for such an image; without certificate sets the libraries are
stubs, as on an ordinary coordinator image.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from han_emu.crypto.certsets import CertificateSet, eui64_from_cert
from han_emu.crypto.cbke import Suite
from han_emu.crypto.certificates import CertificateError, parse_certificate, reconstruct_public_key
from han_emu.crypto.curves import InvalidPoint, Point
from han_emu.crypto.ecmqv import kdf, mac_u, mac_v, shared_secret

# EmberLibraryId values (stack/include/library.h).
CBKE_LIBRARY_ID = 0x06
ECC_LIBRARY_ID = 0x08
CBKE_LIBRARY_283K1_ID = 0x0D
ECC_LIBRARY_283K1_ID = 0x0E

LIBRARY_PRESENT = 0x80
LIBRARY_IS_STUB = 0x00

#: Which suite each CBKE/ECC library serves.
LIBRARY_SUITES = {
    CBKE_LIBRARY_ID: Suite.SUITE_1,
    ECC_LIBRARY_ID: Suite.SUITE_1,
    CBKE_LIBRARY_283K1_ID: Suite.SUITE_2,
    ECC_LIBRARY_283K1_ID: Suite.SUITE_2,
}


class CbkeFailure(Exception):
    """The library refused: no certificate for the suite, or bad partner data."""


@dataclass(frozen=True)
class Smacs:
    """What calculateSmacs derives: both MACs, and the key kept until cleared."""

    initiator: bytes
    responder: bytes
    key_data: bytes
    #: The partner's EUI-64 as a zigpy EUI64 takes it (little-endian bytes).
    partner_eui64: bytes


class NcpCbkeLibrary:
    """One NCP's CBKE state: certificates by suite and the exchange in progress."""

    def __init__(
        self,
        identities: Iterable[CertificateSet] = (),
        *,
        random: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self.identities: dict[Suite, CertificateSet] = {c.suite: c for c in identities}
        self.random = random
        self._ephemeral: dict[Suite, tuple[int, Point]] = {}
        self._pending: dict[Suite, Smacs] = {}
        #: Every key a clearTemporaryDataMaybeStoreLinkKey(True) kept: (partner, key).
        self.stored: list[tuple[bytes, bytes]] = []

    def library_status(self, library_id: int) -> int:
        suite = LIBRARY_SUITES.get(library_id)
        if suite is not None and suite in self.identities:
            return LIBRARY_PRESENT
        return LIBRARY_IS_STUB

    def certificate(self, suite: Suite) -> bytes:
        identity = self.identities.get(suite)
        if identity is None:
            raise CbkeFailure(f"no certificate for suite {suite.number}")
        return identity.certificate

    def generate_keys(self, suite: Suite) -> bytes:
        """A fresh ephemeral key pair; returns the compressed public key."""
        identity = self._identity(suite)
        curve = identity.curve
        mask = (1 << curve.n.bit_length()) - 1
        while True:
            r = int.from_bytes(self.random(curve.scalar_length), "big") & mask
            if 1 <= r < curve.n:
                break
        public = curve.base_multiply(r)
        self._ephemeral[suite] = (r, public)
        self._pending.pop(suite, None)
        return curve.compress(public)

    def calculate_smacs(
        self, suite: Suite, am_initiator: bool, partner_certificate: bytes, partner_ephemeral: bytes
    ) -> Smacs:
        """ECMQV with the token private key, then the KDF and both MACs."""
        identity = self._identity(suite)
        if suite not in self._ephemeral:
            raise CbkeFailure("calculateSmacs before generateCbkeKeys")
        curve = identity.curve
        r, public = self._ephemeral[suite]
        try:
            cert = parse_certificate(suite.number, bytes(partner_certificate))
            peer_static = reconstruct_public_key(cert, identity.ca_point)
            peer_ephemeral = curve.public_key(bytes(partner_ephemeral))
            z = shared_secret(
                curve,
                int.from_bytes(identity.private_key, "big"),
                r,
                public,
                peer_static,
                peer_ephemeral,
            )
        except (CertificateError, InvalidPoint, ValueError) as exc:
            raise CbkeFailure(f"partner data unusable: {exc}") from None
        keys = kdf(z)
        own_qe, peer_qe = curve.compress(public), bytes(partner_ephemeral)
        if am_initiator:
            ids = (identity.subject, cert.subject, own_qe, peer_qe)
        else:
            ids = (cert.subject, identity.subject, peer_qe, own_qe)
        smacs = Smacs(
            initiator=mac_u(keys.mac_key, *ids),
            responder=mac_v(keys.mac_key, *ids),
            key_data=keys.key_data,
            partner_eui64=eui64_from_cert(cert.subject),
        )
        self._pending[suite] = smacs
        return smacs

    def clear(self, suite: Suite, store: bool) -> Smacs | None:
        """Forget the exchange's temporary data; returns it when the key is kept."""
        self._ephemeral.pop(suite, None)
        smacs = self._pending.pop(suite, None)
        if store and smacs is None:
            raise CbkeFailure("no derived key to store")
        if not store:
            return None
        assert smacs is not None
        self.stored.append((smacs.partner_eui64, smacs.key_data))
        return smacs

    def _identity(self, suite: Suite) -> CertificateSet:
        identity = self.identities.get(suite)
        if identity is None:
            raise CbkeFailure(f"no CBKE library for suite {suite.number}")
        return identity
