"""Smart Energy implicit (ECQV) certificates, suite 1 (48 bytes) and suite 2 (74 bytes).

An implicit certificate carries no signature: the holder's public key is
*reconstructed* from the certificate and the CA public key (Q = e*B + Q_CA,
e = AES-MMO of the whole certificate), so a forged certificate simply yields
a key whose owner cannot finish key confirmation.  EUI-64s appear in
certificates big-endian (the reverse of their over-the-air order); this
module keeps them as 8 big-endian bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum
from typing import ClassVar

from construct import Bytes, BytesInteger, Int8ub, Int32ub, Struct

from han_emu.crypto.curves import SECT163K1, SECT283K1, Curve, InvalidPoint, MaybePoint, Point
from han_emu.crypto.mmo import aes_mmo

NEVER_EXPIRES = 0xFFFFFFFF
"""Suite-2 valid-to value meaning the certificate does not expire."""

TEST_CA_ISSUER = bytes.fromhex("5445535453454341")
"""Issuer of the Smart Energy test certificates ("TESTSECA")."""


class KeyUsage(IntEnum):
    """Suite-2 key-usage bits."""

    DIGITAL_SIGNATURE = 0x80
    KEY_AGREEMENT = 0x08


SUITE1_LAYOUT = Struct(
    "reconstruction" / Bytes(22),
    "subject" / Bytes(8),
    "issuer" / Bytes(8),
    "profile_data" / Bytes(10),
)

SUITE2_LAYOUT = Struct(
    "type" / Int8ub,
    "serial" / Bytes(8),
    "curve" / Int8ub,
    "hash" / Int8ub,
    "issuer" / Bytes(8),
    "valid_from" / BytesInteger(5),
    "valid_to" / Int32ub,
    "subject" / Bytes(8),
    "key_usage" / Int8ub,
    "reconstruction" / Bytes(37),
)


class CertificateError(ValueError):
    """A certificate of the wrong size or with an unusable field."""


def _check_eui(name: str, value: bytes) -> None:
    if len(value) != 8:
        raise CertificateError(f"{name} must be 8 bytes")


@dataclass(frozen=True)
class Suite1Certificate:
    """48-byte sect163k1 certificate (Smart Energy crypto suite 1)."""

    reconstruction: bytes
    subject: bytes
    issuer: bytes
    profile_data: bytes

    LENGTH: ClassVar[int] = 48
    curve: ClassVar[Curve] = SECT163K1
    suite: ClassVar[int] = 1

    @classmethod
    def parse(cls, data: bytes) -> Suite1Certificate:
        if len(data) != cls.LENGTH:
            raise CertificateError(f"suite-1 certificate is {cls.LENGTH} bytes, got {len(data)}")
        c = SUITE1_LAYOUT.parse(data)
        return cls(c.reconstruction, c.subject, c.issuer, c.profile_data)

    def to_bytes(self) -> bytes:
        _check_eui("subject", self.subject)
        _check_eui("issuer", self.issuer)
        return bytes(
            SUITE1_LAYOUT.build(
                {
                    "reconstruction": self.reconstruction,
                    "subject": self.subject,
                    "issuer": self.issuer,
                    "profile_data": self.profile_data,
                }
            )
        )

    def is_valid_at(self, now: float) -> bool:  # noqa: ARG002 - same interface as suite 2
        """Suite-1 certificates carry no validity period."""
        return True

    @property
    def allows_key_agreement(self) -> bool:
        return True


@dataclass(frozen=True)
class Suite2Certificate:
    """74-byte sect283k1 certificate (Smart Energy crypto suite 2)."""

    serial: bytes
    issuer: bytes
    valid_from: int
    valid_to: int
    subject: bytes
    key_usage: int
    reconstruction: bytes
    type: int = 0x00
    curve_id: int = 0x0D
    hash_id: int = 0x08

    LENGTH: ClassVar[int] = 74
    CURVE_SECT283K1: ClassVar[int] = 0x0D
    HASH_AES_MMO: ClassVar[int] = 0x08
    curve: ClassVar[Curve] = SECT283K1
    suite: ClassVar[int] = 2

    @classmethod
    def parse(cls, data: bytes) -> Suite2Certificate:
        if len(data) != cls.LENGTH:
            raise CertificateError(f"suite-2 certificate is {cls.LENGTH} bytes, got {len(data)}")
        c = SUITE2_LAYOUT.parse(data)
        return cls(
            serial=c.serial,
            issuer=c.issuer,
            valid_from=c.valid_from,
            valid_to=c.valid_to,
            subject=c.subject,
            key_usage=c.key_usage,
            reconstruction=c.reconstruction,
            type=c.type,
            curve_id=c.curve,
            hash_id=c.hash,
        )

    def to_bytes(self) -> bytes:
        _check_eui("subject", self.subject)
        _check_eui("issuer", self.issuer)
        return bytes(
            SUITE2_LAYOUT.build(
                {
                    "type": self.type,
                    "serial": self.serial,
                    "curve": self.curve_id,
                    "hash": self.hash_id,
                    "issuer": self.issuer,
                    "valid_from": self.valid_from,
                    "valid_to": self.valid_to,
                    "subject": self.subject,
                    "key_usage": self.key_usage,
                    "reconstruction": self.reconstruction,
                }
            )
        )

    @property
    def expires_at(self) -> int | None:
        """Last valid second (POSIX), or None for a certificate that never expires."""
        if self.valid_to == NEVER_EXPIRES:
            return None
        return self.valid_from + self.valid_to

    def is_valid_at(self, now: float) -> bool:
        if now < self.valid_from:
            return False
        expires = self.expires_at
        return expires is None or now <= expires

    @property
    def allows_key_agreement(self) -> bool:
        return bool(self.key_usage & KeyUsage.KEY_AGREEMENT)

    @property
    def is_supported_format(self) -> bool:
        """Type 0, curve sect283k1 and hash AES-MMO: the only combination defined."""
        return (
            self.type == 0x00
            and self.curve_id == self.CURVE_SECT283K1
            and self.hash_id == self.HASH_AES_MMO
        )


Certificate = Suite1Certificate | Suite2Certificate

CERTIFICATE_TYPES: dict[int, type[Suite1Certificate] | type[Suite2Certificate]] = {
    1: Suite1Certificate,
    2: Suite2Certificate,
}


def parse_certificate(suite: int, data: bytes) -> Certificate:
    """Parse ``data`` as a certificate of crypto suite ``suite`` (1 or 2)."""
    try:
        cls = CERTIFICATE_TYPES[suite]
    except KeyError:
        raise CertificateError(f"unknown crypto suite {suite}") from None
    return cls.parse(data)


def reconstruct_public_key(certificate: Certificate, ca_public_key: Point) -> Point:
    """ECQV public-key reconstruction: Q = e*B + Q_CA with e = AES-MMO(certificate).

    Raises ``InvalidPoint`` when the reconstruction point is not on the curve
    or the result is unusable (the point at infinity).
    """
    curve = certificate.curve
    b = curve.public_key(certificate.reconstruction)
    e = int.from_bytes(aes_mmo(certificate.to_bytes()), "big")
    q: MaybePoint = curve.add(curve.multiply(e, b), ca_public_key)
    if q is None:
        raise InvalidPoint("reconstructed public key is the point at infinity")
    return q


def issue_certificate(
    template: Certificate, ca_private_key: int, nonce: int
) -> tuple[Certificate, int]:
    """Act as a test CA: issue ``template`` with a fresh reconstruction point.

    ``nonce`` stands for the sum of the requester's and the CA's ECQV random
    values: B = nonce*G, and the holder's private key is
    d = e*nonce + d_CA mod n, so that d*G = e*B + Q_CA.  Lets tests and the
    emulator mint certificates for any EUI-64 (published test material
    covers only a few addresses).  Returns the certificate and d.
    """
    curve = template.curve
    nonce %= curve.n
    if nonce == 0:
        raise ValueError("nonce must not be a multiple of n")
    b = curve.base_multiply(nonce)
    cert = replace(template, reconstruction=curve.compress(b))
    e = int.from_bytes(aes_mmo(cert.to_bytes()), "big")
    return cert, (e * nonce + ca_private_key) % curve.n
