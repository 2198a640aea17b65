"""SimNode's own ZCL behaviour: responses, Default Responses, handlers, timeouts."""

from __future__ import annotations

import asyncio

import pytest
import zigpy.exceptions
import zigpy.types as t
import zigpy.zcl.foundation as foundation

from han_emu.radio.virtual import (
    AirFrame,
    SimNode,
    VirtualAir,
    VirtualControllerApplication,
    ihd_endpoint,
    se_endpoint,
    zcl_frame,
)
from han_emu.radio.vtime import run_virtual

PRICE = 0x0700
METERING = 0x0702
BASIC = 0x0000


async def network() -> tuple[VirtualAir, VirtualControllerApplication, SimNode, SimNode, list[AirFrame]]:
    """A coordinator, an IHD on endpoint 1 and a 'meter' node serving Metering and Basic."""
    air = VirtualAir()
    app = VirtualControllerApplication({}, air=air)
    await app.startup(auto_form=True)
    await app.permit_ncp(254)
    ihd = SimNode(air, "00:0d:6f:00:00:00:00:01", [ihd_endpoint()], name="ihd")
    meter = SimNode(
        air,
        "00:0d:6f:00:00:00:00:09",
        [se_endpoint(0x0501, endpoint=9, servers=(BASIC, METERING))],
        name="meter",
        router=True,
    )
    await ihd.join()
    await meter.join()
    frames: list[AirFrame] = []
    air.add_listener(frames.append)
    return air, app, ihd, meter, frames


def raw(dst: SimNode, dst_ep: int, cluster: int, frame: bytes, *, broadcast: bool = False) -> t.ZigbeePacket:
    address = (
        t.AddrModeAddress(addr_mode=t.AddrMode.Broadcast, address=0xFFFD)
        if broadcast
        else t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=dst.nwk)
    )
    return t.ZigbeePacket(
        src_ep=9,
        dst=address,
        dst_ep=dst_ep,
        profile_id=0x0109,
        cluster_id=cluster,
        data=t.SerializableBytes(frame),
        tx_options=t.TransmitOptions.APS_Encryption,
    )


def sent_by(node: SimNode, frames: list[AirFrame]) -> list[bytes]:
    """ZCL frames sent by ``node`` (ZDO answers to zigpy's interview left out)."""
    return [
        f.packet.data.serialize()
        for f in frames
        if f.src == node.nwk and not f.aps_ack and f.packet.profile_id == 0x0109
    ]


def test_unknown_cluster_command_gets_a_default_response() -> None:
    async def main() -> None:
        air, app, ihd, meter, frames = await network()
        # PublishPrice header only (cluster command 0x00, server->client, default
        # response wanted): frame control 0x09, TSN 0x55.
        await meter.send(raw(ihd, 1, PRICE, bytes([0x09, 0x55, 0x00])))
        await asyncio.sleep(1)
        # Default Response: frame control 0x10 (general, client->server, disable
        # default response), TSN 0x55, command 0x0B, for command 0x00,
        # status 0x81 UNSUP_CLUSTER_COMMAND.
        assert sent_by(ihd, frames) == [bytes([0x10, 0x55, 0x0B, 0x00, 0x81])]
        reply = next(
            f for f in frames if f.src == ihd.nwk and not f.aps_ack and f.packet.profile_id
        )
        assert reply.packet.src_ep == 1 and reply.packet.dst_ep == 9
        assert t.TransmitOptions.APS_Encryption in reply.tx_options
        await app.shutdown()

    run_virtual(main())


def test_handler_takes_frames_and_suppressed_default_response_is_honoured() -> None:
    async def main() -> None:
        air, app, ihd, meter, frames = await network()
        seen: list[tuple[int, bytes]] = []

        def on_price(node: SimNode, frame) -> foundation.Status | None:
            if frame.packet.cluster_id != PRICE:
                return None
            seen.append((frame.header.command_id, frame.payload))
            return foundation.Status.SUCCESS

        ihd.handlers.append(on_price)
        # PublishPrice with disable-default-response (0x19) and a 2-byte stub payload
        await meter.send(raw(ihd, 1, PRICE, bytes([0x19, 0x56, 0x00, 0xAB, 0xCD])))
        # the same with default response wanted (0x09): SUCCESS comes back
        await meter.send(raw(ihd, 1, PRICE, bytes([0x09, 0x57, 0x00, 0xAB, 0xCD])))
        await asyncio.sleep(1)
        assert seen == [(0x00, b"\xab\xcd"), (0x00, b"\xab\xcd")]
        assert sent_by(ihd, frames) == [bytes([0x10, 0x57, 0x0B, 0x00, 0x00])]
        assert [f.payload for f in ihd.received] == [b"\xab\xcd", b"\xab\xcd"]
        await app.shutdown()

    run_virtual(main())


def test_no_default_response_to_a_broadcast() -> None:
    async def main() -> None:
        air, app, ihd, meter, frames = await network()
        await meter.send(raw(ihd, 0xFF, PRICE, bytes([0x09, 0x58, 0x00]), broadcast=True))
        await asyncio.sleep(1)
        assert sent_by(ihd, frames) == []
        await app.shutdown()

    run_virtual(main())


def test_cluster_missing_from_the_endpoint_is_unsupported() -> None:
    async def main() -> None:
        air, app, ihd, meter, frames = await network()
        # Read Attributes of Basic (not on the IHD endpoint): 0x00 TSN 0x59 0x00 attr 0x0004
        await meter.send(raw(ihd, 1, BASIC, bytes([0x00, 0x59, 0x00, 0x04, 0x00])))
        await asyncio.sleep(1)
        # Default Response with status 0xC3 UNSUPPORTED_CLUSTER
        assert sent_by(ihd, frames) == [bytes([0x18, 0x59, 0x0B, 0x00, 0xC3])]
        await app.shutdown()

    run_virtual(main())


