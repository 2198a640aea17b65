"""Published CBKE test material, typed in by hand, and factories for parties.

Suite 1: the Smart Energy specification's Annex C example (initiator U and
responder V under the test CA).  Suite 2: a test certificate issued by the
public Certicom test CA (certificate, CA public key, private key and public
key as published with it); the Annex C suite-2 example was not available.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

from han_emu.crypto.cbke import Initiator, Responder, Suite
from han_emu.crypto.curves import SECT163K1, SECT283K1, Curve

H = bytes.fromhex
TESTSECA = H("5445535453454341")

ANNEX_C = SimpleNamespace(
    ca_public=H("0200FDE8A7F3D1084224962A4E7C54E69AC3F04DA6B8"),
    u_eui=H("0000000000000002"),
    v_eui=H("0000000000000001"),
    u_cert=H(
        "020615E07D30ECA2DAD58002E667D94BC1B422398307"
        "0000000000000002"
        "5445535453454341"
        "01090006000000000000"
    ),
    v_cert=H(
        "03045FDFC8D85FFB8B3993CB72DDCAA55F00B3E87D6D"
        "0000000000000001"
        "5445535453454341"
        "01090006000000000000"
    ),
    u_static_private=H("01E9DDB5580CF72ECE7F215F0AE594E48DF3E7FEE8"),
    v_static_private=H("00B8A900FCADEBABBFA383B540FCE9ED438395EAA7"),
    u_static_public=H("03025BBA38D0C7B5436B68DF728F093E7A1D6C437E6D"),
    v_static_public=H("030290A1F5C08DAD5F2945E335620C7A98FAC46666A1"),
    u_ephemeral_private=H("0013D36DE4B1EA8E22739C381370823F404BFF8862"),
    v_ephemeral_private=H("03D48C7210DDBCC4FB2E5E7A0AA16A0DB89540820B"),
    u_ephemeral_public=H("0300E117C86D0E7CD128B2F34E9076CFF24AF46D7288"),
    v_ephemeral_public=H("0306AB52062201D995B8B8591F3F086A3A2E214D845E"),
    z=H("00E0D2C3CCD5C106A89C4F6CC26A5F7EC9DF78A7BE"),
    mac_key=H("90F967B22C8357C10C1C04788DE9E848"),
    key_data=H("86D58AAA998E2FAEFAF9FEF49606543A"),
    macu=H("B82F1F9774740C32F80FCFC3921B6420"),
    macv=H("79D5F2AD1C31D4D1EE7CB719AC683C3C"),
)

CERTICOM_283K1 = SimpleNamespace(
    ca_public=H("0207A445022D9F39F49BDC38380026A27A9E0A1799313AB28C5C1A1C6B605154DB1DFF6752"),
    cert=H(
        "00"  # type
        "0B3AD5A312AB75D6"  # serial
        "0D"  # curve sect283k1
        "08"  # hash AES-MMO
        "1112131415161718"  # issuer
        "005B7ED230"  # valid from
        "FFFFFFFF"  # valid to: never
        "0022080000000001"  # subject
        "08"  # key usage: key agreement
        "0205BB3D1D1576197FF9AB6563915019A130437ADB0EE7915432DC4A09C97DC595C5856800"
    ),
    private=H("00997097B87684F62F555173C47BE89935FBF6440AE292492B54C5829A0D541F4D26E254"),
    public=H("02012F082EE7DB1BD3F89F16EABBF5D6221A5DCD077FC0C9D37B329EEE8E2CDAEE03439DE0"),
    subject=H("0022080000000001"),
    issuer=H("1112131415161718"),
)

NOW = 1_700_000_000.0  # Nov 2023: inside the suite-2 certificates' validity

# A CA of our own on sect283k1, to issue the responder's suite-2 certificate.
OWN_CA_283_PRIVATE = 0x1234567890ABCDEF1234567890ABCDEF1234567890ABCDEF1234567890ABCDEF12345
SUITE2_V_EUI = H("0000000000000001")


@dataclass(frozen=True)
class Material:
    """Everything two parties of one suite need; U's certificate is checked
    against ``ca_for_u_cert`` (held by V), V's against ``ca_for_v_cert``."""

    suite: Suite
    u_cert: bytes
    u_private: bytes
    u_eui: bytes
    v_cert: bytes
    v_private: bytes
    v_eui: bytes
    ca_for_u_cert: bytes
    ca_for_v_cert: bytes
    issuers: frozenset[bytes]


def fixed_random(*values: bytes) -> Callable[[int], bytes]:
    """A random source that hands out ``values`` in turn (tests must be repeatable)."""
    queue = list(values)

    def draw(n: int) -> bytes:
        value = queue.pop(0)
        assert len(value) == n
        return value

    return draw


def curve_of(suite: Suite) -> Curve:
    return SECT163K1 if suite is Suite.SUITE_1 else SECT283K1


def make_initiator(m: Material, **overrides: object) -> Initiator:
    kwargs: dict[str, object] = dict(
        suite=m.suite,
        certificate=m.u_cert,
        private_key=m.u_private,
        ca_public_key=m.ca_for_v_cert,
        partner_eui64=m.v_eui,
        known_issuers=m.issuers,
        now=NOW,
    )
    kwargs.update(overrides)
    return Initiator(**kwargs)  # type: ignore[arg-type]


def make_responder(m: Material, **overrides: object) -> Responder:
    kwargs: dict[str, object] = dict(
        suite=m.suite,
        certificate=m.v_cert,
        private_key=m.v_private,
        ca_public_key=m.ca_for_u_cert,
        partner_eui64=m.u_eui,
        known_issuers=m.issuers,
        now=NOW,
    )
    kwargs.update(overrides)
    return Responder(**kwargs)  # type: ignore[arg-type]
