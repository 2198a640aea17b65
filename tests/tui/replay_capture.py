"""A synthetic Smart Energy capture for the dashboard's replay tests: an IHD
reads both elements of a twin ESME (Time, Metering, Price, the export
profile), NWK- and APS-encrypted, one frame a second, each followed by its
MAC ACK.  Every ZCL frame is written out by hand from the SE attribute tables;
the expected screen values below are worked out from these bytes, not from
the code under test.
"""

from __future__ import annotations

from decimal import Decimal

from clusters.ids import METERING, PRICE, TIME

from ..replay.helpers import ESI, IHD, LINK_KEY, NWK_KEY, encode, mac_ack, pcap_bytes, se_frame

__all__ = ["LINK_KEY", "NWK_KEY"]

#: Wednesday 10 January 2024, 12:00:00 UTC (GMT: local time is UTC).
T0 = 1_704_888_000.0

# (zcl, src, dst, src_ep, dst_ep, cluster)
FRAMES: list[tuple[bytes, int, int, int, int, int]] = [
    # 0: IHD -> primary ESI: Read Attributes Time (0x0000)
    (bytes.fromhex("00 01 00 0000"), IHD, ESI, 1, 1, TIME),
    # 1: Read Attributes Response: Time UTCTime (0xE2) = T0 + 1 s = 0x2D314341
    (bytes.fromhex("18 01 01 0000 00 e2 4143312d"), ESI, IHD, 1, 1, TIME),
    # 2: IHD -> primary: Read Attributes Metering 0x0000 0x0301 0x0302 0x0400 0x0307 0x0020
    (bytes.fromhex("00 02 00 0000 0103 0203 0004 0703 2000"), IHD, ESI, 1, 1, METERING),
    # 3: primary: CurrentSummationDelivered uint48 1234567 Wh, Multiplier 1, Divisor 1000,
    #    InstantaneousDemand int24 +1500 W, SiteID "1200023305967", ActiveRegisterTierDelivered enum8 2
    (bytes.fromhex(
        "18 02 01"
        "0000 00 25 87d612000000"
        "0103 00 22 010000"
        "0203 00 22 e80300"
        "0004 00 2a dc0500"
        "0703 00 41 0d 31323030303233333035393637"
        "2000 00 30 02"
    ), ESI, IHD, 1, 1, METERING),
    # 4: IHD -> primary: Read Attributes Price 0x0617 0x0410 0x0420 0x0301
    (bytes.fromhex("00 03 00 1706 1004 2004 0103"), IHD, ESI, 1, 1, PRICE),
    # 5: primary: PriceTrailingDigit bitmap8 0x50 (5 digits), Tier1 28500, Tier2 13500 (uint32),
    #    StandingCharge 53200 (GBP 0.53200 a day)
    (bytes.fromhex(
        "18 03 01"
        "1706 00 18 50"
        "1004 00 23 546f0000"
        "2004 00 23 bc340000"
        "0103 00 23 d0cf0000"
    ), ESI, IHD, 1, 1, PRICE),
    # 6: IHD -> secondary: Read Attributes Metering 0x0001 0x0301 0x0302 0x0400 0x0021 0x0101..0x0107
    (bytes.fromhex("00 04 00 0100 0103 0203 0004 2100 0101 0301 0501 0701"), IHD, ESI, 1, 2, METERING),
    # 7: secondary: CurrentSummationReceived 98765 Wh, Multiplier 1, Divisor 1000, InstantaneousDemand
    #    -2345 W (export), ActiveRegisterTierReceived 3, Tier1..4 SummationReceived 10000/20000/30000/38765 Wh
    (bytes.fromhex(
        "18 04 01"
        "0100 00 25 cd8101000000"
        "0103 00 22 010000"
        "0203 00 22 e80300"
        "0004 00 2a d7f6ff"
        "2100 00 30 03"
        "0101 00 25 102700000000"
        "0301 00 25 204e00000000"
        "0501 00 25 307500000000"
        "0701 00 25 6d9700000000"
    ), ESI, IHD, 2, 1, METERING),
    # 8: IHD -> secondary: Read Attributes Price 0x0617 and the received-tier prices 0x8410..0x8440
    (bytes.fromhex("00 05 00 1706 1084 2084 3084 4084"), IHD, ESI, 1, 2, PRICE),
    # 9: secondary: trailing digit 5; export prices 5500, 12000, 25000, 15000
    (bytes.fromhex(
        "18 05 01"
        "1706 00 18 50"
        "1084 00 23 7c150000"
        "2084 00 23 e02e0000"
        "3084 00 23 a8610000"
        "4084 00 23 983a0000"
    ), ESI, IHD, 2, 1, PRICE),
    # 10: IHD -> secondary: GetProfile channel 1 (consumption received), end now, 3 periods
    (bytes.fromhex("01 06 00 01 00000000 03"), IHD, ESI, 1, 2, METERING),
    # 11: GetProfileResponse: end 12:00 (0x2D314340), success, 30 min, intervals 100, 200, 300 Wh (newest first)
    (bytes.fromhex("09 06 00 4043312d 00 02 03 640000 c80000 2c0100"), ESI, IHD, 2, 1, METERING),
    # 12: secondary reports InstantaneousDemand -3000 W
    (bytes.fromhex("18 07 0a 0004 2a 48f4ff"), ESI, IHD, 2, 1, METERING),
]

ESI_FRAMES = sum(1 for f in FRAMES if f[1] == ESI)
IHD_FRAMES = sum(1 for f in FRAMES if f[1] == IHD)
LAST_TIME = T0 + len(FRAMES) - 1

# What the frames carried, as an IHD shows it.
EXPECTED = {
    "import_kw": Decimal("1.500"),
    "cost_per_hour": Decimal("1.5") * Decimal("0.135"),  # tier 2 is active
    "import_tier": 2,
    "import_prices": {1: Decimal("0.285"), 2: Decimal("0.135")},
    "standing_charge": Decimal("0.532"),
    "export_register_kwh": Decimal("98.765"),
    "export_kw": Decimal("3.000"),  # the last report (-3000 W)
    "export_tiers_kwh": {1: Decimal("10.000"), 2: Decimal("20.000"), 3: Decimal("30.000"), 4: Decimal("38.765")},
    "export_prices": {1: Decimal("0.055"), 2: Decimal("0.12"), 3: Decimal("0.25"), 4: Decimal("0.15")},
    "export_tier": 3,
    "mpan": "1200023305967",
    "profile_kwh": {T0: Decimal("0.100"), T0 - 1800: Decimal("0.200"), T0 - 3600: Decimal("0.300")},
}


def capture_bytes(gap: float = 1.0) -> bytes:
    """The capture as a pcap (link type 195), frames ``gap`` seconds apart."""
    psdus = []
    for i, (zcl, src, dst, sep, dep, cluster) in enumerate(FRAMES):
        t = T0 + i * gap
        psdus.append((t, se_frame(i, zcl, src, dst, sep, dep, cluster)))
        psdus.append((t + 0.002, encode(mac_ack(seq=i & 0xFF))))
    return pcap_bytes(psdus)
