"""A packet server carried on the virtual coordinator, talked to by a simulated IHD."""

from __future__ import annotations

import asyncio
import logging

import pytest
import zigpy.types as t
import zigpy.zcl.foundation as foundation

from han_emu.radio.virtual import AirFrame, SimNode, VirtualAir, ihd_endpoint
from han_emu.radio.vtime import clock_for_loop, run_virtual

from .radio_support import (
    CURRENT_SUMMATION_RECEIVED,
    ESI_EP,
    METERING,
    SUMMATION_VALUE,
    FixedMeterServer,
    read_rsp_frame,
    start_hosted,
)

EPOCH = 1_700_000_000.0
IHD_IEEE = "00:0d:6f:00:00:00:00:02"
# Read Attributes of 0x0001 by hand (ZCL 2.5.1): frame control 0x00 (general,
# client->server, default response wanted), TSN, command 0x00, attribute id LE.
READ_SUMMATION_RECEIVED = bytes([0x00, 0x00, 0x00, 0x01, 0x00])


def test_ihd_finds_the_esi_and_reads_an_attribute() -> None:
    async def main() -> None:
        air = VirtualAir()
        server = FixedMeterServer()
        app = await start_hosted(air, server)
        ihd = SimNode(air, IHD_IEEE, [ihd_endpoint(endpoint=3)], name="ihd")
        zigpy_messages: list[tuple] = []

        class Spy:
            def handle_message(self, device, profile, cluster, src_ep, dst_ep, data) -> None:
                zigpy_messages.append((profile, cluster, dst_ep))

        app.add_listener(Spy())
        try:
            # the server's endpoint replaced zigpy's HA endpoint 1
            assert app.endpoints[ESI_EP].profile == 0x0109
            await ihd.join()
            esis = await ihd.find_esi(METERING)
            assert esis == [(0x0000, ESI_EP)]

            reply = await ihd.request(0x0000, ESI_EP, METERING, READ_SUMMATION_RECEIVED)
            tsn = reply.tsn
            assert reply.src == t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000)
            assert reply.src_ep == ESI_EP and reply.dst_ep == 3
            assert reply.profile_id == 0x0109 and reply.cluster_id == METERING
            assert reply.data.serialize() == read_rsp_frame(tsn)
            assert t.TransmitOptions.APS_Encryption in reply.tx_options

            records = await ihd.read_attributes(0x0000, ESI_EP, METERING, [CURRENT_SUMMATION_RECEIVED])
            assert [(r.attrid, r.status, r.value.value) for r in records] == [
                (CURRENT_SUMMATION_RECEIVED, foundation.Status.SUCCESS, SUMMATION_VALUE)
            ]
            # the server saw both requests, zigpy saw none of them
            assert len(server.handled) == 2
            assert server.handled[0].data.serialize()[2:] == READ_SUMMATION_RECEIVED[2:]
            assert (0x0109, METERING, ESI_EP) not in zigpy_messages
        finally:
            await app.shutdown()

    run_virtual(main(), EPOCH)


