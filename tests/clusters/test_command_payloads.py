"""Golden bytes for every command payload, both directions.

Each case's bytes are written by hand from the SE field layouts (little-endian,
field by field, commented where not obvious); the test builds the payload from the
fields and compares with the bytes, then parses the bytes and compares with the
fields.
"""

from __future__ import annotations

import pytest
from zigpy.zcl.clusters import smartenergy as zse

from clusters import KeyEstablishment, Messaging, Metering, Price, SubGhz
from clusters.messaging import (
    ExtendedMessageControl,
    Importance,
    MessageConfirmationControl,
    Transmission,
    message_control,
)
from clusters.key_establishment import KeyEstablishmentSuite, Mac, TerminateStatus
from clusters.metering import IntervalChannel, ProfileIntervalPeriod, ProfileStatus
from clusters.price import (
    BlockPeriodDurationType,
    BlockThresholdEntry,
    NumberOfPriceTiersAndRegisterTier,
    PriceMatrixEntry,
    SubPayloadControl,
    TariffChargingScheme,
    TariffType,
    TariffTypeChargingScheme,
    TariffTypeNibble,
    TierAndThresholdCount,
    TierLabelEntry,
    TrailingDigit,
    TrailingDigitAndPriceTier,
)

# ZSE Annex C suite-1 test vector material (see the CBKE reference notes)
CERT_U = (
    "020615E07D30ECA2DAD58002E667D94BC1B422398307"
    "0000000000000002" "5445535453454341" "01090006000000000000"
)
CERT_V = (
    "03045FDFC8D85FFB8B3993CB72DDCAA55F00B3E87D6D"
    "0000000000000001" "5445535453454341" "01090006000000000000"
)
QEU = "0300E117C86D0E7CD128B2F34E9076CFF24AF46D7288"
QEV = "0306AB52062201D995B8B8591F3F086A3A2E214D845E"
MACU = "B82F1F9774740C32F80FCFC3921B6420"
MACV = "79D5F2AD1C31D4D1EE7CB719AC683C3C"

