"""Each display's requests, answers and refusals, as a stick run's --status-json shows them."""

from __future__ import annotations

import zigpy.types as t

from han_emu.han.served import ServedRequests

METERING = 0x0702


def packet(data: str, *, incoming: bool, nwk: int = 0x3C2A) -> t.ZigbeePacket:
    peer = t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(nwk))
    hub = t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(0))
    return t.ZigbeePacket(src=peer if incoming else hub, dst=hub if incoming else peer, src_ep=1, dst_ep=1,
                          profile_id=0x0109, cluster_id=METERING, data=t.SerializableBytes(bytes.fromhex(data)))


def test_answers_and_refusals_are_matched_to_requests_by_tsn() -> None:
    served = ServedRequests()
    served.observe(packet("00 21 00 00 00", incoming=True), True, 10.0)  # Read Attributes, TSN 0x21
    served.observe(packet("00 22 00 00 00", incoming=True), True, 11.0)  # TSN 0x22
    served.observe(packet("18 21 01 00 00 00 25 00 00 00 00 00 00", incoming=False), False, 11.1)  # answered
    served.observe(packet("18 22 0B 00 7E", incoming=False), False, 11.2)  # NOT_AUTHORIZED
    served.observe(packet("18 23 0A 00 00 25 00 00 00 00 00 00", incoming=False), False, 12.0)  # a report
    served.observe(packet("10 05 0B 0A 00", incoming=True), True, 12.5)  # the display's Default Response
    devices: dict = {"0x3c2a": {"name": "IHD", "airtime_s": 0.01}}
    served.merge_into(devices)
    assert devices == {"0x3c2a": {"name": "IHD", "airtime_s": 0.01, "requests": 2, "answered": 1, "refused": 1,
                                  "last_seen": 12.5}}
