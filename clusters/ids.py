"""Profile, device and cluster identifiers of Zigbee Smart Energy: the one home of each id.

Every layer (server, radios, simulated displays, decoder, TUI) names these
constants instead of writing the numbers; the cluster classes in this package
declare the same ids, and a test keeps the two equal.
"""

from __future__ import annotations

from typing import Final

SE_PROFILE_ID: Final = 0x0109
"""Zigbee Smart Energy application profile."""
ZDO_PROFILE_ID: Final = 0x0000
ZDO_DEVICE_ANNOUNCE: Final = 0x0013
"""ZDO Device_annce (Zigbee 2.4.3.1.11): short and IEEE address of a device that joined."""
ESI_DEVICE_ID: Final = 0x0500
"""Energy Service Interface, the device type of the meter's endpoints."""
ESI_DEVICE_VERSION: Final = 0
IHD_DEVICE_ID: Final = 0x0502
"""In-Home Display."""
PPMID_DEVICE_ID: Final = 0x0506
"""Prepayment Meter Interface Device."""
PHYSICAL_DEVICE_ID: Final = 0x0507
"""Physical Device: what a GB Consumer Access Device announces (it has no SE device id of its own)."""

# General clusters the ESI serves (ZCL).
BASIC: Final = 0x0000
IDENTIFY: Final = 0x0003
TIME: Final = 0x000A
# Smart Energy clusters (ZSE 1.4).
PRICE: Final = 0x0700
METERING: Final = 0x0702
MESSAGING: Final = 0x0703
PREPAYMENT: Final = 0x0705
SUB_GHZ: Final = 0x070B
KEY_ESTABLISHMENT: Final = 0x0800

SMART_ENERGY_BLOCK: Final = range(0x0700, 0x0800)
"""The Smart Energy functional domain of cluster ids (0x07xx: Price ... Sub-GHz)."""