def test_server_errors_are_logged_and_the_host_keeps_serving(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        air = VirtualAir()
        server = FixedMeterServer()
        app = await start_hosted(air, server)
        ihd = SimNode(air, IHD_IEEE, [ihd_endpoint()], request_timeout=3)
        try:
            await ihd.join()
            server.explode = True
            with pytest.raises(TimeoutError):
                await ihd.read_attributes(0x0000, ESI_EP, METERING, [1])
            server.explode = False
            records = await ihd.read_attributes(0x0000, ESI_EP, METERING, [1])
            assert records[0].value.value == SUMMATION_VALUE
        finally:
            await app.shutdown()

    with caplog.at_level(logging.ERROR, logger="han_emu.radio.host"):
        run_virtual(main(), EPOCH)
    failures = [r for r in caplog.records if "failed to handle" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None


def test_due_packets_are_sent_when_they_fall_due() -> None:
    async def main() -> None:
        air = VirtualAir()
        clock = clock_for_loop()
        server = FixedMeterServer(clock, period=1800)
        app = await start_hosted(air, server)
        ihd = SimNode(air, IHD_IEEE, [ihd_endpoint()])
        arrivals: list[float] = []
        ihd.handlers.append(lambda node, frame: arrivals.append(clock.now()) or foundation.Status.SUCCESS)
        frames: list[AirFrame] = []
        air.add_listener(frames.append)
        try:
            await ihd.join()
            await ihd.read_attributes(0x0000, ESI_EP, METERING, [1])  # subscribes
            start = clock.now()
            await asyncio.sleep(3 * 1800 + 60)
            assert len(arrivals) == 3
            for n, when in enumerate(arrivals, 1):
                assert when - start == pytest.approx(n * 1800, abs=0.1)
            # The report asked for a Default Response; the IHD sent SUCCESS (hand-
            # written: frame control 0x10, TSN 0x77, 0x0B, command 0x0A, status 0x00).
            responses = [
                f.packet.data.serialize()
                for f in frames
                if not f.aps_ack and f.src == ihd.nwk and f.packet.cluster_id == METERING
                and f.packet.data.serialize()[2] == 0x0B
            ]
            assert responses[:3] == [bytes([0x10, 0x77, 0x0B, 0x0A, 0x00])] * 3
        finally:
            await app.shutdown()

    run_virtual(main(), EPOCH)


def test_a_day_of_periodic_reads_runs_in_virtual_time() -> None:
    """A whole virtual day of reads completes (its speed is measured in benchmarks/, not here)."""
    async def main() -> tuple[int, float]:
        air = VirtualAir()
        clock = clock_for_loop()
        app = await start_hosted(air, FixedMeterServer())
        ihd = SimNode(air, IHD_IEEE, [ihd_endpoint()])
        frames: list[AirFrame] = []
        air.add_listener(frames.append)  # an attached listener is part of the cost
        try:
            await ihd.join()
            (esi_nwk, esi_ep), = await ihd.find_esi()
            start = clock.now()
            reads = 0
            while clock.now() - start < 86_400:
                records = await ihd.read_attributes(esi_nwk, esi_ep, METERING, [1])
                assert records[0].value.value == SUMMATION_VALUE
                reads += 1
                await asyncio.sleep(60)
        finally:
            await app.shutdown()
        return reads, clock.now() - start

    reads, span = run_virtual(main(), EPOCH)
    assert reads == 1440
    assert span >= 86_400


def test_listener_sees_every_packet_the_nodes_receive() -> None:
    async def main() -> None:
        air = VirtualAir()
        app = await start_hosted(air, FixedMeterServer())
        ihd = SimNode(air, IHD_IEEE, [ihd_endpoint()])
        other = SimNode(air, "00:0d:6f:00:00:00:00:03", [ihd_endpoint()], router=True)
        frames: list[AirFrame] = []
        air.add_listener(frames.append)
        received: list[t.ZigbeePacket] = []
        for node in (ihd, other):
            original = node.air_receive

            def spy(packet: t.ZigbeePacket, original=original) -> None:
                received.append(packet)
                original(packet)

            node.air_receive = spy  # type: ignore[method-assign]
        real_receive = app._port.air_receive

        def coordinator_spy(packet: t.ZigbeePacket) -> None:
            received.append(packet)
            real_receive(packet)

        app._port.air_receive = coordinator_spy  # type: ignore[method-assign]
        try:
            await ihd.join()
            await other.join()
            await ihd.find_esi(dst_nwk=None)  # broadcast Match_Desc
            await ihd.read_attributes(0x0000, ESI_EP, METERING, [1])
            await asyncio.sleep(30)  # let zigpy finish interviewing both
        finally:
            await app.shutdown()
        deliveries = sum(len(f.delivered_to) for f in frames if not f.aps_ack)
        assert deliveries == len(received) > 20
        acks = [f for f in frames if f.aps_ack]
        assert acks and all(f.packet.data.serialize() == b"" for f in acks)
        broadcasts = [f for f in frames if f.dst.addr_mode == t.AddrMode.Broadcast]
        assert any(len(f.delivered_to) == 2 for f in broadcasts)

    run_virtual(main(), EPOCH)
