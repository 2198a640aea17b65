import pytest

from han_emu.meter.mpan import MpanError, check_digit, validate_mpan


def test_check_digit_worked_by_hand() -> None:
    # 1*3 + 2*5 + 0 + 0 + 0 + 2*19 + 3*23 + 3*29 + 0 + 5*37 + 9*41 + 6*43 = 1019;
    # 1019 mod 11 = 7; 7 mod 10 = 7.
    assert check_digit("120002330596") == 7
    assert validate_mpan("1200023305967") == "1200023305967"


def test_check_digit_mod_ten_wraps() -> None:
    # 9*3 + 0*5 + ... + 1*43 = 27 + 43 = 70; 70 mod 11 = 4.  Find a core whose
    # sum mod 11 is 10, which the final "mod 10" turns into check digit 0:
    # 0...0 then 2*43 = 86 -> 86 mod 11 = 9; 1*41 + 1*43 = 84 -> 7;
    # 1*3 + 1*43 = 46 -> 2; 2*5 = 10 -> 10 -> 0.
    assert check_digit("020000000000") == 0
    assert check_digit("900000000001") == 4


def test_spaces_are_allowed() -> None:
    assert validate_mpan("12 0002 3305 967") == "1200023305967"


@pytest.mark.parametrize(
    ("core", "why"),
    [
        ("1200023305968", "check digit"),
        ("120002330596", "13 digits"),
        ("12000233059671", "13 digits"),
        ("12000233059A7", "13 digits"),
        ("", "13 digits"),
    ],
)
def test_bad_cores_name_the_field(core: str, why: str) -> None:
    with pytest.raises(MpanError, match=rf"mpan\.secondary_export: .*{why}"):
        validate_mpan(core, "mpan.secondary_export")
