"""Price cluster (0x0700): attributes and commands, which zigpy 2.4 leaves empty.

Layouts follow SE 1.4 Annex D.4 as cross-checked against Wireshark's SE dissector
(see the project reference notes).  Received-direction attribute sets mirror the
delivered ones at 0x8000 + id; MP184 puts the four export TOU prices at
Rx Tier 1..4 Block 1 Price (0x8410/0x8420/0x8430/0x8440).

Naming scheme of the generated families:

* ``tier{N}_price_label`` / ``received_tier{N}_price_label``           N = 1..48
* ``block{N}_threshold`` / ``received_block{N}_threshold``            N = 1..15
* ``tier{T}_block{B}_threshold``, ``tier{T}_block_threshold_count``    T = 1..15, B = 1..15
* ``no_tier_block{B}_price`` / ``received_no_tier_block{B}_price``    B = 1..16
* ``tier{T}_block{B}_price`` / ``received_tier{T}_block{B}_price``    T = 1..15, B = 1..16
* ``price_tier{N}`` / ``received_price_tier{N}``                      N = 16..48
* ``credit_payment{N}``, ``credit_payment_date{N}``, ``credit_payment_ref{N}``  N = 1..5

Server attributes only (the client's randomisation attributes are not modelled).
"""

from __future__ import annotations

from typing import Final

import zigpy.types as t
from zigpy.zcl.clusters import smartenergy as zse
from zigpy.zcl.foundation import BaseAttributeDefs, BaseCommandDefs, CommandSchema, ZCLCommandDef

from clusters import ids
from clusters._families import add_attributes, attr

MAX_TIERS: Final = 48
MAX_BLOCK_TIERS: Final = 15
MAX_BLOCKS: Final = 16
MAX_THRESHOLDS: Final = 15
RECEIVED_OFFSET: Final = 0x8000

#: ISO 4217 numeric code of the pound sterling.
CURRENCY_GBP: Final = 826
#: DurationInMinutes meaning "until changed".
DURATION_UNTIL_CHANGED: Final = 0xFFFF

TierLabel = t.LimitedLVBytes(12)
TariffLabel = t.LimitedLVBytes(24)
RateLabel = t.LimitedLVBytes(12)
CreditPaymentRef = t.LimitedLVBytes(20)


# --- enums and packed bytes -------------------------------------------------------


class CommodityType(t.enum8):
    Electric_Metering = 0x00
    Gas_Metering = 0x01
    Water_Metering = 0x02
    Thermal_Metering = 0x03
    Pressure_Metering = 0x04
    Heat_Metering = 0x05
    Cooling_Metering = 0x06


class TariffType(t.enum8):
    """A TariffType byte (SE: low nibble; the high nibble is reserved and zero)."""

    Delivered = 0x00
    Received = 0x01
    Delivered_And_Received = 0x02


class TariffTypeNibble(t.enum4):
    """TariffType packed into the low nibble of PublishTariffInformation's byte."""

    Delivered = 0x0
    Received = 0x1
    Delivered_And_Received = 0x2


class TariffChargingScheme(t.enum4):
    TOU = 0x0
    Block = 0x1
    Block_TOU_Common_Thresholds = 0x2
    Block_TOU_Individual_Thresholds = 0x3


class TariffResolutionPeriod(t.enum8):
    Not_Defined = 0x00
    Block_Period = 0x01
    One_Day = 0x02


class TariffTypeChargingScheme(t.IntStruct, t.uint8_t):
    """PublishTariffInformation byte: tariff type low nibble, charging scheme high."""

    tariff_type: TariffTypeNibble
    charging_scheme: TariffChargingScheme


class TrailingDigitAndPriceTier(t.IntStruct, t.uint8_t):
    """PublishPrice byte: price tier low nibble, price trailing digit high nibble."""

    price_tier: t.uint4_t
    trailing_digit: t.uint4_t


class NumberOfPriceTiersAndRegisterTier(t.IntStruct, t.uint8_t):
    """PublishPrice byte: register tier low nibble, number of price tiers high nibble."""

    register_tier: t.uint4_t
    number_of_price_tiers: t.uint4_t


