"""Airtime per frame and per exchange, computed by hand from the PHY tables.

2.4 GHz: (6 + PSDU) x 32 us.  GB-868: (12 + PSDU) x 80 us.  MAC ACK PSDU = 5.
"""

import pytest

from han_emu.air import airtime as at
from han_emu.air.airtime import (
    ack_airtime,
    ack_airtime_us,
    exchange_airtime,
    frame_airtime,
    frame_airtime_us,
    frames_airtime,
)
from han_emu.air.phy import GB_868, O_QPSK_2400


@pytest.mark.parametrize(
    ("psdu", "phy", "us"),
    [
        (127, O_QPSK_2400, 4256),
        (5, O_QPSK_2400, 352),
        (1, O_QPSK_2400, 224),
        (50, O_QPSK_2400, 1792),
        (127, GB_868, 11120),
        (5, GB_868, 1360),
        (1, GB_868, 1040),
        (100, GB_868, 8960),
    ],
)
def test_frame_airtime(psdu: int, phy, us: int) -> None:
    assert frame_airtime_us(psdu, phy) == us
    assert frame_airtime(psdu, phy) == us / 1_000_000


def test_reference_figures_in_seconds() -> None:
    assert frame_airtime(127, O_QPSK_2400) == 0.004256
    assert frame_airtime(127, GB_868) == 0.01112
    assert ack_airtime(O_QPSK_2400) == 0.000352
    assert ack_airtime(GB_868) == 0.00136


def test_page_numbers_select_the_phy() -> None:
    assert frame_airtime_us(127, 0) == 4256
    for page in (28, 29, 30):
        assert frame_airtime_us(127, page) == 11120
    assert ack_airtime_us(29) == 1360


@pytest.mark.parametrize("psdu", [128, 200])
def test_oversized_psdu_is_refused(psdu: int) -> None:
    with pytest.raises(ValueError, match="127-byte limit"):
        frame_airtime(psdu, GB_868)


@pytest.mark.parametrize("psdu", [0, -3])
def test_empty_psdu_is_refused(psdu: int) -> None:
    with pytest.raises(ValueError, match="not positive"):
        frame_airtime(psdu, O_QPSK_2400)


def test_non_integer_psdu_is_refused() -> None:
    with pytest.raises(TypeError):
        frame_airtime(12.0, GB_868)  # type: ignore[arg-type]


def test_frames_airtime_sums() -> None:
    assert frames_airtime([127, 5, 1], GB_868) == (11120 + 1360 + 1040) / 1e6


def test_unicast_exchange_with_mac_ack() -> None:
    ex = exchange_airtime(100, GB_868)
    assert (ex.sender_us, ex.receiver_us) == (8960, 1360)
    assert (ex.sender_frames, ex.receiver_frames) == (1, 1)
    assert ex.total == 0.01032


def test_broadcast_has_no_ack() -> None:
    ex = exchange_airtime(60, O_QPSK_2400, mac_ack=False)
    assert (ex.sender_us, ex.receiver_us, ex.frames) == ((6 + 60) * 32, 0, 1)


def test_aps_acknowledged_exchange() -> None:
    # data 8960 + MAC ACK 1360 + APS ACK (45 bytes: 57 x 80 = 4560) + its MAC ACK 1360
    ex = exchange_airtime(100, GB_868, aps_ack=True)
    assert ex.sender_us == 8960 + 1360
    assert ex.receiver_us == 1360 + 4560
    assert ex.total_us == 16240
    assert ex.frames == 4
    assert ex.total == 0.01624


def test_aps_ack_size_can_be_given() -> None:
    ex = exchange_airtime(20, O_QPSK_2400, aps_ack=True, aps_ack_psdu=58)
    assert ex.receiver_us == 352 + (6 + 58) * 32
    assert ex.sender_us == (6 + 20) * 32 + 352


def test_retries_resend_the_frame_without_acks() -> None:
    ex = exchange_airtime(50, O_QPSK_2400, retries=2)
    assert ex.sender_us == 3 * 1792
    assert ex.receiver_us == 352
    assert (ex.sender_frames, ex.receiver_frames) == (3, 1)


def test_fragments_with_aps_ack_per_block() -> None:
    ex = exchange_airtime([127, 127, 60], GB_868, aps_ack=True)
    data = 11120 + 11120 + (12 + 60) * 80
    assert ex.sender_us == data + 3 * 1360
    assert ex.receiver_us == 3 * 1360 + 3 * 4560
    assert ex.total_us == 49840


def test_fragments_with_window_of_three() -> None:
    ex = exchange_airtime([127, 127, 60], GB_868, aps_ack=True, aps_window=3)
    assert ex.sender_us == 28000 + 1360
    assert ex.receiver_us == 3 * 1360 + 4560


def test_fragment_window_rounds_up() -> None:
    ex = exchange_airtime([10] * 5, O_QPSK_2400, aps_ack=True, aps_window=2)
    assert ex.receiver_frames == 5 + 3


def test_per_fragment_retries() -> None:
    ex = exchange_airtime([127, 60], GB_868, retries=[1, 0])
    assert ex.sender_us == 2 * 11120 + 5760
    assert ex.receiver_us == 2 * 1360


def test_fragment_over_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="127-byte limit"):
        exchange_airtime([127, 128], GB_868)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mac_ack": False, "retries": 1},
        {"mac_ack": False, "aps_ack": True},
        {"retries": -1},
        {"retries": [0, 0, 0]},
        {"aps_ack": True, "aps_window": 0},
    ],
)
def test_inconsistent_exchanges_are_refused(kwargs) -> None:
    with pytest.raises(ValueError):
        exchange_airtime([50, 50], GB_868, **kwargs)


def test_empty_exchange_is_refused() -> None:
    with pytest.raises(ValueError):
        exchange_airtime([], GB_868)


def test_lbt_and_timing_constants() -> None:
    assert at.LBT_CCA_THRESHOLD_DBM == -87
    assert at.LBT_MIN_FREE_S == 0.005
    assert at.LBT_BACKOFF_SLOT_S * at.LBT_MAX_BACKOFF_SLOTS == 0.005
    assert at.LBT_RETRIES == 3
    assert at.LBT_TIMEOUT_S == 0.060
    assert at.MIN_TX_OFF_S == 0.100
    assert (at.MAX_PACKET_S, at.MAX_DIALOGUE_S) == (1.0, 4.0)
    assert at.TURNAROUND_2400_S == 12 * 16e-6
