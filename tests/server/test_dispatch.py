"""Default Responses, cluster commands, manufacturer frames, encryption, duplicates, malformed frames."""

from __future__ import annotations

import logging

import pytest
import zigpy.types as t
from hypothesis import given, settings
from hypothesis import strategies as st
from .server_helpers import IHD, IHD_EP, Model, build_endpoint, frame, h, request
from zigpy.zcl.clusters.smartenergy import Metering
from zigpy.zcl.foundation import Status, ZCLAttributeDef
from zigpy.zdo.types import SimpleDescriptor

from clusters.ids import BASIC, PRICE
from han_emu.meter.clock import VirtualClock
from han_emu.server.command import ZclError, ZclReply, ZclRequest
from han_emu.server.contract import PacketServer
from han_emu.server.engine import ZclServer

ON_OFF = 0x0006


# -- the contract ------------------------------------------------------------


def test_is_a_packet_server(server: ZclServer) -> None:
    assert isinstance(server, PacketServer)
    (descriptor,) = server.descriptors()
    assert descriptor == SimpleDescriptor(
        endpoint=1,
        profile=0x0109,
        device_type=0x0500,
        device_version=0,
        input_clusters=[0x0000, 0x000A, 0x0702],
        output_clusters=[0x000A],
    )
    # the descriptor as a ZDO Simple_Desc_rsp carries it: ep, profile, device,
    # version, 3 input clusters, 1 output cluster
    assert descriptor.serialize() == bytes.fromhex("01 0901 0005 00 03 0000 0a00 0207 01 0a00")


def test_wants_only_its_endpoints_and_profile(server: ZclServer) -> None:
    assert server.wants(request("00 01 00 0000"))
    assert not server.wants(request("00 01 00 0000", profile=0x0104))
    assert not server.wants(request("00 01 00 0000", dst_ep=0x05))
    assert server.wants(request("00 01 00 0000", dst_ep=0xFF))
    assert not server.wants(request("00 01 00 0000", ON_OFF, dst_ep=0xFF))
    assert server.handle(request("00 01 00 0000", dst_ep=0x05)) == []


def test_broadcast_endpoint_reaches_the_serving_endpoint(server: ZclServer) -> None:
    (reply,) = server.handle(request("00 02 00 0100", dst_ep=0xFF))
    assert reply.src_ep == 1 and frame(reply) == h("18 02 01 0100 00 25 000000000000")


# -- Default Response statuses --------------------------------------------------


def test_unknown_cluster(server: ZclServer) -> None:
    (reply,) = server.handle(request("00 10 00 0000", ON_OFF))
    assert frame(reply) == h("18 10 0b 00 c3")
    assert reply.cluster_id == ON_OFF and reply.dst == IHD and reply.dst_ep == IHD_EP
    # a cluster command to an unknown cluster, default response disabled: still an error
    (reply,) = server.handle(request("11 11 01", ON_OFF))
    assert frame(reply) == h("18 11 0b 01 c3")


def test_unknown_general_command(server: ZclServer) -> None:
    (reply,) = server.handle(request("00 12 0e 0000 00"))  # Read Attributes Structured
    assert frame(reply) == h("18 12 0b 0e 82")
    (reply,) = server.handle(request("10 13 42"))  # no such general command
    assert frame(reply) == h("18 13 0b 42 82")


def test_unknown_cluster_command(server: ZclServer) -> None:
    (reply,) = server.handle(request("01 14 06 00000000 00000000 00"))  # GetSnapshot: no handler
    assert frame(reply) == h("18 14 0b 06 81")
    (reply,) = server.handle(request("11 15 06"))  # errors ignore the disable bit
    assert frame(reply) == h("18 15 0b 06 81")


def test_cluster_command_handler_reply(server: ZclServer) -> None:
    # GetProfile: channel 0 (delivered), end time 0 (newest), 24 periods
    (reply,) = server.handle(request("01 16 00 00 00000000 18"))
    # cluster-specific, server->client, default response disabled = 0x19
    assert frame(reply) == h("19 16 00 00000000 05 02 00")
    assert reply.tsn == 0x16 and reply.src_ep == 1 and reply.dst_ep == IHD_EP


