"""What the host asks of an EmberZNet stick before it starts: serial settings
by stick type, and table sizes big enough for a HAN's displays.

**Flow control.**  An EmberZNet NCP image speaks ASH over a UART with either
RTS/CTS ("ncp-uart-hw", Silicon Labs' "UART interface with hardware flow
control") or XON/XOFF ("ncp-uart-sw"); the host must use the same.  bellows
opens the port with XON/XOFF unless told ``flow_control: hardware``
(``bellows/uart.py`` ``_connect``: ``xonxoff=flow_control in (None,
"software")``, ``rtscts=flow_control == "hardware"``), so it cannot express
"none".  The defaults, by the USB product name the stick reports (or its
path), from each vendor's firmware build:

=================================  ========  ========  ==============================================
stick                              flow      baud      source
=================================  ========  ========  ==============================================
Home Assistant SkyConnect /        hardware  115200    NabuCasa/silabs-firmware-builder
Connect ZBT-1                                          ``manifests/nabucasa/skyconnect/skyconnect_zigbee_ncp.yaml``
                                                       (usartHwFlowControlCtsAndRts)
Home Assistant Yellow (ttyAMA1)    hardware  115200    ``.../yellow/yellow_zigbee_ncp.yaml``
Home Assistant Connect ZBT-2       software  460800    ``.../zbt2/zbt2_zigbee_ncp.yaml``: RTS/CTS runs
                                                       only between the USB bridge and the radio
                                                       (XNCP_FLOW_CONTROL_TYPE usartHwFlowControlNone)
SMLIGHT SLZB-07                    hardware  115200    ``manifests/smlight/slzb07_zigbee_ncp.yaml``
Sonoff ZBDongle-E (stock image)    software  115200    iTead's image is ``ncp-uart-sw_EZNet6.10.3``
anything else                      software  (bellows) bellows' default
=================================  ========  ========  ==============================================

``--flow-control`` overrides the table.  Nabu Casa's images also report
their flow control after connecting (XNCP GET_FLOW_CONTROL_TYPE, read by
bellows into the network information's ``metadata["ezsp"]["flow_control"]``):
:func:`flow_control_mismatch` compares it with what the host used.

**Address associations.**  bellows asks for a trust-centre address cache of
2 entries and an address table of 16 (``bellows/ezsp/config.py``,
DEFAULT_CONFIG_COMMON, both minimums).  A display behind a router is found
only in that cache (:mod:`han_emu.radio.fakencp.ezsp.address_cache`), so the
host asks for :data:`TRUST_CENTRE_ADDRESS_CACHE` entries: a GB HAN's IHD,
PPMID and CADs with room to spare (bellows' minimum of 16 address-table
entries is kept).  An image whose cache cannot grow at run time keeps its
own size: :meth:`~han_emu.radio.ezsp.app.EzspCoordinator.check_tables` says so.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

LOGGER = logging.getLogger(__name__)

#: Trust-centre address cache entries the host asks for (bellows: 2).
TRUST_CENTRE_ADDRESS_CACHE = 8


@dataclass(frozen=True)
class StickType:
    """One stick's serial settings, recognised by its USB product name or path."""

    name: str
    names: tuple[str, ...]
    flow_control: str
    baudrate: int


STICKS: tuple[StickType, ...] = (
    StickType("Home Assistant SkyConnect / Connect ZBT-1", ("skyconnect", "connect zbt-1"), "hardware", 115200),
    StickType("Home Assistant Connect ZBT-2", ("connect zbt-2", "zbt-2"), "software", 460800),
    StickType("Home Assistant Yellow", ("ttyama1",), "hardware", 115200),
    StickType("SMLIGHT SLZB-07", ("slzb-07",), "hardware", 115200),
    StickType("Sonoff ZBDongle-E", ("dongle plus v2", "zbdongle-e"), "software", 115200),
)


def recognise(port: str, product: str | None = None) -> StickType | None:
    """The stick at ``port`` (its USB product name if known), or None."""
    text = f"{os.path.basename(port)} {product or ''}".lower().replace("_", " ")
    for stick in STICKS:
        if any(name in text for name in stick.names):
            return stick
    return None


def usb_product(port: str) -> str | None:
    """The USB product (and manufacturer) name of the serial port at ``port``."""
    try:
        from serial.tools import list_ports
    except ImportError:  # pyserial is bellows' dependency; without it, no lookup
        return None
    real = os.path.realpath(port)
    for info in list_ports.comports():
        if os.path.realpath(info.device) == real:
            return " ".join(filter(None, (info.manufacturer, info.product, info.description)))
    return None


def serial_defaults(port: str, flow_control: str | None, baudrate: int | None) -> dict[str, Any]:
    """The flow control and baud rate to open ``port`` with: the user's where
    given, else the table's for a recognised stick; empty when neither applies."""
    stick = recognise(port, usb_product(port)) if flow_control is None or baudrate is None else None
    out: dict[str, Any] = {}
    if flow_control is not None:
        out["flow_control"] = flow_control
    elif stick is not None:
        out["flow_control"] = stick.flow_control
    if baudrate is not None:
        out["baudrate"] = baudrate
    elif stick is not None:
        out["baudrate"] = stick.baudrate
    if stick is not None:
        LOGGER.info("%s looks like a %s: %s flow control, %d baud", port, stick.name,
                    out.get("flow_control"), out.get("baudrate"))
    return out


def ezsp_config() -> dict[str, int]:
    """bellows' ``ezsp_config``: table sizes the HAN needs (names as bellows spells them)."""
    return {
        "CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE": TRUST_CENTRE_ADDRESS_CACHE,
    }


#: EzspDecisionId.ALLOW_BINDING_MODIFICATION (bellows ``types/named.py``).
ALLOW_BINDING_MODIFICATION = 0x11


def ezsp_policies() -> dict[str, int]:
    """bellows' ``ezsp_policies``: what the NCP may decide by itself.

    A display subscribes to the ESI's Price and Messaging clusters with a ZDO
    Bind_req, which the stack answers from its own binding table; under EZSP's
    default BINDING_MODIFICATION_POLICY (DISALLOW_BINDING_MODIFICATION, "do not
    allow the local binding table to be changed by remote nodes") it refuses
    every one, and bellows leaves that default.  ALLOW_BINDING_MODIFICATION is
    what EmberZNet's own host framework sets ("allow other devices to modify
    the binding table", ``af-main-host.c``); CHECK_BINDING_MODIFICATIONS_ARE_
    VALID_ENDPOINT_CLUSTERS would refuse them too, since it admits only output
    clusters and the ESI's are server (input) clusters.
    """
    return {"BINDING_MODIFICATION_POLICY": ALLOW_BINDING_MODIFICATION}


def flow_control_mismatch(used: str | None, reported: str | None) -> str | None:
    """One line when the firmware reports another flow control than the port uses."""
    if reported is None:
        return None
    used = used or "software"  # bellows opens with XON/XOFF unless told otherwise
    if used == reported:
        return None
    return (f"the stick's firmware uses {reported} flow control but the port was opened with {used}: "
            f"start again with --flow-control {reported}")