class TrailingDigit(t.IntStruct, t.uint8_t):
    """A trailing-digit byte: digits right of the decimal point in the high nibble."""

    _reserved: t.uint4_t = t.StructField(default=0)
    trailing_digit: t.uint4_t = t.StructField(default=0)


class BlockPeriodDurationType(t.IntStruct, t.uint8_t):
    """Timebase (0 minutes, 1 days, 2 weeks, 3 months) low, control high nibble."""

    timebase: t.uint4_t
    control: t.uint4_t


class SubPayloadControl(t.bitmap8):
    """PublishPriceMatrix / PublishBlockThresholds bit 0."""

    Block_Or_Tier_Block = 0x00
    TOU_Based = 0x01  # matrix: Tier/Block ID is the tier; thresholds: apply to all tiers


# --- attribute families ------------------------------------------------------------


def tier_label_attr(tier: int, received: bool = False) -> int:
    """Tier N PriceLabel: 0x0000 + (N-1), received at 0x8000 + (N-1)."""
    if not 1 <= tier <= MAX_TIERS:
        raise ValueError(f"tier {tier} outside 1..{MAX_TIERS}")
    return (tier - 1) + (RECEIVED_OFFSET if received else 0)


def tier_block_price_attr(tier: int, block: int, received: bool = False) -> int:
    """Tier T Block B Price: 0x0410 + 0x10(T-1) + (B-1); T = 0 gives NoTierBlock B 0x0400+.

    Received prices sit at 0x8000 + the same id (Rx Tier1Block1 = 0x8410).
    """
    if not 0 <= tier <= MAX_BLOCK_TIERS:
        raise ValueError(f"tier {tier} outside 0..{MAX_BLOCK_TIERS}")
    if not 1 <= block <= MAX_BLOCKS:
        raise ValueError(f"block {block} outside 1..{MAX_BLOCKS}")
    return 0x0400 + 0x10 * tier + (block - 1) + (RECEIVED_OFFSET if received else 0)


def price_tier_attr(tier: int, received: bool = False) -> int:
    """PriceTier N (extended price set) for N = 16..48: 0x050F + (N-16)."""
    if not 16 <= tier <= MAX_TIERS:
        raise ValueError(f"extended price tier {tier} outside 16..{MAX_TIERS}")
    return 0x050F + (tier - 16) + (RECEIVED_OFFSET if received else 0)


def block_threshold_attr(block: int, tier: int = 0, received: bool = False) -> int:
    """Block N Threshold 0x0100 + (N-1); per tier 0x0110 + 0x10(T-1) + (N-1)."""
    if not 1 <= block <= MAX_THRESHOLDS:
        raise ValueError(f"threshold {block} outside 1..{MAX_THRESHOLDS}")
    if not 0 <= tier <= MAX_BLOCK_TIERS or (received and tier):
        raise ValueError(f"no block-threshold attribute for tier {tier}")
    return 0x0100 + 0x10 * tier + (block - 1) + (RECEIVED_OFFSET if received else 0)


def _both(attr_id: int, name: str, type_: object, access: str = "r") -> list:
    return [
        attr(attr_id, name, type_, access),
        attr(attr_id + RECEIVED_OFFSET, f"received_{name}", type_, access),
    ]