def test_handler_sees_parsed_arguments(model: Model, clock: VirtualClock) -> None:
    seen: list[ZclRequest] = []
    ep = build_endpoint(model)

    def snapshot(req: ZclRequest) -> list[ZclReply]:
        seen.append(req)
        return []

    ep.on_command(Metering.cluster_id, 0x06, snapshot)
    server = ZclServer([ep], clock)
    # GetSnapshot: start 0x01020304, end 0, offset 2, cause 0x00000001
    (reply,) = server.handle(request("01 17 06 04030201 00000000 02 01000000"))
    assert frame(reply) == h("18 17 0b 06 00")  # handled, no response of its own
    assert seen[0].args.earliest_start_time == 0x01020304
    assert seen[0].args.snapshot_offset == 2
    assert seen[0].payload == bytes.fromhex("04030201 00000000 02 01000000")
    # the same, default response disabled: nothing goes back
    assert server.handle(request("11 18 06 04030201 00000000 02 01000000")) == []


def test_handler_errors(model: Model, clock: VirtualClock) -> None:
    ep = build_endpoint(model)

    def refuses(req: ZclRequest) -> list[ZclReply]:
        raise ZclError(Status.INVALID_FIELD)

    def crashes(req: ZclRequest) -> list[ZclReply]:
        raise RuntimeError("bug")

    ep.on_command(Metering.cluster_id, 0x06, refuses)
    ep.on_command(Metering.cluster_id, 0x40, crashes)  # no schema: raw payload
    server = ZclServer([ep], clock)
    (reply,) = server.handle(request("01 19 06 04030201 00000000 02 01000000"))
    assert frame(reply) == h("18 19 0b 06 85")
    (reply,) = server.handle(request("01 1a 40 0102"))
    assert frame(reply) == h("18 1a 0b 40 01")


def test_success_default_response_honours_disable_bit(server: ZclServer) -> None:
    # A Report Attributes from the peer: acknowledged only when asked for.
    (reply,) = server.handle(request("00 1b 0a 0000 20 01"))
    assert frame(reply) == h("18 1b 0b 0a 00")
    assert server.handle(request("10 1c 0a 0000 20 01")) == []
    # never a Default Response to a Default Response
    assert server.handle(request("00 1d 0b 00 00")) == []


def test_no_default_response_to_groupcast(server: ZclServer) -> None:
    group = t.AddrModeAddress(addr_mode=t.AddrMode.Group, address=0x0001)
    assert server.handle(request("00 1e 42", dst=group)) == []


# -- manufacturer-specific frames ----------------------------------------------


def test_unknown_manufacturer(server: ZclServer) -> None:
    # manufacturer 0x1234 (bit 2 set); the reply keeps the manufacturer code
    (reply,) = server.handle(request("04 3412 20 00 0000"))
    assert frame(reply) == h("1c 3412 20 0b 00 84")
    (reply,) = server.handle(request("05 3412 21 00"))
    assert frame(reply) == h("1c 3412 21 0b 00 83")


def test_known_manufacturer_attribute(server: ZclServer) -> None:
    table = server.endpoints[1].server_clusters[BASIC].attributes
    table.bind(
        ZCLAttributeDef(id=0x0000, type=t.uint8_t, access="r", name="vendor_level", manufacturer_code=0x1234),
        lambda: 0x2A,
        manufacturer_code=0x1234,
    )
    (reply,) = server.handle(request("04 3412 22 00 0000 0100", BASIC))
    assert frame(reply) == h("1c 3412 22 01  0000 00 20 2a  0100 86")
    (reply,) = server.handle(request("05 3412 23 00", BASIC))  # no vendor commands
    assert frame(reply) == h("1c 3412 23 0b 00 83")


# -- Smart Energy encryption rule ----------------------------------------------


def test_unencrypted_se_request_refused(server: ZclServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="han_emu.server.engine"):
        (reply,) = server.handle(request("10 30 00 0000", encrypted=False))
    assert frame(reply) == h("18 30 0b 00 7e")  # NOT_AUTHORIZED, despite the disable bit
    # At the request's own security level: the sender may hold no APS key to read it with.
    assert reply.tx_options == t.TransmitOptions.ACK
    assert "APS encryption is required" in caplog.text and "0x0702" in caplog.text
    # Price too (the whole 0x07xx block), even for clusters this endpoint lacks
    (reply,) = server.handle(request("01 31 00 00", PRICE, encrypted=False))
    assert frame(reply) == h("18 31 0b 00 7e")
    # Basic is not a Smart Energy cluster: served in the clear
    (reply,) = server.handle(request("00 32 00 0000", BASIC, encrypted=False))
    assert frame(reply) == h("18 32 01 0000 00 20 03")


def test_lab_override_accepts_plain_frames(model: Model, clock: VirtualClock) -> None:
    server = ZclServer([build_endpoint(model)], clock, accept_unencrypted=True)
    (reply,) = server.handle(request("00 33 00 0100", encrypted=False))
    assert frame(reply) == h("18 33 01 0100 00 25 000000000000")


