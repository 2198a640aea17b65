"""Certificate sets for CBKE, a built-in test CA, and the ``cert check`` logic.

A Smart Energy device carries one *certificate set* per crypto suite: its
implicit certificate, the private key that goes with it, and the public key
of the CA that issued it (the same CA must have issued its partners'
certificates).  The emulator needs certificates for any EUI-64 a simulation
invents, so :class:`TestCA` is a deterministic CA of our own that mints them;
the published ZSE Annex C suite-1 material is also available as ready-made
sets.  Nothing here talks to a radio: it is pure data and arithmetic.

Test certificates only: production GB devices carry certificates from the
production CA and will refuse these (unknown issuer or bad key confirm).
"""

from __future__ import annotations

import functools
from binascii import crc_hqx
from dataclasses import dataclass, field
from datetime import UTC, datetime

from han_emu.crypto.cbke import Suite
from han_emu.crypto.certificates import (
    NEVER_EXPIRES,
    Certificate,
    CertificateError,
    KeyUsage,
    Suite1Certificate,
    Suite2Certificate,
    issue_certificate,
    parse_certificate,
    reconstruct_public_key,
)
from han_emu.crypto.curves import SECT163K1, SECT283K1, Curve, InvalidPoint, Point
from han_emu.crypto.mmo import aes_mmo

HAN_EMU_CA_ISSUER = b"HANEMUCA"
"""Issuer id of the built-in test CA (distinct from the Annex C "TESTSECA", whose
private key is not published, so a device can tell the two apart)."""

SUITE1_PROFILE_DATA = bytes.fromhex("01090006000000000000")
"""Profile attribute data of suite-1 certificates, as in the Annex C examples."""

DEFAULT_VALID_FROM = 1_577_836_800
"""2020-01-01T00:00:00Z: start of validity of suite-2 certificates we issue."""

CURVES: dict[Suite, Curve] = {Suite.SUITE_1: SECT163K1, Suite.SUITE_2: SECT283K1}


class CertCheckError(ValueError):
    """Input to a certificate check that cannot be used (``cert check`` exit 2)."""


def eui64_to_cert(ieee: bytes | list[int]) -> bytes:
    """A zigpy ``EUI64`` (little-endian, over-the-air order) as the 8
    big-endian bytes certificates and CBKE MACs use."""
    data = bytes(ieee)
    if len(data) != 8:
        raise ValueError("an EUI-64 is 8 bytes")
    return data[::-1]


def eui64_from_cert(subject: bytes) -> bytes:
    """The inverse of :func:`eui64_to_cert`: little-endian bytes for ``EUI64(...)``."""
    if len(subject) != 8:
        raise ValueError("an EUI-64 is 8 bytes")
    return bytes(subject)[::-1]


def _suite(value: Suite | int) -> Suite:
    """Suite from the enum, the bitmap value, or the suite number (1 or 2)."""
    try:
        return Suite(value)
    except ValueError:
        raise CertCheckError(f"unknown crypto suite {value!r} (1 or 2)") from None


def _hex(name: str, text: str) -> bytes:
    cleaned = "".join(text.split()).replace(":", "").replace("-", "")
    if cleaned[:2].lower() == "0x":
        cleaned = cleaned[2:]
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise CertCheckError(f"{name}: not a hex string: {text!r}") from None


