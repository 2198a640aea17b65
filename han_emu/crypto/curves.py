"""The Koblitz curves of Smart Energy CBKE: sect163k1 (suite 1), sect283k1 (suite 2).

Curves y^2 + xy = x^3 + a*x^2 + b over GF(2^m) with SEC 2 parameters, affine
points, scalar multiplication by the Montgomery ladder and the SEC 1
compressed point form that certificates and EphemeralData carry (22 / 37 octets).

The ladder on Python ints is plenty for an emulator (some milliseconds per
scalar multiplication) but it is not constant-time (Python's ints are not):
it must not guard production keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from han_emu.crypto.gf2m import GF2_163, GF2_283, BinaryField


class Point(NamedTuple):
    """An affine point; the point at infinity is ``None`` (see ``MaybePoint``)."""

    x: int
    y: int


MaybePoint = Point | None


class InvalidPoint(ValueError):
    """An encoding or point that is not a valid public key on the curve."""


@dataclass(frozen=True)
class Curve:
    """A binary curve y^2 + xy = x^3 + a x^2 + b with a base point G of order n."""

    name: str
    field: BinaryField
    a: int
    b: int
    g: Point
    n: int
    h: int

    @property
    def point_length(self) -> int:
        """Octets of a compressed point: 1 + field length (22 or 37)."""
        return 1 + self.field.byte_length

    @property
    def scalar_length(self) -> int:
        """Octets of a private key or other scalar below n (21 or 36)."""
        return (self.n.bit_length() + 7) // 8

    # -- group law -------------------------------------------------------

    def is_on_curve(self, p: MaybePoint) -> bool:
        if p is None:
            return False
        f = self.field
        x, y = p
        if x >> f.m or y >> f.m:
            return False
        xx = f.sqr(x)
        lhs = f.sqr(y) ^ f.mul(x, y)
        rhs = f.mul(xx, x) ^ (xx if self.a else 0) ^ self.b
        return lhs == rhs

    def negate(self, p: MaybePoint) -> MaybePoint:
        if p is None:
            return None
        return Point(p.x, p.x ^ p.y)

    def double(self, p: MaybePoint) -> MaybePoint:
        if p is None or p.x == 0:
            return None
        f = self.field
        x, y = p
        lam = x ^ f.div(y, x)
        x3 = f.sqr(lam) ^ lam ^ self.a
        y3 = f.sqr(x) ^ f.mul(lam ^ 1, x3)
        return Point(x3, y3)

    def add(self, p: MaybePoint, q: MaybePoint) -> MaybePoint:
        if p is None:
            return q
        if q is None:
            return p
        if p.x == q.x:
            if p.y == q.y:
                return self.double(p)
            return None  # q = -p
        f = self.field
        lam = f.div(p.y ^ q.y, p.x ^ q.x)
        x3 = f.sqr(lam) ^ lam ^ p.x ^ q.x ^ self.a
        y3 = f.mul(lam, p.x ^ x3) ^ x3 ^ p.y
        return Point(x3, y3)

    def multiply(self, k: int, p: MaybePoint) -> MaybePoint:
        """k*P by the Montgomery ladder on López-Dahab projective x-coordinates,
        y recovered at the end (López and Dahab, "Fast multiplication on
        elliptic curves over GF(2^m) without precomputation", CHES 1999,
        algorithms Madd, Mdouble and Mxy): one field inversion per
        multiplication instead of one per doubling and addition."""
        if k < 0:
            return self.multiply(-k, self.negate(p))
        if k == 0 or p is None:
            return None
        if p.x == 0:  # the point of order 2, (0, sqrt(b)): the ladder divides by x
            return p if k & 1 else None
        f = self.field
        mul, sqr, b = f.mul, f.sqr, self.b
        x, y = p

        def double(xa: int, za: int) -> tuple[int, int]:  # Mdouble
            xx, zz = sqr(xa), sqr(za)
            zzzz = sqr(zz)
            return sqr(xx) ^ (zzzz if b == 1 else mul(b, zzzz)), mul(xx, zz)

        def add(xa: int, za: int, xb: int, zb: int) -> tuple[int, int]:  # Madd, B - A = P
            t1, t2 = mul(xa, zb), mul(xb, za)
            z = sqr(t1 ^ t2)
            return mul(x, z) ^ mul(t1, t2), z

        x1, z1 = x, 1  # P
        x2, z2 = double(x, 1)  # 2P
        for i in range(k.bit_length() - 2, -1, -1):
            if (k >> i) & 1:
                x1, z1 = add(x1, z1, x2, z2)
                x2, z2 = double(x2, z2)
            else:
                x2, z2 = add(x1, z1, x2, z2)
                x1, z1 = double(x1, z1)
        # Mxy: (x1, z1) is kP, (x2, z2) is (k+1)P.
        if z1 == 0:
            return None
        if z2 == 0:
            return self.negate(p)  # (k+1)P = O
        inv = f.inv(mul(mul(x, z1), z2))
        xk = mul(mul(x1, mul(x, z2)), inv)
        t = mul(x1 ^ mul(x, z1), x2 ^ mul(x, z2)) ^ mul(sqr(x) ^ y, mul(z1, z2))
        yk = mul(mul(x ^ xk, t), inv) ^ y
        return Point(xk, yk)

    def base_multiply(self, k: int) -> MaybePoint:
        return self.multiply(k, self.g)

    # -- SEC 1 encodings -------------------------------------------------

    def compress(self, p: MaybePoint) -> bytes:
        """SEC 1 compressed form: 02/03 (low bit of y/x) then x."""
        if p is None:
            raise InvalidPoint("the point at infinity has no compressed form")
        f = self.field
        ybit = 0 if p.x == 0 else f.mul(p.y, f.inv(p.x)) & 1
        return bytes([2 | ybit]) + f.to_bytes(p.x)

    def decompress(self, data: bytes) -> Point:
        """Point from its SEC 1 compressed form, rejecting anything off the curve."""
        f = self.field
        if len(data) != self.point_length or data[0] not in (2, 3):
            raise InvalidPoint(f"not a compressed {self.name} point")
        try:
            x = f.from_bytes(data[1:])
        except ValueError as exc:
            raise InvalidPoint(str(exc)) from None
        ybit = data[0] & 1
        if x == 0:
            # y^2 = b; the compressed bit of such a point is always 0.
            if ybit:
                raise InvalidPoint("x = 0 with y bit set")
            return Point(0, f.sqrt(self.b))
        # (y/x)^2 + (y/x) = x + a + b/x^2
        beta = x ^ self.a ^ f.mul(self.b, f.inv(f.sqr(x)))
        z = f.solve_quadratic(beta)
        if z is None:
            raise InvalidPoint(f"x is not the abscissa of a {self.name} point")
        if z & 1 != ybit:
            z ^= 1
        return Point(x, f.mul(x, z))

    def public_key(self, data: bytes) -> Point:
        """Decode a compressed public key and check it is usable: on the curve
        (``decompress`` guarantees it) and not the point at infinity."""
        p = self.decompress(data)
        if not self.is_on_curve(p):
            raise InvalidPoint("point is not on the curve")
        return p

    def scalar_from_bytes(self, data: bytes) -> int:
        """A private key from its octets; must lie in [1, n-1]."""
        d = int.from_bytes(data, "big")
        if not 1 <= d < self.n:
            raise ValueError("private key out of range")
        return d

    def scalar_to_bytes(self, d: int) -> bytes:
        return d.to_bytes(self.scalar_length, "big")


SECT163K1 = Curve(
    name="sect163k1",
    field=GF2_163,
    a=1,
    b=1,
    g=Point(
        0x02FE13C0537BBC11ACAA07D793DE4E6D5E5C94EEE8,
        0x0289070FB05D38FF58321F2E800536D538CCDAA3D9,
    ),
    n=0x04000000000000000000020108A2E0CC0D99F8A5EF,
    h=2,
)

SECT283K1 = Curve(
    name="sect283k1",
    field=GF2_283,
    a=0,
    b=1,
    g=Point(
        0x0503213F78CA44883F1A3B8162F188E553CD265F23C1567A16876913B0C2AC2458492836,
        0x01CCDA380F1C9E318D90F95D07E5426FE87E45C0E8184698E45962364E34116177DD2259,
    ),
    n=0x01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFE9AE2ED07577265DFF7F94451E061E163C61,
    h=4,
)
