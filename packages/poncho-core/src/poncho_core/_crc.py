"""CRC-32 of two pieces of data joined, from their CRCs and the second's length (zlib's
``crc32_combine``, which Python's zlib module does not expose): an indexed gzip tarball
(`poncho_core.tarindex_write`) is one gzip stream whose trailer holds the CRC of everything,
built from members compressed apart or copied from another tarball.

The arithmetic is zlib's (crc32.c, 1.2.12 and later): multiplying polynomials modulo the
CRC-32 polynomial, with x^(2^k) precomputed; a combine costs some 30 multiplications.
"""

from __future__ import annotations

__all__ = ["crc32_combine"]

_POLY = 0xEDB88320  # reflected CRC-32 polynomial


def _multmodp(a: int, b: int) -> int:
    """a(x) * b(x) modulo p(x), in the reflected bit order zlib uses."""
    m = 1 << 31
    p = 0
    while True:
        if a & m:
            p ^= b
            if not a & (m - 1):
                return p
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _powers() -> tuple[int, ...]:
    p = 1 << 30  # x^1
    table = []
    for _ in range(32):
        table.append(p)
        p = _multmodp(p, p)
    return tuple(table)


_X2N = _powers()  # x^(2^k) modulo p(x)


def _x2nmodp(n: int, k: int) -> int:
    """x^(n * 2^k) modulo p(x)."""
    p = 1 << 31  # x^0
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return p


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of A + B, given ``crc32(A)``, ``crc32(B)`` and ``len(B)``."""
    return _multmodp(_x2nmodp(length2, 3), crc1 & 0xFFFFFFFF) ^ (crc2 & 0xFFFFFFFF)
