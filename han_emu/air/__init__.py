"""Air accounting: PHYs, exact airtime per frame and exchange, and duty-cycle ledgers.

Pure code: no I/O and no event loop; time comes in as POSIX seconds or from a
:class:`han_emu.meter.clock.Clock`.
"""

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

__all__ = [
    "ACK_PSDU", "APS_ACK_PSDU", "DEFAULT_LIMITED_S", "DEFAULT_LIMITS", "HOUR_S", "GB_868", "O_QPSK_2400",
    "AirtimeLedger", "AlertCode", "ChannelPage", "ChannelUsage", "DutyCycleEvent",
    "DutyCycleLedger", "DutyCycleLimits", "DutyCycleState", "ExchangeAirtime",
    "InvalidChannelError", "LedgerSummary", "Phy",
    "ack_airtime", "ack_airtime_us", "centre_frequency_khz", "centre_frequency_mhz",
    "channel_page", "exchange_airtime", "frame_airtime", "frame_airtime_us",
    "frames_airtime", "logical_channel", "phy_for_page", "physical_channel",
    "validate_channel",
]
