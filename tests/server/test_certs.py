"""Certificate sets, the built-in test CA and ``cert check`` (logic and CLI handler).

Expected values are the published ones (reference cbke.md; the Certicom suite-2
test certificate typed in by the crypto tests), never output of the code under test.
"""

from __future__ import annotations

import argparse
import io

import pytest
import zigpy.types as t

from han_emu.crypto.certsets import (
    ANNEX_C_INITIATOR,
    ANNEX_C_RESPONDER,
    CertCheckError,
    CertificateSet,
    TestCA,
    cert_check,
    certificate_set_for,
    eui64_from_cert,
    eui64_to_cert,
)
from han_emu.cli.certs import add_cert_commands
from han_emu.crypto.certificates import Suite2Certificate, parse_certificate

from ..crypto.cbke_material import CERTICOM_283K1

CA1 = "0200FDE8A7F3D1084224962A4E7C54E69AC3F04DA6B8"
U_CERT = "020615E07D30ECA2DAD58002E667D94BC1B422398307" "0000000000000002" "5445535453454341" "01090006000000000000"
V_CERT = "03045FDFC8D85FFB8B3993CB72DDCAA55F00B3E87D6D" "0000000000000001" "5445535453454341" "01090006000000000000"
U_KEY = "01E9DDB5580CF72ECE7F215F0AE594E48DF3E7FEE8"
U_PUBLIC = "03025BBA38D0C7B5436B68DF728F093E7A1D6C437E6D"
V_PUBLIC = "030290A1F5C08DAD5F2945E335620C7A98FAC46666A1"


# -- cert_check ---------------------------------------------------------------------


def test_annex_c_initiator_matches() -> None:
    report = cert_check(1, CA1, U_CERT, U_KEY)
    assert report.matches and report.exit_code == 0
    assert report.reconstructed_public_key.hex().upper() == U_PUBLIC
    fields = report.fields()
    assert fields["subject"] == "00:00:00:00:00:00:00:02"
    assert fields["issuer"] == '5445535453454341 ("TESTSECA")'
    assert fields["profile data"] == "01090006000000000000"
    assert fields["public key (from private key)"] == U_PUBLIC
    assert fields["private key matches"] == "yes"


def test_wrong_private_key_is_a_mismatch_not_an_error() -> None:
    report = cert_check(1, CA1, V_CERT, U_KEY)
    assert not report.matches and report.exit_code == 1
    assert report.reconstructed_public_key.hex().upper() == V_PUBLIC
    assert report.private_public_key.hex().upper() == U_PUBLIC
    assert report.fields()["private key matches"] == "NO"


def test_suite2_certificate_fields() -> None:
    c = CERTICOM_283K1
    report = cert_check(2, c.ca_public.hex(), c.cert.hex(), c.private.hex())
    assert report.exit_code == 0
    assert report.reconstructed_public_key == c.public
    fields = report.fields()
    assert fields["serial"] == "0B3AD5A312AB75D6"
    assert fields["curve"] == "0x0D" and fields["hash"] == "0x08"
    assert fields["subject"] == "00:22:08:00:00:00:00:01"
    assert fields["issuer"].startswith("1112131415161718")
    # valid-from 0x005B7ED230 = 1535038000 s = 2018-08-23 15:26:40 UTC; valid-to FFFFFFFF
    assert fields["valid from"] == "1535038000 (2018-08-23T15:26:40Z)"
    assert fields["valid to"] == "never expires"
    assert fields["key usage"] == "0x08 (key agreement)"
    lines = report.text().splitlines()
    assert lines[0].split() == ["suite", "2", "(sect283k1)"]
    assert lines[-1].split() == ["private", "key", "matches", "yes"]


def test_hex_may_be_spaced_colon_separated_or_prefixed() -> None:
    spaced = " ".join(U_CERT[i : i + 2] for i in range(0, len(U_CERT), 2))
    assert cert_check(1, "0x" + CA1, spaced, ":".join(U_KEY[i : i + 2] for i in range(0, 42, 2))).matches


@pytest.mark.parametrize(
    "suite, ca, cert, key, message",
    [
        (1, CA1, U_CERT[:-2], U_KEY, "certificate: suite-1 certificate is 48 bytes, got 47"),
        (1, CA1, U_CERT + "zz", U_KEY, "certificate: not a hex string"),
        (1, CA1[:-2], U_CERT, U_KEY, "CA public key: suite 1 needs a 22-byte"),
        (1, "04" + CA1[2:], U_CERT, U_KEY, "CA public key: not a sect163k1 point"),
        (1, CA1, U_CERT, U_KEY[:-2], "private key: suite 1 needs 21 bytes, got 20"),
        (1, CA1, U_CERT, "00" * 21, "private key: must lie in [1, n-1]"),
        (1, CA1, U_CERT, "FF" * 21, "private key: must lie in [1, n-1]"),
        (3, CA1, U_CERT, U_KEY, "unknown crypto suite 3"),
        (2, CA1, U_CERT, U_KEY, "certificate: suite-2 certificate is 74 bytes, got 48"),
    ],
)
def test_malformed_input(suite: int, ca: str, cert: str, key: str, message: str) -> None:
    with pytest.raises(CertCheckError, match=message.replace("[", r"\[").replace("]", r"\]")):
        cert_check(suite, ca, cert, key)


