"""The ESI's Key Establishment server: golden Annex C exchange, every Terminate path,
one exchange per partner, timeouts, and the CBKE authorisation rule.

Frames are written out by hand from the Key Establishment command table and the
Annex C test vector (reference cbke.md): ZCL frame control 0x01 = cluster
command, client->server; 0x11 the same with default response disabled; the
server answers with 0x19 (cluster command, server->client, no default response).
"""

from __future__ import annotations

import secrets
from types import SimpleNamespace

import pytest
import zigpy.types as t

from clusters.ids import KEY_ESTABLISHMENT as KE
from clusters.ids import METERING
from han_emu.crypto.certsets import ANNEX_C_INITIATOR, ANNEX_C_RESPONDER, CertificateSet, TestCA
from han_emu.meter.clock import VirtualClock
from han_emu.crypto.cbke import Initiator, Suite
from han_emu.server.engine import ZclServer
from han_emu.server.key_establishment import KeyEstablishmentServer

from .server_helpers import ESI_EP, IHD, START, Model, build_endpoint, frame, h, request

H = bytes.fromhex

# -- Annex C, typed from the reference --------------------------------------------
U_EUI = t.EUI64.convert("00:00:00:00:00:00:00:02")
V_EUI = t.EUI64.convert("00:00:00:00:00:00:00:01")
U_CERT = "020615E07D30ECA2DAD58002E667D94BC1B422398307 0000000000000002 5445535453454341 01090006000000000000"
V_CERT = "03045FDFC8D85FFB8B3993CB72DDCAA55F00B3E87D6D 0000000000000001 5445535453454341 01090006000000000000"
U_EPHEMERAL_PUBLIC = "0300E117C86D0E7CD128B2F34E9076CFF24AF46D7288"
V_EPHEMERAL_PUBLIC = "0306AB52062201D995B8B8591F3F086A3A2E214D845E"
V_EPHEMERAL_PRIVATE = H("03D48C7210DDBCC4FB2E5E7A0AA16A0DB89540820B")
KEY_DATA = H("86D58AAA998E2FAEFAF9FEF49606543A")
MACU = "B82F1F9774740C32F80FCFC3921B6420"
MACV = "79D5F2AD1C31D4D1EE7CB719AC683C3C"

# Initiate payload: suite 0x0001 LE, EphemeralDataGenerateTime 1 s, ConfirmKeyGenerateTime 1 s, certificate.
INITIATE_U = f"01 {{tsn}} 00 0100 01 01 {U_CERT}"
INITIATE_RSP_V = f"19 {{tsn}} 00 0100 01 01 {V_CERT}"
EPHEMERAL_U = f"01 {{tsn}} 01 {U_EPHEMERAL_PUBLIC}"
EPHEMERAL_RSP_V = f"19 {{tsn}} 01 {V_EPHEMERAL_PUBLIC}"
CONFIRM_U = f"01 {{tsn}} 02 {MACU}"
CONFIRM_RSP_V = f"19 {{tsn}} 02 {MACV}"


def terminate(tsn: int, status: int, wait: int = 10, suites: int = 0x0001) -> str:
    """Server->client Terminate: status u8, wait time u8, KeyEstablishmentSuite u16 LE."""
    return h(f"19 {tsn:02x} 03 {status:02x} {wait:02x} {suites & 0xFF:02x} {suites >> 8:02x}")


def ke(hex_frame: str, tsn: int = 1, **kwargs: object) -> t.ZigbeePacket:
    """A Key Establishment request from the IHD: no APS encryption, as CBKE is sent."""
    return request(hex_frame.format(tsn=f"{tsn:02x}"), KE, encrypted=False, **kwargs)  # type: ignore[arg-type]


def fixed(*values: bytes):
    queue = list(values)
    return lambda n: queue.pop(0)


class Bench(SimpleNamespace):
    clock: VirtualClock
    zcl: ZclServer
    kes: KeyEstablishmentServer
    keys: list[tuple[t.EUI64, bytes]]
    revoked: list[t.EUI64]
    names: dict[int, t.EUI64]


