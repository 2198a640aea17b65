"""GF(2^163) and GF(2^283): field laws, and facts that hold independently of the code."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from han_emu.crypto.gf2m import GF2_163, GF2_283, BinaryField

FIELDS = [GF2_163, GF2_283]


def elements(f: BinaryField) -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=f.mask)


def nonzero(f: BinaryField) -> st.SearchStrategy[int]:
    return st.integers(min_value=1, max_value=f.mask)


def schoolbook(f: BinaryField, a: int, b: int) -> int:
    """Bit-by-bit multiply and reduce by long division: slow, obviously right."""
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        b >>= 1
    while r.bit_length() > f.m:
        r ^= f.poly << (r.bit_length() - 1 - f.m)
    return r


def test_reduction_polynomials_are_the_sec2_ones() -> None:
    assert GF2_163.poly == (1 << 163) | (1 << 7) | (1 << 6) | (1 << 3) | 1
    assert GF2_283.poly == (1 << 283) | (1 << 12) | (1 << 7) | (1 << 5) | 1
    assert GF2_163.byte_length == 21
    assert GF2_283.byte_length == 36


@pytest.mark.parametrize("f", FIELDS, ids=lambda f: f"m{f.m}")
def test_x_to_the_m_reduces_to_the_low_terms(f: BinaryField) -> None:
    assert f.reduce(1 << f.m) == f.poly ^ (1 << f.m)
    # x^(m-1) * x = x^m
    assert f.mul(1 << (f.m - 1), 2) == f.poly ^ (1 << f.m)


@pytest.mark.parametrize("f", FIELDS, ids=lambda f: f"m{f.m}")
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_multiplication_matches_schoolbook(f: BinaryField, data: st.DataObject) -> None:
    a = data.draw(elements(f))
    b = data.draw(elements(f))
    c = data.draw(elements(f))
    assert f.mul(a, b) == schoolbook(f, a, b)
    assert f.mul(a, b) == f.mul(b, a)
    assert f.mul(a, b ^ c) == f.mul(a, b) ^ f.mul(a, c)
    assert f.sqr(a) == schoolbook(f, a, a)


@pytest.mark.parametrize("f", FIELDS, ids=lambda f: f"m{f.m}")
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_inverse_sqrt_and_quadratic(f: BinaryField, data: st.DataObject) -> None:
    a = data.draw(nonzero(f))
    assert f.mul(a, f.inv(a)) == 1
    assert f.sqr(f.sqrt(a)) == a
    assert f.trace(a) in (0, 1)
    z = f.solve_quadratic(a)
    if f.trace(a) == 0:
        assert z is not None and f.sqr(z) ^ z == a
    else:
        assert z is None


@pytest.mark.parametrize("f", FIELDS, ids=lambda f: f"m{f.m}")
def test_trace_of_one_is_m_mod_2(f: BinaryField) -> None:
    assert f.trace(1) == f.m % 2 == 1
    assert f.solve_quadratic(1) is None


def test_zero_has_no_inverse() -> None:
    with pytest.raises(ZeroDivisionError):
        GF2_163.inv(0)


def test_element_encoding_rejects_values_outside_the_field() -> None:
    assert GF2_163.from_bytes(bytes.fromhex("07" + "FF" * 20)) == (1 << 163) - 1
    with pytest.raises(ValueError):
        GF2_163.from_bytes(bytes.fromhex("08" + "00" * 20))
    with pytest.raises(ValueError):
        GF2_163.from_bytes(bytes(20))
    assert GF2_283.to_bytes(1) == bytes(35) + b"\x01"
