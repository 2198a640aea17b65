"""The trust centre re-keys a display on the virtual HAN: the ESI starts CBKE as
initiator (U) and the display's Key Establishment server answers as responder (V).

Golden values: the Annex C suite-1 exchange from the reference (cbke.md) with the
ESI holding the initiator's certificate and ephemeral key and the display the
responder's, so every frame on the air is typed from the reference: the ESI's
requests client to server (0x11), the display's responses server to client
(0x19), one TSN throughout.
"""

from __future__ import annotations

import asyncio

import zigpy.types as t

from han_emu.crypto.certsets import ANNEX_C_INITIATOR, ANNEX_C_RESPONDER
from han_emu.radio.virtual import SimNode, VirtualAir, ihd_endpoint
from han_emu.radio.virtual.cbke_responder import CbkeResponder, refuse_key_establishment
from han_emu.radio.vtime import clock_for_loop, run_virtual

from .test_cbke_join import (
    EPOCH,
    ESI_EP,
    INSTALL_CODE,
    INSTALL_KEY,
    KE,
    KEY_DATA,
    U_EPHEMERAL_PRIVATE,
    V_EPHEMERAL_PRIVATE,
    fixed,
    read_rsp,
    read_summation,
    start_esi,
)

H = bytes.fromhex
ESI_IEEE = t.EUI64.convert("00:00:00:00:00:00:00:02")  # Annex C initiator U: the trust centre re-keys
IHD_IEEE = t.EUI64.convert("00:00:00:00:00:00:00:01")  # Annex C responder V
IHD_EP = 2
U_CERT = "020615E07D30ECA2DAD58002E667D94BC1B422398307 0000000000000002 5445535453454341 01090006000000000000"
V_CERT = "03045FDFC8D85FFB8B3993CB72DDCAA55F00B3E87D6D 0000000000000001 5445535453454341 01090006000000000000"
EXCHANGE = [  # (from the ESI?, ZCL frame without its TSN byte: frame control, then command and payload)
    (True, "11", "00 0100 01 01 " + U_CERT),
    (False, "19", "00 0100 01 01 " + V_CERT),
    (True, "11", "01 0300E117C86D0E7CD128B2F34E9076CFF24AF46D7288"),
    (False, "19", "01 0306AB52062201D995B8B8591F3F086A3A2E214D845E"),
    (True, "11", "02 B82F1F9774740C32F80FCFC3921B6420"),
    (False, "19", "02 79D5F2AD1C31D4D1EE7CB719AC683C3C"),
]


async def joined_pair(air: VirtualAir) -> tuple[object, SimNode]:
    """The ESI as Annex C U, and a display (V) joined on its install-code key, CBKE not run yet."""
    esi = await start_esi(air, ANNEX_C_INITIATOR, ieee=ESI_IEEE, random=fixed(U_EPHEMERAL_PRIVATE))
    ihd = SimNode(air, IHD_IEEE, [ihd_endpoint(endpoint=IHD_EP)], name="ihd")
    await esi.app.permit_with_install_code(IHD_IEEE, INSTALL_CODE)
    ihd.use_install_code(INSTALL_CODE)
    await ihd.join()
    return esi, ihd


async def rekey(esi, ihd: SimNode) -> int:
    message = esi.kes.initiate(IHD_IEEE)
    tsn = esi.zcl.send(ESI_EP, KE, message.command, message.payload,
                       t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=ihd.nwk), IHD_EP,
                       from_server=False, disable_default_response=True)
    esi.app.wake_server()
    await asyncio.sleep(2)
    return tsn


def test_the_esi_rekeys_a_display_annex_c_on_the_air_then_serves_it_under_the_new_key() -> None:
    async def main() -> None:
        air = VirtualAir()
        esi, ihd = await joined_pair(air)
        responder = CbkeResponder(ihd, ANNEX_C_RESPONDER, clock_for_loop(), random=fixed(V_EPHEMERAL_PRIVATE),
                                  trust_centre=ESI_IEEE)
        ihd.handlers.append(responder.handle)
        try:
            assert bytes(ihd.link_key) == INSTALL_KEY
            tsn = await rekey(esi, ihd)
            frames = [f for f in esi.frames if f.packet.cluster_id == KE and not f.aps_ack]
            seen = [(int(f.src) == 0x0000, f.packet.data.serialize().hex()) for f in frames]
            assert seen == [(by_esi, (fc + f"{tsn:02x}" + rest).replace(" ", "").lower())
                            for by_esi, fc, rest in EXCHANGE]
            assert all(t.TransmitOptions.APS_Encryption not in f.tx_options for f in frames)
            assert [f.packet.dst_ep for f in frames] == [IHD_EP, ESI_EP] * 3
            assert bytes(ihd.link_key) == KEY_DATA and bytes(esi.app.link_key_for(IHD_IEEE)) == KEY_DATA
            assert esi.kes.authorised(IHD_IEEE) and responder.exchanges == 1
            data = await read_summation(ihd)  # Smart Energy data under the new key
            assert data == read_rsp(data[1])
        finally:
            await esi.app.shutdown()

    run_virtual(main(), EPOCH)


def test_a_terminate_after_the_display_succeeded_puts_its_old_key_back() -> None:
    async def main() -> None:
        air = VirtualAir()
        esi, ihd = await joined_pair(air)
        responder = CbkeResponder(ihd, ANNEX_C_RESPONDER, clock_for_loop(), random=fixed(V_EPHEMERAL_PRIVATE),
                                  trust_centre=ESI_IEEE)
        ihd.handlers.append(responder.handle)
        seen: list[bytes] = []
        try:
            # The ESI refuses the display's MACV: it answers the ConfirmKeyData response with
            # Terminate BAD_KEY_CONFIRM (client to server: 0x11, status 02, wait 0a, suite 0001).
            original = esi.kes._on_response

            def refuse_macv(request):
                if request.command_id == 0x02:
                    seen.append(bytes(request.payload))
                    esi.kes._initiated.pop(IHD_IEEE, None)
                    from han_emu.server.command import ZclReply

                    return [ZclReply(0x03, H("020a0100"))]
                return original(request)

            esi.zcl.endpoints[ESI_EP].client_clusters[KE].handlers[(0x02, None)] = refuse_macv
            await rekey(esi, ihd)
            assert seen == [H("79D5F2AD1C31D4D1EE7CB719AC683C3C")]
            assert bytes(ihd.link_key) == INSTALL_KEY  # the display went back to its old key
        finally:
            await esi.app.shutdown()

    run_virtual(main(), EPOCH)


def test_a_display_that_takes_no_part_refuses_and_keeps_its_key() -> None:
    async def main() -> None:
        air = VirtualAir()
        esi, ihd = await joined_pair(air)
        ihd.handlers.append(refuse_key_establishment)
        try:
            tsn = await rekey(esi, ihd)
            frames = [f.packet.data.serialize().hex() for f in esi.frames if f.packet.cluster_id == KE
                      and not f.aps_ack]
            # Default Response (0x18 general, server to client, no default response) to 0x00: UNSUP_CLUSTER_COMMAND.
            assert frames[1:] == [f"18{tsn:02x}0b0081"]
            assert bytes(ihd.link_key) == INSTALL_KEY and bytes(esi.app.link_key_for(IHD_IEEE)) == INSTALL_KEY
            assert not esi.kes.authorised(IHD_IEEE)
        finally:
            await esi.app.shutdown()

    run_virtual(main(), EPOCH)