@dataclass(frozen=True)
class CertificateSet:
    """What one device needs for CBKE in one suite.

    Checked on construction: the certificate parses for the suite, the CA
    key is a point on the suite's curve, the private key lies in [1, n-1].
    Whether the private key *belongs* to the certificate is a separate
    question (:attr:`key_matches`), because ``cert check`` must be able to
    report a mismatch rather than refuse it.
    """

    suite: Suite
    ca_public_key: bytes
    certificate: bytes
    private_key: bytes
    parsed: Certificate = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        suite = _suite(self.suite)
        object.__setattr__(self, "suite", suite)
        curve = CURVES[suite]
        try:
            parsed = parse_certificate(suite.number, bytes(self.certificate))
        except CertificateError as exc:
            raise CertCheckError(f"certificate: {exc}") from None
        object.__setattr__(self, "parsed", parsed)
        if len(self.ca_public_key) != curve.point_length:
            raise CertCheckError(
                f"CA public key: suite {suite.number} needs a {curve.point_length}-byte"
                f" compressed point, got {len(self.ca_public_key)} bytes"
            )
        try:
            curve.public_key(bytes(self.ca_public_key))
        except InvalidPoint as exc:
            raise CertCheckError(f"CA public key: not a {curve.name} point ({exc})") from None
        if len(self.private_key) != curve.scalar_length:
            raise CertCheckError(
                f"private key: suite {suite.number} needs {curve.scalar_length} bytes,"
                f" got {len(self.private_key)}"
            )
        try:
            curve.scalar_from_bytes(bytes(self.private_key))
        except ValueError:
            raise CertCheckError("private key: must lie in [1, n-1] of the curve") from None

    @classmethod
    def from_hex(cls, suite: Suite | int, ca: str, certificate: str, private_key: str) -> CertificateSet:
        """Build from hex strings (spaces, colons and a 0x prefix are allowed)."""
        return cls(
            _suite(suite),
            _hex("CA public key", ca),
            _hex("certificate", certificate),
            _hex("private key", private_key),
        )

    def to_hex(self) -> dict[str, str]:
        return {
            "suite": str(self.suite.number),
            "ca": self.ca_public_key.hex().upper(),
            "cert": self.certificate.hex().upper(),
            "key": self.private_key.hex().upper(),
        }

    @property
    def curve(self) -> Curve:
        return CURVES[self.suite]

    @property
    def subject(self) -> bytes:
        """The holder's EUI-64, big-endian as in the certificate."""
        return self.parsed.subject

    @property
    def issuer(self) -> bytes:
        return self.parsed.issuer

    @property
    def ca_point(self) -> Point:
        return self.curve.public_key(self.ca_public_key)

    def reconstructed_public_key(self) -> bytes:
        """The holder's public key recovered from the certificate (ECQV), compressed.

        Raises ``CertCheckError`` when the reconstruction point is unusable.
        """
        try:
            return self.curve.compress(reconstruct_public_key(self.parsed, self.ca_point))
        except InvalidPoint as exc:
            raise CertCheckError(f"certificate: reconstruction point unusable ({exc})") from None

    def private_public_key(self) -> bytes:
        """d*G for the private key, compressed."""
        d = int.from_bytes(self.private_key, "big")
        return self.curve.compress(self.curve.base_multiply(d))

    @functools.cached_property
    def key_matches(self) -> bool:
        """True when the private key is the one the certificate was issued for."""
        return self.reconstructed_public_key() == self.private_public_key()


def _scalar(curve: Curve, label: bytes) -> int:
    """A deterministic scalar in [1, n-1] from ``label`` (AES-MMO in counter mode)."""
    out = b""
    counter = 0
    while len(out) < curve.scalar_length + 8:
        out += aes_mmo(label + counter.to_bytes(4, "big"))
        counter += 1
    return int.from_bytes(out, "big") % (curve.n - 1) + 1


