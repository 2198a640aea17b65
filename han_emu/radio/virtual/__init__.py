"""The virtual HAN: a simulated air, a zigpy controller on it, and simulated devices."""

from han_emu.radio.virtual.medium import AirFrame, JoinRefused, Link, VirtualAir
from han_emu.radio.virtual.app import VirtualControllerApplication, virtual_config
from han_emu.radio.virtual.node import (
    SimNode,
    ZclFrame,
    ihd_endpoint,
    ppmid_endpoint,
    se_endpoint,
    zcl_frame,
)

__all__ = [
    "AirFrame",
    "JoinRefused",
    "Link",
    "SimNode",
    "VirtualAir",
    "VirtualControllerApplication",
    "ZclFrame",
    "ihd_endpoint",
    "ppmid_endpoint",
    "se_endpoint",
    "virtual_config",
    "zcl_frame",
]
