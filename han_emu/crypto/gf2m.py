"""Arithmetic in the binary fields GF(2^m) under the Smart Energy curves.

CBKE runs on the Koblitz curves sect163k1 and sect283k1, whose coordinates
live in GF(2^163) and GF(2^283).  No maintained Python library still offers
binary-field curves, so the field is written here on plain Python ints: an
element is an int whose bit i is the coefficient of x^i (polynomial basis).

The code is not constant-time: fine for an emulator and its tests, not for
protecting real keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BinaryField:
    """GF(2^m) with the reduction polynomial ``x^m + sum(x^k for k in low_terms)``."""

    m: int
    low_terms: tuple[int, ...]
    poly: int = field(init=False)
    mask: int = field(init=False)

    def __post_init__(self) -> None:
        poly = 1 << self.m
        for k in self.low_terms:
            if not 0 <= k < self.m:
                raise ValueError("low terms must be below the degree")
            poly |= 1 << k
        object.__setattr__(self, "poly", poly)
        object.__setattr__(self, "mask", (1 << self.m) - 1)

    @property
    def byte_length(self) -> int:
        """Octets of a field element in SEC 1 encodings (21 or 36)."""
        return (self.m + 7) // 8

    def reduce(self, c: int) -> int:
        """Reduce a polynomial of any degree modulo the field polynomial."""
        m = self.m
        mask = self.mask
        low = self.low_terms
        while c >> m:
            hi = c >> m
            c &= mask
            for k in low:
                c ^= hi << k
        return c

    @staticmethod
    def add(a: int, b: int) -> int:
        return a ^ b

    def mul(self, a: int, b: int) -> int:
        """Product in the field: carry-less multiply (4-bit windows), reduce."""
        if a == 0 or b == 0:
            return 0
        table = [0] * 16
        for i in range(1, 16):
            table[i] = (table[i >> 1] << 1) ^ (a if i & 1 else 0)
        r = 0
        shift = (b.bit_length() + 3) & ~3
        while shift:
            shift -= 4
            r = (r << 4) ^ table[(b >> shift) & 15]
        return self.reduce(r)

    def sqr(self, a: int) -> int:
        """Square: spreading the bits (read the binary digits in base 4)
        interleaves zeros, which is squaring in characteristic 2."""
        if a == 0:
            return 0
        return self.reduce(int(format(a, "b"), 4))

    def inv(self, a: int) -> int:
        """Multiplicative inverse by the binary extended Euclidean algorithm."""
        if a == 0:
            raise ZeroDivisionError("0 has no inverse in GF(2^m)")
        u, v = a, self.poly
        g1, g2 = 1, 0
        while u != 1:
            j = u.bit_length() - v.bit_length()
            if j < 0:
                u, v = v, u
                g1, g2 = g2, g1
                j = -j
            u ^= v << j
            g1 ^= g2 << j
        return self.reduce(g1)

    def div(self, a: int, b: int) -> int:
        return self.mul(a, self.inv(b))

    def sqrt(self, a: int) -> int:
        """Square root: a^(2^(m-1)), since squaring m times is the identity."""
        for _ in range(self.m - 1):
            a = self.sqr(a)
        return a

    def trace(self, a: int) -> int:
        """Absolute trace (0 or 1): sum of a^(2^i) for i < m."""
        t = a
        s = a
        for _ in range(self.m - 1):
            s = self.sqr(s)
            t ^= s
        return t

    def half_trace(self, a: int) -> int:
        """Half-trace (m odd): a solution z of z^2 + z = a when Tr(a) = 0."""
        if self.m % 2 == 0:
            raise ValueError("half-trace needs an odd extension degree")
        h = a
        for _ in range((self.m - 1) // 2):
            h = self.sqr(self.sqr(h)) ^ a
        return h

    def solve_quadratic(self, beta: int) -> int | None:
        """A root z of z^2 + z = beta, or None when there is none."""
        z = self.half_trace(beta)
        if self.sqr(z) ^ z != beta:
            return None
        return z

    def to_bytes(self, a: int) -> bytes:
        return a.to_bytes(self.byte_length, "big")

    def from_bytes(self, data: bytes) -> int:
        """Field element from its octet string; rejects values of degree >= m."""
        value = int.from_bytes(data, "big")
        if len(data) != self.byte_length or value >> self.m:
            raise ValueError("not an element of this field")
        return value


GF2_163 = BinaryField(163, (7, 6, 3, 0))
"""Field of sect163k1: f(x) = x^163 + x^7 + x^6 + x^3 + 1 (SEC 2)."""

GF2_283 = BinaryField(283, (12, 7, 5, 0))
"""Field of sect283k1: f(x) = x^283 + x^12 + x^7 + x^5 + 1 (SEC 2)."""