# (cluster, "to_server" | "to_client", command name, fields, golden hex)
CASES = [
    # ---------------- Metering, client -> server ----------------
    (Metering, "to_server", "get_profile",
     dict(interval_channel=IntervalChannel.Consumption_Received, end_time=0x2A3B4C5D,
          number_of_periods=24),
     "01 5d4c3b2a 18"),
    (Metering, "to_server", "request_mirror_response", dict(endpoint_id=0x0102), "0201"),
    (Metering, "to_server", "mirror_removed", dict(removed_endpoint_id=0x0304), "0403"),
    (Metering, "to_server", "request_fast_poll_mode",
     dict(fast_poll_update_period=5, duration=15), "05 0f"),
    (Metering, "to_server", "schedule_snapshot",
     dict(issuer_event_id=0x01020304, command_index=0, total_number_of_commands=1,
          snapshot_schedule_payloads=[zse.SnapshotSchedulePayload(
              snapshot_schedule_id=1, snapshot_start_time=0x10,
              # frequency 1 (bits 0-19), type Day (20-21), wild card not used 0b10 (22-23)
              snapshot_schedule=zse.SnapshotSchedule(
                  frequency=1, frequency_type=zse.SnapshotFrequencyType.Day,
                  wild_card_frequency=zse.SnapshotWildCardFrequency.Wild_Card_Not_Used),
              snapshot_payload_type=zse.SnapshotPayloadType.TOU_Information_Set_Delivered_Registers,
              snapshot_cause=zse.SnapshotCause.General)]),
     "04030201 00 01  01 10000000 010080 00 01000000"),
    (Metering, "to_server", "take_snapshot",
     dict(snapshot_cause=zse.SnapshotCause.General | zse.SnapshotCause.Manually_Triggered_From_Client),
     "01040000"),
    (Metering, "to_server", "get_snapshot",
     dict(earliest_start_time=1, latest_end_time=0xFFFFFFFF, snapshot_offset=0,
          snapshot_cause=zse.SnapshotCause.General),
     "01000000 ffffffff 00 01000000"),
    (Metering, "to_server", "start_sampling",
     dict(issuer_event_id=0x0A0B0C0D, start_sampling_time=0x100, sample_type=0,
          sample_request_interval=60, max_number_of_samples=0x0100),
     "0d0c0b0a 00010000 00 3c00 0001"),
    (Metering, "to_server", "get_sampled_data",
     dict(sample_id=0x0102, earliest_sample_time=0x0200, sample_type=0, number_of_samples=3),
     "0201 00020000 00 0300"),
    (Metering, "to_server", "mirror_report_attribute_response",
     dict(notification_scheme=1, notification_flags=[0x00000001, 0x80000000]),
     "01 01000000 00000080"),
    (Metering, "to_server", "reset_load_limit_counter",
     dict(provider_id=0x11223344, issuer_event_id=0x55667788), "44332211 88776655"),
    (Metering, "to_server", "change_supply",
     dict(provider_id=1, issuer_event_id=2, request_date_time=3, implementation_date_time=0,
          proposed_supply_status=2, supply_control_bits=1),
     "01000000 02000000 03000000 00000000 02 01"),
    (Metering, "to_server", "local_change_supply", dict(proposed_supply_status=1), "01"),
    (Metering, "to_server", "set_supply_status",
     dict(issuer_event_id=7, supply_tamper_state=1, supply_depletion_state=2,
          supply_uncontrolled_flow_state=0, load_limit_supply_state=1),
     "07000000 01 02 00 01"),
    (Metering, "to_server", "set_uncontrolled_flow_threshold",
     dict(provider_id=1, issuer_event_id=2, uncontrolled_flow_threshold=0x0304,
          unit_of_measure=1, multiplier=0x0506, divisor=0x0708, stabilisation_period=9,
          measurement_period=0x0A0B),
     "01000000 02000000 0403 01 0605 0807 09 0b0a"),
    # ---------------- Metering, server -> client ----------------
    # three half-hour intervals, newest first, the oldest invalid
    (Metering, "to_client", "get_profile_response",
     dict(end_time=0x2A3B4C5D, status=ProfileStatus.Success,
          profile_interval_period=ProfileIntervalPeriod.Minutes_30,
          number_of_periods_delivered=3, intervals=[0x000123, 0x000045, 0xFFFFFF]),
     "5d4c3b2a 00 02 03 230100 450000 ffffff"),
    (Metering, "to_client", "request_mirror", dict(), ""),
    (Metering, "to_client", "remove_mirror", dict(), ""),
    (Metering, "to_client", "request_fast_poll_mode_response",
     dict(applied_update_period=2, fast_poll_mode_end_time=0x01020304), "02 04030201"),
    (Metering, "to_client", "schedule_snapshot_response",
     dict(issuer_event_id=9, snapshot_response_payloads=[
         zse.SnapshotResponsePayload(snapshot_schedule_id=1, snapshot_schedule_confirmation=0),
         zse.SnapshotResponsePayload(snapshot_schedule_id=2, snapshot_schedule_confirmation=5)]),
     "09000000 0100 0205"),
    (Metering, "to_client", "take_snapshot_response",
     dict(snapshot_id=0x0A, snapshot_confirmation=0), "0a000000 00"),
    (Metering, "to_client", "publish_snapshot",
     dict(snapshot_id=1, snapshot_time=2, total_snapshots_found=1, command_index=0,
          total_number_of_commands=1, snapshot_cause=zse.SnapshotCause.General,
          snapshot_payload_type=0, snapshot_payload=b"\xaa\xbb"),
     "01000000 02000000 01 00 01 01000000 00 aabb"),
    (Metering, "to_client", "get_sampled_data_response",
     dict(sample_id=1, sample_start_time=2, sample_type=0, sample_request_interval=30,
          number_of_samples=2, samples=[1, 0x0A0B0C]),
     "0100 02000000 00 1e00 0200 010000 0c0b0a"),
    (Metering, "to_client", "configure_mirror",
     dict(issuer_event_id=1, reporting_interval=3600, mirror_notification_reporting=True,
          notification_scheme=1),
     "01000000 100e00 01 01"),
    (Metering, "to_client", "configure_notification_scheme",
     dict(issuer_event_id=1, notification_scheme=2, notification_flag_order=0x76543210),
     "01000000 02 10325476"),
    (Metering, "to_client", "configure_notification_flag",
     dict(issuer_event_id=1, notification_scheme=1, notification_flag_attribute_id=0,
          bit_field_allocations=[zse.BitFieldAllocation(
              cluster_id=0x0700, manufacturer_code=0, number_of_commands=2, command_ids=[0, 4])]),
     "01000000 01 0000 0007 0000 02 00 04"),
    (Metering, "to_client", "get_notified_message",
     dict(notification_scheme=1, notification_flag_attribute_id=0, notification_flags=5),
     "01 0000 05000000"),
    (Metering, "to_client", "supply_status_response",
     dict(provider_id=1, issuer_event_id=2, implementation_date_time=3, supply_status=2),
     "01000000 02000000 03000000 02"),
    (Metering, "to_client", "start_sampling_response", dict(sample_id=0x0102), "0201"),
    # ---------------- Price, client -> server ----------------
    (Price, "to_server", "get_current_price", dict(command_options=1), "01"),
    (Price, "to_server", "get_scheduled_prices",
     dict(start_time=0x2A3B4C5D, number_of_events=5), "5d4c3b2a 05"),
    (Price, "to_server", "price_acknowledgement",
     dict(provider_id=0x11223344, issuer_event_id=0x55667788, price_ack_time=0x2A3B4C5D,
          control=1),
     "44332211 88776655 5d4c3b2a 01"),
    (Price, "to_server", "get_block_periods",
     dict(start_time=0, number_of_events=1, tariff_type=TariffType.Received), "00000000 01 01"),
    (Price, "to_server", "get_block_periods",  # optional TariffType left out
     dict(start_time=0, number_of_events=1), "00000000 01"),
    (Price, "to_server", "get_conversion_factor",
     dict(earliest_start_time=0x100, min_issuer_event_id=0xFFFFFFFF, number_of_commands=2),
     "00010000 ffffffff 02"),
    (Price, "to_server", "get_calorific_value",
     dict(earliest_start_time=0x100, min_issuer_event_id=0xFFFFFFFF, number_of_commands=2),
     "00010000 ffffffff 02"),
    (Price, "to_server", "get_tariff_information",
     dict(earliest_start_time=0x100, min_issuer_event_id=0xFFFFFFFF, number_of_commands=2,
          tariff_type=TariffType.Delivered_And_Received),
     "00010000 ffffffff 02 02"),
    (Price, "to_server", "get_price_matrix", dict(issuer_tariff_id=0x0A0B0C0D), "0d0c0b0a"),
    (Price, "to_server", "get_block_thresholds", dict(issuer_tariff_id=0x0A0B0C0D), "0d0c0b0a"),
    (Price, "to_server", "get_co2_value",
     dict(earliest_start_time=0x100, min_issuer_event_id=0xFFFFFFFF, number_of_commands=1,
          tariff_type=TariffType.Delivered),
     "00010000 ffffffff 01 00"),
    (Price, "to_server", "get_tier_labels", dict(issuer_tariff_id=0x0A0B0C0D), "0d0c0b0a"),
    (Price, "to_server", "get_billing_period",
     dict(earliest_start_time=0x100, min_issuer_event_id=0xFFFFFFFF, number_of_commands=1),
     "00010000 ffffffff 01"),
    (Price, "to_server", "get_consolidated_bill",
     dict(earliest_start_time=0x100, min_issuer_event_id=0xFFFFFFFF, number_of_commands=1,
          tariff_type=TariffType.Received),
     "00010000 ffffffff 01 01"),
    (Price, "to_server", "cpp_event_response", dict(issuer_event_id=5, cpp_auth=1), "05000000 01"),
    (Price, "to_server", "get_credit_payment",
     dict(latest_end_time=0x10, number_of_records=3), "10000000 03"),
    (Price, "to_server", "get_currency_conversion", dict(), ""),
    (Price, "to_server", "get_tariff_cancellation", dict(), ""),
    # ---------------- Price, server -> client ----------------
    # PublishPrice without the optional tail: 28 bytes + the 3-byte label "EXP"
    (Price, "to_client", "publish_price",
     dict(provider_id=0x12345678, rate_label=b"EXP", issuer_event_id=0x10,
          current_time=0x2A3B4C5D, unit_of_measure=zse.MeteringUnitofMeasure.Kwh_and_Kwh_binary,
          currency=826,
          price_trailing_digit_and_price_tier=TrailingDigitAndPriceTier(price_tier=2, trailing_digit=5),
          number_of_price_tiers_and_register_tier=NumberOfPriceTiersAndRegisterTier(
              register_tier=2, number_of_price_tiers=4),
          start_time=0, duration_in_minutes=0xFFFF, price=1523),
     "78563412 03 455850 10000000 5d4c3b2a 00 3a03 52 42 00000000 ffff f3050000"),
    # ... and with the 19-byte tail
    (Price, "to_client", "publish_price",
     dict(provider_id=0x12345678, rate_label=b"EXP", issuer_event_id=0x10,
          current_time=0x2A3B4C5D, unit_of_measure=zse.MeteringUnitofMeasure.Kwh_and_Kwh_binary,
          currency=826,
          price_trailing_digit_and_price_tier=TrailingDigitAndPriceTier(price_tier=2, trailing_digit=5),
          number_of_price_tiers_and_register_tier=NumberOfPriceTiersAndRegisterTier(
              register_tier=2, number_of_price_tiers=4),
          start_time=0, duration_in_minutes=0xFFFF, price=1523,
          price_ratio=0xFF, generation_price=3000, generation_price_ratio=0xFF,
          alternate_cost_delivered=100, alternate_cost_unit=1,
          alternate_cost_trailing_digit=TrailingDigit(trailing_digit=3),
          number_of_block_thresholds=0, price_control=0, number_of_generation_tiers=1,
          generation_tier=1, extended_number_of_price_tiers=0, extended_price_tier=0,
          extended_register_tier=0),
     "78563412 03 455850 10000000 5d4c3b2a 00 3a03 52 42 00000000 ffff f3050000"
     " ff b80b0000 ff 64000000 01 30 00 00 01 01 00 00 00"),
    (Price, "to_client", "publish_block_period",
     dict(provider_id=1, issuer_event_id=2, block_period_start_time=0x2A3B4C5D,
          block_period_duration=1440, block_period_control=1,
          block_period_duration_type=BlockPeriodDurationType(timebase=1, control=0),
          tariff_type=TariffType.Delivered, tariff_resolution_period=1),
     "01000000 02000000 5d4c3b2a a00500 01 01 00 01"),
    (Price, "to_client", "publish_conversion_factor",
     dict(issuer_event_id=3, start_time=0, conversion_factor=0x01000000,
          conversion_factor_trailing_digit=TrailingDigit(trailing_digit=7)),
     "03000000 00000000 00000001 70"),
    (Price, "to_client", "publish_calorific_value",
     dict(issuer_event_id=4, start_time=0, calorific_value=39, calorific_value_unit=1,
          calorific_value_trailing_digit=TrailingDigit(trailing_digit=1)),
     "04000000 00000000 27000000 01 10"),
    (Price, "to_client", "publish_tariff_information",
     dict(provider_id=0x12345678, issuer_event_id=0x20, issuer_tariff_id=0x30,
          start_time=0x2A3B4C5D,
          tariff_type_charging_scheme=TariffTypeChargingScheme(
              tariff_type=TariffTypeNibble.Received, charging_scheme=TariffChargingScheme.TOU),
          tariff_label=b"Export TOU", number_of_price_tiers_in_use=4,
          number_of_block_thresholds_in_use=0,
          unit_of_measure=zse.MeteringUnitofMeasure.Kwh_and_Kwh_binary, currency=826,
          price_trailing_digit=TrailingDigit(trailing_digit=4), standing_charge=10000,
          tier_block_mode=0, block_threshold_multiplier=1, block_threshold_divisor=1000),
     "78563412 20000000 30000000 5d4c3b2a 01 0a 4578706f727420544f55 04 00 00 3a03 40"
     " 10270000 00 010000 e80300"),
    (Price, "to_client", "publish_price_matrix",
     dict(provider_id=1, issuer_event_id=2, start_time=3, issuer_tariff_id=4,
          command_index=0, total_number_of_commands=1,
          sub_payload_control=SubPayloadControl.TOU_Based,
          entries=[PriceMatrixEntry(tier_block_id=1, price=10),
                   PriceMatrixEntry(tier_block_id=2, price=11)]),
     "01000000 02000000 03000000 04000000 00 01 01  01 0a000000  02 0b000000"),
    # tier 1 (high nibble) with 2 thresholds (low nibble), uint48 each
    (Price, "to_client", "publish_block_thresholds",
     dict(provider_id=1, issuer_event_id=2, start_time=3, issuer_tariff_id=4,
          command_index=0, total_number_of_commands=1,
          sub_payload_control=SubPayloadControl.Block_Or_Tier_Block,
          entries=[BlockThresholdEntry(
              tier_and_count=TierAndThresholdCount(number_of_thresholds=2, tier=1),
              block_thresholds=[1000, 0x010203040506])]),
     "01000000 02000000 03000000 04000000 00 01 00  12 e80300000000 060504030201"),
    (Price, "to_client", "publish_co2_value",
     dict(provider_id=1, issuer_event_id=2, start_time=3, tariff_type=TariffType.Delivered,
          co2_value=185, co2_value_unit=1,
          co2_value_trailing_digit=TrailingDigit(trailing_digit=3)),
     "01000000 02000000 03000000 00 b9000000 01 30"),
    (Price, "to_client", "publish_tier_labels",
     dict(provider_id=1, issuer_event_id=2, issuer_tariff_id=3, command_index=0,
          total_number_of_commands=1, number_of_labels=2,
          tier_labels=[TierLabelEntry(tier_id=1, tier_label=b"Peak"),
                       TierLabelEntry(tier_id=2, tier_label=b"Off")]),
     "01000000 02000000 03000000 00 01 02  01 04 5065616b  02 03 4f6666"),
    (Price, "to_client", "publish_billing_period",
     dict(provider_id=1, issuer_event_id=2, billing_period_start_time=3,
          billing_period_duration=1,
          billing_period_duration_type=BlockPeriodDurationType(timebase=3, control=0),
          tariff_type=TariffType.Delivered),
     "01000000 02000000 03000000 010000 03 00"),
    (Price, "to_client", "publish_consolidated_bill",
     dict(provider_id=1, issuer_event_id=2, billing_period_start_time=3,
          billing_period_duration=1,
          billing_period_duration_type=BlockPeriodDurationType(timebase=3, control=0),
          tariff_type=TariffType.Delivered, consolidated_bill=0x1234, currency=826,
          bill_trailing_digit=TrailingDigit(trailing_digit=2)),
     "01000000 02000000 03000000 010000 03 00 34120000 3a03 20"),
    (Price, "to_client", "publish_cpp_event",
     dict(provider_id=1, issuer_event_id=2, start_time=0, duration_in_minutes=60,
          tariff_type=TariffType.Delivered, cpp_price_tier=1, cpp_auth=2),
     "01000000 02000000 00000000 3c00 00 01 02"),
    (Price, "to_client", "publish_credit_payment",
     dict(provider_id=1, issuer_event_id=2, credit_payment_due_date=3,
          credit_payment_over_due_amount=100, credit_payment_status=1, credit_payment=200,
          credit_payment_date=4, credit_payment_ref=b"AB"),
     "01000000 02000000 03000000 64000000 01 c8000000 04000000 02 4142"),
    (Price, "to_client", "publish_currency_conversion",
     dict(provider_id=1, issuer_event_id=2, start_time=3, old_currency=826, new_currency=978,
          conversion_factor=0x00011170,
          conversion_factor_trailing_digit=TrailingDigit(trailing_digit=5),
          currency_change_control_flags=3),
     "01000000 02000000 03000000 3a03 d203 70110100 50 03000000"),
    (Price, "to_client", "cancel_tariff",
     dict(provider_id=1, issuer_tariff_id=0x30, tariff_type=TariffType.Delivered_And_Received),
     "01000000 30000000 02"),
    # ---------------- Sub-GHz ----------------
    (SubGhz, "to_server", "get_suspend_zcl_messages_status", dict(), ""),
    (SubGhz, "to_client", "suspend_zcl_messages", dict(period=30), "1e"),
    # ---------------- Messaging, client -> server ----------------
    (Messaging, "to_server", "get_last_message", dict(), ""),
    # MessageID, ConfirmationTime (UTC) only: the SE 1.1 form
    (Messaging, "to_server", "message_confirmation",
     dict(message_id=0x01020304, confirmation_time=0x2A3B4C5D), "04030201 5d4c3b2a"),
    (Messaging, "to_server", "get_message_cancellation",
     dict(earliest_implementation_time=0x2A3B4C5D), "5d4c3b2a"),
    # ---------------- Messaging, server -> client ----------------
    # MessageControl 0x88: bit 7 confirmation required, importance High (0b10 in bits 2-3);
    # start 0 = now; 60 min; "£5" is 3 UTF-8 bytes (the length byte counts bytes);
    # ExtendedMessageControl 0x01: confirmed.
    (Messaging, "to_client", "display_message",
     dict(message_id=7, message_control=message_control(importance=Importance.High, confirm=True),
          start_time=0, duration_in_minutes=60, message="£5",
          extended_message_control=ExtendedMessageControl.Confirmed),
     "07000000 88 00000000 3c00 03c2a335 01"),
    # importance Critical (0x0C), Normal and Inter-PAN (0x01), until changed, no extended control
    (Messaging, "to_client", "display_protected_message",
     dict(message_id=0xFFFFFFFE,
          message_control=message_control(importance=Importance.Critical,
                                          transmission=Transmission.Normal_And_Interpan),
          start_time=0x2A3B4C5D, duration_in_minutes=0xFFFF, message="PIN"),
     "feffffff 0d 5d4c3b2a ffff 0350494e"),
    (Messaging, "to_client", "cancel_message", dict(message_id=7, message_control=0), "07000000 00"),
    (Messaging, "to_client", "cancel_all_messages", dict(implementation_date_time=0), "00000000"),
    # ---------------- Key Establishment (Annex C suite-1 material) ----------------
    (KeyEstablishment, "to_server", "initiate_key_establishment_request",
     dict(key_establishment_suite=KeyEstablishmentSuite.CBKE_ECMQV_163K1,
          ephemeral_data_generate_time=0x10, confirm_key_generate_time=0x11,
          identity=bytes.fromhex(CERT_U)),
     "0100 10 11 " + CERT_U),
    (KeyEstablishment, "to_client", "initiate_key_establishment_response",
     dict(key_establishment_suite=KeyEstablishmentSuite.CBKE_ECMQV_163K1,
          ephemeral_data_generate_time=5, confirm_key_generate_time=6,
          identity=bytes.fromhex(CERT_V)),
     "0100 05 06 " + CERT_V),
    (KeyEstablishment, "to_server", "ephemeral_data_request",
     dict(ephemeral_data=bytes.fromhex(QEU)), QEU),
    (KeyEstablishment, "to_client", "ephemeral_data_response",
     dict(ephemeral_data=bytes.fromhex(QEV)), QEV),
    (KeyEstablishment, "to_server", "confirm_key_data_request",
     dict(secure_message_authentication_code=Mac(bytes.fromhex(MACU))), MACU),
    (KeyEstablishment, "to_client", "confirm_key_data_response",
     dict(secure_message_authentication_code=Mac(bytes.fromhex(MACV))), MACV),
    (KeyEstablishment, "to_server", "terminate_key_establishment",
     dict(status_code=TerminateStatus.Bad_Message, wait_time=10,
          key_establishment_suite=KeyEstablishmentSuite.CBKE_ECMQV_163K1),
     "03 0a 0100"),
    (KeyEstablishment, "to_client", "server_terminate_key_establishment",
     dict(status_code=TerminateStatus.Unknown_Issuer, wait_time=30,
          key_establishment_suite=KeyEstablishmentSuite.CBKE_ECMQV_283K1),
     "01 1e 0200"),
]


