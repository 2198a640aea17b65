"""Paging of PublishPriceMatrix and PublishBlockThresholds into ZCL-sized commands.

A full price matrix (up to 16 x 15 prices) or a threshold set does not fit in one
frame, so SE pages them with CommandIndex / TotalNumberOfCommands.  The split is
pure arithmetic on serialized sizes, so it lives next to the schemas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, TypeVar

import zigpy.types as t

from clusters.price import (
    BlockThresholdEntry,
    PriceMatrixEntry,
    PublishBlockThresholdsSchema,
    PublishPriceMatrixSchema,
    SubPayloadControl,
    TierAndThresholdCount,
)

#: Largest ZCL payload (after the 3-byte ZCL header) of an unfragmented, APS- and
#: NWK-secured unicast: 127-byte PHY payload - 11 MAC (short addresses, FCS) -
#: 8 NWK - 14 NWK auxiliary header - 4 NWK MIC - 8 APS - 5 APS auxiliary header -
#: 4 APS MIC - 3 ZCL header = 70.  Pass a larger ``max_payload`` when both ends
#: agree on APS fragmentation.
MAX_ZCL_PAYLOAD_UNFRAGMENTED: Final = 70

_E = TypeVar("_E")


def _pack(items: Sequence[_E], sizes: Sequence[int], head: int, max_payload: int) -> list[list[_E]]:
    room = max_payload - head
    if room <= 0:
        raise ValueError(f"max_payload {max_payload} leaves no room after the {head}-byte header")
    pages: list[list[_E]] = [[]]
    used = 0
    for item, size in zip(items, sizes, strict=True):
        if size > room:
            raise ValueError(f"a {size}-byte sub-payload cannot fit in {max_payload} bytes")
        if used + size > room:
            pages.append([])
            used = 0
        pages[-1].append(item)
        used += size
    if len(pages) > 255:
        raise ValueError(f"{len(pages)} commands exceed TotalNumberOfCommands' 255")
    return pages


def _head_size(schema: type, sub_payload_control: int) -> int:
    return len(
        schema(
            provider_id=0, issuer_event_id=0, start_time=0, issuer_tariff_id=0,
            command_index=0, total_number_of_commands=1,
            sub_payload_control=sub_payload_control, entries=[],
        ).serialize()
    )


def split_price_matrix(
    prices: Sequence[tuple[int, int]],
    *,
    provider_id: int,
    issuer_event_id: int,
    start_time: int,
    issuer_tariff_id: int,
    tou_only: bool,
    max_payload: int = MAX_ZCL_PAYLOAD_UNFRAGMENTED,
) -> list[PublishPriceMatrixSchema]:
    """Split ``(tier/block id, price)`` pairs into PublishPriceMatrix payloads.

    ``tou_only`` sets SubPayloadControl bit 0 (the id byte is then the tier alone;
    otherwise tier high nibble, block low nibble).  Order is kept; every command
    repeats the header with its CommandIndex and the TotalNumberOfCommands.
    """
    control = SubPayloadControl.TOU_Based if tou_only else SubPayloadControl.Block_Or_Tier_Block
    entries = [PriceMatrixEntry(tier_block_id=i, price=p) for i, p in prices]
    sizes = [len(e.serialize()) for e in entries]
    pages = _pack(entries, sizes, _head_size(PublishPriceMatrixSchema, control), max_payload)
    return [
        PublishPriceMatrixSchema(
            provider_id=provider_id, issuer_event_id=issuer_event_id,
            start_time=start_time, issuer_tariff_id=issuer_tariff_id,
            command_index=index, total_number_of_commands=len(pages),
            sub_payload_control=control, entries=page,
        )
        for index, page in enumerate(pages)
    ]


def split_block_thresholds(
    thresholds: Sequence[tuple[int, Sequence[int]]],
    *,
    provider_id: int,
    issuer_event_id: int,
    start_time: int,
    issuer_tariff_id: int,
    all_tiers: bool,
    max_payload: int = MAX_ZCL_PAYLOAD_UNFRAGMENTED,
) -> list[PublishBlockThresholdsSchema]:
    """Split ``(tier, [thresholds...])`` sets into PublishBlockThresholds payloads.

    ``all_tiers`` sets SubPayloadControl bit 0: the thresholds then apply to every
    TOU tier and the tier nibble is sent as 0.  A tier's set is never cut in two (its
    count nibble covers the whole set), so a set too big for ``max_payload`` raises.
    """
    control = SubPayloadControl.TOU_Based if all_tiers else SubPayloadControl.Block_Or_Tier_Block
    entries = []
    for tier, values in thresholds:
        if not 0 <= tier <= 15 or len(values) > 15:
            raise ValueError(f"tier {tier} with {len(values)} thresholds does not fit a nibble")
        entries.append(
            BlockThresholdEntry(
                tier_and_count=TierAndThresholdCount(
                    number_of_thresholds=len(values), tier=0 if all_tiers else tier
                ),
                block_thresholds=[t.uint48_t(v) for v in values],
            )
        )
    sizes = [len(e.serialize()) for e in entries]
    pages = _pack(entries, sizes, _head_size(PublishBlockThresholdsSchema, control), max_payload)
    return [
        PublishBlockThresholdsSchema(
            provider_id=provider_id, issuer_event_id=issuer_event_id,
            start_time=start_time, issuer_tariff_id=issuer_tariff_id,
            command_index=index, total_number_of_commands=len(pages),
            sub_payload_control=control, entries=page,
        )
        for index, page in enumerate(pages)
    ]
