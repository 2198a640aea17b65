"""The ESI as CBKE initiator (a re-key): the Annex C exchange with the roles reversed, byte for byte.

The ESI plays U with the Annex C initiator's certificate and ephemeral key, the
display plays V with the responder's: every frame of the exchange is then the
Annex C one, with the directions of the join flow.  The ESI's requests go
client to server (frame control 0x11: cluster command, default response
disabled), the display's responses server to client (0x19); the TSN of the
first request carries through the exchange, as Silicon Labs' key-establishment
plugin does.  Frames and key are typed from the reference, not computed.
"""

from __future__ import annotations

import pytest
import zigpy.types as t

from clusters.ids import KEY_ESTABLISHMENT as KE
from han_emu.crypto.certsets import ANNEX_C_INITIATOR
from han_emu.server.key_establishment import KeyEstablishmentBusy

from .server_helpers import ESI_EP, IHD, IHD_EP, frame, h
from .test_key_establishment import (
    CONFIRM_U,
    EPHEMERAL_U,
    INITIATE_U,
    KEY_DATA,
    MACU,
    MACV,
    U_CERT,
    U_EPHEMERAL_PUBLIC,
    V_CERT,
    V_EPHEMERAL_PUBLIC,
    Bench,
    bench,
    fixed,
    fmt,
    ke,
)

H = bytes.fromhex
U_EPHEMERAL_PRIVATE = H("0013D36DE4B1EA8E22739C381370823F404BFF8862")
V_EUI = t.EUI64.convert("00:00:00:00:00:00:00:01")

# The ESI (U) asks, the display (V) answers: directions reversed from the join flow.
INITIATE_REQ_U = f"11 {{tsn}} 00 0100 01 01 {U_CERT}"
INITIATE_RSP_V = f"19 {{tsn}} 00 0100 01 01 {V_CERT}"
EPHEMERAL_REQ_U = f"11 {{tsn}} 01 {U_EPHEMERAL_PUBLIC}"
EPHEMERAL_RSP_V = f"19 {{tsn}} 01 {V_EPHEMERAL_PUBLIC}"
CONFIRM_REQ_U = f"11 {{tsn}} 02 {MACU}"
CONFIRM_RSP_V = f"19 {{tsn}} 02 {MACV}"


def esi_as_u() -> Bench:
    """The ESI with the Annex C initiator's identity; the IHD (0x1234) is the Annex C responder."""
    b = bench(ANNEX_C_INITIATOR, random=fixed(U_EPHEMERAL_PRIVATE))
    b.names[int(IHD.address)] = V_EUI
    return b


def start(b: Bench) -> tuple[str, int]:
    """Initiate as the ESI does (EsiServer.rekey): the queued frame and its TSN."""
    message = b.kes.initiate(V_EUI)
    tsn = b.zcl.send(ESI_EP, KE, message.command, message.payload, IHD, IHD_EP, from_server=False,
                     disable_default_response=True)
    (packet,) = b.zcl.due()
    assert packet.dst == IHD and packet.dst_ep == IHD_EP and packet.src_ep == ESI_EP
    assert t.TransmitOptions.APS_Encryption not in packet.tx_options  # CBKE runs under network security only
    return frame(packet), tsn


def answer(b: Bench, hex_frame: str, tsn: int) -> list[str]:
    """The display's response (a server-to-client frame from its endpoint) and what the ESI sends back."""
    replies = b.zcl.handle(ke(hex_frame, tsn))
    for reply in replies:
        assert reply.dst == IHD and reply.dst_ep == IHD_EP and reply.cluster_id == KE
        assert t.TransmitOptions.APS_Encryption not in reply.tx_options
    return [frame(r) for r in replies]


def test_annex_c_with_the_esi_as_initiator_golden_frames_and_key() -> None:
    b = esi_as_u()
    b.kes.authorise(V_EUI)  # a display that did CBKE at its join: the re-key keeps it served meanwhile
    sent, tsn = start(b)
    assert sent == fmt(INITIATE_REQ_U, tsn)
    assert b.kes.busy(V_EUI) and b.kes.authorised(V_EUI)
    assert answer(b, INITIATE_RSP_V, tsn) == [fmt(EPHEMERAL_REQ_U, tsn)]
    assert answer(b, EPHEMERAL_RSP_V, tsn) == [fmt(CONFIRM_REQ_U, tsn)]
    assert b.keys == []  # the old key stays until the exchange succeeds
    assert answer(b, CONFIRM_RSP_V, tsn) == []  # default response disabled: nothing more
    assert b.keys == [(V_EUI, KEY_DATA)]
    assert b.kes.authorised(V_EUI) and not b.kes.busy(V_EUI)
    last = b.kes.outcomes[-1]
    assert last.established and last.initiated and last.ieee == V_EUI
    assert b.kes.partner_endpoint(V_EUI) == IHD_EP