def bench(identities: object = ANNEX_C_RESPONDER, *, random=None, **kwargs: object) -> Bench:
    """An ESI (endpoint 1: Metering, Time, Basic and Key Establishment) whose
    NWK-to-IEEE table knows the IHD (0x1234) as the Annex C initiator."""
    clock = VirtualClock(START)
    endpoint = build_endpoint(Model())
    names: dict[int, t.EUI64] = {int(IHD.address): U_EUI}
    keys: list[tuple[t.EUI64, bytes]] = []
    revoked: list[t.EUI64] = []
    kes = KeyEstablishmentServer(
        endpoint,
        identities,  # type: ignore[arg-type]
        clock,
        names.get,
        on_key=lambda ieee, key: keys.append((ieee, key)),
        on_revoke=revoked.append,
        random=random or fixed(V_EPHEMERAL_PRIVATE),
        **kwargs,  # type: ignore[arg-type]
    )
    zcl = ZclServer([endpoint], clock)
    return Bench(clock=clock, zcl=zcl, kes=kes, keys=keys, revoked=revoked, names=names)


def one(b: Bench, packet: t.ZigbeePacket) -> str:
    (reply,) = b.zcl.handle(packet)
    assert reply.cluster_id == KE and reply.src_ep == ESI_EP
    assert t.TransmitOptions.APS_Encryption not in reply.tx_options  # CBKE is never APS-encrypted
    return frame(reply)


def fmt(hex_frame: str, tsn: int) -> str:
    return h(hex_frame.format(tsn=f"{tsn:02x}"))


# -- descriptor and attribute ------------------------------------------------------------


def test_endpoint_serves_key_establishment_with_the_suite_attribute() -> None:
    b = bench()
    (descriptor,) = b.zcl.descriptors()
    assert KE in descriptor.input_clusters and KE in descriptor.output_clusters
    # Read Attributes 0x0000 -> id 0000, status 00, type 0x19 (bitmap16), value 0x0001
    (reply,) = b.zcl.handle(request("00 05 00 0000", KE, encrypted=False))
    assert frame(reply) == h("18 05 01 0000 00 19 0100")


def test_suite_attribute_lists_every_suite_offered(suite2_esi: CertificateSet) -> None:
    b = bench([ANNEX_C_RESPONDER, suite2_esi])
    assert b.kes.suites == 0x0003
    (reply,) = b.zcl.handle(request("00 05 00 0000", KE, encrypted=False))
    assert frame(reply) == h("18 05 01 0000 00 19 0300")


def test_an_endpoint_cannot_get_two_key_establishment_servers() -> None:
    b = bench()
    with pytest.raises(ValueError):
        KeyEstablishmentServer(b.kes.endpoint, ANNEX_C_RESPONDER, b.clock, b.names.get)


# -- the Annex C exchange, byte for byte ----------------------------------------------------


def test_annex_c_exchange_golden_frames_and_key() -> None:
    b = bench()
    assert one(b, ke(INITIATE_U, 0x21)) == fmt(INITIATE_RSP_V, 0x21)
    assert b.kes.busy(U_EUI) and not b.kes.authorised(U_EUI)
    assert one(b, ke(EPHEMERAL_U, 0x22)) == fmt(EPHEMERAL_RSP_V, 0x22)
    assert b.keys == []
    assert one(b, ke(CONFIRM_U, 0x23)) == fmt(CONFIRM_RSP_V, 0x23)
    assert b.keys == [(U_EUI, KEY_DATA)]
    assert b.kes.authorised(U_EUI) and not b.kes.busy(U_EUI)
    assert b.kes.sender_authorised(IHD)
    assert b.kes.outcomes[-1].established


def test_initiator_from_the_crypto_package_agrees_over_packets() -> None:
    b = bench(random=secrets.token_bytes)  # the server draws real random ephemeral keys
    initiator = Initiator(
        Suite.SUITE_1, ANNEX_C_INITIATOR.certificate, ANNEX_C_INITIATOR.private_key,
        ANNEX_C_INITIATOR.ca_public_key, ANNEX_C_RESPONDER.subject, {ANNEX_C_RESPONDER.issuer},
        now=START,
    )
    key = run_initiator(b, initiator)
    assert key == initiator.key_data and b.keys == [(U_EUI, key)] and key != KEY_DATA


