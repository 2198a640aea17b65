"""CBKE on the emulated sticks, driven by a simulated IHD.

The IHD is a :class:`~han_emu.crypto.cbke.Initiator`: its Key Establishment
commands are injected at the emulated NCP as received 0x0800 frames, and the
host's answers are taken from what it had the NCP transmit.  Three ways a
stick takes part:

- EZSP image with the CBKE/ECC libraries and a certificate: the NCP does the
  arithmetic (generateCbkeKeys, calculateSmacs, clearTemporaryDataMaybeStoreLinkKey)
  and keeps the key in its key table itself;
- EZSP or Z-Stack without them: the software responder with configured
  certificates, and the key installed in the stick (importLinkKey;
  ZDO_SET_LINK_KEY);
- Z-Stack built without key management: the exchange completes, and the user
  is told in one line why the key could not be installed.

The golden test uses the ZSE Annex C suite-1 vector: certificates, ephemeral
keys, MACU, MACV and KeyData as published.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
import zigpy.types as t

from han_emu.crypto.certsets import (
    ANNEX_C_INITIATOR,
    ANNEX_C_RESPONDER,
    CertificateSet,
    TestCA,
    eui64_from_cert,
    eui64_to_cert,
)
from han_emu.han.config import load
from han_emu.crypto.cbke import Initiator, State, Suite
from han_emu.han.hardware import HardwareHan
from han_emu.meter.model import TwinMeter
from han_emu.radio.fakencp.ezsp.server import FakeEzspServer
from han_emu.radio.backend import parse_radio

from .stick_support import IHD_IEEE, IHD_NWK, SE, STICK_IEEE, Stick, quick_ezsp_reset

KEY_ESTABLISHMENT = 0x0800
METERING = 0x0702
KE_ENDPOINT = 1  # the primary ESI

# ZSE Annex C, suite 1 (V is the responder, here the stick).
U_EPHEMERAL_PUBLIC = bytes.fromhex("0300E117C86D0E7CD128B2F34E9076CFF24AF46D7288")
V_EPHEMERAL_PRIVATE = bytes.fromhex("03D48C7210DDBCC4FB2E5E7A0AA16A0DB89540820B")
V_EPHEMERAL_PUBLIC = bytes.fromhex("0306AB52062201D995B8B8591F3F086A3A2E214D845E")
MACU = bytes.fromhex("B82F1F9774740C32F80FCFC3921B6420")
MACV = bytes.fromhex("79D5F2AD1C31D4D1EE7CB719AC683C3C")
KEY_DATA = bytes.fromhex("86D58AAA998E2FAEFAF9FEF49606543A")


@pytest.fixture(autouse=True)
def _quick_reset(monkeypatch) -> None:
    quick_ezsp_reset(monkeypatch)


def ihd_initiator(suite: Suite, responder: CertificateSet) -> Initiator:
    mine = TestCA.builtin(suite).issue(eui64_to_cert(IHD_IEEE))
    return Initiator(suite, mine.certificate, mine.private_key, mine.ca_public_key,
                     responder.subject, {responder.issuer})


async def exchange(stick: Stick, initiator: Initiator, src_nwk: int = IHD_NWK) -> list:
    """Run CBKE to the end; returns the stick's replies (frame bytes)."""
    replies = []
    message = initiator.start()
    tsn = 0x70
    while message is not None:
        tsn += 1
        # Cluster command, client to server; Key Establishment runs under
        # network security only.
        frame = bytes([0x01, tsn, message.command]) + message.payload
        stick.inject(KE_ENDPOINT, KEY_ESTABLISHMENT, frame, encrypted=False, src_nwk=src_nwk)
        sent = await stick.next_sent(KEY_ESTABLISHMENT, timeout=15)
        assert (sent.src_ep, sent.profile_id, sent.dst_nwk) == (KE_ENDPOINT, SE, src_nwk)
        assert not sent.aps_encrypted
        assert sent.data[:2] == bytes([0x19, tsn])  # server to client, no default response
        replies.append(sent.data)
        message = initiator.receive(sent.data[2], sent.data[3:])
    return replies


async def start_han(stick: Stick, cbke: tuple[CertificateSet, ...] = ()) -> tuple[HardwareHan, list[str]]:
    config = dataclasses.replace(load(None), cbke=cbke)
    reports: list[str] = []
    han = HardwareHan(config, TwinMeter(config.meter, time.time()), stick.spec, step_s=3600,
                      save_every_s=1e9, report=reports.append)
    await han.start()
    return han, reports


async def join(stick: Stick, han: HardwareHan, nwk: int = IHD_NWK, ieee: t.EUI64 = IHD_IEEE) -> None:
    stick.join(nwk, ieee)
    async with asyncio.timeout(5):
        while not any(j[1] == ieee for j in han.joined):
            await asyncio.sleep(0.02)


