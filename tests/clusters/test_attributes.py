"""Attribute families: ids and ZCL types spot-checked against the reference tables."""

from __future__ import annotations

import pytest
import zigpy.zcl
from zigpy.zcl.clusters import smartenergy as zse
from zigpy.zcl.foundation import DataTypeId

from clusters import (SE_CLUSTERS, Basic, Identify, KeyEstablishment, Messaging, Metering, Prepayment, Price, SubGhz,
                      Time, ids)
from clusters.metering import (
    block_summation_attr,
    previous_day_attr,
    previous_month_attr,
    previous_week_attr,
    tier_summation_attr,
)
from clusters.price import price_tier_attr, tier_block_price_attr, tier_label_attr

U24, U32, U48 = DataTypeId.uint24, DataTypeId.uint32, DataTypeId.uint48

METERING_SPOTS = [
    (0x0000, "current_summ_delivered", U48),
    (0x0001, "current_summ_received", U48),
    (0x0021, "active_register_tier_received", DataTypeId.enum8),
    (0x0101, "current_tier1_summ_received", U48),
    (0x011D, "current_tier15_summ_received", U48),
    (0x011E, "current_tier16_summ_delivered", U48),
    (0x011F, "current_tier16_summ_received", U48),
    (0x015E, "current_tier48_summ_delivered", U48),
    (0x015F, "current_tier48_summ_received", U48),
    (0x0405, "cur_part_profile_int_start_time_delivered", DataTypeId.UTC),
    (0x0408, "cur_part_profile_int_value_received", U24),
    (0x0420, "previous_day2_consumption_delivered", U24),
    (0x0421, "previous_day2_consumption_received", U24),
    (0x042D, "previous_day8_consumption_received", U24),
    (0x0430, "current_week_consumption_delivered", U24),
    (0x0433, "previous_week_consumption_received", U24),
    (0x0434, "previous_week2_consumption_delivered", U24),
    (0x043B, "previous_week5_consumption_received", U24),
    (0x0440, "current_month_consumption_delivered", U32),
    (0x0443, "previous_month_consumption_received", U32),
    (0x0444, "previous_month2_consumption_delivered", U32),
    (0x045B, "previous_month13_consumption_received", U32),
    (0x045C, "historical_freeze_time", DataTypeId.uint16),
    (0x0700, "current_no_tier_block1_summ_delivered", U48),
    (0x070F, "current_no_tier_block16_summ_delivered", U48),
    (0x0710, "current_tier1_block1_summ_delivered", U48),
    (0x07FF, "current_tier15_block16_summ_delivered", U48),
    (0x0900, "current_no_tier_block1_summ_received", U48),
    (0x0911, "current_tier1_block2_summ_received", U48),
    (0x09FF, "current_tier15_block16_summ_received", U48),
    (0x0A10, "bill_to_date_received", U32),
    (0x0307, "site_id", DataTypeId.octstr),
    (0xE307, "export_site_id", DataTypeId.octstr),
]

PRICE_SPOTS = [
    (0x0000, "tier1_price_label", DataTypeId.octstr),
    (0x002F, "tier48_price_label", DataTypeId.octstr),
    (0x8000, "received_tier1_price_label", DataTypeId.octstr),
    (0x802F, "received_tier48_price_label", DataTypeId.octstr),
    (0x0100, "block1_threshold", U48),
    (0x010E, "block15_threshold", U48),
    (0x010F, "block_threshold_count", DataTypeId.uint8),
    (0x0110, "tier1_block1_threshold", U48),
    (0x011F, "tier1_block_threshold_count", DataTypeId.uint8),
    (0x8100, "received_block1_threshold", U48),
    (0x0200, "start_of_block_period", DataTypeId.UTC),
    (0x0201, "block_period_duration", U24),
    (0x0204, "block_period_duration_type", DataTypeId.map8),
    (0x8203, "received_threshold_divisor", U24),
    (0x0300, "commodity_type", DataTypeId.enum8),
    (0x0301, "standing_charge", U32),
    (0x0306, "calorific_value_trailing_digit", DataTypeId.map8),
    (0x0400, "no_tier_block1_price", U32),
    (0x0401, "no_tier_block2_price", U32),  # not Tier1Block1 (a public header's bug)
    (0x040F, "no_tier_block16_price", U32),
    (0x0410, "tier1_block1_price", U32),
    (0x0420, "tier2_block1_price", U32),
    (0x0430, "tier3_block1_price", U32),
    (0x0440, "tier4_block1_price", U32),
    (0x04FF, "tier15_block16_price", U32),
    (0x8410, "received_tier1_block1_price", U32),
    (0x8420, "received_tier2_block1_price", U32),
    (0x8430, "received_tier3_block1_price", U32),
    (0x8440, "received_tier4_block1_price", U32),
    (0x050F, "price_tier16", U32),
    (0x052F, "price_tier48", U32),
    (0x852F, "received_price_tier48", U32),
    (0x0610, "tariff_label", DataTypeId.octstr),
    (0x0611, "number_of_price_tiers_in_use", DataTypeId.uint8),
    (0x0612, "number_of_block_thresholds_in_use", DataTypeId.uint8),
    (0x0613, "tier_block_mode", DataTypeId.enum8),
    (0x0615, "unit_of_measure", DataTypeId.enum8),
    (0x0616, "currency", DataTypeId.uint16),
    (0x0617, "price_trailing_digit", DataTypeId.map8),
    (0x0619, "tariff_resolution_period", DataTypeId.enum8),
    (0x0620, "co2", U32),
    (0x0622, "co2_trailing_digit", DataTypeId.map8),
    (0x8610, "received_tariff_label", DataTypeId.octstr),
    (0x8615, "received_tariff_resolution_period", DataTypeId.enum8),
    (0x0700, "current_billing_period_start", DataTypeId.UTC),
    (0x0704, "last_billing_period_consolidated_bill", U32),
    (0x8704, "received_last_billing_period_consolidated_bill", U32),
    (0x0812, "credit_payment_ref1", DataTypeId.octstr),
]


