"""AES-CCM* (ENC-MIC-32) for Zigbee NWK and APS frames.

CCM* at level 5 is plain CCM with a 4-byte tag and a 13-byte nonce, so
``cryptography``'s AESCCM does the work.  What Zigbee adds is here: the nonce
(source IEEE address, frame counter, security control with level 5
substituted), the authenticated data (the layer's header through its
auxiliary header, level 5 substituted), and the APS key-identifier rules.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from han_emu.crypto.mmo import key_load_key, transport_key
from han_emu.frames.errors import FrameError, MicError
from han_emu.frames.secheader import MIC_LENGTH, KeyId, with_level

KEY_LENGTH = 16


@lru_cache(maxsize=256)
def _cipher(key: bytes) -> AESCCM:
    """Key schedules are reused: replay decrypts thousands of frames per key."""
    if len(key) != KEY_LENGTH:
        raise FrameError("security", f"key must be {KEY_LENGTH} bytes, got {len(key)}")
    return AESCCM(key, tag_length=MIC_LENGTH)


def ccm_nonce(source: int, frame_counter: int, control: int) -> bytes:
    """13-byte CCM* nonce: source IEEE (LE), frame counter (LE), control (level 5)."""
    return (
        source.to_bytes(8, "little")
        + frame_counter.to_bytes(4, "little")
        + bytes([with_level(control)])
    )


def aps_key(key_id: int, link_key: bytes) -> bytes:
    """The key an APS frame with ``key_id`` is secured with, from the link key.

    For ``KeyId.NETWORK`` pass the network key itself as ``link_key``.
    """
    if key_id in (KeyId.DATA, KeyId.NETWORK):
        return link_key
    if key_id == KeyId.KEY_TRANSPORT:
        return transport_key(link_key)
    if key_id == KeyId.KEY_LOAD:
        return key_load_key(link_key)
    raise FrameError("aps security", f"unknown key identifier {key_id}")


def _split(raw: bytes, parsed: Any) -> tuple[bytes, int]:
    """(authenticated data with level 5, security control byte as sent)."""
    hs, ps = parsed.header_end, parsed.payload_start
    control = raw[hs]
    return raw[:hs] + bytes([with_level(control)]) + raw[hs + 1 : ps], control


def decrypt(layer: str, raw: bytes, parsed: Any, key: bytes, source: int) -> bytes:
    """Plaintext payload of a secured NWK or APS frame.

    ``raw`` is the layer's bytes, ``parsed`` their construct parse (it gives the
    auxiliary header and its offsets).  Raises MicError on a wrong key.
    """
    if parsed.aux is None:
        raise FrameError(layer, "frame is not secured")
    aad, control = _split(raw, parsed)
    body = raw[parsed.payload_start :]
    if len(body) < MIC_LENGTH:
        raise FrameError(layer, f"secured payload of {len(body)} bytes is shorter than the MIC")
    nonce = ccm_nonce(source, parsed.aux.frame_counter, control)
    try:
        return _cipher(bytes(key)).decrypt(nonce, body, aad)
    except InvalidTag:
        raise MicError(layer, f"source {source:016x}, frame counter {parsed.aux.frame_counter}") from None


def encrypt(layer: str, header: bytes, parsed: Any, plaintext: bytes, key: bytes, source: int) -> bytes:
    """The complete secured layer: ``header`` (through the auxiliary header,
    as built with an empty payload) followed by ciphertext and MIC."""
    if parsed.aux is None:
        raise FrameError(layer, "the security bit is clear: nothing to encrypt")
    aad, control = _split(header, parsed)
    nonce = ccm_nonce(source, parsed.aux.frame_counter, control)
    return header + _cipher(bytes(key)).encrypt(nonce, plaintext, aad)
