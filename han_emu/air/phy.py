"""The radios a GB HAN uses, described as data.

A dual-band Communications Hub talks to IHDs over two PHYs: the 2.4 GHz O-QPSK
PHY of IEEE 802.15.4 (channel page 0, channels 11-26) and GB-868, the UK sub-GHz
2-FSK PHY carried on Zigbee channel pages 28, 29 and 30.  Airtime and duty cycle
depend only on the PHY's byte time and the bytes sent before the PSDU, so the
PHYs are plain records here; the channel tables map a (page, logical channel)
pair to the physical channel and centre frequency the regulations talk about.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_PSDU = 127
"""aMaxPHYPacketSize: the 7-bit PHR length field limits the PSDU (GB-868 keeps it)."""


class InvalidChannelError(ValueError):
    """A channel page or channel number that no supported PHY defines."""


@dataclass(frozen=True, slots=True)
class Phy:
    """One physical layer: how long a byte takes and what precedes the PSDU."""

    name: str
    modulation: str
    bit_rate: int
    """Bits per second over the air."""
    preamble_bytes: int
    sfd_bytes: int
    phr_bytes: int
    max_psdu: int = MAX_PSDU

    @property
    def byte_us(self) -> int:
        """Microseconds per byte on air (8 bits at ``bit_rate``)."""
        return 8_000_000 // self.bit_rate

    @property
    def overhead_bytes(self) -> int:
        """Bytes sent before the PSDU: preamble, start-of-frame delimiter, PHY header."""
        return self.preamble_bytes + self.sfd_bytes + self.phr_bytes


O_QPSK_2400 = Phy(
    name="2.4 GHz O-QPSK",
    modulation="O-QPSK",
    bit_rate=250_000,
    preamble_bytes=4,
    sfd_bytes=1,
    phr_bytes=1,
)
"""IEEE 802.15.4 2.4 GHz PHY: 250 kb/s, 32 us a byte, 6 bytes of SHR + PHR."""

GB_868 = Phy(
    name="GB-868 2-FSK",
    modulation="2-FSK (SUN-FSK, Gaussian BT 0.5, 35 kHz deviation)",
    bit_rate=100_000,
    preamble_bytes=8,
    sfd_bytes=2,
    phr_bytes=2,
)
"""GB-868 sub-GHz PHY: 100 kb/s, 80 us a byte, 8-byte preamble + 2-byte SFD + 2-byte PHR."""


@dataclass(frozen=True, slots=True)
class ChannelPage:
    """A Zigbee channel page: its PHY and the physical channel behind each logical one."""

    page: int
    phy: Phy
    first_channel: int
    """The lowest logical channel number on this page (11 on page 0, 0 on pages 28-30)."""
    physical: tuple[int, ...]
    """``physical[c - first_channel]`` is the physical channel of logical channel ``c``."""
    band: str

    @property
    def channels(self) -> range:
        """The valid logical channel numbers of this page."""
        return range(self.first_channel, self.first_channel + len(self.physical))


PAGE_2400 = 0
SUB_GHZ_PAGES = (28, 29, 30)

# Physical channel n of the GB-868 band sits at 863.25 + 0.2 n MHz.  Page 29 holds
# n 27-34 and then n 62 (875.65 MHz) as its ninth channel.
CHANNEL_PAGES: dict[int, ChannelPage] = {
    0: ChannelPage(0, O_QPSK_2400, 11, tuple(range(11, 27)), "2400-2483.5 MHz"),
    28: ChannelPage(28, GB_868, 0, tuple(range(0, 27)), "863-870 MHz"),
    29: ChannelPage(29, GB_868, 0, (*range(27, 35), 62), "863-870 MHz (+ 875.65 MHz)"),
    30: ChannelPage(30, GB_868, 0, tuple(range(35, 62)), "870-876 MHz"),
}

_PHYSICAL_TO_LOGICAL: dict[int, tuple[int, int]] = {
    n: (cp.page, cp.first_channel + i)
    for cp in CHANNEL_PAGES.values()
    if cp.page != PAGE_2400
    for i, n in enumerate(cp.physical)
}


def channel_page(page: int) -> ChannelPage:
    """The definition of channel ``page``; a clear error for pages we do not model."""
    try:
        return CHANNEL_PAGES[page]
    except (KeyError, TypeError):
        pass
    if page == 31:
        raise InvalidChannelError("channel page 31 (915 MHz band) is not a GB HAN page")
    raise InvalidChannelError(
        f"unknown channel page {page!r}: expected 0 (2.4 GHz) or 28, 29, 30 (GB-868)"
    )


def validate_channel(page: int, channel: int) -> ChannelPage:
    """Check that ``channel`` exists on ``page`` and return the page definition."""
    cp = channel_page(page)
    if not isinstance(channel, int) or isinstance(channel, bool) or channel not in cp.channels:
        lo, hi = cp.channels[0], cp.channels[-1]
        raise InvalidChannelError(
            f"channel {channel!r} is not on page {page}: valid channels are {lo}-{hi}"
        )
    return cp


def phy_for_page(page: int) -> Phy:
    """The PHY that carries channel ``page``."""
    return channel_page(page).phy


def physical_channel(page: int, channel: int) -> int:
    """The physical channel number behind logical ``channel`` of ``page``.

    On page 0 the IEEE 802.15.4 channel number is both logical and physical.
    """
    cp = validate_channel(page, channel)
    return cp.physical[channel - cp.first_channel]


def logical_channel(physical: int) -> tuple[int, int]:
    """(page, logical channel) of GB-868 physical channel ``physical`` (0-62)."""
    try:
        return _PHYSICAL_TO_LOGICAL[physical]
    except (KeyError, TypeError):
        raise InvalidChannelError(
            f"GB-868 physical channel {physical!r} does not exist: valid are 0-62"
        ) from None


def centre_frequency_khz(page: int, channel: int) -> int:
    """Centre frequency in kHz, exact (integer arithmetic, no rounding)."""
    n = physical_channel(page, channel)
    if page == PAGE_2400:
        return 2_405_000 + 5_000 * (n - 11)
    return 863_250 + 200 * n


def centre_frequency_mhz(page: int, channel: int) -> float:
    """Centre frequency in MHz (the float nearest the exact kHz value)."""
    return centre_frequency_khz(page, channel) / 1000
