"""The fast ZCL header agrees with zigpy's ZCLHeader on every input."""

from hypothesis import given
from hypothesis import strategies as st
from zigpy.zcl import foundation

from clusters.zcl_header import ZclHeader


def test_golden_bytes_both_ways() -> None:
    # Cluster-specific, server->client, disable default response, TSN 0x22, command 0x00.
    hdr, rest = ZclHeader.deserialize(bytes.fromhex("192200ff"))
    assert (hdr.frame_control.is_cluster, hdr.direction, hdr.frame_control.disable_default_response) == (
        True, foundation.Direction.Server_to_Client, True)
    assert (hdr.tsn, hdr.command_id, hdr.manufacturer, rest) == (0x22, 0x00, None, b"\xff")
    # Manufacturer-specific general command: code 0x1234 little-endian.
    built = ZclHeader.make(7, 0x0A, general=True, manufacturer=0x1234).serialize()
    assert built == bytes.fromhex("04 3412 07 0a".replace(" ", ""))


@given(st.binary(min_size=3, max_size=8))
def test_parse_agrees_with_zigpy(data: bytes) -> None:
    try:
        theirs, their_rest = foundation.ZCLHeader.deserialize(data)
    except (ValueError, KeyError):
        return
    ours, our_rest = ZclHeader.deserialize(data)
    fc = theirs.frame_control
    assert ours.frame_control.frame_type == fc.frame_type
    assert ours.frame_control.is_manufacturer_specific == bool(fc.is_manufacturer_specific)
    assert ours.direction == theirs.direction
    assert ours.frame_control.disable_default_response == bool(fc.disable_default_response)
    assert ours.tsn == theirs.tsn and ours.command_id == theirs.command_id
    assert ours.manufacturer == (None if theirs.manufacturer is None else int(theirs.manufacturer))
    assert our_rest == their_rest
    assert ours.serialize() == theirs.serialize()


@given(st.integers(0, 255), st.integers(0, 255), st.booleans(), st.booleans(), st.booleans(),
       st.one_of(st.none(), st.integers(0, 0xFFFF)))
def test_build_agrees_with_zigpy(tsn: int, cmd: int, general: bool, to_client: bool, ddr: bool,
                                 manufacturer: int | None) -> None:
    direction = foundation.Direction.Server_to_Client if to_client else foundation.Direction.Client_to_Server
    make = foundation.ZCLHeader.general if general else foundation.ZCLHeader.cluster
    theirs = make(tsn, cmd, manufacturer=manufacturer, direction=direction)
    theirs.frame_control = theirs.frame_control.replace(disable_default_response=int(ddr))
    ours = ZclHeader.make(tsn, cmd, general=general, direction=direction, manufacturer=manufacturer,
                          disable_default_response=ddr)
    assert ours.serialize() == theirs.serialize()