async def until(predicate, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


READ_RECEIVED = bytes.fromhex("00 21 00 01 00")  # Read Attributes of 0x0001
NOT_AUTHORIZED = bytes.fromhex("18 21 0B 00 7E")  # Default Response, NOT_AUTHORIZED
#: The same read with another TSN (a repeat within seconds is dropped as a duplicate).
READ_AGAIN = bytes.fromhex("00 22 00 01 00")
READ_ANSWERED = bytes.fromhex("18 22 01 01 00 00 25")


# ------------------------------------------------------------------ CBKE on the NCP
async def test_ncp_cbke_reproduces_the_annex_c_vector() -> None:
    """The stick is Annex C's V: its own certificate and ephemeral key; the IHD
    is U.  Every byte the stick sends and the key it keeps are the published ones."""
    stick = Stick("ezsp")
    stick.fake = FakeEzspServer(eui64=t.EUI64(eui64_from_cert(ANNEX_C_RESPONDER.subject)),
                                cbke=[ANNEX_C_RESPONDER], cbke_random=lambda n: V_EPHEMERAL_PRIVATE)
    u_ieee = t.EUI64(eui64_from_cert(ANNEX_C_INITIATOR.subject))
    async with stick:
        han, reports = await start_han(stick)  # no certificates configured: the NCP has its own
        try:
            assert han.cbke_mode == "ncp"
            # The primary ESI now offers Key Establishment, client and server.
            ep = stick.fake.endpoints[KE_ENDPOINT]
            assert KEY_ESTABLISHMENT in ep.input_clusters and KEY_ESTABLISHMENT in ep.output_clusters
            await join(stick, han, IHD_NWK, u_ieee)

            # Before CBKE, Smart Energy requests are refused even under APS encryption.
            reply = await stick.ask(2, METERING, READ_RECEIVED, src_ieee=u_ieee)
            assert reply.data == NOT_AUTHORIZED

            # Read Attributes of KeyEstablishmentSuite: bitmap16 (0x19) 0x0001.
            reply = await stick.ask(KE_ENDPOINT, KEY_ESTABLISHMENT, bytes.fromhex("00 30 00 00 00"),
                                    encrypted=False, src_ieee=u_ieee)
            assert reply.data == bytes.fromhex("18 30 01 00 00 00 19 01 00")

            tsn = 0x40
            # InitiateKeyEstablishmentRequest: suite 1, generate times 1 s, U's certificate.
            initiate = bytes.fromhex("0100 01 01") + ANNEX_C_INITIATOR.certificate
            reply = await stick.ask(KE_ENDPOINT, KEY_ESTABLISHMENT, bytes([0x01, tsn, 0x00]) + initiate,
                                    encrypted=False, src_ieee=u_ieee)
            # Response: suite 1, the NCP's generate times (10 s), V's certificate.
            assert reply.data == bytes([0x19, tsn, 0x00]) + bytes.fromhex("0100 0A 0A") + ANNEX_C_RESPONDER.certificate
            assert not reply.aps_encrypted
            reply = await stick.ask(KE_ENDPOINT, KEY_ESTABLISHMENT,
                                    bytes([0x01, tsn + 1, 0x01]) + U_EPHEMERAL_PUBLIC, encrypted=False)
            assert reply.data == bytes([0x19, tsn + 1, 0x01]) + V_EPHEMERAL_PUBLIC
            reply = await stick.ask(KE_ENDPOINT, KEY_ESTABLISHMENT, bytes([0x01, tsn + 2, 0x02]) + MACU,
                                    encrypted=False)
            assert reply.data == bytes([0x19, tsn + 2, 0x02]) + MACV

            # clearTemporaryDataMaybeStoreLinkKey(true): KeyData is U's link key in the key table.
            assert stick.link_key(u_ieee) == KEY_DATA
            assert stick.fake.cbke.stored == [(bytes(u_ieee), KEY_DATA)]
            await until(lambda: any("done on the coordinator's own CBKE library" in r for r in reports))
            assert bytes(han.app.link_keys[u_ieee]) == KEY_DATA

            # Now the display is served.
            reply = await stick.ask(2, METERING, READ_AGAIN, src_ieee=u_ieee)
            assert reply.data[:7] == READ_ANSWERED
        finally:
            await han.stop()


async def test_ncp_cbke_with_a_wrong_macu_stores_nothing() -> None:
    stick = Stick("ezsp")
    stick.fake = FakeEzspServer(eui64=t.EUI64(eui64_from_cert(ANNEX_C_RESPONDER.subject)),
                                cbke=[ANNEX_C_RESPONDER], cbke_random=lambda n: V_EPHEMERAL_PRIVATE)
    u_ieee = t.EUI64(eui64_from_cert(ANNEX_C_INITIATOR.subject))
    async with stick:
        han, _ = await start_han(stick)
        try:
            await join(stick, han, IHD_NWK, u_ieee)
            initiate = bytes.fromhex("0100 01 01") + ANNEX_C_INITIATOR.certificate
            await stick.ask(KE_ENDPOINT, KEY_ESTABLISHMENT, b"\x01\x50\x00" + initiate, encrypted=False)
            await stick.ask(KE_ENDPOINT, KEY_ESTABLISHMENT, b"\x01\x51\x01" + U_EPHEMERAL_PUBLIC, encrypted=False)
            reply = await stick.ask(KE_ENDPOINT, KEY_ESTABLISHMENT, b"\x01\x52\x02" + bytes(16), encrypted=False)
            # TerminateKeyEstablishment: BAD_KEY_CONFIRM (2), wait 10 s, suite 1.
            assert reply.data == bytes.fromhex("19 52 03 02 0A 01 00")
            assert stick.link_key(u_ieee) is None and stick.fake.cbke.stored == []
            # A certificate from another CA: UNKNOWN_ISSUER (1).
            other = TestCA.builtin(1).issue(ANNEX_C_INITIATOR.subject)
            reply = await stick.ask(KE_ENDPOINT, KEY_ESTABLISHMENT,
                                    b"\x01\x53\x00" + bytes.fromhex("0100 01 01") + other.certificate, encrypted=False)
            assert reply.data == bytes.fromhex("19 53 03 01 0A 01 00")
        finally:
            await han.stop()


async def test_ncp_cbke_suite_2_with_a_simulated_ihd() -> None:
    stick_cert = TestCA.builtin(2).issue(eui64_to_cert(STICK_IEEE))
    async with Stick("ezsp", cbke=[stick_cert]) as stick:
        han, _ = await start_han(stick)
        try:
            await join(stick, han)
            initiator = ihd_initiator(Suite.SUITE_2, stick_cert)
            await exchange(stick, initiator)
            assert initiator.state is State.SUCCEEDED
            assert stick.link_key(IHD_IEEE) == initiator.key_data  # the key the NCP derived
            assert stick.fake.cbke.stored == [(bytes(IHD_IEEE), initiator.key_data)]
        finally:
            await han.stop()


# ------------------------------------------------------- software CBKE, key installed
@pytest.mark.parametrize("kind", ["ezsp", "znp"])
async def test_software_cbke_installs_the_key_in_the_stick(kind: str) -> None:
    stick_cert = TestCA.builtin(1).issue(eui64_to_cert(STICK_IEEE))
    async with Stick(kind) as stick:
        han, reports = await start_han(stick, (stick_cert,))
        try:
            assert han.cbke_mode == "software"
            await join(stick, han)
            reply = await stick.ask(2, METERING, READ_RECEIVED)
            assert reply.data == NOT_AUTHORIZED
            initiator = ihd_initiator(Suite.SUITE_1, stick_cert)
            await exchange(stick, initiator)
            assert initiator.state is State.SUCCEEDED
            await until(lambda: stick.link_key(IHD_IEEE) is not None)
            assert stick.link_key(IHD_IEEE) == initiator.key_data
            await until(lambda: any("link key is in the coordinator" in r for r in reports))
            reply = await stick.ask(2, METERING, READ_AGAIN)
            assert reply.data[:7] == READ_ANSWERED
        finally:
            await han.stop()


async def test_zstack_without_key_management_says_why_in_one_line() -> None:
    stick_cert = TestCA.builtin(1).issue(eui64_to_cert(STICK_IEEE))
    async with Stick("znp", key_management=False) as stick:
        han, reports = await start_han(stick, (stick_cert,))
        try:
            await join(stick, han)
            initiator = ihd_initiator(Suite.SUITE_1, stick_cert)
            await exchange(stick, initiator)
            assert initiator.state is State.SUCCEEDED
            await until(lambda: any("could not be installed" in r for r in reports))
            line = next(r for r in reports if "could not be installed" in r)
            assert "\n" not in line
            assert "ZDO_SET_LINK_KEY" in line and "MT_SYS_KEY_MANAGEMENT" in line
            assert "--lab-accept-unencrypted" in line
            assert stick.link_key(IHD_IEEE) is None
        finally:
            await han.stop()


async def test_fake_ncp_with_test_certificates_runs_cbke_itself() -> None:
    """``han-emu fake-ncp --protocol ezsp --cbke-test-certificates``."""
    from han_emu.radio.fakencp.ezsp.server import serve_ezsp

    fake = await serve_ezsp("127.0.0.1", 0, cbke_test_certificates=True)
    try:
        subject = eui64_to_cert(fake.tokens.eui64)
        assert {s: c.subject for s, c in fake.cbke.identities.items()} == {
            Suite.SUITE_1: subject, Suite.SUITE_2: subject}
        config = load(None)
        han = HardwareHan(config, TwinMeter(config.meter, time.time()), parse_radio(f"ezsp:{fake.url}"),
                          step_s=3600)
        await han.start()
        try:
            assert han.cbke_mode == "ncp" and han.status_line().endswith("; CBKE on the NCP")
            assert sorted(han.app.ncp_cbke.certificates) == [Suite.SUITE_1, Suite.SUITE_2]
            assert han.app.ncp_cbke.suites == 0x0003
        finally:
            await han.stop()
    finally:
        await fake.close()
