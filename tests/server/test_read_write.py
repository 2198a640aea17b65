"""Read / Write Attributes, against frames written by hand from the ZCL tables."""

from __future__ import annotations

import zigpy.types as t
from .server_helpers import ESI, ESI_EP, IHD, IHD_EP, Model, build_endpoint, frame, h, request
from zigpy.zcl import foundation
from zigpy.zcl.clusters.smartenergy import Metering

from clusters.ids import BASIC, TIME
from han_emu.meter.clock import VirtualClock
from han_emu.server.attributes import MissingValue
from han_emu.server.engine import ZclServer


def test_read_metering_summation_and_unknown(server: ZclServer) -> None:
    # general, client->server, TSN 0x01, Read Attributes, ids 0x0000 and 0x1234
    (reply,) = server.handle(request("00 01 00 0000 3412"))
    # 0x18: general, server->client, default response disabled; uint48 0x010203040506
    # little-endian; 0x1234 -> UNSUPPORTED_ATTRIBUTE (0x86), no type or value.
    assert frame(reply) == h("18 01 01  0000 00 25 060504030201  3412 86")
    assert reply.src == ESI and reply.src_ep == ESI_EP
    assert reply.dst == IHD and reply.dst_ep == IHD_EP
    assert reply.profile_id == 0x0109 and reply.cluster_id == 0x0702 and reply.tsn == 0x01
    assert reply.tx_options == t.TransmitOptions.APS_Encryption | t.TransmitOptions.ACK


def test_read_response_parses_with_zigpy(server: ZclServer) -> None:
    (reply,) = server.handle(request("00 02 00 0004 0000"))
    hdr, rest = foundation.ZCLHeader.deserialize(reply.data.serialize())
    rsp, _ = foundation.GENERAL_COMMANDS[hdr.command_id].schema.deserialize(rest)
    values = {r.attrid: r.value.value for r in rsp.status_records}
    assert values == {0x0400: -1500, 0x0000: 0x010203040506}


def test_read_signed_and_octet_string(server: ZclServer, model: Model) -> None:
    model.site_id = b"1234"
    (reply,) = server.handle(request("00 03 00 0004 0703"))
    # int24 -1500 = 0xFFFA24; octet string: length 4 then "1234"
    assert frame(reply) == h("18 03 01  0004 00 2a 24faff  0703 00 41 04 31323334")


def test_missing_values_invalid_or_unsupported(model: Model, clock: VirtualClock) -> None:
    model.summation = None
    server = ZclServer([build_endpoint(model)], clock)
    (reply,) = server.handle(request("00 04 00 0000 0703"))
    assert frame(reply) == h("18 04 01  0000 00 25 ffffffffffff  0703 00 41 ff")
    strict = ZclServer([build_endpoint(model)], clock, missing_value=MissingValue.UNSUPPORTED)
    (reply,) = strict.handle(request("00 04 00 0000 0703"))
    assert frame(reply) == h("18 04 01  0000 86  0703 86")


def test_read_failing_getter_gives_failure(model: Model, clock: VirtualClock) -> None:
    model.summation = 1 << 48  # does not fit uint48
    server = ZclServer([build_endpoint(model)], clock)
    (reply,) = server.handle(request("00 05 00 0000 0100"))
    assert frame(reply) == h("18 05 01  0000 01  0100 00 25 000000000000")


def test_read_response_is_cut_to_one_frame(server: ZclServer) -> None:
    # 40 reads of 0x0000 would be 40 records of 10 bytes; only what fits in 82 goes out.
    (reply,) = server.handle(request("00 06 00" + " 0000" * 40))
    data = reply.data.serialize()
    assert len(data) == 3 + 7 * 10  # 7 records fit in 79 bytes, 8 do not


def test_write_success_single_status(server: ZclServer, model: Model) -> None:
    # Time cluster TimeZone (0x0002, int32 0x2B) := 3600 = 0x00000E10
    (reply,) = server.handle(request("00 10 02 0200 2b 100e0000", TIME))
    assert frame(reply) == h("18 10 04 00")
    assert model.time_zone == 3600 and model.writes == [("time_zone", 3600)]


def test_write_statuses(server: ZclServer, model: Model) -> None:
    (reply,) = server.handle(
        request(
            "00 11 02"
            " 0000 e2 00000000"  # Time: settable by the spec, no setter here -> READ_ONLY
            " 3412 20 01"  # unknown -> UNSUPPORTED_ATTRIBUTE
            " 0200 20 05"  # TimeZone as uint8 -> INVALID_DATA_TYPE
            " 0200 2b a0860100",  # TimeZone 100000 s -> the model refuses: INVALID_VALUE
            TIME,
        )
    )
    assert frame(reply) == h("18 11 04  88 0000  86 3412  8d 0200  87 0200")
    assert model.writes == []


def test_write_partial_success_lists_only_failures(server: ZclServer, model: Model) -> None:
    (reply,) = server.handle(request("00 12 02  0200 2b 100e0000  3412 20 01", TIME))
    assert frame(reply) == h("18 12 04 86 3412")
    assert model.time_zone == 3600


def test_write_undivided_writes_nothing_on_any_failure(server: ZclServer, model: Model) -> None:
    (reply,) = server.handle(request("00 13 03  0200 2b 100e0000  3412 20 01", TIME))
    assert frame(reply) == h("18 13 04 86 3412")
    assert model.time_zone == 0
    (reply,) = server.handle(request("00 14 03  0200 2b 100e0000", TIME))
    assert frame(reply) == h("18 14 04 00")
    assert model.time_zone == 3600


def test_write_no_response(server: ZclServer, model: Model) -> None:
    # default response disabled (0x10): nothing goes back, the write happens
    assert server.handle(request("10 15 05 0200 2b 100e0000", TIME)) == []
    assert model.time_zone == 3600
    # default response enabled: a Default Response SUCCESS for command 0x05
    (reply,) = server.handle(request("00 16 05 0200 2b 200e0000", TIME))
    assert frame(reply) == h("18 16 0b 05 00")
    assert model.time_zone == 3616


def test_write_character_string(server: ZclServer, model: Model) -> None:
    (reply,) = server.handle(request("00 17 02 1000 42 03 686f6d", BASIC))
    assert frame(reply) == h("18 17 04 00")
    assert model.location == "hom"
    (reply,) = server.handle(request("00 18 00 1000 fdff", BASIC))
    assert frame(reply) == h("18 18 01  1000 00 42 03 686f6d  fdff 00 21 0200")


def test_second_endpoint_answers_from_itself(model: Model, clock: VirtualClock) -> None:
    from han_emu.server.attributes import AttributeTable
    from han_emu.server.endpoint import Endpoint

    secondary = Endpoint(0x03)
    secondary.add_server_cluster(
        Metering, AttributeTable.from_cluster(Metering, {"current_summ_received": lambda: 7})
    )
    server = ZclServer([build_endpoint(model), secondary], clock)
    (reply,) = server.handle(request("00 19 00 0100", dst_ep=0x03))
    assert reply.src_ep == 0x03 and reply.dst_ep == IHD_EP
    assert frame(reply) == h("18 19 01 0100 00 25 070000000000")


def test_read_with_no_ids_answers_with_no_records(server: ZclServer) -> None:
    # An empty id list is well formed (ZCL 2.5.1): the response carries no records.
    (reply,) = server.handle(request("00 06 00"))
    assert frame(reply) == h("18 06 01")
