"""The virtual air's packet shortcuts give what zigpy's constructors give."""

from __future__ import annotations

import zigpy.types as t
import pytest

from han_emu.radio.virtual.packets import encryption_only, nwk_address, replace_packet


def _packet() -> t.ZigbeePacket:
    return t.ZigbeePacket(
        src_ep=1,
        dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x1234),
        dst_ep=9,
        tsn=7,
        profile_id=0x0109,
        cluster_id=0x0702,
        data=t.SerializableBytes(b"\x00\x07\x00\x00\x00"),
        tx_options=t.TransmitOptions.ACK | t.TransmitOptions.APS_Encryption,
    )


def test_nwk_address_equals_zigpy_construction() -> None:
    built = nwk_address(0xABCD)
    assert built == t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0xABCD)
    assert type(built.address) is t.NWK and built.address == 0xABCD
    assert built.addr_mode is t.AddrMode.NWK
    assert hash(built) == hash(t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0xABCD))
    assert repr(built) == repr(t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0xABCD))


def test_replace_packet_matches_zigpy_replace_and_leaves_the_original() -> None:
    packet = _packet()
    changes = dict(src=nwk_address(0x0001), lqi=200, rssi=-60, source_route=None, priority=None)
    fast = replace_packet(packet, **changes)
    slow = packet.replace(**changes)
    assert fast == slow and fast is not packet
    assert fast.timestamp == slow.timestamp
    assert vars(fast) == vars(slow)
    assert packet.src is None and packet.lqi is None


def test_replace_packet_rejects_unknown_fields() -> None:
    with pytest.raises(TypeError):
        replace_packet(_packet(), no_such_field=1)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (t.TransmitOptions.NONE, t.TransmitOptions.NONE),
        (t.TransmitOptions.ACK, t.TransmitOptions.NONE),
        (t.TransmitOptions.APS_Encryption, t.TransmitOptions.APS_Encryption),
        (t.TransmitOptions.ACK | t.TransmitOptions.APS_Encryption, t.TransmitOptions.APS_Encryption),
    ],
)
def test_encryption_only_keeps_just_the_encryption_bit(
    options: t.TransmitOptions, expected: t.TransmitOptions
) -> None:
    assert encryption_only(options) is expected
    assert encryption_only(options) == options & t.TransmitOptions.APS_Encryption


def test_nwk_address_is_built_once_per_address() -> None:
    assert nwk_address(0x1234) is nwk_address(t.NWK(0x1234))
    assert nwk_address(0x1234) is not nwk_address(0x1235)
    assert type(nwk_address(0x4321).address) is t.NWK



def test_received_packet_matches_zigpy_replace() -> None:
    from datetime import UTC, datetime

    from han_emu.radio.virtual.packets import received_packet

    packet = _packet().replace(src=nwk_address(0x0001), source_route=[t.NWK(5)], priority=3)
    stamp = datetime(2026, 6, 1, tzinfo=UTC)
    fast = received_packet(packet, stamp, nwk_address(0x0002), nwk_address(0x0003), 200, -60,
                           t.TransmitOptions.APS_Encryption)
    slow = packet.replace(timestamp=stamp, src=nwk_address(0x0002), dst=nwk_address(0x0003), lqi=200, rssi=-60,
                          tx_options=t.TransmitOptions.APS_Encryption, source_route=None, priority=None)
    assert vars(fast) == vars(slow) and list(vars(fast)) == list(vars(slow))
    assert packet.lqi is None and packet.priority == 3
