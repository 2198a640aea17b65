"""Shared fuzzing machinery: example budget, mutation strategies, input counts.

The default run is small so the suite stays fast; ``HAN_EMU_FUZZ_EXAMPLES``
raises the per-test budget for a long run (docs/reliability.md records one).
Every fuzz test counts the inputs it executed in :data:`INPUTS`, and the
folder's conftest prints the total, so a long run's count is measured, not
estimated.
"""

from __future__ import annotations

import enum
import os
from collections import Counter
from typing import Any

import zigpy.types as t
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Examples per fuzz test (hypothesis ``max_examples``).
EXAMPLES = int(os.environ.get("HAN_EMU_FUZZ_EXAMPLES", "100"))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no example database written into the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

#: Inputs executed per fuzz target (a target may feed several inputs per example).
INPUTS: Counter[str] = Counter()


def count(target: str, n: int = 1) -> None:
    INPUTS[target] += n


# -- byte mutations -------------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes], max_ops: int = 6) -> bytes:
    """A seed with a few random edits: bit flips, byte sets, inserts, deletes, cuts."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.integers(0, 5))
        if op == 0 and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == 1 and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.sampled_from((0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF))) if draw(st.booleans()) \
                else draw(st.integers(0, 255))
        elif op == 2:
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(st.binary(min_size=1, max_size=12))
        elif op == 3 and data:
            i = draw(st.integers(0, len(data) - 1))
            del data[i:i + draw(st.integers(1, 12))]
        elif op == 4 and data:
            del data[draw(st.integers(0, len(data) - 1)):]
        elif op == 5 and data:
            i = draw(st.integers(0, len(data) - 1))
            j = draw(st.integers(i, len(data)))
            data[j:j] = data[i:j]  # duplicate a slice (repeated records/blocks)
    return bytes(data)


def random_or_mutated(seeds: list[bytes], max_size: int = 160) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=max_size), mutated(seeds))


# -- valid payloads from zigpy schemas -------------------------------------------------------


def _fixed_size(typ: type) -> int | None:
    bits = getattr(typ, "_bits", None)
    if isinstance(bits, int) and bits % 8 == 0:
        return bits // 8
    size = getattr(typ, "_size", None)
    if isinstance(size, int):
        return size
    try:  # what a fixed-size type consumes of a long run of zeros
        _, rest = typ.deserialize(bytes(64))
    except Exception:
        return None
    return 64 - len(rest) if len(rest) else None


@st.composite
def value_bytes(draw: st.DrawFn, typ: Any, depth: int = 0) -> bytes:
    """Bytes that parse as ``typ``: a well-formed value, its content drawn at random."""
    if isinstance(typ, type) and issubclass(typ, t.Struct):
        out, bits = b"", 0
        for f in typ.fields:
            if f.optional and not bits and draw(st.booleans()):
                break  # optional trailing fields may be absent
            width = getattr(f.type, "_bits", 8)
            if bits or width % 8:  # bit-packed fields fill whole bytes together
                bits += width
                if bits % 8 == 0:
                    out += draw(st.binary(min_size=bits // 8, max_size=bits // 8))
                    bits = 0
                continue
            out += draw(value_bytes(f.type, depth + 1))
        return out
    if isinstance(typ, type) and issubclass(typ, enum.Enum) and not issubclass(typ, enum.Flag) and list(typ):
        return draw(st.sampled_from(list(typ))).serialize()
    item = getattr(typ, "_item_type", None)
    if item is not None:
        n = draw(st.integers(0, 0 if depth > 2 else 4))
        items = b"".join(draw(value_bytes(item, depth + 1)) for _ in range(n))
        length = getattr(typ, "_length_type", None)
        return (length(n).serialize() if length is not None else b"") + items
    if isinstance(typ, type) and issubclass(typ, (t.LVBytes, t.CharacterString)):
        body = draw(st.binary(max_size=min(20, getattr(typ, "_max_len", 20))))
        return bytes([len(body)]) + body
    if isinstance(typ, type) and issubclass(typ, bytes) and _fixed_size(typ) is None:
        return draw(st.binary(max_size=60))  # greedy bytes: the rest of the frame
    size = _fixed_size(typ)
    if size is None:
        return typ.deserialize(bytes(64))[0].serialize()
    return draw(st.binary(min_size=size, max_size=size))