def _generated_attributes() -> list:
    out = []
    for n in range(1, MAX_TIERS + 1):
        out += _both(tier_label_attr(n), f"tier{n}_price_label", TierLabel, "rw")
    for n in range(1, MAX_THRESHOLDS + 1):
        out += _both(block_threshold_attr(n), f"block{n}_threshold", t.uint48_t)
    out.append(attr(0x010F, "block_threshold_count", t.uint8_t))
    for tier in range(1, MAX_BLOCK_TIERS + 1):
        for n in range(1, MAX_THRESHOLDS + 1):
            out.append(
                attr(block_threshold_attr(n, tier), f"tier{tier}_block{n}_threshold", t.uint48_t)
            )
        out.append(attr(0x011F + 0x10 * (tier - 1), f"tier{tier}_block_threshold_count", t.uint8_t))
    out += [
        *_both(0x0200, "start_of_block_period", t.UTCTime),
        *_both(0x0201, "block_period_duration", t.uint24_t),
        *_both(0x0202, "threshold_multiplier", t.uint24_t),
        *_both(0x0203, "threshold_divisor", t.uint24_t),
        attr(0x0204, "block_period_duration_type", BlockPeriodDurationType),
        attr(0x0300, "commodity_type", CommodityType),
        attr(0x0301, "standing_charge", t.uint32_t),
        attr(0x0302, "conversion_factor", t.uint32_t),
        attr(0x0303, "conversion_factor_trailing_digit", TrailingDigit),
        attr(0x0304, "calorific_value", t.uint32_t),
        attr(0x0305, "calorific_value_unit", t.enum8),
        attr(0x0306, "calorific_value_trailing_digit", TrailingDigit),
    ]
    for tier in range(0, MAX_BLOCK_TIERS + 1):
        for block in range(1, MAX_BLOCKS + 1):
            name = f"no_tier_block{block}_price" if tier == 0 else f"tier{tier}_block{block}_price"
            out += _both(tier_block_price_attr(tier, block), name, t.uint32_t)
    for n in range(16, MAX_TIERS + 1):
        out += _both(price_tier_attr(n), f"price_tier{n}", t.uint32_t)
    out += [
        attr(0x05FE, "cpp1_price", t.uint32_t),
        attr(0x05FF, "cpp2_price", t.uint32_t),
        *_both(0x0610, "tariff_label", TariffLabel, "rw"),
        *_both(0x0611, "number_of_price_tiers_in_use", t.uint8_t, "rw"),
        *_both(0x0612, "number_of_block_thresholds_in_use", t.uint8_t, "rw"),
        *_both(0x0613, "tier_block_mode", t.enum8, "rw"),
        attr(0x0615, "unit_of_measure", zse.MeteringUnitofMeasure),
        attr(0x8615, "received_tariff_resolution_period", TariffResolutionPeriod),
        attr(0x0616, "currency", t.uint16_t),
        attr(0x0617, "price_trailing_digit", TrailingDigit),
        attr(0x0619, "tariff_resolution_period", TariffResolutionPeriod),
        attr(0x0620, "co2", t.uint32_t),
        attr(0x0621, "co2_unit", t.enum8),
        attr(0x0622, "co2_trailing_digit", TrailingDigit),
        attr(0x8625, "received_co2", t.uint32_t),
        attr(0x8626, "received_co2_unit", t.enum8),
        attr(0x8627, "received_co2_trailing_digit", TrailingDigit),
        *_both(0x0700, "current_billing_period_start", t.UTCTime),
        *_both(0x0701, "current_billing_period_duration", t.uint24_t),
        *_both(0x0702, "last_billing_period_start", t.UTCTime),
        *_both(0x0703, "last_billing_period_duration", t.uint24_t),
        *_both(0x0704, "last_billing_period_consolidated_bill", t.uint32_t),
        attr(0x0800, "credit_payment_due_date", t.UTCTime),
        attr(0x0801, "credit_payment_status", t.enum8),
        attr(0x0802, "credit_payment_over_due_amount", t.uint32_t),
        attr(0x080A, "payment_discount", t.uint32_t),
        attr(0x080B, "payment_discount_period", t.enum8),
    ]
    for n in range(1, 6):
        base = 0x0810 + 0x10 * (n - 1)
        out += [
            attr(base, f"credit_payment{n}", t.uint32_t),
            attr(base + 1, f"credit_payment_date{n}", t.UTCTime),
            attr(base + 2, f"credit_payment_ref{n}", CreditPaymentRef),
        ]
    return out


class _AttributeDefs(BaseAttributeDefs):
    pass


add_attributes(_AttributeDefs, _generated_attributes())


# --- command payloads ---------------------------------------------------------------


