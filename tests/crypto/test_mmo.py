"""AES-MMO and the install-code CRC against the vectors in the Smart Energy specification (Annex C)."""

import zigpy.util

from han_emu.crypto.certsets import install_code_crc, install_code_for
from han_emu.crypto.keys import DEFAULT_TC_LINK_KEY
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


@pytest.mark.parametrize(
    ("code", "crc"),
    [
        ("83FED3407A939738", "C552"),  # Annex C install code
        ("83FED3407A939723A5C639B26916D505", "C3B5"),  # 16-byte install code
        ("313233343536373839", "6E90"),  # "123456789": the CRC-16/X-25 check value 0x906E
    ],
)
def test_install_code_crc_vectors(code: str, crc: str) -> None:
    assert install_code_crc(bytes.fromhex(code)).hex().upper() == crc


@pytest.mark.parametrize("length", [6, 8, 12, 16])
def test_generated_install_codes_pass_zigpys_check(length: int) -> None:
    code = install_code_for(bytes(range(8)), length)
    assert bytes(zigpy.util.convert_install_code(code)) == aes_mmo(code)  # raises on a bad CRC


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
    assert transport_key(DEFAULT_TC_LINK_KEY) != DEFAULT_TC_LINK_KEY
    assert len(transport_key(DEFAULT_TC_LINK_KEY)) == 16
