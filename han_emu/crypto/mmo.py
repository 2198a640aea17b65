"""Zigbee's AES-MMO hash and the keyed hash built on it.

Zigbee hashes with Matyas-Meyer-Oseas over AES-128 (Zigbee spec B.6): install
codes become link keys, transport and key-load keys are derived from link keys,
and CBKE's KDF and key-confirmation MACs are built from it.  ``cryptography``
supplies the AES block; the chaining and padding are here.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16
_IPAD = 0x36
_OPAD = 0x5C


def _encrypt_block(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def _pad(message: bytes) -> bytes:
    """Append 0x80, zeros and the bit length (16 bits, or 32 bits + 16 zero
    bits for messages of 2**16 bits or more) to a whole number of blocks."""
    bits = len(message) * 8
    if bits < 1 << 16:
        tail = bits.to_bytes(2, "big")
    elif bits < 1 << 32:
        tail = bits.to_bytes(4, "big") + b"\x00\x00"
    else:
        raise ValueError("message too long for AES-MMO")
    padded = message + b"\x80"
    zeros = (-(len(padded) + len(tail))) % BLOCK
    return padded + b"\x00" * zeros + tail


def aes_mmo(message: bytes) -> bytes:
    """The 16-byte AES-MMO digest of ``message``."""
    data = _pad(message)
    h = bytes(BLOCK)
    for i in range(0, len(data), BLOCK):
        block = data[i : i + BLOCK]
        h = bytes(a ^ b for a, b in zip(_encrypt_block(h, block), block))
    return h


def keyed_hash(key: bytes, message: bytes) -> bytes:
    """Zigbee's keyed-hash MAC: HMAC over AES-MMO with a 16-byte block."""
    if len(key) != BLOCK:
        raise ValueError("keyed hash takes a 16-byte key")
    inner = aes_mmo(bytes(k ^ _IPAD for k in key) + message)
    return aes_mmo(bytes(k ^ _OPAD for k in key) + inner)


def transport_key(link_key: bytes) -> bytes:
    """Key that protects APS Transport-Key commands sent under ``link_key``."""
    return keyed_hash(link_key, b"\x00")


def key_load_key(link_key: bytes) -> bytes:
    """Key that protects APS key-load commands sent under ``link_key``."""
    return keyed_hash(link_key, b"\x02")
