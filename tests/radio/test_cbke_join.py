"""The whole Smart Energy join on the virtual HAN: install code, association, CBKE
against the ESI's Key Establishment server, then Smart Energy traffic under the
agreed link key (and failure under any other key).

Golden values: the install-code vector and the Annex C suite-1 exchange from the
reference (cbke.md); ZCL frames written by hand from ZCL 2.5.
"""

from __future__ import annotations

import secrets
from types import SimpleNamespace

import pytest
import zigpy.exceptions
import zigpy.types as t
from zigpy.zcl.clusters.smartenergy import Metering

from han_emu.crypto.certsets import (
    ANNEX_C_INITIATOR,
    ANNEX_C_RESPONDER,
    CertificateSet,
    TestCA,
    eui64_to_cert,
)
from han_emu.crypto.cbke import Suite, TerminateStatus
from han_emu.radio.virtual import AirFrame, SimNode, VirtualAir, ihd_endpoint
from han_emu.radio.virtual.cbke_client import CbkeError, establish_link_key, join_smart_energy
from han_emu.radio.vtime import clock_for_loop, run_virtual
from han_emu.server.attributes import AttributeTable
from han_emu.server.endpoint import Endpoint
from han_emu.server.engine import ZclServer
from han_emu.server.key_establishment import KeyEstablishmentServer

from .radio_support import HostedVirtualApp

H = bytes.fromhex
EPOCH = 1_700_000_000.0
KE = 0x0800
METERING = 0x0702
ESI_EP = 1
ESI_IEEE = t.EUI64.convert("00:00:00:00:00:00:00:01")  # Annex C responder V
IHD_IEEE = t.EUI64.convert("00:00:00:00:00:00:00:02")  # Annex C initiator U
INSTALL_CODE = H("83FED3407A939738C552")  # 8 bytes + CRC-16
INSTALL_KEY = H("A833A77434F3BFBD7A7AB97942149287")  # AES-MMO of the install code
U_EPHEMERAL_PRIVATE = H("0013D36DE4B1EA8E22739C381370823F404BFF8862")
V_EPHEMERAL_PRIVATE = H("03D48C7210DDBCC4FB2E5E7A0AA16A0DB89540820B")
KEY_DATA = H("86D58AAA998E2FAEFAF9FEF49606543A")

# Read Attributes of CurrentSummationDelivered (0x0000), client->server, TSN replaced.
READ_SUMMATION = bytes([0x00, 0x00, 0x00, 0x00, 0x00])
SUMMATION = 0x0102030405


def read_rsp(tsn: int) -> bytes:
    """Read Attributes Response: 0x18 (general, server->client, no default
    response), TSN, 0x01, attribute 0x0000, SUCCESS, uint48 (0x25), 6 bytes LE."""
    return bytes([0x18, tsn, 0x01, 0x00, 0x00, 0x00, 0x25, 0x05, 0x04, 0x03, 0x02, 0x01, 0x00])


def not_authorized(tsn: int) -> bytes:
    """Default Response to command 0x00 with status NOT_AUTHORIZED (0x7E)."""
    return bytes([0x18, tsn, 0x0B, 0x00, 0x7E])


def fixed(*values: bytes):
    queue = list(values)
    return lambda n: queue.pop(0)


async def start_esi(
    air: VirtualAir,
    identities: CertificateSet | list[CertificateSet],
    *,
    ieee: t.EUI64 = ESI_IEEE,
    random=secrets.token_bytes,
    guard: bool = True,
) -> SimpleNamespace:
    """A hosted virtual coordinator whose ESI endpoint serves Metering and Key
    Establishment; CBKE keys go to the coordinator's link-key table."""
    app = HostedVirtualApp({"nwk": {"channel": 15}}, air=air, ieee=ieee)
    clock = clock_for_loop()
    endpoint = Endpoint(ESI_EP)
    endpoint.add_server_cluster(
        Metering, AttributeTable.from_cluster(Metering, {"current_summ_delivered": lambda: SUMMATION})
    )
    kes = KeyEstablishmentServer(
        endpoint, identities, clock, app.ieee_of, on_key=app.install_link_key, random=random
    )
    zcl = ZclServer([endpoint], clock)
    if guard:
        kes.guard(zcl)
    app.attach_server(zcl)
    await app.startup(auto_form=True)
    frames: list[AirFrame] = []
    air.add_listener(frames.append)
    return SimpleNamespace(app=app, zcl=zcl, kes=kes, frames=frames)


