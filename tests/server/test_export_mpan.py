"""The export MPAN (MP184 R4) as a manufacturer-specific Metering attribute:
served, discovered, read by the displays, decoded and shown only with the
configured manufacturer code in the ZCL header."""

from __future__ import annotations

import pytest

from clusters.mp184 import EndpointMap, ExportMpanHome, homes_for, mp184_table
from han_emu.han.config import ConfigError, loads
from han_emu.readout import Readout, ZclIngest
from han_emu.replay.zcl import attribute_name, decode_zcl
from han_emu.tui.framelog import describe_zcl

from .server_helpers import h
from .test_esi import ask, build

MPAN = b"1200023305994".hex()


def test_discover_lists_it_only_in_its_manufacturer_scope() -> None:
    server, _, _ = build()
    # Discover Attributes from 0xE300, up to 4, with and without the code.
    assert ask(server, "04 f1ff 20 0c 00e3 04", ep=2) == [h("1c f1ff 20 0d 01 07e3 41")]
    assert ask(server, "00 21 0c 00e3 04", ep=2) == [h("18 21 0d 01")]
    # Another manufacturer's code: the ESI has no attributes of that manufacturer.
    assert ask(server, "04 3412 22 00 07e3", ep=2) == [h("1c 3412 22 0b 00 84")]


def test_configured_code_moves_it() -> None:
    from han_emu.meter.clock import VirtualClock
    from han_emu.server.esi import EsiServer

    _, meter, clock = build()
    mine = EndpointMap(export_mpan=ExportMpanHome(manufacturer_code=0x1234))
    server = EsiServer(meter, clock, mine)
    assert ask(server, "04 3412 23 00 07e3", ep=2) == [h(f"1c 3412 23 01 07e3 00 41 0d {MPAN}")]
    assert ask(server, "04 f1ff 24 00 07e3", ep=2) == [h("1c f1ff 24 0b 00 84")]


def test_readout_takes_it_only_with_the_code() -> None:
    readout = Readout()
    ingest = ZclIngest(readout)
    plain = bytes.fromhex(h(f"18 14 01 07e3 00 41 0d {MPAN}"))
    other = bytes.fromhex(h(f"1c 3412 15 01 07e3 00 41 0d {MPAN}"))
    ingest.frame(0x0000, 2, 0x1234, 1, 0x0702, plain)
    ingest.frame(0x0000, 2, 0x1234, 1, 0x0702, other)
    assert readout.element(2).export_mpan is None
    # A manufacturer-specific record with a standard id is not the standard attribute.
    ingest.frame(0x0000, 2, 0x1234, 1, 0x0702, bytes.fromhex(h("1c 3412 16 01 0000 00 25 010000000000")))
    assert readout.element(2).summation.get("delivered") is None
    ingest.frame(0x0000, 2, 0x1234, 1, 0x0702, bytes.fromhex(h(f"1c f1ff 17 01 07e3 00 41 0d {MPAN}")))
    assert readout.element(2).export_mpan == "1200023305994"


def test_decoder_and_frame_log_name_it_with_the_code() -> None:
    assert attribute_name(0x0702, 0xE307, 0xFFF1) == "export_site_id"
    assert attribute_name(0x0702, 0xE307) is None
    assert attribute_name(0x0702, 0x0000, 0xFFF1) is None
    assert attribute_name(0x0702, 0x0000) == "current_summ_delivered"
    message = decode_zcl(0x0702, bytes.fromhex(h(f"1c f1ff 17 01 07e3 00 41 0d {MPAN}")))
    assert message.manufacturer == 0xFFF1 and message.attributes == {"0xe307": "1200023305994"}
    assert "export_site_id='1200023305994'" in describe_zcl(0x0702, bytes.fromhex(h(f"1c f1ff 17 01 07e3 00 41 0d {MPAN}")))
    assert "0xE307" in describe_zcl(0x0702, bytes.fromhex(h(f"18 17 01 07e3 00 41 0d {MPAN}")))


def test_mp184_table_and_configuration_carry_the_code() -> None:
    rows = homes_for("R4")
    assert all(r.manufacturer_code == 0xFFF1 and r.provisional for r in rows)
    custom = mp184_table(EndpointMap(export_mpan=ExportMpanHome(manufacturer_code=0x1234)))
    assert {r.manufacturer_code for r in homes_for("R4", custom)} == {0x1234}
    assert all(r.manufacturer_code is None for r in mp184_table() if r.item != "R4")
    config = loads("[endpoints]\nexport_mpan_manufacturer = 0x1234\n")
    assert config.endpoints.export_mpan.manufacturer_code == 0x1234
    with pytest.raises(ConfigError, match="endpoints.export_mpan_manufacturer"):
        loads("[endpoints]\nexport_mpan_manufacturer = 0x12345\n")
