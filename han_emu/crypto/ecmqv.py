"""ECMQV with cofactor, the Smart Energy KDF and the key-confirmation MACs.

CBKE combines each side's static key (from its implicit certificate) with a
fresh ephemeral key, so both parties must hold their certificate's private
key to arrive at the same shared secret Z.  From Z the KDF derives MacKey
(for key confirmation) and KeyData (the new APS link key).

Built on the affine curve arithmetic of ``curves``: not constant-time, fine
for an emulator, not for production keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from han_emu.crypto.curves import Curve, InvalidPoint, Point
from han_emu.crypto.mmo import aes_mmo, keyed_hash

MACU_PREFIX = b"\x02"
MACV_PREFIX = b"\x03"


def avf(curve: Curve, p: Point) -> int:
    """Associate value function: (x mod 2^L) + 2^L, L = ceil(bitlen(n) / 2)."""
    half = (curve.n.bit_length() + 1) // 2
    return (p.x & ((1 << half) - 1)) | (1 << half)


def shared_secret(
    curve: Curve,
    own_static_private: int,
    own_ephemeral_private: int,
    own_ephemeral_public: Point,
    peer_static_public: Point,
    peer_ephemeral_public: Point,
) -> bytes:
    """ECMQV-with-cofactor shared secret Z as a field element (21 or 36 bytes).

    s = (r + avf(R)*d) mod n;  Z = x(h*s*(R_peer + avf(R_peer)*Q_peer)).
    Raises ``InvalidPoint`` if the result is the point at infinity.
    """
    s = (own_ephemeral_private + avf(curve, own_ephemeral_public) * own_static_private) % curve.n
    partial = curve.add(
        peer_ephemeral_public,
        curve.multiply(avf(curve, peer_ephemeral_public), peer_static_public),
    )
    p = curve.multiply(curve.h * s, partial)
    if p is None:
        raise InvalidPoint("ECMQV produced the point at infinity")
    return curve.field.to_bytes(p.x)


@dataclass(frozen=True)
class DerivedKeys:
    """KDF output: MacKey confirms the exchange, KeyData is the new link key."""

    mac_key: bytes
    key_data: bytes


def kdf(z: bytes) -> DerivedKeys:
    """Smart Energy KDF: Hash_i = AES-MMO(Z || i) for i = 1 (MacKey), 2 (KeyData)."""
    return DerivedKeys(
        mac_key=aes_mmo(z + (1).to_bytes(4, "big")),
        key_data=aes_mmo(z + (2).to_bytes(4, "big")),
    )


def mac_u(mac_key: bytes, id_u: bytes, id_v: bytes, qe_u: bytes, qe_v: bytes) -> bytes:
    """Initiator's confirmation: MAC(MacKey, 02 || ID_U || ID_V || QEU || QEV)."""
    return keyed_hash(mac_key, MACU_PREFIX + id_u + id_v + qe_u + qe_v)


def mac_v(mac_key: bytes, id_u: bytes, id_v: bytes, qe_u: bytes, qe_v: bytes) -> bytes:
    """Responder's confirmation: MAC(MacKey, 03 || ID_V || ID_U || QEV || QEU)."""
    return keyed_hash(mac_key, MACV_PREFIX + id_v + id_u + qe_v + qe_u)