async def read_summation(ihd: SimNode) -> bytes:
    reply = await ihd.request(0x0000, ESI_EP, METERING, READ_SUMMATION)
    return reply.data.serialize()


def test_install_code_join_then_annex_c_cbke_then_encrypted_traffic() -> None:
    async def main() -> None:
        air = VirtualAir()
        esi = await start_esi(air, ANNEX_C_RESPONDER, random=fixed(V_EPHEMERAL_PRIVATE))
        app = esi.app
        ihd = SimNode(air, IHD_IEEE, [ihd_endpoint(endpoint=2)], name="ihd")
        try:
            assert app.state.node_info.ieee == ESI_IEEE
            assert bytes(await app.permit_with_install_code(IHD_IEEE, INSTALL_CODE)) == INSTALL_KEY
            assert bytes(ihd.use_install_code(INSTALL_CODE)) == INSTALL_KEY
            await ihd.join()
            assert bytes(app.link_key_for(IHD_IEEE)) == INSTALL_KEY

            # Under the install-code key alone, Smart Energy data is refused.
            data = await read_summation(ihd)
            assert data == not_authorized(data[1])

            result = await establish_link_key(ihd, ANNEX_C_INITIATOR, random=fixed(U_EPHEMERAL_PRIVATE))
            assert result.key_data == KEY_DATA and result.suite is Suite.SUITE_1
            assert (result.esi_nwk, result.esi_endpoint, result.esi_ieee) == (0x0000, ESI_EP, ESI_IEEE)
            assert bytes(ihd.link_key) == KEY_DATA and bytes(app.link_key_for(IHD_IEEE)) == KEY_DATA
            assert esi.kes.authorised(IHD_IEEE)

            data = await read_summation(ihd)
            assert data == read_rsp(data[1])

            ke_frames = [f for f in esi.frames if f.packet.cluster_id == KE and not f.aps_ack]
            assert len(ke_frames) == 6  # three requests, three responses
            assert all(t.TransmitOptions.APS_Encryption not in f.tx_options for f in ke_frames)
            last = [f for f in esi.frames if f.packet.cluster_id == METERING and not f.aps_ack][-2:]
            assert all(t.TransmitOptions.APS_Encryption in f.tx_options for f in last)
            assert [f.delivered_to for f in last] == [(ESI_IEEE,), (IHD_IEEE,)]

            # A node still on the old key is not understood: its frame fails the
            # ESI's decryption, so no APS acknowledgement comes back.
            ihd.link_key = t.KeyData(INSTALL_KEY)
            sent = len(esi.frames)
            with pytest.raises(zigpy.exceptions.DeliveryError):
                await read_summation(ihd)
            (lost,) = esi.frames[sent:]
            assert lost.packet.cluster_id == METERING and lost.delivered_to == ()
            # Keys agree again: traffic flows.
            ihd.link_key = t.KeyData(KEY_DATA)
            data = await read_summation(ihd)
            assert data == read_rsp(data[1])
        finally:
            await app.shutdown()

    run_virtual(main(), EPOCH)


def test_node_without_cbke_is_refused_unless_the_lab_override_is_on() -> None:
    async def main() -> None:
        air = VirtualAir()
        esi = await start_esi(air, ANNEX_C_RESPONDER)
        ihd = SimNode(air, IHD_IEEE, [ihd_endpoint()], name="ihd")
        try:
            await esi.app.permit_with_install_code(IHD_IEEE, INSTALL_CODE)
            ihd.use_install_code(INSTALL_CODE)
            await ihd.join()
            data = await read_summation(ihd)
            assert data == not_authorized(data[1])
            esi.zcl.encryption.accept_unencrypted = True
            data = await read_summation(ihd)
            assert data == read_rsp(data[1])
            assert not esi.kes.authorised(IHD_IEEE)
        finally:
            await esi.app.shutdown()

    run_virtual(main(), EPOCH)


