"""Prices as people read them: the raw integer with its trailing digit applied.

The Price cluster carries money as integers; the trailing digit says how many
of their digits are right of the decimal point (PublishPrice packs it in the
high nibble of its tier byte, the PriceTrailingDigit attribute in the high
nibble of its byte).  2450 with trailing digit 4 is 0.2450.  The currency is an
ISO 4217 number and the unit of a price is the Price cluster's unit of measure.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import zigpy.zcl.clusters.smartenergy as zse

from clusters.price import CURRENCY_GBP, RECEIVED_OFFSET

CURRENCY_SYMBOLS: Final[dict[int, str]] = {CURRENCY_GBP: "£"}
"""Symbols of the currencies (ISO 4217 numbers) a GB HAN carries; others are shown as plain numbers."""

NOT_USED: Final = 0xFFFF_FFFF
"""A price field that is not in use holds all ones."""

STANDING_CHARGE: Final = 0x0301
PRICE_ATTRIBUTES: Final = range(0x0400, 0x0600)
"""The Block Price and Extended Price Information sets (tier/block prices, CPP prices)."""

_KWH = (zse.MeteringUnitofMeasure.Kwh_and_Kwh_binary, zse.MeteringUnitofMeasure.Kwh_and_Kwh_bcd)


def trailing_digit(byte: int) -> int:
    """The digit from a trailing-digit byte (its high nibble): 0x50 -> 5."""
    return (int(byte) >> 4) & 0x0F


def price_value(raw: int, digit: int) -> Decimal:
    """``raw`` with ``digit`` digits right of the decimal point: (2450, 4) -> 0.2450."""
    return Decimal(int(raw)).scaleb(-int(digit))


def unit_name(unit_of_measure: int | None) -> str | None:
    """What a price is per: "kWh" for the electricity units, zigpy's name for others."""
    if unit_of_measure is None:
        return None
    if unit_of_measure in _KWH:
        return "kWh"
    try:
        return zse.MeteringUnitofMeasure(unit_of_measure).name.split("_and_")[0]
    except ValueError:
        return None


def price_text(raw: int, digit: int, *, currency: int | None = None, unit: int | None = None) -> str:
    """``£0.2450/kWh``: the currency where known, the unit where given; one word,
    so it reads as a value among others.  A field of all ones is not in use and
    stays as it is."""
    if raw == NOT_USED:
        return str(raw)
    symbol = CURRENCY_SYMBOLS.get(currency, "") if currency is not None else ""
    per = unit_name(unit)
    return f"{symbol}{price_value(raw, digit)}" + (f"/{per}" if per else "")


def is_price_attribute(attribute: int) -> bool:
    """Whether the Price cluster attribute holds money (tier and block prices,
    CPP prices, the standing charge), on either element's attribute set."""
    base = attribute & ~RECEIVED_OFFSET
    return base in PRICE_ATTRIBUTES or base == STANDING_CHARGE