def test_node_serves_its_attributes_to_read_attributes() -> None:
    async def main() -> None:
        air, app, ihd, meter, frames = await network()
        meter.attributes[(9, BASIC, 0x0004)] = foundation.TypeValue(0x42, t.CharacterString("han"))
        # Read 0x0004 (manufacturer name) and 0x0005 (model, absent)
        rsp = await ihd.request(meter.nwk, 9, BASIC, bytes([0x00, 0x00, 0x00, 0x04, 0x00, 0x05, 0x00]))
        tsn = rsp.tsn
        # 0x18 general, server->client, no default response; 0x01 Read Attributes
        # Response; 0x0004 SUCCESS, type 0x42 char string "han"; 0x0005 status 0x86
        assert rsp.data.serialize() == bytes(
            [0x18, tsn, 0x01, 0x04, 0x00, 0x00, 0x42, 0x03, ord("h"), ord("a"), ord("n"), 0x05, 0x00, 0x86]
        )
        assert rsp.src_ep == 9 and rsp.dst_ep == 1
        await app.shutdown()

    run_virtual(main())


def test_request_numbers_its_frames_and_times_out_without_an_answer() -> None:
    async def main() -> None:
        air, app, ihd, meter, frames = await network()
        loop = asyncio.get_running_loop()
        # Configure Reporting (0x06) is not served by the meter node: it answers
        # with a Default Response, which completes the request.
        first = await ihd.request(meter.nwk, 9, METERING, bytes([0x00, 0x00, 0x06]))
        second = await ihd.request(meter.nwk, 9, METERING, bytes([0x00, 0x00, 0x06]))
        assert (second.tsn - first.tsn) % 256 == 1
        assert first.data.serialize() == bytes([0x18, first.tsn, 0x0B, 0x06, 0x82])
        # the TSN assigned replaces the one in the given frame (byte 1)
        sent = sent_by(ihd, frames)
        assert sent[:2] == [bytes([0x00, first.tsn, 0x06]), bytes([0x00, second.tsn, 0x06])]
        # Nobody on endpoint 7: the APS layer drops it and no answer comes.
        start = loop.time()
        with pytest.raises(TimeoutError):
            await ihd.request(meter.nwk, 7, METERING, bytes([0x00, 0x00, 0x06]), timeout=4)
        assert loop.time() - start == pytest.approx(4)
        await app.shutdown()

    run_virtual(main())


def test_a_request_times_out_at_its_deadline_even_inside_the_send() -> None:
    """A deadline shorter than the air's wait for an APS acknowledgement cuts
    the send short; a longer one fails the wait for the answer."""

    async def main() -> None:
        air, app, ihd, meter, frames = await network()
        loop = asyncio.get_running_loop()
        meter_nwk = meter.nwk
        await meter.leave()  # no APS acknowledgement will come: the send waits ack_timeout
        for limit in (air.ack_timeout / 3, air.ack_timeout * 2):
            start = loop.time()
            with pytest.raises((TimeoutError, zigpy.exceptions.DeliveryError)) as raised:
                await ihd.request(meter_nwk, 9, METERING, bytes([0x00, 0x00, 0x06]), timeout=limit)
            if limit < air.ack_timeout:
                assert raised.type is TimeoutError
                assert loop.time() - start == pytest.approx(limit)
            else:  # the air gave up on the acknowledgement first
                assert raised.type is zigpy.exceptions.DeliveryError
                assert loop.time() - start == pytest.approx(air.ack_timeout)
        assert not ihd._zcl_pending
        await app.shutdown()

    run_virtual(main())


def test_match_desc_broadcast_collects_every_server() -> None:
    async def main() -> None:
        air, app, ihd, meter, frames = await network()
        found = await ihd.match_descriptor(0x0109, [METERING], dst_nwk=None)
        assert found == [(meter.nwk, [9])]  # the coordinator serves no 0x0109 endpoint
        found = await ihd.match_descriptor(0x0109, [METERING], dst_nwk=meter.nwk)
        assert found == [(meter.nwk, [9])]
        assert await ihd.find_esi(METERING) == []  # asked of the coordinator
        await app.shutdown()

    run_virtual(main())


def test_leave_takes_the_node_off_the_air() -> None:
    async def main() -> None:
        air, app, ihd, meter, frames = await network()
        await ihd.leave()
        assert not ihd.joined and air.node_by_ieee(ihd.ieee) is None
        with pytest.raises(Exception):
            await ihd.request(0x0000, 1, METERING, bytes([0x00, 0x00, 0x00, 0x00, 0x00]))
        await app.shutdown()

    run_virtual(main())


def test_zcl_frame_builds_headers_like_the_spec() -> None:
    # cluster command, client->server: 0x01; with manufacturer code 0x1234: 0x05 34 12
    assert zcl_frame(7, 0x00, b"\x01") == bytes([0x01, 0x07, 0x00, 0x01])
    assert zcl_frame(7, 0x00, manufacturer=0x1234) == bytes([0x05, 0x34, 0x12, 0x07, 0x00])
    assert zcl_frame(
        7, 0x0A, general=True, direction=foundation.Direction.Server_to_Client,
        disable_default_response=False,
    ) == bytes([0x08, 0x07, 0x0A])