def run_initiator(b: Bench, initiator: Initiator, src: t.AddrModeAddress = IHD) -> bytes | None:
    """Drive an Initiator against the server through ZCL packets."""
    message = initiator.start()
    tsn = 0x40
    while message is not None:
        tsn += 1
        data = f"01 {tsn:02x} {int(message.command):02x} {message.payload.hex()}"
        replies = b.zcl.handle(request(data, KE, encrypted=False, src=src))
        if message.is_terminate:
            break
        (reply,) = replies
        raw = reply.data.serialize()
        assert raw[0] == 0x19 and raw[1] == tsn
        message = initiator.receive(raw[2], raw[3:])
    return initiator.key_data


# -- every Terminate path ----------------------------------------------------------------------


def test_unknown_issuer() -> None:
    b = bench()
    other_issuer = INITIATE_U.replace("5445535453454341", "1122334455667788")
    assert one(b, ke(other_issuer, 7)) == terminate(7, 0x01)
    assert not b.kes.busy(U_EUI) and b.kes.outcomes[-1].sent == 0x01


def test_subject_is_not_the_senders_eui64() -> None:
    b = bench()
    b.names[int(IHD.address)] = t.EUI64.convert("00:00:00:00:00:00:00:03")
    assert one(b, ke(INITIATE_U, 7)) == terminate(7, 0x06)


def test_sender_whose_ieee_is_unknown_is_refused() -> None:
    b = bench()
    b.names.clear()
    assert one(b, ke(INITIATE_U, 7)) == terminate(7, 0x06)


def test_bad_key_confirm_gives_no_key() -> None:
    b = bench()
    one(b, ke(INITIATE_U, 1))
    one(b, ke(EPHEMERAL_U, 2))
    wrong_macu = CONFIRM_U.replace(MACU, "00" * 16)
    assert one(b, ke(wrong_macu, 3)) == terminate(3, 0x02)
    assert b.keys == [] and not b.kes.authorised(U_EUI) and not b.kes.busy(U_EUI)


@pytest.mark.parametrize(
    "steps",
    [
        ["01 {tsn} 00 0100 01"],  # initiate shorter than its fixed fields
        ["01 {tsn} 00 0100 01 01 " + U_CERT[:-2]],  # certificate one byte short
        [INITIATE_U, "01 {tsn} 01 " + U_EPHEMERAL_PUBLIC[:-2]],  # ephemeral key one byte short
        [INITIATE_U, "01 {tsn} 01 04" + U_EPHEMERAL_PUBLIC[2:]],  # not a compressed point
        [INITIATE_U, CONFIRM_U],  # confirm before ephemeral data
        [INITIATE_U, EPHEMERAL_U, "01 {tsn} 02 " + MACU[:-2]],  # MAC one byte short
        [EPHEMERAL_U],  # no exchange running
        [CONFIRM_U],
    ],
    ids=["short-initiate", "short-cert", "short-ephemeral", "bad-point", "out-of-order",
         "short-mac", "ephemeral-first", "confirm-first"],
)
def test_bad_message(steps: list[str]) -> None:
    b = bench()
    for tsn, step in enumerate(steps[:-1], start=1):
        assert one(b, ke(step, tsn))[4:6] != "03"  # not yet terminated
    last = len(steps)
    assert one(b, ke(steps[-1], last)) == terminate(last, 0x03)
    assert not b.kes.busy(U_EUI) and b.keys == []


def test_unsupported_suite() -> None:
    b = bench()
    suite2 = "01 {tsn} 00 0200 01 01 " + "00" * 74
    assert one(b, ke(suite2, 9)) == terminate(9, 0x05)
    unknown = "01 {tsn} 00 8000 01 01 " + U_CERT
    assert one(b, ke(unknown, 10)) == terminate(10, 0x05)


@pytest.fixture(scope="module")
def suite2_esi() -> CertificateSet:
    return TestCA.builtin(2).issue(b"\x00" * 7 + b"\x01")


