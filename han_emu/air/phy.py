"""The radios a GB HAN uses, described as data.

A dual-band Communications Hub talks to IHDs over two PHYs: the 2.4 GHz O-QPSK
PHY of IEEE 802.15.4 (channel page 0, channels 11-26) and GB-868, the UK sub-GHz
2-FSK PHY carried on Zigbee channel pages 28, 29 and 30.  Each :class:`Phy`
holds every fact about its radio that airtime, frame timing and duty cycle need
(symbol time, bits a symbol, what precedes the PSDU, the MAC timings counted in
its symbols, listen-before-talk); nothing else works them out.  The channel
tables map a (page, logical channel) pair to the physical channel and centre
frequency the regulations talk about.
"""

from __future__ import annotations

from dataclasses import dataclass

US_PER_S = 1_000_000

MAX_PSDU = 127
"""aMaxPHYPacketSize: the 7-bit PHR length field limits the PSDU (GB-868 keeps it)."""


class InvalidChannelError(ValueError):
    """A channel page or channel number that no supported PHY defines."""


@dataclass(frozen=True, slots=True)
class Phy:
    """One physical layer: its symbols, what precedes the PSDU, and the MAC
    timings that are counted in its symbols."""

    name: str
    band: str
    """The band as titles and tables name it: "2.4 GHz", "GB-868"."""
    key: str
    """Short name on command lines and in reports, also the band's name: "2.4", "gb868"."""
    modulation: str
    symbol_us: int
    """Microseconds per modulation symbol."""
    bits_per_symbol: int
    preamble_bytes: int
    sfd_bytes: int
    phr_bytes: int
    max_psdu: int = MAX_PSDU
    turnaround_symbols: int = 12
    """aTurnaroundTime: RX-to-TX before a MAC ACK."""
    ack_wait_symbols: int = 54
    """macAckWaitDuration: how long a sender waits for the MAC ACK."""
    lifs_symbols: int = 40
    """macLIFSPeriod: the long inter-frame spacing after a frame of more than 18 bytes."""
    lbt_min_free_us: int = 0
    """Listen before talk: the channel must be seen free this long before a
    transmission; 0 on a PHY without LBT."""

    duty_cycle_regulated: bool = False
    """Whether transmissions on this PHY count against a regulated duty-cycle
    budget (GB-868: ETSI EN 300 220 as GBCS applies it); 2.4 GHz has none."""

    @property
    def symbols_per_octet(self) -> int:
        return 8 // self.bits_per_symbol

    @property
    def bit_rate(self) -> int:
        """Bits per second over the air."""
        return self.bits_per_symbol * US_PER_S // self.symbol_us

    @property
    def byte_us(self) -> int:
        """Microseconds per byte on air."""
        return self.symbol_us * self.symbols_per_octet

    @property
    def shr_bytes(self) -> int:
        """The synchronisation header: preamble and start-of-frame delimiter."""
        return self.preamble_bytes + self.sfd_bytes

    @property
    def overhead_bytes(self) -> int:
        """Bytes sent before the PSDU: preamble, start-of-frame delimiter, PHY header."""
        return self.shr_bytes + self.phr_bytes

    @property
    def turnaround_us(self) -> int:
        return self.turnaround_symbols * self.symbol_us

    @property
    def ack_wait_us(self) -> int:
        return self.ack_wait_symbols * self.symbol_us

    @property
    def lifs_us(self) -> int:
        return self.lifs_symbols * self.symbol_us

    @property
    def pages(self) -> tuple[int, ...]:
        """The channel pages this PHY carries."""
        return tuple(page for page, cp in CHANNEL_PAGES.items() if cp.phy is self)

    @property
    def first_channel(self) -> tuple[int, int]:
        """(page, logical channel) of the PHY's first channel: the default where nothing says."""
        cp = CHANNEL_PAGES[self.pages[0]]
        return cp.page, cp.first_channel


O_QPSK_2400 = Phy(
    name="2.4 GHz O-QPSK",
    band="2.4 GHz",
    key="2.4",
    modulation="O-QPSK",
    symbol_us=16,
    bits_per_symbol=4,
    preamble_bytes=4,
    sfd_bytes=1,
    phr_bytes=1,
)
"""IEEE 802.15.4 2.4 GHz PHY: 16 us symbols of 4 bits (250 kb/s, 32 us a byte),
6 bytes of SHR + PHR; ACK turnaround 12 symbols (192 us)."""

GB_868 = Phy(
    name="GB-868 2-FSK",
    band="GB-868",
    key="gb868",
    modulation="2-FSK (SUN-FSK, Gaussian BT 0.5, 35 kHz deviation)",
    symbol_us=10,
    bits_per_symbol=1,
    preamble_bytes=8,
    sfd_bytes=2,
    phr_bytes=2,
    ack_wait_symbols=54,  # the 2.4 GHz figure, kept for GB-868 too
    lbt_min_free_us=5_000,
    duty_cycle_regulated=True,
)
"""GB-868 sub-GHz PHY: 10 us symbols of 1 bit (100 kb/s, 80 us a byte),
8-byte preamble + 2-byte SFD + 2-byte PHR; listen before talk, the channel
free for 5 ms (UK rules)."""


PHYS: dict[str, Phy] = {phy.key: phy for phy in (GB_868, O_QPSK_2400)}
"""Every supported PHY by its key, as command lines and reports name it."""

_ALIASES = {"868": "gb868", "subghz": "gb868", "24": "2.4", "2400": "2.4"}


def phy_named(name: str) -> Phy:
    """The PHY a user named: its key ("gb868", "2.4") or a common spelling of it."""
    text = name.lower().replace("-", "").replace("ghz", "").strip()
    key = _ALIASES.get(text, text)
    if key not in PHYS:
        raise ValueError(f"unknown PHY {name!r}: use {' or '.join(PHYS)}")
    return PHYS[key]


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


AUTO = "auto"
"""The PHY named as "whatever the capture says" (command lines' ``--phy auto``)."""


def phy_of_metadata(page: int | None, channel: int | None) -> Phy | None:
    """The PHY a capture record's metadata names, None when it does not say.

    A TAP pseudo-header (link type 283) gives the channel page, and the page
    names the PHY.  ZEP gives a channel but no page: channels 11-26 are the
    2.4 GHz ones every ZEP sniffer reports, any other number says nothing
    certain (a GB-868 logical channel carries no page with it)."""
    if page is not None:
        cp = CHANNEL_PAGES.get(page)
        return None if cp is None else cp.phy
    if channel is not None and channel in CHANNEL_PAGES[PAGE_2400].channels:
        return O_QPSK_2400
    return None


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
