"""sect163k1 / sect283k1: group law, SEC 1 compression, validation."""

from __future__ import annotations

import pytest
from .cbke_material import ANNEX_C, CERTICOM_283K1
from hypothesis import given, settings
from hypothesis import strategies as st

from han_emu.crypto.curves import SECT163K1, SECT283K1, Curve, InvalidPoint, Point

CURVES = [SECT163K1, SECT283K1]
H = bytes.fromhex


@pytest.mark.parametrize("curve", CURVES, ids=lambda c: c.name)
def test_base_point_is_on_the_curve_and_has_order_n(curve: Curve) -> None:
    assert curve.is_on_curve(curve.g)
    assert curve.multiply(curve.n, curve.g) is None
    assert curve.multiply(curve.n - 1, curve.g) == curve.negate(curve.g)


def test_sizes() -> None:
    assert (SECT163K1.point_length, SECT163K1.scalar_length, SECT163K1.h) == (22, 21, 2)
    assert (SECT283K1.point_length, SECT283K1.scalar_length, SECT283K1.h) == (37, 36, 4)


@pytest.mark.parametrize(
    ("curve", "private", "public"),
    [
        (SECT163K1, ANNEX_C.u_static_private, ANNEX_C.u_static_public),
        (SECT163K1, ANNEX_C.v_static_private, ANNEX_C.v_static_public),
        (SECT163K1, ANNEX_C.u_ephemeral_private, ANNEX_C.u_ephemeral_public),
        (SECT163K1, ANNEX_C.v_ephemeral_private, ANNEX_C.v_ephemeral_public),
        (SECT283K1, CERTICOM_283K1.private, CERTICOM_283K1.public),
    ],
    ids=["163-U", "163-V", "163-U-eph", "163-V-eph", "283-certicom"],
)
def test_published_key_pairs(curve: Curve, private: bytes, public: bytes) -> None:
    q = curve.base_multiply(curve.scalar_from_bytes(private))
    assert curve.compress(q) == public  # build
    assert curve.decompress(public) == q  # parse


@pytest.mark.parametrize("curve", CURVES, ids=lambda c: c.name)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_group_law(curve: Curve, data: st.DataObject) -> None:
    j = data.draw(st.integers(min_value=1, max_value=2**40))
    k = data.draw(st.integers(min_value=1, max_value=2**40))
    p = curve.base_multiply(j)
    q = curve.base_multiply(k)
    assert curve.is_on_curve(p)
    assert curve.add(p, q) == curve.base_multiply(j + k)
    assert curve.add(p, q) == curve.add(q, p)
    assert curve.double(p) == curve.add(p, p) == curve.multiply(2, p)
    assert curve.add(p, curve.negate(p)) is None
    assert curve.multiply(k, p) == curve.multiply(j, q)
    assert curve.decompress(curve.compress(p)) == p


def test_compressed_base_point_of_sect163k1() -> None:
    # SEC 2 gives G uncompressed; y/x has low bit 1 here, so the prefix is 03.
    g = SECT163K1.compress(SECT163K1.g)
    assert g == H("0302FE13C0537BBC11ACAA07D793DE4E6D5E5C94EEE8")


def test_point_with_x_zero() -> None:
    # x = 0 gives y^2 = b = 1: the point (0, 1), of order 2, compressed 02 00..00.
    p = SECT283K1.decompress(b"\x02" + bytes(36))
    assert p == Point(0, 1)
    assert SECT283K1.is_on_curve(p)
    assert SECT283K1.double(p) is None
    assert SECT283K1.compress(p) == b"\x02" + bytes(36)


@pytest.mark.parametrize(
    "encoding",
    [
        "0402FE13C0537BBC11ACAA07D793DE4E6D5E5C94EEE8",  # wrong prefix
        "0302FE13C0537BBC11ACAA07D793DE4E6D5E5C94EE",  # too short
        "030802FE13C0537BBC11ACAA07D793DE4E6D5E5C94EE",  # x has degree >= 163
        "02000000000000000000000000000000000000000001",  # x = 1: z^2+z = 1 has no root
        "03" + "00" * 21,  # x = 0 with y bit set
    ],
)
def test_invalid_sect163k1_encodings_are_rejected(encoding: str) -> None:
    with pytest.raises(InvalidPoint):
        SECT163K1.public_key(H(encoding))


def test_infinity_has_no_encoding() -> None:
    with pytest.raises(InvalidPoint):
        SECT163K1.compress(None)


def test_private_key_range() -> None:
    with pytest.raises(ValueError):
        SECT163K1.scalar_from_bytes(bytes(21))
    with pytest.raises(ValueError):
        SECT163K1.scalar_from_bytes(SECT163K1.n.to_bytes(21, "big"))


def double_and_add(curve: Curve, k: int, p: Point) -> Point | None:
    """Textbook affine double-and-add with the curve's own group law: the reference for the ladder."""
    r: Point | None = None
    for bit in bin(k)[2:]:
        r = curve.double(r)
        if bit == "1":
            r = curve.add(r, p)
    return r


@pytest.mark.parametrize("curve", CURVES, ids=lambda c: c.name)
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_the_ladder_gives_what_double_and_add_gives(curve: Curve, data: st.DataObject) -> None:
    p = curve.base_multiply(data.draw(st.integers(min_value=1, max_value=curve.n - 1)))
    k = data.draw(st.integers(min_value=1, max_value=2 * curve.n))
    assert curve.multiply(k, p) == double_and_add(curve, k, p)
    for small in (1, 2, 3, 4, 5):
        assert curve.multiply(small, p) == double_and_add(curve, small, p)
    assert curve.multiply(curve.n - 1, p) == curve.negate(p)  # (k+1)P is the point at infinity
    assert curve.multiply(curve.n + 1, p) == p