@pytest.fixture(scope="module")
def suite2_ihd_certs() -> dict[str, CertificateSet]:
    ca = TestCA.builtin(2)
    subject = bytes(U_EUI)[::-1]
    return {
        "good": ca.issue(subject),
        "expired": ca.issue(subject, valid_from=1_600_000_000, valid_to=86_400),
        "not-yet-valid": ca.issue(subject, valid_from=int(START) + 3600),
        "no-key-agreement": ca.issue(subject, key_usage=0x80),
    }


@pytest.mark.parametrize("which", ["expired", "not-yet-valid", "no-key-agreement"])
def test_invalid_suite2_certificate(
    which: str, suite2_esi: CertificateSet, suite2_ihd_certs: dict[str, CertificateSet]
) -> None:
    b = bench(suite2_esi)
    cert = suite2_ihd_certs[which].certificate.hex()
    assert one(b, ke("01 {tsn} 00 0200 01 01 " + cert, 4)) == terminate(4, 0x06, suites=0x0002)


def test_suite2_exchange(suite2_esi: CertificateSet, suite2_ihd_certs: dict[str, CertificateSet]) -> None:
    b = bench([ANNEX_C_RESPONDER, suite2_esi], random=secrets.token_bytes)
    ihd = suite2_ihd_certs["good"]
    initiator = Initiator(
        Suite.SUITE_2, ihd.certificate, ihd.private_key, ihd.ca_public_key,
        suite2_esi.subject, {suite2_esi.issuer}, now=START,
    )
    key = run_initiator(b, initiator)
    assert key is not None and len(key) == 16 and b.keys == [(U_EUI, key)]
    assert b.kes.outcomes[-1].suite == 0x0002


def test_partner_terminate_ends_the_exchange_quietly() -> None:
    b = bench()
    one(b, ke(INITIATE_U, 1))
    # client Terminate: status UNKNOWN_ISSUER 01, wait 05 s, suite 0001;
    # default response wanted (0x01), so the engine acknowledges it with status SUCCESS.
    (reply,) = b.zcl.handle(ke("01 {tsn} 03 01 05 0100", 2))
    assert frame(reply) == h("18 02 0b 03 00")
    assert not b.kes.busy(U_EUI) and b.kes.outcomes[-1].received == 0x01
    # the same with default response disabled: nothing is sent back
    one(b, ke(INITIATE_U, 3))
    assert b.zcl.handle(ke("11 {tsn} 03 01 05 0100", 4)) == []


def test_terminate_after_success_revokes_the_key() -> None:
    b = bench()
    for tsn, step in enumerate([INITIATE_U, EPHEMERAL_U, CONFIRM_U], start=1):
        one(b, ke(step, tsn))
    assert b.kes.authorised(U_EUI)
    # the initiator did not accept MACV: Terminate BAD_KEY_CONFIRM
    assert b.zcl.handle(ke("11 {tsn} 03 02 0a 0100", 4)) == []
    assert not b.kes.authorised(U_EUI) and b.revoked == [U_EUI]


# -- one exchange per partner, and the timeout ---------------------------------------------------


def test_second_initiate_while_running_gets_no_resources_with_wait_time() -> None:
    b = bench(slack=10.0)
    one(b, ke(INITIATE_U, 1))
    b.clock.advance(3)
    # deadline = start + partner's EphemeralDataGenerateTime (1 s) + slack 10 s: 8 s left
    assert one(b, ke(INITIATE_U, 2)) == terminate(2, 0x04, wait=8)
    # the running exchange is undisturbed and completes
    assert one(b, ke(EPHEMERAL_U, 3)) == fmt(EPHEMERAL_RSP_V, 3)
    assert one(b, ke(CONFIRM_U, 4)) == fmt(CONFIRM_RSP_V, 4)
    assert b.keys == [(U_EUI, KEY_DATA)]


