"""GF(2^8) with the AES polynomial, on numpy ``uint8`` arrays, plus Shamir sharing over it.

The field is GF(2)[x]/(x^8 + x^4 + x^3 + x + 1) (0x11B), the field of the AES S-box and the
field MPyC's ``mpc.SecFld(2**8)`` uses (its default modulus for order 256 is this polynomial;
``tests/test_aes_gcm_mpc.py`` checks it). Elements are bytes: bit k is the coefficient of x^k.

Why not MPyC's own field arrays: they hold Python objects, so one secure GF(2^8) product costs
~37 us per element here; a 256x256 product table makes it a numpy gather (~10 ns). The MPC
protocol on these arrays lives in :mod:`mpc_programs.verification.gf256_mpc`.

Shamir sharing follows MPyC: party ``i`` (0-based) holds the evaluation at the field element
``i + 1`` of a random polynomial of degree ``t`` whose constant term is the secret.
"""

from __future__ import annotations

import os
from functools import cache

import numpy as np

MODULUS = 0x11B


def _mul_scalar(a: int, b: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if a & 0x100:
            a ^= MODULUS
    return r


MUL = np.array([[_mul_scalar(a, b) for b in range(256)] for a in range(256)], dtype=np.uint8)
"""MUL[a, b] = a*b in GF(2^8)."""

INV = np.array([0] + [next(b for b in range(1, 256) if MUL[a, b] == 1) for a in range(1, 256)],
               dtype=np.uint8)
"""INV[a] = a^-1 (and INV[0] = 0, i.e. a^254)."""

FROB = np.empty((8, 256), dtype=np.uint8)
"""FROB[u, a] = a^(2^u): the Frobenius automorphism applied u times (GF(2)-linear)."""
FROB[0] = np.arange(256, dtype=np.uint8)
for _u in range(1, 8):
    FROB[_u] = MUL[FROB[_u - 1], FROB[_u - 1]]


def mul(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """Elementwise product (broadcasting)."""
    return MUL[np.asarray(a, dtype=np.uint8), np.asarray(b, dtype=np.uint8)]


def frob(a: np.ndarray, u: int) -> np.ndarray:
    """a^(2^u), elementwise."""
    return FROB[u % 8][a]


def pow_(a: int, e: int) -> int:
    """a^e for scalars (square and multiply)."""
    r = 1
    while e:
        if e & 1:
            r = int(MUL[r, a])
        a = int(MUL[a, a])
        e >>= 1
    return r


def _affine(y: int) -> int:
    """The AES S-box's GF(2)-affine map without its constant (FIPS-197 5.1.1)."""
    r = 0
    for i in range(8):
        bit = 0
        for j in (0, 4, 5, 6, 7):
            bit ^= (y >> ((i + j) % 8)) & 1
        r |= bit << i
    return r


SBOX = np.array([_affine(int(INV[x])) ^ 0x63 for x in range(256)], dtype=np.uint8)


def _solve(matrix: list[list[int]], rhs: list[int]) -> list[int]:
    """Solve a square linear system over GF(2^8) by Gauss-Jordan elimination."""
    n = len(rhs)
    m = [row[:] + [rhs[i]] for i, row in enumerate(matrix)]
    for c in range(n):
        p = next(r for r in range(c, n) if m[r][c])
        m[c], m[p] = m[p], m[c]
        inv = int(INV[m[c][c]])
        m[c] = [int(MUL[inv, v]) for v in m[c]]
        for r in range(n):
            if r != c and m[r][c]:
                f = m[r][c]
                m[r] = [v ^ int(MUL[f, w]) for v, w in zip(m[r], m[c], strict=True)]
    return [m[i][n] for i in range(n)]


def _linearized(fn) -> list[int]:
    """Coefficients l_k with fn(y) = sum_k l_k y^(2^k) for a GF(2)-linear fn.

    Every GF(2)-linear map on GF(2^8) is such a linearized polynomial; the coefficients solve
    the (invertible) Moore system on the basis 1, x, ..., x^7.
    """
    basis = [1 << j for j in range(8)]
    matrix = [[int(FROB[k, e]) for k in range(8)] for e in basis]
    return _solve(matrix, [fn(e) for e in basis])


SBOX_LINEAR = _linearized(_affine)
"""S(x) = 0x63 + sum_k SBOX_LINEAR[k] * (x^254)^(2^k)."""


@cache
def lagrange_at_zero(points: tuple[int, ...]) -> tuple[int, ...]:
    """Lagrange coefficients for interpolating f(0) from f at the given field points."""
    out = []
    for i, xi in enumerate(points):
        num, den = 1, 1
        for j, xj in enumerate(points):
            if j != i:
                num = int(MUL[num, xj])
                den = int(MUL[den, xj ^ xi])
        out.append(int(MUL[num, INV[den]]))
    return tuple(out)


def random_bytes(shape: tuple[int, ...] | int) -> np.ndarray:
    """Uniform bytes from the OS CSPRNG (share randomness must be unpredictable)."""
    shape = (shape,) if isinstance(shape, int) else shape
    n = int(np.prod(shape))
    return np.frombuffer(os.urandom(n), dtype=np.uint8).reshape(shape).copy()


def shamir_share(secret: np.ndarray, m: int = 3, t: int = 1,
                 rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Shamir shares of every byte of ``secret``: one array per party (points 1..m).

    ``rng`` is for reproducible demos and tests only; by default the OS CSPRNG is used.
    """
    secret = np.asarray(secret, dtype=np.uint8)
    if rng is None:
        coeffs = [random_bytes(secret.shape) for _ in range(t)]
    else:
        coeffs = [rng.integers(0, 256, secret.shape, dtype=np.uint8) for _ in range(t)]
    shares = []
    for i in range(m):
        x = i + 1
        s = secret.copy()
        xp = 1
        for c in coeffs:
            xp = int(MUL[xp, x])
            s ^= MUL[xp][c]
        shares.append(s)
    return shares


def shamir_recombine(points: list[int], shares: list[np.ndarray]) -> np.ndarray:
    """Interpolate the secrets at 0 from shares held at the given field points."""
    lam = lagrange_at_zero(tuple(points))
    out = np.zeros_like(np.asarray(shares[0], dtype=np.uint8))
    for c, s in zip(lam, shares, strict=True):
        out ^= MUL[c][np.asarray(s, dtype=np.uint8)]
    return out