class PublishPriceSchema(CommandSchema):
    """PublishPrice (server -> client 0x00).

    The 13 fields after ``price`` are an optional tail (SE 1.1+): a payload may stop
    after ``price``; a builder omits the tail by leaving those fields ``None``.
    """

    provider_id: t.uint32_t
    rate_label: RateLabel
    issuer_event_id: t.uint32_t
    current_time: t.UTCTime
    unit_of_measure: zse.MeteringUnitofMeasure
    currency: t.uint16_t
    price_trailing_digit_and_price_tier: TrailingDigitAndPriceTier
    number_of_price_tiers_and_register_tier: NumberOfPriceTiersAndRegisterTier
    start_time: t.UTCTime  # 0 = now
    duration_in_minutes: t.uint16_t
    price: t.uint32_t
    price_ratio: t.uint8_t = t.StructField(optional=True)
    generation_price: t.uint32_t = t.StructField(optional=True)
    generation_price_ratio: t.uint8_t = t.StructField(optional=True)
    alternate_cost_delivered: t.uint32_t = t.StructField(optional=True)
    alternate_cost_unit: t.uint8_t = t.StructField(optional=True)
    alternate_cost_trailing_digit: TrailingDigit = t.StructField(optional=True)
    number_of_block_thresholds: t.uint8_t = t.StructField(optional=True)
    price_control: t.bitmap8 = t.StructField(optional=True)
    number_of_generation_tiers: t.uint8_t = t.StructField(optional=True)
    generation_tier: t.uint8_t = t.StructField(optional=True)
    extended_number_of_price_tiers: t.uint8_t = t.StructField(optional=True)
    extended_price_tier: t.uint8_t = t.StructField(optional=True)
    extended_register_tier: t.uint8_t = t.StructField(optional=True)

    def serialize(self) -> bytes:
        tail = [getattr(self, f.name) for f in self.fields[11:]]
        present = [v is not None for v in tail]
        if any(present) and not all(present[: max(i for i, p in enumerate(present) if p) + 1]):
            raise ValueError("PublishPrice optional tail must be contiguous from price_ratio")
        return super().serialize()


class PriceMatrixEntry(t.Struct):
    """One PublishPriceMatrix sub-payload: Tier/Block ID (tier high nibble, block low
    nibble; the whole byte is the tier when the sub-payload is TOU-based) and Price."""

    tier_block_id: t.uint8_t
    price: t.uint32_t


class TierAndThresholdCount(t.IntStruct, t.uint8_t):
    """PublishBlockThresholds byte: number of thresholds low nibble, tier high nibble."""

    number_of_thresholds: t.uint4_t
    tier: t.uint4_t


class BlockThresholdEntry(t.Struct):
    """One PublishBlockThresholds sub-payload: a tier's thresholds (uint48 each)."""

    tier_and_count: TierAndThresholdCount
    block_thresholds: t.List[t.uint48_t] = t.StructField(
        length=lambda s: s.tier_and_count.number_of_thresholds
    )


class TierLabelEntry(t.Struct):
    tier_id: t.uint8_t
    tier_label: TierLabel


class PublishTierLabelsSchema(CommandSchema):
    provider_id: t.uint32_t
    issuer_event_id: t.uint32_t
    issuer_tariff_id: t.uint32_t
    command_index: t.uint8_t
    total_number_of_commands: t.uint8_t
    number_of_labels: t.uint8_t
    tier_labels: t.List[TierLabelEntry] = t.StructField(length=lambda s: s.number_of_labels)


_MATRIX_HEAD = {
    "provider_id": t.uint32_t,
    "issuer_event_id": t.uint32_t,
    "start_time": t.UTCTime,
    "issuer_tariff_id": t.uint32_t,
    "command_index": t.uint8_t,
    "total_number_of_commands": t.uint8_t,
    "sub_payload_control": SubPayloadControl,
}

_QUERY = {
    "earliest_start_time": t.UTCTime,
    "min_issuer_event_id": t.uint32_t,
    "number_of_commands": t.uint8_t,
}