@dataclass(frozen=True)
class TestCA:
    """A certificate authority for test certificates, deterministic per suite.

    Its key pair is derived from a fixed label, so every run of the emulator
    (and every test) issues the same certificate for the same EUI-64.  Anyone
    can derive the private key: these certificates prove nothing, they only
    let CBKE run end to end.
    """

    __test__ = False  # not a pytest test class

    suite: Suite
    private_key: int
    issuer: bytes = HAN_EMU_CA_ISSUER

    @classmethod
    @functools.cache
    def builtin(cls, suite: Suite | int = Suite.SUITE_1) -> TestCA:
        """The emulator's own test CA for ``suite``."""
        suite = _suite(suite)
        curve = CURVES[suite]
        return cls(suite, _scalar(curve, b"han-emu test CA, suite %d" % suite.number))

    @property
    def curve(self) -> Curve:
        return CURVES[self.suite]

    @functools.cached_property
    def public_key(self) -> bytes:
        """The CA public key, compressed (what devices are provisioned with)."""
        return self.curve.compress(self.curve.base_multiply(self.private_key))

    def issue(
        self,
        eui64: bytes,
        *,
        valid_from: int = DEFAULT_VALID_FROM,
        valid_to: int = NEVER_EXPIRES,
        key_usage: int = KeyUsage.KEY_AGREEMENT,
        serial: bytes | None = None,
    ) -> CertificateSet:
        """A certificate set for the device whose EUI-64 is ``eui64``
        (8 big-endian bytes, as :func:`eui64_to_cert` gives).  The validity
        fields apply to suite 2 only (suite-1 certificates have none)."""
        subject = bytes(eui64)
        if len(subject) != 8:
            raise ValueError("the subject EUI-64 is 8 big-endian bytes")
        template: Certificate
        if self.suite is Suite.SUITE_1:
            template = Suite1Certificate(
                reconstruction=bytes(22),
                subject=subject,
                issuer=self.issuer,
                profile_data=SUITE1_PROFILE_DATA,
            )
        else:
            template = Suite2Certificate(
                serial=serial if serial is not None else aes_mmo(b"serial" + subject)[:8],
                issuer=self.issuer,
                valid_from=valid_from,
                valid_to=valid_to,
                subject=subject,
                key_usage=key_usage,
                reconstruction=bytes(37),
            )
        nonce = _scalar(self.curve, b"han-emu nonce" + self.issuer + subject + bytes([self.suite.number]))
        cert, d = issue_certificate(template, self.private_key, nonce)
        return CertificateSet(
            self.suite,
            self.public_key,
            cert.to_bytes(),
            self.curve.scalar_to_bytes(d),
        )


# -- ZSE Annex C suite-1 example (published test material) ----------------------

ANNEX_C_CA_PUBLIC_KEY = bytes.fromhex("0200FDE8A7F3D1084224962A4E7C54E69AC3F04DA6B8")
ANNEX_C_INITIATOR_EUI64 = bytes.fromhex("0000000000000002")
ANNEX_C_RESPONDER_EUI64 = bytes.fromhex("0000000000000001")

ANNEX_C_INITIATOR = CertificateSet(
    Suite.SUITE_1,
    ANNEX_C_CA_PUBLIC_KEY,
    bytes.fromhex(
        "020615E07D30ECA2DAD58002E667D94BC1B422398307"
        "0000000000000002" "5445535453454341" "01090006000000000000"
    ),
    bytes.fromhex("01E9DDB5580CF72ECE7F215F0AE594E48DF3E7FEE8"),
)
"""Device U of Annex C (EUI-64 0000000000000002) under the "TESTSECA" test CA."""

ANNEX_C_RESPONDER = CertificateSet(
    Suite.SUITE_1,
    ANNEX_C_CA_PUBLIC_KEY,
    bytes.fromhex(
        "03045FDFC8D85FFB8B3993CB72DDCAA55F00B3E87D6D"
        "0000000000000001" "5445535453454341" "01090006000000000000"
    ),
    bytes.fromhex("00B8A900FCADEBABBFA383B540FCE9ED438395EAA7"),
)
"""Device V of Annex C (EUI-64 0000000000000001), e.g. an ESI / trust centre."""


def certificate_set_for(eui64: bytes, suite: Suite | int = Suite.SUITE_1) -> CertificateSet:
    """The certificate set a simulated device with EUI-64 ``eui64`` (big-endian)
    uses by default: the Annex C set for the two Annex C addresses in suite 1,
    else one from the built-in test CA."""
    suite = _suite(suite)
    if suite is Suite.SUITE_1:
        for known in (ANNEX_C_INITIATOR, ANNEX_C_RESPONDER):
            if known.subject == bytes(eui64):
                return known
    return TestCA.builtin(suite).issue(eui64)


# -- cert check -------------------------------------------------------------------


