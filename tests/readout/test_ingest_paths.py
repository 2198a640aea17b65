"""The readout's short ways give what its long ways gave.

A client's general request (a display's Read Attributes, most of all) is
counted without being parsed, as nothing in it moves the readout; Metering
values go into an element by a plan made once per attribute.  Frames are
written out by hand (ZCL 2.4.1 header, 2.5.2 response records).
"""

from __future__ import annotations

import copy

from clusters import Metering
from han_emu.readout import Readout, ZclIngest
from han_emu.readout.model import PriceInfo

ESI, IHD = 0x0000, 0x4D2C
METERING = 0x0702
NOW = 1780272000.0


def test_a_general_request_is_counted_and_changes_nothing() -> None:
    ingest = ZclIngest(Readout())
    ingest.frame(ESI, 1, IHD, 1, METERING, bytes.fromhex("18 05 01 0000 00 25 102700000000"), NOW)
    before = copy.deepcopy(ingest.readout)
    requests = [
        "00 07 00 0000 0004",  # Read Attributes
        "04 3412 08 00 0000",  # the same, manufacturer-specific
        "10 09 06 00 0000 25 0100 3c00 8403 01",  # Configure Reporting, no default response
        "00 0a 0c 0000 14",  # Discover Attributes
        "00 0b 0b 00 00",  # Default Response from a client
    ]
    for frame in requests:
        ingest.frame(IHD, 1, ESI, 1, METERING, bytes.fromhex(frame), NOW)
    assert ingest.frames == 1 + len(requests) and ingest.errors == 0
    assert ingest.readout == before
    for short in ("00 07", "04 3412 08", ""):  # too short for a header: an error, as before
        ingest.frame(IHD, 1, ESI, 1, METERING, bytes.fromhex(short), NOW)
    assert ingest.errors == 3 and ingest.frames == 1 + len(requests)


def test_a_general_request_starts_a_scheduled_price() -> None:
    readout = Readout()
    ingest = ZclIngest(readout)
    el = readout.element(1)
    el.next_price = PriceInfo(price=1234, tier=2, trailing_digit=4, tiers=4, currency=826, duration_minutes=30,
                              label="Tier 2", start=NOW - 1)
    ingest.frame(IHD, 1, ESI, 1, METERING, bytes.fromhex("00 07 00 0000"), NOW)
    assert el.next_price is None and el.current_price is not None and el.current_price.price == 1234


def _record(attr_id: int, type_id: int, value: bytes) -> bytes:
    return attr_id.to_bytes(2, "little") + bytes((0, type_id)) + value


def test_metering_values_land_where_they_did() -> None:
    M = Metering.AttributeDefs
    ingest = ZclIngest(Readout())
    records = [
        _record(M.current_summ_delivered.id, 0x25, (123456).to_bytes(6, "little")),
        _record(M.current_summ_received.id, 0x25, (654).to_bytes(6, "little")),
        _record(M.instantaneous_demand.id, 0x2A, (-1500).to_bytes(3, "little", signed=True)),
        _record(M.multiplier.id, 0x22, (0).to_bytes(3, "little")),  # 0 reads as 1
        _record(M.divisor.id, 0x22, (1000).to_bytes(3, "little")),
        _record(M.iambient_consumption_indicator.id, 0x30, b"\x02"),
        _record(M.active_register_tier_delivered.id, 0x30, b"\x03"),
        _record(M.active_register_tier_received.id, 0x30, b"\x01"),
        _record(Metering.attributes_by_name["current_tier2_summ_delivered"].id, 0x25, (77).to_bytes(6, "little")),
        _record(Metering.attributes_by_name["current_tier4_summ_received"].id, 0x25, (88).to_bytes(6, "little")),
        _record(Metering.attributes_by_name["currentday_consumption_delivered"].id, 0x22, (500).to_bytes(3, "little")),
        _record(Metering.attributes_by_name["previous_day3_consumption_received"].id, 0x22, b"\xff\xff\xff"),
        _record(Metering.attributes_by_name["previous_month5_consumption_delivered"].id, 0x23,
                (9000).to_bytes(4, "little")),
        _record(Metering.attributes_by_name["previous_week_consumption_received"].id, 0x22,
                (42).to_bytes(3, "little")),
        _record(Metering.attributes_by_name["cur_part_profile_int_value_delivered"].id, 0x22,
                (12).to_bytes(3, "little")),
        _record(M.unit_of_measure.id, 0x30, b"\x00"),
        _record(M.meter_serial_number.id, 0x41, b"\x03ABC"),
    ]
    ingest.frame(ESI, 1, IHD, 1, METERING, bytes.fromhex("18 05 01") + b"".join(records), NOW)
    assert ingest.errors == 0
    el = ingest.readout.elements[1]
    assert el.summation == {"delivered": 123456, "received": 654}
    assert (el.demand, el.multiplier, el.divisor, el.ambient, el.unit, el.serial) == (-1500, 1, 1000, 2, 0, "ABC")
    assert el.active_tier == {"delivered": 3, "received": 1}
    assert el.tiers[("delivered", 2)] == 77 and el.tiers[("received", 4)] == 88
    assert el.history[("day", "delivered", 0)] == 500
    assert el.history[("day", "received", 3)] is None  # the uint24 invalid value
    assert el.history[("month", "delivered", 5)] == 9000
    assert el.history[("week", "received", 1)] == 42
    assert el.partial["delivered"] == (0, 12)
