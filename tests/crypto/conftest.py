"""Fixtures for the CBKE tests: published material and identities we issue."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from .cbke_material import (
    ANNEX_C,
    CERTICOM_283K1,
    OWN_CA_283_PRIVATE,
    SUITE2_V_EUI,
    TESTSECA,
    H,
    Material,
)

from han_emu.crypto.cbke import Suite
from han_emu.crypto.certificates import Suite2Certificate, issue_certificate
from han_emu.crypto.curves import SECT283K1


@pytest.fixture(scope="session")
def annex_c() -> SimpleNamespace:
    return ANNEX_C


@pytest.fixture(scope="session")
def certicom_283k1() -> SimpleNamespace:
    return CERTICOM_283K1


@pytest.fixture(scope="session")
def own_ca_283() -> tuple[int, bytes]:
    """(private key, compressed public key) of our sect283k1 test CA."""
    return OWN_CA_283_PRIVATE, SECT283K1.compress(SECT283K1.base_multiply(OWN_CA_283_PRIVATE))


@pytest.fixture(scope="session")
def suite2_v_identity(own_ca_283: tuple[int, bytes]) -> tuple[bytes, bytes]:
    """(certificate, private key) for a suite-2 responder issued by our CA."""
    template = Suite2Certificate(
        serial=H("0102030405060708"),
        issuer=TESTSECA,
        valid_from=1_500_000_000,
        valid_to=0xFFFFFFFF,
        subject=SUITE2_V_EUI,
        key_usage=0x08,
        reconstruction=bytes(37),
    )
    cert, private = issue_certificate(template, own_ca_283[0], nonce=0xC0FFEE << 200)
    return cert.to_bytes(), SECT283K1.scalar_to_bytes(private)


@pytest.fixture(scope="session")
def material(
    suite2_v_identity: tuple[bytes, bytes],
    own_ca_283: tuple[int, bytes],
) -> dict[Suite, Material]:
    """Per suite: the Annex C pair (suite 1); the Certicom-issued certificate
    as U and our CA's certificate as V (suite 2)."""
    return {
        Suite.SUITE_1: Material(
            suite=Suite.SUITE_1,
            u_cert=ANNEX_C.u_cert,
            u_private=ANNEX_C.u_static_private,
            u_eui=ANNEX_C.u_eui,
            v_cert=ANNEX_C.v_cert,
            v_private=ANNEX_C.v_static_private,
            v_eui=ANNEX_C.v_eui,
            ca_for_u_cert=ANNEX_C.ca_public,
            ca_for_v_cert=ANNEX_C.ca_public,
            issuers=frozenset({TESTSECA}),
        ),
        Suite.SUITE_2: Material(
            suite=Suite.SUITE_2,
            u_cert=CERTICOM_283K1.cert,
            u_private=CERTICOM_283K1.private,
            u_eui=CERTICOM_283K1.subject,
            v_cert=suite2_v_identity[0],
            v_private=suite2_v_identity[1],
            v_eui=SUITE2_V_EUI,
            ca_for_u_cert=CERTICOM_283K1.ca_public,
            ca_for_v_cert=own_ca_283[1],
            issuers=frozenset({TESTSECA, CERTICOM_283K1.issuer}),
        ),
    }