class _ServerCommandDefs(BaseCommandDefs):
    """Client -> server commands."""

    get_current_price: Final = ZCLCommandDef(id=0x00, schema={"command_options": t.bitmap8})
    get_scheduled_prices: Final = ZCLCommandDef(
        id=0x01, schema={"start_time": t.UTCTime, "number_of_events": t.uint8_t}
    )
    price_acknowledgement: Final = ZCLCommandDef(
        id=0x02,
        schema={
            "provider_id": t.uint32_t,
            "issuer_event_id": t.uint32_t,
            "price_ack_time": t.UTCTime,
            "control": t.bitmap8,
        },
    )
    get_block_periods: Final = ZCLCommandDef(
        id=0x03,
        schema={
            "start_time": t.UTCTime,
            "number_of_events": t.uint8_t,
            "tariff_type?": TariffType,
        },
    )
    get_conversion_factor: Final = ZCLCommandDef(id=0x04, schema=dict(_QUERY))
    get_calorific_value: Final = ZCLCommandDef(id=0x05, schema=dict(_QUERY))
    get_tariff_information: Final = ZCLCommandDef(
        id=0x06, schema={**_QUERY, "tariff_type": TariffType}
    )
    get_price_matrix: Final = ZCLCommandDef(id=0x07, schema={"issuer_tariff_id": t.uint32_t})
    get_block_thresholds: Final = ZCLCommandDef(
        id=0x08, schema={"issuer_tariff_id": t.uint32_t}
    )
    get_co2_value: Final = ZCLCommandDef(
        id=0x09, schema={**_QUERY, "tariff_type?": TariffType}
    )
    get_tier_labels: Final = ZCLCommandDef(id=0x0A, schema={"issuer_tariff_id": t.uint32_t})
    get_billing_period: Final = ZCLCommandDef(
        id=0x0B, schema={**_QUERY, "tariff_type?": TariffType}
    )
    get_consolidated_bill: Final = ZCLCommandDef(
        id=0x0C, schema={**_QUERY, "tariff_type?": TariffType}
    )
    cpp_event_response: Final = ZCLCommandDef(
        id=0x0D, schema={"issuer_event_id": t.uint32_t, "cpp_auth": t.enum8}
    )
    get_credit_payment: Final = ZCLCommandDef(
        id=0x0E, schema={"latest_end_time": t.UTCTime, "number_of_records": t.uint8_t}
    )
    get_currency_conversion: Final = ZCLCommandDef(id=0x0F, schema={})
    get_tariff_cancellation: Final = ZCLCommandDef(id=0x10, schema={})


