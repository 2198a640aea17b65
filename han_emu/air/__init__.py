"""Air accounting: PHYs, exact airtime per frame and exchange, and duty-cycle ledgers.

Pure code: no I/O and no event loop; time comes in as POSIX seconds or from a
:class:`han_emu.meter.clock.Clock`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from han_emu.air.airtime import (
        ACK_PSDU,
        APS_ACK_PSDU,
        ExchangeAirtime,
        ack_airtime,
        ack_airtime_us,
        exchange_airtime,
        frame_airtime,
        frame_airtime_us,
        frames_airtime,
    )
    from han_emu.air.dutycycle import (
        DEFAULT_LIMITED_S,
        DEFAULT_LIMITS,
        HOUR_S,
        AirtimeLedger,
        AlertCode,
        ChannelUsage,
        DutyCycleEvent,
        DutyCycleLedger,
        DutyCycleLimits,
        DutyCycleState,
        LedgerSummary,
    )
    from han_emu.air.phy import (
        GB_868,
        O_QPSK_2400,
        ChannelPage,
        InvalidChannelError,
        Phy,
        centre_frequency_khz,
        centre_frequency_mhz,
        channel_page,
        logical_channel,
        phy_for_page,
        physical_channel,
        validate_channel,
    )

#: Where each name of the package lives, loaded on first use (PEP 562): a
#: module that needs the PHY table does not import the ledgers with it.
_HOMES = {
    "ACK_PSDU": "han_emu.air.airtime", "APS_ACK_PSDU": "han_emu.air.airtime",
    "ExchangeAirtime": "han_emu.air.airtime", "ack_airtime": "han_emu.air.airtime",
    "ack_airtime_us": "han_emu.air.airtime", "exchange_airtime": "han_emu.air.airtime",
    "frame_airtime": "han_emu.air.airtime", "frame_airtime_us": "han_emu.air.airtime",
    "frames_airtime": "han_emu.air.airtime", "DEFAULT_LIMITED_S": "han_emu.air.dutycycle",
    "DEFAULT_LIMITS": "han_emu.air.dutycycle", "HOUR_S": "han_emu.air.dutycycle",
    "AirtimeLedger": "han_emu.air.dutycycle", "AlertCode": "han_emu.air.dutycycle",
    "ChannelUsage": "han_emu.air.dutycycle", "DutyCycleEvent": "han_emu.air.dutycycle",
    "DutyCycleLedger": "han_emu.air.dutycycle", "DutyCycleLimits": "han_emu.air.dutycycle",
    "DutyCycleState": "han_emu.air.dutycycle", "LedgerSummary": "han_emu.air.dutycycle",
    "GB_868": "han_emu.air.phy", "O_QPSK_2400": "han_emu.air.phy", "ChannelPage": "han_emu.air.phy",
    "InvalidChannelError": "han_emu.air.phy", "Phy": "han_emu.air.phy", "centre_frequency_khz": "han_emu.air.phy",
    "centre_frequency_mhz": "han_emu.air.phy", "channel_page": "han_emu.air.phy",
    "logical_channel": "han_emu.air.phy", "phy_for_page": "han_emu.air.phy", "physical_channel": "han_emu.air.phy",
    "validate_channel": "han_emu.air.phy",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'han_emu.air' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [*_HOMES]  # the names are listed once, in _HOMES