@dataclass(frozen=True)
class CertReport:
    """What ``cert check`` tells about one certificate and key."""

    certs: CertificateSet
    reconstructed_public_key: bytes
    private_public_key: bytes

    @property
    def matches(self) -> bool:
        return self.reconstructed_public_key == self.private_public_key

    @property
    def exit_code(self) -> int:
        """0 when the private key belongs to the certificate, 1 when it does not."""
        return 0 if self.matches else 1

    @property
    def certificate(self) -> Certificate:
        return self.certs.parsed

    def fields(self) -> dict[str, str]:
        """The certificate's fields and the check's result, as display strings."""
        cert = self.certificate
        out: dict[str, str] = {"suite": f"{self.certs.suite.number} ({self.certs.curve.name})"}
        if isinstance(cert, Suite2Certificate):
            out["type"] = f"0x{cert.type:02X}"
            out["serial"] = cert.serial.hex().upper()
            out["curve"] = f"0x{cert.curve_id:02X}"
            out["hash"] = f"0x{cert.hash_id:02X}"
        out["subject"] = _eui(cert.subject)
        out["issuer"] = _issuer(cert.issuer)
        if isinstance(cert, Suite2Certificate):
            out["valid from"] = _when(cert.valid_from)
            expires = cert.expires_at
            out["valid to"] = "never expires" if expires is None else _when(expires)
            usage = [u.name.lower().replace("_", " ") for u in KeyUsage if cert.key_usage & u]
            out["key usage"] = f"0x{cert.key_usage:02X} ({', '.join(usage) or 'none'})"
        else:
            out["profile data"] = cert.profile_data.hex().upper()
        out["reconstruction point"] = cert.reconstruction.hex().upper()
        out["public key (from certificate)"] = self.reconstructed_public_key.hex().upper()
        out["public key (from private key)"] = self.private_public_key.hex().upper()
        out["private key matches"] = "yes" if self.matches else "NO"
        return out

    def text(self) -> str:
        rows = self.fields()
        width = max(map(len, rows))
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows.items())


def _eui(subject: bytes) -> str:
    return ":".join(f"{b:02X}" for b in subject)


def _issuer(issuer: bytes) -> str:
    text = issuer.hex().upper()
    if all(0x20 <= b < 0x7F for b in issuer):
        text += f' ("{issuer.decode("ascii")}")'
    return text


def _when(seconds: int) -> str:
    try:
        stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        stamp = "out of range"
    return f"{seconds} ({stamp})"


def cert_check(suite: Suite | int, ca_hex: str, cert_hex: str, key_hex: str) -> CertReport:
    """Parse a certificate, reconstruct its public key and compare it with the
    private key's.  Raises :class:`CertCheckError` (with a message naming the
    bad input) when anything is malformed; a key that does not belong to the
    certificate is *not* an error: the report says so (exit code 1)."""
    certs = CertificateSet.from_hex(suite, ca_hex, cert_hex, key_hex)
    return CertReport(certs, certs.reconstructed_public_key(), certs.private_public_key())


_REFLECT = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))
"""Each byte with its bits in reverse order."""


def install_code_crc(code: bytes) -> bytes:
    """The 2-byte CRC an install code carries (CRC-16/X-25, little-endian).

    X-25 is the CCITT CRC that ``binascii.crc_hqx`` computes in C, with input
    and output bit-reflected, initial value and final XOR 0xFFFF (both
    unchanged by reflection); the little-endian bytes of the reflected result
    are the reflections of the unreflected CRC's bytes, high byte first.
    """
    crc = crc_hqx(bytes(code).translate(_REFLECT), 0xFFFF) ^ 0xFFFF
    return bytes((_REFLECT[crc >> 8], _REFLECT[crc & 0xFF]))


def install_code_for(eui64: bytes, length: int = 8) -> bytes:
    """A deterministic test install code (with its CRC) for a simulated device."""
    if length not in (6, 8, 12, 16):
        raise ValueError("install codes are 6, 8, 12 or 16 bytes before the CRC")
    body = aes_mmo(b"han-emu install code" + bytes(eui64))[:length]
    return body + install_code_crc(body)


