"""MPAN cores: 13 digits, the last a check digit over the first twelve."""

from __future__ import annotations

_WEIGHTS = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)


class MpanError(ValueError):
    """A malformed MPAN core; the message names the field it came from."""


def check_digit(first_twelve: str) -> int:
    """The check digit GB MPAN cores carry: weighted prime sum mod 11 mod 10."""
    total = sum(int(d) * w for d, w in zip(first_twelve, _WEIGHTS, strict=True))
    return total % 11 % 10


def validate_mpan(core: str, field: str = "mpan") -> str:
    """Return ``core`` with spaces removed, or raise :class:`MpanError`."""
    digits = core.replace(" ", "")
    if len(digits) != 13 or not digits.isdigit():
        raise MpanError(f"{field}: MPAN core must be 13 digits, got {core!r}")
    expected = check_digit(digits[:12])
    if int(digits[12]) != expected:
        raise MpanError(
            f"{field}: MPAN core {core!r} fails its check digit "
            f"(last digit {digits[12]}, expected {expected})"
        )
    return digits
