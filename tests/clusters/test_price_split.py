"""Paging of price matrices and block thresholds, checked against hand-written bytes."""

from __future__ import annotations

import pytest

from clusters.price import Price
from clusters.price_split import (
    MAX_ZCL_PAYLOAD_UNFRAGMENTED,
    split_block_thresholds,
    split_price_matrix,
)

HEAD = dict(provider_id=1, issuer_event_id=2, start_time=3, issuer_tariff_id=4)
# ProviderID 1, IssuerEventID 2, StartTime 3, IssuerTariffID 4 (u32 LE each)
HEAD_HEX = "01000000 02000000 03000000 04000000"


def test_price_matrix_split_into_two_commands() -> None:
    # 19-byte header + two 5-byte entries = 29: the third entry spills over
    pages = split_price_matrix([(1, 0x10), (2, 0x20), (3, 0x30)], **HEAD, tou_only=True,
                               max_payload=29)
    assert [p.serialize() for p in pages] == [
        bytes.fromhex(HEAD_HEX + " 00 02 01  01 10000000  02 20000000"),
        bytes.fromhex(HEAD_HEX + " 01 02 01  03 30000000"),
    ]


def test_price_matrix_pages_parse_back_in_order() -> None:
    prices = [((tier << 4) | block, 1000 * tier + block) for tier in range(1, 5)
              for block in range(1, 13)]
    pages = split_price_matrix(prices, **HEAD, tou_only=False)
    schema = Price.ClientCommandDefs.publish_price_matrix.schema
    seen = []
    for index, page in enumerate(pages):
        raw = page.serialize()
        assert len(raw) <= MAX_ZCL_PAYLOAD_UNFRAGMENTED
        parsed, rest = schema.deserialize(raw)
        assert rest == b""
        assert (parsed.command_index, parsed.total_number_of_commands) == (index, len(pages))
        assert parsed.sub_payload_control == 0
        seen += [(e.tier_block_id, e.price) for e in parsed.entries]
    assert seen == prices
    assert len(pages) == 5  # 48 entries, 10 per 70-byte payload


def test_empty_matrix_is_one_command() -> None:
    (page,) = split_price_matrix([], **HEAD, tou_only=True)
    assert page.serialize() == bytes.fromhex(HEAD_HEX + " 00 01 01")


def test_block_thresholds_split() -> None:
    pages = split_block_thresholds([(1, [1000, 2000]), (2, [3000])], **HEAD, all_tiers=False,
                                   max_payload=32)
    assert [p.serialize() for p in pages] == [
        bytes.fromhex(HEAD_HEX + " 00 02 00  12 e80300000000 d00700000000"),
        bytes.fromhex(HEAD_HEX + " 01 02 00  21 b80b00000000"),
    ]


def test_block_thresholds_for_all_tiers_send_tier_zero() -> None:
    (page,) = split_block_thresholds([(3, [1000])], **HEAD, all_tiers=True)
    assert page.serialize() == bytes.fromhex(HEAD_HEX + " 00 01 01  01 e80300000000")


def test_oversized_sets_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot fit"):
        split_block_thresholds([(1, list(range(15)))], **HEAD, all_tiers=False)
    with pytest.raises(ValueError):
        split_block_thresholds([(16, [1])], **HEAD, all_tiers=False)
    with pytest.raises(ValueError, match="no room"):
        split_price_matrix([(1, 1)], **HEAD, tou_only=True, max_payload=19)