def test_golden_frames_decode_as_the_key_establishment_commands_they_are() -> None:
    """Decoding the reversed-role frames with the cluster definition gives the Annex C values."""
    from clusters.key_establishment import KeyEstablishment
    from clusters.zcl_header import ZclHeader

    requests, responses = KeyEstablishment.ServerCommandDefs, KeyEstablishment.ClientCommandDefs
    header, body = ZclHeader.deserialize(H(fmt(INITIATE_REQ_U, 7)))
    assert (header.tsn, header.command_id, header.direction.name, header.frame_control.disable_default_response) == (
        7, requests.initiate_key_establishment_request.id, "Client_to_Server", True)
    value, rest = requests.initiate_key_establishment_request.schema.deserialize(body)
    assert (int(value.key_establishment_suite), value.ephemeral_data_generate_time, value.confirm_key_generate_time,
            bytes(value.identity), rest) == (1, 1, 1, H(U_CERT.replace(" ", "")), b"")
    header, body = ZclHeader.deserialize(H(fmt(CONFIRM_RSP_V, 7)))
    assert header.direction.name == "Server_to_Client"
    (mac, _rest) = responses.confirm_key_data_response.schema.deserialize(body)
    assert bytes(mac.secure_message_authentication_code) == H(MACV)
    # and back: the schema builds the same bytes
    built = requests.ephemeral_data_request.schema(ephemeral_data=H(U_EPHEMERAL_PUBLIC)).serialize()
    assert built.hex() == fmt(EPHEMERAL_REQ_U, 7)[6:]


def test_a_failed_rekey_leaves_the_old_key_and_the_authorisation() -> None:
    b = esi_as_u()
    b.kes.authorise(V_EUI)
    sent, tsn = start(b)
    answer(b, INITIATE_RSP_V, tsn)
    answer(b, EPHEMERAL_RSP_V, tsn)
    # The display's MACV is wrong: the ESI refuses it (Terminate BAD_KEY_CONFIRM, client to server).
    bad = f"19 {{tsn}} 02 {'00' * 16}"
    assert answer(b, bad, tsn) == [h(f"11 {tsn:02x} 03 02 0a 0100")]
    assert b.keys == [] and b.kes.authorised(V_EUI) and not b.kes.busy(V_EUI)
    assert b.kes.outcomes[-1].sent is not None and b.kes.outcomes[-1].initiated


def test_the_display_terminating_ends_it_quietly() -> None:
    b = esi_as_u()
    sent, tsn = start(b)
    # Terminate from the display's server: UNKNOWN_ISSUER, wait 10 s, suite 1.
    assert answer(b, "19 {tsn} 03 01 0a 0100", tsn) == []
    assert not b.kes.busy(V_EUI) and b.kes.outcomes[-1].received == 0x01 and b.keys == []


def test_one_exchange_per_partner_whoever_starts_it() -> None:
    b = esi_as_u()
    start(b)
    with pytest.raises(KeyEstablishmentBusy):
        b.kes.initiate(V_EUI)
    # The display starting its own meanwhile is told to wait (NO_RESOURCES).
    (reply,) = b.zcl.handle(ke(INITIATE_U, 0x30))
    assert frame(reply).startswith(h("19 30 03 04"))


def test_an_unanswered_initiation_times_out() -> None:
    b = esi_as_u()
    start(b)
    b.clock.advance(b.kes.slack + 1)
    assert not b.kes.busy(V_EUI) and b.kes.outcomes[-1].timed_out and b.kes.outcomes[-1].initiated


def test_a_response_outside_an_exchange_we_started_is_refused() -> None:
    b = esi_as_u()
    assert answer(b, EPHEMERAL_RSP_V, 5) == [h("11 05 03 03 0a 0100")]  # Terminate BAD_MESSAGE
    assert answer(b, "19 {tsn} 03 01 0a 0100", 6) == []  # a stray Terminate: nothing to say


def test_the_join_flow_still_runs_when_the_esi_can_initiate() -> None:
    b = bench()
    assert b.zcl.handle(ke(INITIATE_U, 1))
    assert b.zcl.handle(ke(EPHEMERAL_U, 2)) and b.zcl.handle(ke(CONFIRM_U, 3))
    assert b.keys and not b.kes.outcomes[-1].initiated
    assert b.kes.partner_endpoint(b.keys[0][0]) == IHD_EP