def _schema(cluster, direction: str, name: str):
    defs = cluster.ServerCommandDefs if direction == "to_server" else cluster.ClientCommandDefs
    return getattr(defs, name).schema


def _ids(case) -> str:
    cluster, direction, name, fields, _ = case
    return f"{cluster.__name__}-{direction}-{name}-{len(fields)}"


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_build_matches_golden_bytes(case) -> None:
    cluster, direction, name, fields, golden = case
    assert _schema(cluster, direction, name)(**fields).serialize() == bytes.fromhex(golden)


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_parse_golden_bytes_gives_fields(case) -> None:
    cluster, direction, name, fields, golden = case
    schema = _schema(cluster, direction, name)
    parsed, rest = schema.deserialize(bytes.fromhex(golden))
    assert rest == b""
    for key, value in fields.items():
        assert getattr(parsed, key) == value, key
    # fields not given (an omitted optional tail) stay absent
    for f in schema.fields:
        if f.name not in fields:
            assert getattr(parsed, f.name) in (None, [], b"")


def test_every_command_has_a_golden_case() -> None:
    covered = {(c[0], c[1], c[2]) for c in CASES}
    for cluster in (Metering, Price, Messaging, SubGhz, KeyEstablishment):
        for direction, defs in (("to_server", cluster.ServerCommandDefs),
                                ("to_client", cluster.ClientCommandDefs)):
            for cmd in defs:
                assert (cluster, direction, cmd.name) in covered, (cluster.__name__, cmd.name)


