"""clusters.zcl_struct makes and reads every command schema exactly as zigpy does.

Each schema of the clusters package (both directions of every cluster in
``SE_CLUSTERS``) and each of zigpy's general commands is read from payloads
of every length up to a few bytes past its size, random and patterned, by
zigpy and by :func:`read`; whatever zigpy makes of a payload (the struct, its
repr and the rest, or the exception's type), :func:`read` must make too, and
:func:`make` must rebuild zigpy's struct from its fields.
"""

from __future__ import annotations

import random
import re

import pytest
from zigpy.zcl import foundation

from clusters import SE_CLUSTERS, Price
from clusters.metering import GetProfileResponseSchema, ProfileIntervalPeriod, ProfileStatus, get_profile_response
from clusters.zcl_struct import _plan, make, read


def _schemas() -> dict[str, type]:
    out: dict[str, type] = {}
    for cluster in SE_CLUSTERS.values():
        for defs in (cluster.ServerCommandDefs, cluster.ClientCommandDefs):
            for command in defs:
                out[f"{cluster.__name__}.{command.name}"] = command.schema
    for command, definition in foundation.GENERAL_COMMANDS.items():
        out[f"general.{command.name}"] = definition.schema
    return out


SCHEMAS = _schemas()


def _payloads(seed: str) -> list[bytes]:
    rng = random.Random(seed)
    out = [b"", b"\x00" * 120, b"\xff" * 120, bytes(range(120))]
    for n in list(range(1, 40)) + [60, 90, 120]:
        out.append(bytes(rng.randrange(256) for _ in range(n)))
        out.append(bytes([n % 25]) + bytes(rng.randrange(4) for _ in range(n)))  # short counts, small values
    return out


def _attempt(call) -> tuple:
    try:
        return ("ok", call())
    except Exception as exc:  # zigpy's own failure: the same type must come out
        return ("raises", type(exc))


def _view(value: object) -> tuple:
    """What tells two structs apart: type, repr (objects zigpy compares by
    identity, NoData, stripped of their addresses) and serialized bytes."""
    text = _attempt(lambda: re.sub(r" at 0x[0-9a-f]+", "", repr(value)))
    return type(value), text, _attempt(value.serialize)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_read_and_make_are_zigpys(name: str) -> None:
    schema = SCHEMAS[name]
    read_any = False
    for payload in _payloads(name):
        want = _attempt(lambda: schema.deserialize(payload))
        for _ in range(2):  # again: integer structs now come from the memo
            got = _attempt(lambda: read(schema, payload))
            assert got[0] == want[0], (payload.hex(), got, want)
            if want[0] == "raises":
                assert got[1] is want[1], payload.hex()
                continue
            read_any = True
            (value, rest), (want_value, want_rest) = got[1], want[1]
            assert rest == want_rest and _view(value) == _view(want_value), payload.hex()
            fields = want_value.as_dict()
            made, plain = _attempt(lambda: make(schema, **fields)), _attempt(lambda: schema(**fields))
            assert made[0] == plain[0]
            assert (_view(made[1]) == _view(plain[1])) if made[0] == "ok" else made[1] is plain[1]
    assert read_any or not schema.fields, f"{name}: no payload read; the test says nothing of it"


def test_make_takes_plain_integers_for_packed_bytes() -> None:
    schema = Price.ClientCommandDefs.publish_price.schema
    fields = dict(provider_id=1, rate_label=b"Tier 1", issuer_event_id=7, current_time=833315200, unit_of_measure=0,
                  currency=826, price_trailing_digit_and_price_tier=0x51, number_of_price_tiers_and_register_tier=0x41,
                  start_time=0, duration_in_minutes=30, price=13500)
    for extra in ({}, {"price_ratio": 0xFF, "generation_price": 15000, "generation_price_ratio": 0xFF,
                       "alternate_cost_delivered": 0xFFFFFFFF, "alternate_cost_unit": 0xFF,
                       "alternate_cost_trailing_digit": 0xFF, "number_of_block_thresholds": 0, "price_control": 0,
                       "number_of_generation_tiers": 4, "generation_tier": 2, "extended_number_of_price_tiers": 0,
                       "extended_price_tier": 0, "extended_register_tier": 0}):
        for _ in range(2):
            made, plain = make(schema, **fields, **extra), schema(**fields, **extra)
            assert made == plain and repr(made) == repr(plain) and made.serialize() == plain.serialize()
    with pytest.raises(TypeError):
        make(schema, no_such_field=1)


def test_get_profile_response_is_zigpys() -> None:
    made = get_profile_response(833315200, ProfileStatus.Success, ProfileIntervalPeriod.Minutes_30, [1, 2, 0xFFFFFF])
    plain = GetProfileResponseSchema(end_time=833315200, status=ProfileStatus.Success,
                                     profile_interval_period=ProfileIntervalPeriod.Minutes_30,
                                     number_of_periods_delivered=3, intervals=[1, 2, 0xFFFFFF])
    assert made == plain and repr(made) == repr(plain) and made.serialize() == plain.serialize()


@pytest.mark.parametrize("schema", [Price.ClientCommandDefs.publish_price.schema, GetProfileResponseSchema,
                                    Price.ServerCommandDefs.get_current_price.schema,
                                    SE_CLUSTERS[0x0702].ServerCommandDefs.get_profile.schema])
def test_the_busy_schemas_take_the_short_way(schema: type) -> None:
    assert _plan(schema._real_cls()) is not None