@dataclass(frozen=True)
class DerivedExchange:
    """Everything one side of a CBKE exchange derives, for checking a capture;
    ``initiator`` and ``responder`` are the EUI-64s taken as U and V."""

    z: bytes
    mac_key: bytes
    key_data: bytes
    macu: bytes
    macv: bytes
    initiator: bytes = b""
    responder: bytes = b""

    def to_json(self) -> dict[str, str]:
        names = ("z", "mac_key", "key_data", "macu", "macv", "initiator", "responder")
        return {name: getattr(self, name).hex().upper() for name in names}

    def fits(self, macu: bytes | None, macv: bytes | None) -> bool:
        """True when the captured MACs given (None: not captured) are the ones derived."""
        return (macu is None or macu == self.macu) and (macv is None or macv == self.macv)


def derive_exchange(
    own: CertificateSet, own_ephemeral_key: str, peer_certificate: str, peer_ephemeral: str, *, initiator: bool
) -> DerivedExchange:
    """Recompute a CBKE exchange from one side's secrets and the peer's public
    messages (certificate and ephemeral key, as captured)."""
    from han_emu.crypto.ecmqv import kdf, mac_u, mac_v, shared_secret

    curve = own.curve
    try:
        peer = parse_certificate(own.suite.number, _hex("peer certificate", peer_certificate))
    except CertificateError as exc:
        raise CertCheckError(f"peer certificate: {exc}") from None
    r_own = int.from_bytes(_hex("own ephemeral key", own_ephemeral_key), "big")
    try:
        r_point = curve.base_multiply(r_own)
        peer_r = curve.decompress(_hex("peer ephemeral key", peer_ephemeral))
        peer_q = reconstruct_public_key(peer, own.ca_point)
    except InvalidPoint as exc:
        raise CertCheckError(f"unusable point: {exc}") from None
    if r_point is None:
        raise CertCheckError("own ephemeral key: zero is not a key")
    d_own = int.from_bytes(own.private_key, "big")
    z = shared_secret(curve, d_own, r_own, r_point, peer_q, peer_r)
    keys = kdf(z)
    own_id, peer_id = own.subject, peer.subject
    qe_own, qe_peer = curve.compress(r_point), curve.compress(peer_r)
    if initiator:
        id_u, id_v, qe_u, qe_v = own_id, peer_id, qe_own, qe_peer
    else:
        id_u, id_v, qe_u, qe_v = peer_id, own_id, qe_peer, qe_own
    return DerivedExchange(
        z, keys.mac_key, keys.key_data,
        mac_u(keys.mac_key, id_u, id_v, qe_u, qe_v),
        mac_v(keys.mac_key, id_u, id_v, qe_u, qe_v),
        id_u, id_v,
    )


def captured_mac(name: str, text: str | None, length: int = 16) -> bytes | None:
    """A MAC as captured (hex), or None when not given."""
    if text is None:
        return None
    mac = _hex(name, text)
    if len(mac) != length:
        raise CertCheckError(f"{name}: a MAC is {length} bytes, got {len(mac)}")
    return mac


def role_problem(own: CertificateSet, derived: DerivedExchange, other_role: DerivedExchange | None, *,
                 initiator: bool, macu: bytes | None, macv: bytes | None) -> str | None:
    """Why the derivation cannot be the captured exchange, in one line (None: no sign of a mistake).

    The MACs are the only part of the exchange that depends on the role: given
    the captured ones, the role that reproduces them is the right one.  Without
    them, a private key that is not the own certificate's (the two
    certificates swapped) is still caught.
    """
    if not own.key_matches:
        return "the own key does not belong to --own-cert (is that the peer's certificate?)"
    if derived.fits(macu, macv):
        return None
    role, other = ("initiator", "responder") if initiator else ("responder", "initiator")
    if other_role is not None and other_role.fits(macu, macv):
        return f"the captured MACs fit own side as the {other}, not the {role}: use --{other}"
    return "the captured MACs fit neither role: other keys, certificates or ephemeral data"