def test_message_confirmation_with_the_enhanced_tail() -> None:
    # SE 1.2+: MessageConfirmationControl (0x02: yes) and a MessageResponse octet string.
    schema = Messaging.ServerCommandDefs.message_confirmation.schema
    golden = bytes.fromhex("04030201 5d4c3b2a 02 026f6b")
    built = schema(message_id=0x01020304, confirmation_time=0x2A3B4C5D,
                   message_confirmation_control=MessageConfirmationControl.Yes, message_response=b"ok")
    assert built.serialize() == golden
    parsed, rest = schema.deserialize(golden)
    assert rest == b"" and parsed.message_response == b"ok"
    assert parsed.message_confirmation_control == MessageConfirmationControl.Yes


def test_message_text_length_counts_utf8_bytes() -> None:
    schema = Messaging.ClientCommandDefs.display_message.schema
    parsed, _ = schema.deserialize(bytes.fromhex("07000000 88 00000000 3c00 03c2a335"))
    assert parsed.message == "£5" and parsed.extended_message_control is None
    assert parsed.message_control.confirmation_required == 1 and parsed.message_control.importance == Importance.High


def test_publish_price_tail_parses_field_by_field() -> None:
    schema = Price.ClientCommandDefs.publish_price.schema
    with_tail = bytes.fromhex(CASES_BY_NAME["publish_price"][1][4])
    parsed, _ = schema.deserialize(with_tail)
    assert parsed.generation_price == 3000
    assert parsed.alternate_cost_trailing_digit.trailing_digit == 3
    assert parsed.price_trailing_digit_and_price_tier.price_tier == 2
    assert parsed.price_trailing_digit_and_price_tier.trailing_digit == 5
    assert parsed.number_of_price_tiers_and_register_tier.number_of_price_tiers == 4
    assert len(with_tail) == 31 + 19