@pytest.mark.parametrize(("attr_id", "name", "zcl_type"), METERING_SPOTS)
def test_metering_attribute(attr_id: int, name: str, zcl_type: DataTypeId) -> None:
    a = Metering.attributes[attr_id]
    assert (a.name, a.zcl_type) == (name, zcl_type)
    assert Metering.attributes_by_name[name].id == attr_id


@pytest.mark.parametrize(("attr_id", "name", "zcl_type"), PRICE_SPOTS)
def test_price_attribute(attr_id: int, name: str, zcl_type: DataTypeId) -> None:
    a = Price.attributes[attr_id]
    assert (a.name, a.zcl_type) == (name, zcl_type)


def test_metering_families_are_complete() -> None:
    ids = set(Metering.attributes)
    assert set(range(0x0100, 0x0160)) <= ids  # tiers 1-48, both directions
    assert set(range(0x0700, 0x0800)) <= ids
    assert set(range(0x0900, 0x0A00)) <= ids
    assert set(range(0x0420, 0x042E)) <= ids
    assert set(range(0x0430, 0x043C)) <= ids
    assert set(range(0x0440, 0x045D)) <= ids


def test_price_families_are_complete() -> None:
    ids = set(Price.attributes)
    assert set(range(0x0000, 0x0030)) <= ids and set(range(0x8000, 0x8030)) <= ids
    assert set(range(0x0400, 0x0500)) <= ids and set(range(0x8400, 0x8500)) <= ids
    assert set(range(0x050F, 0x0530)) <= ids and set(range(0x850F, 0x8530)) <= ids
    assert set(range(0x0100, 0x0200)) <= ids


def test_id_formulas() -> None:
    assert tier_summation_attr(23, received=True) == 0x012D
    assert block_summation_attr(0, 16) == 0x070F
    assert block_summation_attr(2, 3, received=True) == 0x0922
    assert previous_day_attr(1) == 0x0403 and previous_day_attr(8, True) == 0x042D
    assert previous_week_attr(5, True) == 0x043B
    assert previous_month_attr(13) == 0x045A
    assert tier_label_attr(48, received=True) == 0x802F
    assert tier_block_price_attr(4, 1, received=True) == 0x8440
    assert tier_block_price_attr(0, 1) == 0x0400
    assert price_tier_attr(16) == 0x050F
    for bad in (lambda: tier_summation_attr(49), lambda: block_summation_attr(16, 1),
                lambda: block_summation_attr(1, 17), lambda: previous_day_attr(9),
                lambda: tier_block_price_attr(1, 0), lambda: price_tier_attr(15)):
        with pytest.raises(ValueError):
            bad()


def test_zigpy_registry_untouched() -> None:
    registry = zigpy.zcl.Cluster._registry
    assert registry[0x0702] is zse.Metering
    assert registry[0x0700] is zse.Price
    assert registry[0x0800] is zse.KeyEstablishment
    assert registry.get(0x070B) is not SubGhz
    # zigpy's own classes did not gain our generated attributes
    assert 0x011E not in zse.Metering.attributes
    assert not zse.Price.attributes