def test_encrypted_cluster_set_is_configurable(model: Model, clock: VirtualClock) -> None:
    server = ZclServer([build_endpoint(model)], clock, encrypted_clusters={BASIC})
    (reply,) = server.handle(request("00 34 00 0000", BASIC, encrypted=False))
    assert frame(reply) == h("18 34 0b 00 7e")
    (reply,) = server.handle(request("00 35 00 0100", encrypted=False))
    assert frame(reply) == h("18 35 01 0100 00 25 000000000000")


# -- duplicates -----------------------------------------------------------------


def test_duplicates_ignored_within_window(server: ZclServer, clock: VirtualClock) -> None:
    assert len(server.handle(request("00 40 00 0000"))) == 1
    assert server.handle(request("00 40 00 0000")) == []
    clock.advance(1)
    assert server.handle(request("00 40 00 0000")) == []
    assert len(server.handle(request("00 41 00 0000"))) == 1  # new TSN
    other = t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x9999)
    assert len(server.handle(request("00 40 00 0000", src=other))) == 1
    clock.advance(5)
    assert len(server.handle(request("00 40 00 0000"))) == 1  # window over


# -- malformed frames ---------------------------------------------------------------


@pytest.mark.parametrize("hex_frame", ["", "00", "00 01", "04 34 12 01", "02 01 00 0000", "03 01 00"])
def test_unreadable_or_reserved_headers_are_dropped(
    server: ZclServer, hex_frame: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="han_emu.server.engine"):
        assert server.handle(request(hex_frame)) == []
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1


@pytest.mark.parametrize(
    ("hex_frame", "expected"),
    [
        ("00 50 00 0000 34", "18 50 0b 00 80"),  # odd attribute id list
        ("00 51 02 0200 2b 100e", "18 51 0b 02 80"),  # value cut short
        ("00 52 06 00 0000 25 0a00", "18 52 0b 06 80"),  # reporting record cut short
        ("00 53 0c 0000", "18 53 0b 0c 80"),  # no max count
        ("01 54 00 00 0000", "18 54 0b 00 80"),  # GetProfile cut short
        ("00 55 02 0200 ab 00", "18 55 0b 02 80"),  # unknown data type: length unknowable
    ],
)
def test_truncated_payloads_are_malformed(server: ZclServer, hex_frame: str, expected: str) -> None:
    cluster = 0x000A if "02 0200" in hex_frame else 0x0702
    (reply,) = server.handle(request(hex_frame, cluster))
    assert frame(reply) == h(expected)


def _quiet_server() -> ZclServer:
    return ZclServer([build_endpoint(Model())], VirtualClock(0), duplicate_window=0)


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=64),
    cluster=st.sampled_from([0x0000, 0x000A, 0x0702, 0x0700, 0x0006]),
    encrypted=st.booleans(),
)
def test_random_bytes_never_raise(data: bytes, cluster: int, encrypted: bool) -> None:
    server = _quiet_server()
    packet = request(data.hex(), cluster, encrypted=encrypted)
    # _handle has no safety net: any exception fails the test
    replies = server._handle(packet)
    assert all(isinstance(r, t.ZigbeePacket) for r in replies)
    assert server.handle(packet) is not None


@settings(max_examples=300, deadline=None)
@given(
    control=st.sampled_from([0x00, 0x01, 0x08, 0x09, 0x10, 0x11, 0x04, 0x05]),
    command=st.integers(0, 0x18),
    payload=st.binary(max_size=40),
    cluster=st.sampled_from([0x0000, 0x000A, 0x0702]),
)
def test_random_payloads_on_valid_headers_never_raise(
    control: int, command: int, payload: bytes, cluster: int
) -> None:
    server = _quiet_server()
    header = bytes([control]) + (b"\x34\x12" if control & 0x04 else b"") + bytes([0x77, command])
    replies = server._handle(request((header + payload).hex(), cluster))
    for reply in replies:
        data = reply.data.serialize()
        assert data[1 + (2 if data[0] & 0x04 else 0)] == 0x77  # the request's TSN
        assert reply.dst == IHD and reply.dst_ep == IHD_EP


def test_handle_never_raises_even_on_internal_errors(
    server: ZclServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: object) -> list[t.ZigbeePacket]:
        raise RuntimeError("internal bug")

    monkeypatch.setattr(server, "_dispatch", explode)
    with caplog.at_level(logging.ERROR, logger="han_emu.server.engine"):
        assert server.handle(request("00 60 00 0000")) == []
    assert "internal bug" in caplog.text
