from __future__ import annotations

import pytest

from clusters import ZCL_EPOCH_POSIX, posix_to_utctime, utctime_to_posix


def test_epoch_is_2000_01_01() -> None:
    assert ZCL_EPOCH_POSIX == 946684800
    assert posix_to_utctime(946684800.0) == 0


def test_known_date() -> None:
    # 2024-01-01T00:00:00Z is POSIX 1704067200: 757382400 s after the ZCL epoch
    assert posix_to_utctime(1704067200.75) == 757382400
    assert utctime_to_posix(757382400) == 1704067200.0


def test_round_trip_truncates_to_seconds() -> None:
    assert utctime_to_posix(posix_to_utctime(1_800_000_000.9)) == 1_800_000_000.0


@pytest.mark.parametrize("posix", [946684799.0, 946684800.0 + 0xFFFFFFFF])
def test_out_of_range_posix(posix: float) -> None:
    with pytest.raises(ValueError):
        posix_to_utctime(posix)


@pytest.mark.parametrize("value", [0xFFFFFFFF, -1])
def test_invalid_utctime(value: int) -> None:
    with pytest.raises(ValueError):
        utctime_to_posix(value)
