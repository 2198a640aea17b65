"""ECMQV with cofactor, KDF and MACs against the Smart Energy Annex C example."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from han_emu.crypto.curves import SECT163K1, SECT283K1, Point
from han_emu.crypto.ecmqv import avf, kdf, mac_u, mac_v, shared_secret

C = SECT163K1


def key(data: bytes) -> int:
    return int.from_bytes(data, "big")


@pytest.fixture(scope="module")
def points(annex_c: SimpleNamespace) -> SimpleNamespace:
    return SimpleNamespace(
        qu=C.decompress(annex_c.u_static_public),
        qv=C.decompress(annex_c.v_static_public),
        ru=C.decompress(annex_c.u_ephemeral_public),
        rv=C.decompress(annex_c.v_ephemeral_public),
    )


def test_z_from_both_sides(annex_c: SimpleNamespace, points: SimpleNamespace) -> None:
    z_u = shared_secret(
        C,
        key(annex_c.u_static_private),
        key(annex_c.u_ephemeral_private),
        points.ru,
        points.qv,
        points.rv,
    )
    z_v = shared_secret(
        C,
        key(annex_c.v_static_private),
        key(annex_c.v_ephemeral_private),
        points.rv,
        points.qu,
        points.ru,
    )
    assert z_u == z_v == annex_c.z


def test_kdf(annex_c: SimpleNamespace) -> None:
    keys = kdf(annex_c.z)
    assert keys.mac_key == annex_c.mac_key
    assert keys.key_data == annex_c.key_data


def test_macs(annex_c: SimpleNamespace) -> None:
    args = (
        annex_c.mac_key,
        annex_c.u_eui,
        annex_c.v_eui,
        annex_c.u_ephemeral_public,
        annex_c.v_ephemeral_public,
    )
    assert mac_u(*args) == annex_c.macu
    assert mac_v(*args) == annex_c.macv


def test_a_wrong_static_key_changes_z(annex_c: SimpleNamespace, points: SimpleNamespace) -> None:
    z = shared_secret(
        C,
        key(annex_c.u_static_private) + 1,
        key(annex_c.u_ephemeral_private),
        points.ru,
        points.qv,
        points.rv,
    )
    assert z != annex_c.z


def test_avf_half_length() -> None:
    p = Point((1 << 200) - 1, 0)
    assert avf(SECT163K1, p) == (1 << 83) - 1  # L = 82: low 82 bits, plus 2^82
    assert avf(SECT283K1, p) == (1 << 142) - 1  # L = 141
    assert avf(SECT163K1, Point(0, 0)) == 1 << 82


def test_suite2_agreement(certicom_283k1: SimpleNamespace) -> None:
    curve = SECT283K1
    du, dv, ru, rv = (
        key(certicom_283k1.private),
        0xABCDEF << 100,
        0x1234567 << 150,
        0x7654321 << 170,
    )
    qu, qv = curve.decompress(certicom_283k1.public), curve.base_multiply(dv)
    pu, pv = curve.base_multiply(ru), curve.base_multiply(rv)
    z_u = shared_secret(curve, du, ru, pu, qv, pv)
    z_v = shared_secret(curve, dv, rv, pv, qu, pu)
    assert z_u == z_v and len(z_u) == 36
