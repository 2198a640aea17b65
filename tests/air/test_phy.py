"""Channel pages and centre frequencies against the GB-868 channel plan.

Expected values are written from the plan: physical channel n sits at
863.25 + 0.2 n MHz; page 28 = n 0-26, page 29 = n 27-34 then 62, page 30 = n 35-61.
"""

import pytest

from han_emu.air.phy import (
    GB_868,
    O_QPSK_2400,
    InvalidChannelError,
    centre_frequency_khz,
    centre_frequency_mhz,
    channel_page,
    logical_channel,
    phy_for_page,
    physical_channel,
    validate_channel,
)


@pytest.mark.parametrize(
    ("page", "channel", "physical", "khz"),
    [
        (28, 0, 0, 863_250),
        (28, 1, 1, 863_450),
        (28, 26, 26, 868_450),
        (29, 0, 27, 868_650),
        (29, 7, 34, 870_050),
        (29, 8, 62, 875_650),
        (30, 0, 35, 870_250),
        (30, 26, 61, 875_450),
        (0, 11, 11, 2_405_000),
        (0, 15, 15, 2_425_000),
        (0, 26, 26, 2_480_000),
    ],
)
def test_channel_plan(page: int, channel: int, physical: int, khz: int) -> None:
    assert physical_channel(page, channel) == physical
    assert centre_frequency_khz(page, channel) == khz
    assert centre_frequency_mhz(page, channel) == khz / 1000


def test_mhz_equals_the_decimal_value() -> None:
    assert centre_frequency_mhz(28, 26) == 868.45
    assert centre_frequency_mhz(29, 8) == 875.65


def test_page_sizes() -> None:
    assert list(channel_page(0).channels) == list(range(11, 27))
    assert len(channel_page(28).channels) == 27
    assert len(channel_page(29).channels) == 9
    assert len(channel_page(30).channels) == 27


@pytest.mark.parametrize(
    ("physical", "expected"),
    [(0, (28, 0)), (26, (28, 26)), (27, (29, 0)), (34, (29, 7)), (35, (30, 0)),
     (61, (30, 26)), (62, (29, 8))],
)
def test_logical_channel(physical: int, expected: tuple[int, int]) -> None:
    assert logical_channel(physical) == expected


def test_every_physical_channel_maps_once_and_back() -> None:
    seen = set()
    for page in (28, 29, 30):
        for ch in channel_page(page).channels:
            n = physical_channel(page, ch)
            assert logical_channel(n) == (page, ch)
            seen.add(n)
    assert seen == set(range(63))


@pytest.mark.parametrize(
    ("page", "channel"),
    [(28, 27), (28, -1), (29, 9), (30, 27), (0, 10), (0, 27), (0, 0), (28, True), (28, "5")],
)
def test_invalid_channels_are_refused(page: int, channel: object) -> None:
    with pytest.raises(InvalidChannelError, match=f"not on page {page}"):
        validate_channel(page, channel)  # type: ignore[arg-type]


@pytest.mark.parametrize("page", [1, 2, 27, 32, -1])
def test_unknown_pages_are_refused(page: int) -> None:
    with pytest.raises(InvalidChannelError, match="unknown channel page"):
        physical_channel(page, 0)


def test_page_31_is_named_as_915_mhz() -> None:
    with pytest.raises(InvalidChannelError, match="915 MHz"):
        channel_page(31)


@pytest.mark.parametrize("n", [-1, 63, 100])
def test_unknown_physical_channel(n: int) -> None:
    with pytest.raises(InvalidChannelError):
        logical_channel(n)


def test_invalid_channel_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        validate_channel(30, 30)


def test_phy_figures() -> None:
    assert phy_for_page(0) is O_QPSK_2400
    assert all(phy_for_page(p) is GB_868 for p in (28, 29, 30))
    assert (O_QPSK_2400.byte_us, O_QPSK_2400.overhead_bytes) == (32, 6)
    assert (GB_868.byte_us, GB_868.overhead_bytes) == (80, 12)
    assert O_QPSK_2400.max_psdu == GB_868.max_psdu == 127


def test_phy_symbols_and_mac_timings() -> None:
    """802.15.4: O-QPSK sends 4-bit symbols of 16 us (250 kb/s); GB-868 1-bit
    symbols of 10 us (100 kb/s); MAC timings are counted in the PHY's symbols."""
    assert (O_QPSK_2400.symbol_us, O_QPSK_2400.symbols_per_octet, O_QPSK_2400.bit_rate) == (16, 2, 250_000)
    assert (GB_868.symbol_us, GB_868.symbols_per_octet, GB_868.bit_rate) == (10, 8, 100_000)
    assert (O_QPSK_2400.shr_bytes, O_QPSK_2400.phr_bytes) == (5, 1)
    assert (GB_868.shr_bytes, GB_868.phr_bytes) == (10, 2)
    assert (O_QPSK_2400.turnaround_us, O_QPSK_2400.lifs_us, O_QPSK_2400.ack_wait_us) == (192, 640, 864)
    assert (GB_868.turnaround_us, GB_868.ack_wait_us) == (120, 540)
    assert (O_QPSK_2400.lbt_min_free_us, GB_868.lbt_min_free_us) == (0, 5_000)


def test_phy_pages_and_keys() -> None:
    assert O_QPSK_2400.pages == (0,) and GB_868.pages == (28, 29, 30)
    assert O_QPSK_2400.first_channel == (0, 11) and GB_868.first_channel == (28, 0)
    assert (O_QPSK_2400.key, GB_868.key) == ("2.4", "gb868")
