"""AES-MMO against the vectors in the Smart Energy specification (Annex C)."""

from han_emu.crypto.mmo import aes_mmo, keyed_hash, transport_key

import pytest


@pytest.mark.parametrize(
    ("message", "digest"),
    [
        ("11223344556677884AF7", "41618FC0C83B0E14A589954B16E31466"),
        ("83FED3407A939738C552", "A833A77434F3BFBD7A7AB97942149287"),
    ],
)
def test_install_code_vectors(message: str, digest: str) -> None:
    assert aes_mmo(bytes.fromhex(message)).hex().upper() == digest


def test_kdf_vector_from_annex_c() -> None:
    z = bytes.fromhex("00E0D2C3CCD5C106A89C4F6CC26A5F7EC9DF78A7BE")
    assert aes_mmo(z + b"\x00\x00\x00\x01").hex().upper() == "90F967B22C8357C10C1C04788DE9E848"
    assert aes_mmo(z + b"\x00\x00\x00\x02").hex().upper() == "86D58AAA998E2FAEFAF9FEF49606543A"


def test_long_message_uses_wide_length_field() -> None:
    # 8192 bytes = 2**16 bits: the padding switches to a 32-bit length.
    assert aes_mmo(bytes(8192)) != aes_mmo(bytes(8191))
    assert len(aes_mmo(bytes(8192))) == 16


def test_keyed_hash_rejects_short_key() -> None:
    with pytest.raises(ValueError):
        keyed_hash(b"short", b"x")


def test_transport_key_differs_from_link_key() -> None:
    link = bytes.fromhex("5A6967426565416C6C69616E63653039")
    assert transport_key(link) != link
    assert len(transport_key(link)) == 16
