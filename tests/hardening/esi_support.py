"""An ESI server on a meter with known registers, its state fingerprint, and
requests as a radio backend hands them over."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import zigpy.types as t

from han_emu.crypto.certsets import certificate_set_for, eui64_to_cert
from han_emu.meter.clock import VirtualClock
from han_emu.meter.model import Channel, Flow, TwinMeter
from han_emu.meter.settings import PRIMARY, SECONDARY, MeterSettings
from han_emu.server.esi import EsiServer

Y2K = 946684800
START = int(datetime(2026, 12, 3, tzinfo=timezone.utc).timestamp())
END = START + 12 * 3600
ESI_IEEE = t.EUI64.convert("00:0d:6f:00:00:00:00:01")
PEER_IEEE = t.EUI64.convert("00:0d:6f:00:00:01:10:00")


def build_esi(cbke: bool = False) -> tuple[EsiServer, TwinMeter, VirtualClock]:
    """12 h of 1 kW export on the secondary element, 600 W import on the primary
    (so CurrentSummationReceived on endpoint 2 is 12000 Wh)."""
    clock = VirtualClock(START)
    meter = TwinMeter(MeterSettings().validate(), START)
    meter.set_flow(SECONDARY, Flow(export_w=1000.0))
    meter.set_flow(PRIMARY, Flow(import_w=600.0))
    meter.advance(END)
    clock.set(END)
    kw: dict[str, Any] = {}
    if cbke:
        kw = dict(identities=[certificate_set_for(eui64_to_cert(ESI_IEEE), s) for s in (1, 2)],
                  ieee_of=lambda nwk: PEER_IEEE, on_key=lambda ieee, key: None)
    return EsiServer(meter, clock, **kw), meter, clock


def fingerprint(meter: TwinMeter) -> tuple:
    """Everything a request must never change: clock, registers, tiers, logs."""
    return (
        meter.time,
        meter.readings(),
        tuple((n, tuple(e.import_tiers), tuple(e.export_tiers)) for n, e in sorted(meter.elements.items())),
        tuple(tuple(meter.profiles[ch].items()) for ch in Channel),
        tuple(meter.daily.items()),
    )


def packet(data: bytes, *, cluster: int, dst_ep: int, src_nwk: int = 0x1234, src_ep: int = 1,
           encrypted: bool = True, profile: int = 0x0109) -> t.ZigbeePacket:
    return t.ZigbeePacket(
        src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=src_nwk),
        src_ep=src_ep,
        dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000),
        dst_ep=dst_ep,
        tsn=data[1] if len(data) > 1 else 0,
        profile_id=profile,
        cluster_id=cluster,
        data=t.SerializableBytes(data),
        tx_options=t.TransmitOptions.APS_Encryption if encrypted else t.TransmitOptions.NONE,
    )


class ErrorLog(logging.Handler):
    """Collects ERROR records (a handler crash is logged with LOGGER.exception)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