def test_unguarded_server_keeps_serving_without_cbke() -> None:
    async def main() -> None:
        air = VirtualAir()
        esi = await start_esi(air, ANNEX_C_RESPONDER, guard=False)
        ihd = SimNode(air, IHD_IEEE, [ihd_endpoint()], name="ihd")
        try:
            await esi.app.permit_ncp(60)
            await ihd.join()  # no install code: both ends use the default TC link key
            data = await read_summation(ihd)
            assert data == read_rsp(data[1])
        finally:
            await esi.app.shutdown()

    run_virtual(main(), EPOCH)


COORDINATOR = t.EUI64.convert("00:0d:6f:00:00:00:00:01")
IHD2 = t.EUI64.convert("00:0d:6f:00:00:00:00:42")


@pytest.fixture(scope="module")
def suite2_certs() -> SimpleNamespace:
    ca = TestCA.builtin(2)
    return SimpleNamespace(esi=ca.issue(eui64_to_cert(COORDINATOR)), ihd=ca.issue(eui64_to_cert(IHD2)))


def test_suite2_smart_energy_join(suite2_certs: SimpleNamespace) -> None:
    async def main() -> None:
        air = VirtualAir()
        esi = await start_esi(air, [ANNEX_C_RESPONDER, suite2_certs.esi], ieee=COORDINATOR)
        ihd = SimNode(air, IHD2, [ihd_endpoint()], name="ihd")
        try:
            await esi.app.permit_with_install_code(IHD2, INSTALL_CODE)
            result = await join_smart_energy(ihd, suite2_certs.ihd, install_code=INSTALL_CODE)
            assert result.suite is Suite.SUITE_2 and len(result.key_data) == 16
            assert result.key_data != INSTALL_KEY
            assert bytes(ihd.link_key) == result.key_data == bytes(esi.app.link_key_for(IHD2))
            data = await read_summation(ihd)
            assert data == read_rsp(data[1])
        finally:
            await esi.app.shutdown()

    run_virtual(main(), EPOCH)


@pytest.mark.parametrize(
    "case",
    ["unknown-issuer", "wrong-ca-key", "responder-not-the-coordinator"],
)
def test_failed_cbke_leaves_the_install_code_key(case: str) -> None:
    async def main() -> None:
        air = VirtualAir()
        coordinator = ESI_IEEE
        certs = ANNEX_C_INITIATOR
        expected = (TerminateStatus.UNKNOWN_ISSUER, "responder")
        if case == "unknown-issuer":
            certs = TestCA.builtin(1).issue(eui64_to_cert(IHD_IEEE))
        elif case == "wrong-ca-key":
            # Right certificate, wrong CA public key: the node reconstructs the
            # ESI's key wrongly, so its MACU cannot match.
            certs = CertificateSet(
                Suite.SUITE_1, TestCA.builtin(1).public_key,
                ANNEX_C_INITIATOR.certificate, ANNEX_C_INITIATOR.private_key,
            )
            expected = (TerminateStatus.BAD_KEY_CONFIRM, "responder")
        else:
            # The ESI presents V's certificate but is not V: the node refuses it.
            coordinator = COORDINATOR
            expected = (TerminateStatus.INVALID_CERTIFICATE, "initiator")
        esi = await start_esi(air, ANNEX_C_RESPONDER, ieee=coordinator)
        ihd = SimNode(air, IHD_IEEE, [ihd_endpoint()], name="ihd")
        try:
            await esi.app.permit_with_install_code(IHD_IEEE, INSTALL_CODE)
            with pytest.raises(CbkeError) as failure:
                await join_smart_energy(ihd, certs, install_code=INSTALL_CODE)
            assert (failure.value.status, failure.value.sent_by) == expected
            if expected[1] == "responder":
                assert failure.value.wait_time == 10
            assert bytes(ihd.link_key) == INSTALL_KEY == bytes(esi.app.link_key_for(IHD_IEEE))
            assert not esi.kes.authorised(IHD_IEEE) and not esi.kes.busy(IHD_IEEE)
        finally:
            await esi.app.shutdown()

    run_virtual(main(), EPOCH)