def test_other_partners_run_at_the_same_time_up_to_the_limit() -> None:
    b = bench(max_sessions=1)
    one(b, ke(INITIATE_U, 1))
    other = t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x4321)
    b.names[0x4321] = t.EUI64.convert("00:00:00:00:00:00:00:09")
    assert one(b, ke(INITIATE_U, 2, src=other)) == terminate(2, 0x04)
    b.kes.max_sessions = 2
    # now accepted as far as the certificate check (its subject is not 0x09)
    assert one(b, ke(INITIATE_U, 3, src=other)) == terminate(3, 0x06)


def test_exchange_times_out_and_is_cleaned_up() -> None:
    b = bench(slack=5.0)
    one(b, ke(INITIATE_U, 1))
    assert b.kes.next_expiry() == START + 1 + 5
    b.clock.advance(5.5)
    assert b.kes.expire() == []
    b.clock.advance(1)
    assert b.kes.expire() == [U_EUI] and b.kes.next_expiry() is None
    assert b.kes.outcomes[-1].timed_out
    # the late EphemeralData is outside any exchange
    assert one(b, ke(EPHEMERAL_U, 2)) == terminate(2, 0x03)


def test_timeout_is_also_noticed_on_the_next_message() -> None:
    b = bench(slack=5.0, random=fixed(V_EPHEMERAL_PRIVATE, V_EPHEMERAL_PRIVATE))
    one(b, ke(INITIATE_U, 1))
    b.clock.advance(7)
    # no expire() call: a new Initiate is not refused with NO_RESOURCES
    assert one(b, ke(INITIATE_U, 2)) == fmt(INITIATE_RSP_V, 2)
    # the deadline moves on with each step: ConfirmKeyGenerateTime 1 s + slack
    one(b, ke(EPHEMERAL_U, 3))
    assert b.kes.next_expiry() == START + 7 + 1 + 5


# -- the authorisation rule on Smart Energy clusters -------------------------------------------------

READ_SUMMATION = "00 {tsn} 00 0000"  # Read Attributes of CurrentSummationDelivered


def test_se_requests_need_completed_cbke_once_guarded() -> None:
    b = bench()
    # no hook: existing behaviour, an encrypted request is served
    (reply,) = b.zcl.handle(request(READ_SUMMATION.format(tsn="01"), METERING))
    assert frame(reply).startswith(h("18 01 01 0000 00"))
    b.kes.guard(b.zcl)
    (reply,) = b.zcl.handle(request(READ_SUMMATION.format(tsn="02"), METERING))
    assert frame(reply) == h("18 02 0b 00 7e")  # Default Response NOT_AUTHORIZED
    # ... APS-secured, as the request was (under the key the device joined with)
    assert t.TransmitOptions.APS_Encryption in reply.tx_options
    for tsn, step in enumerate([INITIATE_U, EPHEMERAL_U, CONFIRM_U], start=3):
        one(b, ke(step, tsn))
    (reply,) = b.zcl.handle(request(READ_SUMMATION.format(tsn="07"), METERING))
    assert frame(reply).startswith(h("18 07 01 0000 00"))
    # other devices are still refused
    stranger = t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x7777)
    (reply,) = b.zcl.handle(request(READ_SUMMATION.format(tsn="08"), METERING, src=stranger))
    assert frame(reply) == h("18 08 0b 00 7e")


def test_lab_override_accepts_devices_without_cbke() -> None:
    b = bench()
    b.kes.guard(b.zcl)
    b.zcl.encryption.accept_unencrypted = True
    (reply,) = b.zcl.handle(request(READ_SUMMATION.format(tsn="01"), METERING))
    assert frame(reply).startswith(h("18 01 01 0000 00"))


def test_non_se_clusters_are_not_guarded() -> None:
    b = bench()
    b.kes.guard(b.zcl)
    (reply,) = b.zcl.handle(request("00 01 00 0000", 0x0000))  # Basic ZCLVersion
    assert frame(reply) == h("18 01 01 0000 00 20 03")


def test_forget_and_authorise() -> None:
    b = bench()
    b.kes.authorise(U_EUI)
    assert b.kes.authorised(U_EUI) and b.kes.authorised_devices == {U_EUI}
    b.kes.forget(U_EUI)
    assert not b.kes.authorised(U_EUI)
