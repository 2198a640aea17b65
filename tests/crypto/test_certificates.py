"""Implicit certificates: layouts (parse and build) and ECQV key reconstruction."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from han_emu.crypto.certificates import (
    NEVER_EXPIRES,
    CertificateError,
    Suite1Certificate,
    Suite2Certificate,
    issue_certificate,
    parse_certificate,
    reconstruct_public_key,
)
from han_emu.crypto.curves import SECT163K1, SECT283K1, InvalidPoint

H = bytes.fromhex


def test_suite1_layout(annex_c: SimpleNamespace) -> None:
    cert = Suite1Certificate.parse(annex_c.u_cert)
    assert cert.reconstruction == H("020615E07D30ECA2DAD58002E667D94BC1B422398307")
    assert cert.subject == H("0000000000000002")
    assert cert.issuer == b"TESTSECA"
    assert cert.profile_data == H("01090006000000000000")
    assert cert.is_valid_at(0) and cert.allows_key_agreement


def test_suite1_build_from_fields(annex_c: SimpleNamespace) -> None:
    cert = Suite1Certificate(
        reconstruction=H("03045FDFC8D85FFB8B3993CB72DDCAA55F00B3E87D6D"),
        subject=H("0000000000000001"),
        issuer=H("5445535453454341"),
        profile_data=H("01090006000000000000"),
    )
    assert cert.to_bytes() == annex_c.v_cert


def test_suite2_layout(certicom_283k1: SimpleNamespace) -> None:
    cert = Suite2Certificate.parse(certicom_283k1.cert)
    assert cert.type == 0
    assert cert.serial == H("0B3AD5A312AB75D6")
    assert cert.curve_id == 0x0D and cert.hash_id == 0x08
    assert cert.issuer == H("1112131415161718")
    assert cert.valid_from == 0x5B7ED230  # 2018-08-23
    assert cert.valid_to == NEVER_EXPIRES and cert.expires_at is None
    assert cert.subject == H("0022080000000001")
    assert cert.key_usage == 0x08 and cert.allows_key_agreement
    assert cert.reconstruction[:3] == H("0205BB") and len(cert.reconstruction) == 37
    assert cert.is_supported_format
    assert cert.to_bytes() == certicom_283k1.cert


def test_suite2_build_from_fields() -> None:
    cert = Suite2Certificate(
        serial=H("0102030405060708"),
        issuer=b"TESTSECA",
        valid_from=0x0102030405,
        valid_to=86400,
        subject=H("0011223344556677"),
        key_usage=0x88,
        reconstruction=H("03" + "AB" * 36),
    )
    assert cert.to_bytes() == H(
        "0001020304050607080D08544553545345434101020304050001518000112233445566778803" + "AB" * 36
    )


def test_suite2_validity_period() -> None:
    cert = Suite2Certificate(
        serial=bytes(8),
        issuer=bytes(8),
        valid_from=1000,
        valid_to=500,
        subject=bytes(8),
        key_usage=0x80,
        reconstruction=bytes(37),
    )
    assert cert.expires_at == 1500
    assert not cert.is_valid_at(999)
    assert cert.is_valid_at(1000) and cert.is_valid_at(1500)
    assert not cert.is_valid_at(1501)
    assert not cert.allows_key_agreement  # signature only


@pytest.mark.parametrize(("suite", "length"), [(1, 47), (1, 49), (2, 73), (2, 48)])
def test_wrong_lengths_are_rejected(suite: int, length: int) -> None:
    with pytest.raises(CertificateError):
        parse_certificate(suite, bytes(length))


def test_unknown_suite() -> None:
    with pytest.raises(CertificateError):
        parse_certificate(3, bytes(48))


def test_suite1_public_keys_reconstruct(annex_c: SimpleNamespace) -> None:
    ca = SECT163K1.public_key(annex_c.ca_public)
    for cert, public in [
        (annex_c.u_cert, annex_c.u_static_public),
        (annex_c.v_cert, annex_c.v_static_public),
    ]:
        q = reconstruct_public_key(Suite1Certificate.parse(cert), ca)
        assert SECT163K1.compress(q) == public


def test_suite2_public_key_reconstructs(certicom_283k1: SimpleNamespace) -> None:
    ca = SECT283K1.public_key(certicom_283k1.ca_public)
    q = reconstruct_public_key(Suite2Certificate.parse(certicom_283k1.cert), ca)
    assert SECT283K1.compress(q) == certicom_283k1.public


def test_a_changed_certificate_gives_another_key(annex_c: SimpleNamespace) -> None:
    ca = SECT163K1.public_key(annex_c.ca_public)
    cert = replace(Suite1Certificate.parse(annex_c.u_cert), subject=H("0000000000000003"))
    assert SECT163K1.compress(reconstruct_public_key(cert, ca)) != annex_c.u_static_public


def test_reconstruction_point_off_the_curve(annex_c: SimpleNamespace) -> None:
    ca = SECT163K1.public_key(annex_c.ca_public)
    cert = replace(
        Suite1Certificate.parse(annex_c.u_cert), reconstruction=H("02" + "00" * 20 + "01")
    )
    with pytest.raises(InvalidPoint):
        reconstruct_public_key(cert, ca)


def test_issued_certificate_matches_its_private_key(
    suite2_v_identity: tuple[bytes, bytes], own_ca_283: tuple[int, bytes]
) -> None:
    cert = Suite2Certificate.parse(suite2_v_identity[0])
    q = reconstruct_public_key(cert, SECT283K1.public_key(own_ca_283[1]))
    assert SECT283K1.base_multiply(int.from_bytes(suite2_v_identity[1], "big")) == q


def test_issue_suite1_certificate(annex_c: SimpleNamespace) -> None:
    ca_private = 0x2F1E0D0C0B0A09080706050403020100F0E0D0C0B
    template = Suite1Certificate.parse(annex_c.u_cert)
    cert, d = issue_certificate(template, ca_private, nonce=123456789)
    assert cert.subject == template.subject and cert.reconstruction != template.reconstruction
    q = reconstruct_public_key(cert, SECT163K1.base_multiply(ca_private))
    assert SECT163K1.base_multiply(d) == q