class _ClientCommandDefs(BaseCommandDefs):
    """Server -> client commands."""

    publish_price: Final = ZCLCommandDef(id=0x00, schema=PublishPriceSchema)
    publish_block_period: Final = ZCLCommandDef(
        id=0x01,
        schema={
            "provider_id": t.uint32_t,
            "issuer_event_id": t.uint32_t,
            "block_period_start_time": t.UTCTime,
            "block_period_duration": t.uint24_t,
            "block_period_control": t.bitmap8,
            "block_period_duration_type": BlockPeriodDurationType,
            "tariff_type": TariffType,
            "tariff_resolution_period": TariffResolutionPeriod,
        },
    )
    publish_conversion_factor: Final = ZCLCommandDef(
        id=0x02,
        schema={
            "issuer_event_id": t.uint32_t,
            "start_time": t.UTCTime,
            "conversion_factor": t.uint32_t,
            "conversion_factor_trailing_digit": TrailingDigit,
        },
    )
    publish_calorific_value: Final = ZCLCommandDef(
        id=0x03,
        schema={
            "issuer_event_id": t.uint32_t,
            "start_time": t.UTCTime,
            "calorific_value": t.uint32_t,
            "calorific_value_unit": t.enum8,
            "calorific_value_trailing_digit": TrailingDigit,
        },
    )
    publish_tariff_information: Final = ZCLCommandDef(
        id=0x04,
        schema={
            "provider_id": t.uint32_t,
            "issuer_event_id": t.uint32_t,
            "issuer_tariff_id": t.uint32_t,
            "start_time": t.UTCTime,
            "tariff_type_charging_scheme": TariffTypeChargingScheme,
            "tariff_label": TariffLabel,
            "number_of_price_tiers_in_use": t.uint8_t,
            "number_of_block_thresholds_in_use": t.uint8_t,
            "unit_of_measure": zse.MeteringUnitofMeasure,
            "currency": t.uint16_t,
            "price_trailing_digit": TrailingDigit,
            "standing_charge": t.uint32_t,
            "tier_block_mode": t.uint8_t,
            "block_threshold_multiplier": t.uint24_t,
            "block_threshold_divisor": t.uint24_t,
        },
    )
    publish_price_matrix: Final = ZCLCommandDef(
        id=0x05, schema={**_MATRIX_HEAD, "entries": t.List[PriceMatrixEntry]}
    )
    publish_block_thresholds: Final = ZCLCommandDef(
        id=0x06, schema={**_MATRIX_HEAD, "entries": t.List[BlockThresholdEntry]}
    )
    publish_co2_value: Final = ZCLCommandDef(
        id=0x07,
        schema={
            "provider_id": t.uint32_t,
            "issuer_event_id": t.uint32_t,
            "start_time": t.UTCTime,
            "tariff_type": TariffType,
            "co2_value": t.uint32_t,
            "co2_value_unit": t.enum8,
            "co2_value_trailing_digit": TrailingDigit,
        },
    )
    publish_tier_labels: Final = ZCLCommandDef(id=0x08, schema=PublishTierLabelsSchema)
    publish_billing_period: Final = ZCLCommandDef(
        id=0x09,
        schema={
            "provider_id": t.uint32_t,
            "issuer_event_id": t.uint32_t,
            "billing_period_start_time": t.UTCTime,
            "billing_period_duration": t.uint24_t,
            "billing_period_duration_type": BlockPeriodDurationType,
            "tariff_type": TariffType,
        },
    )
    publish_consolidated_bill: Final = ZCLCommandDef(
        id=0x0A,
        schema={
            "provider_id": t.uint32_t,
            "issuer_event_id": t.uint32_t,
            "billing_period_start_time": t.UTCTime,
            "billing_period_duration": t.uint24_t,
            "billing_period_duration_type": BlockPeriodDurationType,
            "tariff_type": TariffType,
            "consolidated_bill": t.uint32_t,
            "currency": t.uint16_t,
            "bill_trailing_digit": TrailingDigit,
        },
    )
    publish_cpp_event: Final = ZCLCommandDef(
        id=0x0B,
        schema={
            "provider_id": t.uint32_t,
            "issuer_event_id": t.uint32_t,
            "start_time": t.UTCTime,
            "duration_in_minutes": t.uint16_t,
            "tariff_type": TariffType,
            "cpp_price_tier": t.uint8_t,
            "cpp_auth": t.enum8,
        },
    )
    publish_credit_payment: Final = ZCLCommandDef(
        id=0x0C,
        schema={
            "provider_id": t.uint32_t,
            "issuer_event_id": t.uint32_t,
            "credit_payment_due_date": t.UTCTime,
            "credit_payment_over_due_amount": t.uint32_t,
            "credit_payment_status": t.enum8,
            "credit_payment": t.uint32_t,
            "credit_payment_date": t.UTCTime,
            "credit_payment_ref": CreditPaymentRef,
        },
    )
    publish_currency_conversion: Final = ZCLCommandDef(
        id=0x0D,
        schema={
            "provider_id": t.uint32_t,
            "issuer_event_id": t.uint32_t,
            "start_time": t.UTCTime,
            "old_currency": t.uint16_t,
            "new_currency": t.uint16_t,
            "conversion_factor": t.uint32_t,
            "conversion_factor_trailing_digit": TrailingDigit,
            "currency_change_control_flags": t.bitmap32,
        },
    )
    cancel_tariff: Final = ZCLCommandDef(
        id=0x0E,
        schema={
            "provider_id": t.uint32_t,
            "issuer_tariff_id": t.uint32_t,
            "tariff_type": TariffType,
        },
    )


class Price(zse.Price):
    """Smart Energy Price cluster with full attribute and command tables."""

    _skip_registry = True

    cluster_id: Final[t.uint16_t] = ids.PRICE
    ep_attribute: Final = "smartenergy_price"

    AttributeDefs = _AttributeDefs
    ServerCommandDefs = _ServerCommandDefs
    ClientCommandDefs = _ClientCommandDefs


#: The schema classes of the two paged commands, for builders and the splitter.
PublishPriceMatrixSchema = Price.ClientCommandDefs.publish_price_matrix.schema
PublishBlockThresholdsSchema = Price.ClientCommandDefs.publish_block_thresholds.schema