def test_unusable_reconstruction_point_is_malformed() -> None:
    # the reconstruction point's first octet must be 02 or 03 (SEC 1 compressed form)
    bad = "05" + U_CERT[2:]
    with pytest.raises(CertCheckError, match="reconstruction point unusable"):
        cert_check(1, CA1, bad, U_KEY)


# -- the CLI handler -------------------------------------------------------------------


def run_cli(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="han-emu")
    add_cert_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    out, err = io.StringIO(), io.StringIO()
    code = args.handler(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_cert_check_exit_codes() -> None:
    code, out, err = run_cli("cert", "check", "--suite", "1", "--ca", CA1, "--cert", U_CERT, "--key", U_KEY)
    assert code == 0 and "00:00:00:00:00:00:00:02" in out and U_PUBLIC in out and err == ""
    code, out, err = run_cli("cert", "check", "--suite", "1", "--ca", CA1, "--cert", V_CERT, "--key", U_KEY)
    assert code == 1 and "does not belong" in err
    code, out, err = run_cli("cert", "check", "--suite", "1", "--ca", CA1, "--cert", "abc", "--key", U_KEY)
    assert code == 2 and out == "" and "certificate: not a hex string" in err


def test_cli_rejects_other_suites_at_parse_time() -> None:
    with pytest.raises(SystemExit):
        run_cli("cert", "check", "--suite", "3", "--ca", CA1, "--cert", U_CERT, "--key", U_KEY)


# -- certificate sets and the test CA ---------------------------------------------------------


def test_annex_c_sets_are_consistent() -> None:
    assert ANNEX_C_INITIATOR.key_matches and ANNEX_C_RESPONDER.key_matches
    assert ANNEX_C_INITIATOR.subject == bytes.fromhex("0000000000000002")
    assert ANNEX_C_RESPONDER.reconstructed_public_key().hex().upper() == V_PUBLIC


def test_from_hex_round_trip() -> None:
    certs = CertificateSet.from_hex(1, CA1, U_CERT, U_KEY)
    assert certs == ANNEX_C_INITIATOR
    assert certs.to_hex() == {"suite": "1", "ca": CA1, "cert": U_CERT, "key": U_KEY}


@pytest.mark.parametrize("suite", [1, 2])
def test_test_ca_issues_matching_deterministic_certificates(suite: int) -> None:
    eui = bytes.fromhex("000D6F0000ABCDEF")
    ca = TestCA.builtin(suite)
    a, b = ca.issue(eui), TestCA.builtin(suite).issue(eui)
    assert a == b and a.key_matches
    assert a.subject == eui and a.issuer == b"HANEMUCA" and a.ca_public_key == ca.public_key
    other = ca.issue(bytes.fromhex("000D6F0000ABCDF0"))
    assert other.certificate != a.certificate and other.private_key != a.private_key
    if suite == 2:
        cert = parse_certificate(2, a.certificate)
        assert isinstance(cert, Suite2Certificate)
        assert (cert.type, cert.curve_id, cert.hash_id) == (0x00, 0x0D, 0x08)
        assert cert.valid_from == 1_577_836_800 and cert.valid_to == 0xFFFFFFFF
        assert cert.key_usage == 0x08
    else:
        assert a.certificate[22:30] == eui and a.certificate[30:38] == b"HANEMUCA"
        assert a.certificate[38:40] == bytes.fromhex("0109")


def test_default_sets_use_annex_c_for_its_addresses() -> None:
    assert certificate_set_for(bytes.fromhex("0000000000000002")) is ANNEX_C_INITIATOR
    assert certificate_set_for(bytes.fromhex("0000000000000001")) is ANNEX_C_RESPONDER
    assert certificate_set_for(bytes.fromhex("0000000000000003")).issuer == b"HANEMUCA"


def test_eui64_byte_order() -> None:
    ieee = t.EUI64.convert("00:0d:6f:00:00:00:00:02")
    assert eui64_to_cert(ieee) == bytes.fromhex("000D6F0000000002")
    assert t.EUI64(eui64_from_cert(bytes.fromhex("000D6F0000000002"))) == ieee