def test_publish_price_rejects_a_gap_in_the_tail() -> None:
    fields = dict(CASES_BY_NAME["publish_price"][0][3])
    fields["generation_price"] = 5  # price_ratio left out before it
    with pytest.raises(ValueError, match="contiguous"):
        Price.ClientCommandDefs.publish_price.schema(**fields).serialize()


def test_get_profile_response_too_few_bytes_fails() -> None:
    schema = Metering.ClientCommandDefs.get_profile_response.schema
    with pytest.raises(ValueError):
        schema.deserialize(bytes.fromhex("5d4c3b2a 00 02 03 230100 450000"))


def test_get_profile_response_helper_counts_intervals() -> None:
    from clusters.metering import get_profile_response

    built = get_profile_response(0x2A3B4C5D, ProfileStatus.Success,
                                 ProfileIntervalPeriod.Minutes_30, [0x123, 0x45, 0xFFFFFF])
    assert built.serialize() == bytes.fromhex("5d4c3b2a 00 02 03 230100 450000 ffffff")


def test_mac_length_is_enforced() -> None:
    schema = KeyEstablishment.ServerCommandDefs.confirm_key_data_request.schema
    with pytest.raises(ValueError):
        schema(secure_message_authentication_code=Mac(b"\x00" * 15)).serialize()
    with pytest.raises(ValueError):
        schema.deserialize(b"\x00" * 15)


CASES_BY_NAME: dict[str, list] = {}
for _case in CASES:
    CASES_BY_NAME.setdefault(_case[2], []).append(_case)