def test_se_clusters_registry() -> None:
    assert SE_CLUSTERS[0x0702] is Metering
    assert SE_CLUSTERS[0x0700] is Price
    assert SE_CLUSTERS[0x070B] is SubGhz
    assert SE_CLUSTERS[0x0800] is KeyEstablishment
    assert {0x0000, 0x0003, 0x000A} <= set(SE_CLUSTERS)


def test_cluster_classes_carry_the_ids_module_names() -> None:
    """clusters/ids.py is the one home of each id: every registered class agrees with it."""
    named = {
        Basic: ids.BASIC, Identify: ids.IDENTIFY, Time: ids.TIME, Price: ids.PRICE,
        Metering: ids.METERING, Messaging: ids.MESSAGING, SubGhz: ids.SUB_GHZ,
        KeyEstablishment: ids.KEY_ESTABLISHMENT, Prepayment: ids.PREPAYMENT,
    }
    assert set(named) == set(SE_CLUSTERS.values())
    for cls, cluster_id in named.items():
        assert cls.cluster_id == cluster_id, cls.__name__
        assert SE_CLUSTERS[cluster_id] is cls
    # the spec's numbers, checked once against the names
    assert (ids.SE_PROFILE_ID, ids.PRICE, ids.METERING, ids.MESSAGING, ids.SUB_GHZ, ids.KEY_ESTABLISHMENT) == (
        0x0109, 0x0700, 0x0702, 0x0703, 0x070B, 0x0800)


def test_zdo_ids_are_zigpys() -> None:
    from zigpy.zdo.types import ZDOCmd

    assert ids.ZDO_DEVICE_ANNOUNCE == ZDOCmd.Device_annce


def test_subghz_and_key_establishment_attributes() -> None:
    assert SubGhz.attributes[0x0000].name == "channel_change"
    assert SubGhz.attributes[0x0004].name == "page31_channel_mask"
    assert SubGhz.attributes[0x0001].zcl_type == DataTypeId.map32
    ke = KeyEstablishment.attributes[0x0000]
    assert (ke.name, ke.zcl_type) == ("key_establishment_suite", DataTypeId.map16)


COMMAND_IDS = {
    # (cluster, direction): {id: name}, from the reference id tables
    (Price, "to_client"): {
        0x00: "publish_price", 0x01: "publish_block_period", 0x02: "publish_conversion_factor",
        0x03: "publish_calorific_value", 0x04: "publish_tariff_information",
        0x05: "publish_price_matrix", 0x06: "publish_block_thresholds",
        0x07: "publish_co2_value", 0x08: "publish_tier_labels", 0x09: "publish_billing_period",
        0x0A: "publish_consolidated_bill", 0x0B: "publish_cpp_event",
        0x0C: "publish_credit_payment", 0x0D: "publish_currency_conversion",
        0x0E: "cancel_tariff",
    },
    (Price, "to_server"): {
        0x00: "get_current_price", 0x01: "get_scheduled_prices", 0x02: "price_acknowledgement",
        0x03: "get_block_periods", 0x04: "get_conversion_factor", 0x05: "get_calorific_value",
        0x06: "get_tariff_information", 0x07: "get_price_matrix", 0x08: "get_block_thresholds",
        0x09: "get_co2_value", 0x0A: "get_tier_labels", 0x0B: "get_billing_period",
        0x0C: "get_consolidated_bill", 0x0D: "cpp_event_response", 0x0E: "get_credit_payment",
        0x0F: "get_currency_conversion", 0x10: "get_tariff_cancellation",
    },
    (Metering, "to_server"): {0x00: "get_profile", 0x06: "get_snapshot"},
    (Metering, "to_client"): {0x00: "get_profile_response", 0x01: "request_mirror"},
    (SubGhz, "to_server"): {0x00: "get_suspend_zcl_messages_status"},
    (SubGhz, "to_client"): {0x00: "suspend_zcl_messages"},
    (KeyEstablishment, "to_server"): {
        0x00: "initiate_key_establishment_request", 0x01: "ephemeral_data_request",
        0x02: "confirm_key_data_request", 0x03: "terminate_key_establishment",
    },
    (KeyEstablishment, "to_client"): {
        0x00: "initiate_key_establishment_response", 0x01: "ephemeral_data_response",
        0x02: "confirm_key_data_response", 0x03: "server_terminate_key_establishment",
    },
}


@pytest.mark.parametrize("key", list(COMMAND_IDS), ids=lambda k: f"{k[0].__name__}-{k[1]}")
def test_command_ids(key) -> None:
    cluster, direction = key
    table = cluster.server_commands if direction == "to_server" else cluster.client_commands
    for cmd_id, name in COMMAND_IDS[key].items():
        assert table[cmd_id].name == name
