"""Verified GF(2^8) products: the building block for AES-GCM under active security (issue 15).

The engine of :mod:`mpc_programs.verification.gf256_mpc` multiplies by [GRR98] resharing,
which a malicious party can shift (a wrong point in its resharing message): with one
dishonest party of three the honest parties then hold a *valid* degree-1 sharing of a wrong
product — the consistent shift, which no checked opening can see. This module checks
recorded GF(2^8) products in a way that catches such errors before anything depending on
them is opened. The AES programs use it under active security: ``Gf256Engine.sbox``,
``nonzero`` and ``prod`` record their products and Frobenius relations (``record_linear``),
``dabits`` its bits, and ``aes_gcm_mpc`` verifies once per batch before it opens anything
that depends on them (``Gf256Engine.open_verified``).

Protocol
--------
The verification of Chida, Genkin, Hamada, Ikarashi, Kikuchi, Lindell and Nof, "Fast
Large-Scale Honest-Majority MPC for Malicious Adversaries" (CRYPTO 2018; eprint 2018/570), run
*deferred* exactly as :mod:`mpc_programs.runtime.product_check` runs it over the prime field:
the shadow [r·x], the products' shadows [r·x·y], the random linear combinations
[u] = Σ α_k [r·z_k], [w] = Σ α_k [z_k], the opening of r and the zero test of u − r·w (their
large-field protocol, Protocol 4.1 in the CRYPTO version, with its zero test CheckZero,
Protocol 3.7). Over a small field they run the check δ times in parallel with independent r
(Protocol 5.3, "Computing Arithmetic Circuits Over Any Finite F"): with |F| = 2^8 each run
is only about 2/256 sound, so δ would have to be about 6 for 2^-40 — six shadows per
product and six checks. We instead
take r, the coefficients and the zero test in an extension field K, as in Kikuchi,
Attrapadung, Hamada, Ikarashi, Ishida, Matsuda, Sakai and Schuldt, "Field Extension in
Secret-Shared Form and Its Applications to Efficient Secure Computation" (ACISP 2019;
eprint 2019/386), Protocol 4.15: [[r̂·x·y]] is the product of the K-shared [[r̂·x]] with the
*induced* share of y (y embedded in K, here coefficient-wise: 6 GF(2^8) products), and
the randomness and the test run in K. (Section and protocol numbers as the IPA project's
implementation of both papers cites them, for the Springer version of Chida et al.; the
paper text itself was not at hand when this was written.) We take K = GF(2^8)[Y]/(m(Y)) with

    m(Y) = Y^6 + Y^3 + 0x20,

irreducible over GF(2^8) (Rabin's test: Y^(q^6) ≡ Y mod m and gcd(m, Y^(q^k) − Y) = 1 for
k = 2, 3, q = 256; :func:`is_irreducible`, tested), so |K| = 2^48. Its elements are
``(..., 6)`` uint8 arrays of coefficients of 1, Y, ..., Y^5; GF(2^8) embeds as the constant
polynomials; a product is 36 GF(2^8) table products and a reduction (Y^6 = Y^3 + 0x20: one
table product and two XORs per high coefficient). A *shared* K element is its 6
coefficients, each Shamir-shared over GF(2^8) at the engine's points (party i at the field
element i+1). K is a 6-dimensional GF(2^8)-vector space, so

* a public K constant times a shared K value is local (the product is GF(2^8)-linear in the
  shared coefficients);
* a K-shared value times a GF(2^8)-shared value is 6 engine products (coefficient-wise);
* a K·K product of shared values is 36 local products, reduced locally (reduction is
  GF(2^8)-linear, so it commutes with Lagrange interpolation) and reshared as 6 bytes.

The check of n recorded triples (x_k, y_k, z_k), z_k claimed = x_k·y_k, with J distinct left
operand bytes x_j (:meth:`TripleRecorder.verify`):

1. one dealt random [r], [s] ∈ K and a 16-byte coin [c] (one round);
2. shadows [r·x_j] = [r]·[x_j] (6 products per x, one round), then [r·z_k]' = [r·x_k]·[y_k]
   (6 products per triple, one round);
3. [c] and [r] opened with the *checked* opening (one round); α_k, β_j ∈ K from c
   (ChaCha20 keyed by SHA-256 of c, 6 uniform bytes per coefficient);
4. locally [u] = Σ α_k [r·z_k]' + Σ β_j [r·x_j], [w] = Σ α_k [z_k] + Σ β_j [x_j] (plus
   Σ γ_l [v_l] for values recorded as zero, below), [T] = [u] − r·[w];
5. [s·T] (one K product: 6 bytes reshared) opened with the checked opening; the run aborts
   (``hardened_runtime.abort_run`` naming the step) unless it is 0.

Six rounds per check; each party sends each peer 6·(J + n) + 6 resharing bytes, 22 + 6
opened bytes and (if it deals) 28 dealt bytes. The measured cost is at the end.

Values that must be zero (``record_zero``) join the same check with their own coefficients
γ_l: that is how linear relations (the Frobenius outputs of ``mul_frob``, below) are checked.

Why dealt randomness is fine
----------------------------
``engine.random`` sums the sharings of t+1 = 2 dealers. At least one dealer is honest; its
contribution is uniform, and the adversary sees one share of it (a degree-1 sharing: one
share says nothing about the secret). A malicious dealer chooses its own contribution
knowing only that share, so the sum is uniform and hidden whatever it does. It may also deal
an *inconsistent* sharing (points not on one line). With t = 1 the two honest parties' shares
always lie on exactly one line, and everything below is about the value that line defines
("the honest-defined value"): the dishonest party's own share enters only (a) its
contributions to resharings — additive errors of the kind the check catches (its
contribution to a degree-2 sharing is arbitrary anyway), or (b) its share in an opening,
which the checked opening compares with the honest line (abort on mismatch). Dealt r, s and c
are therefore uniform, hidden from the adversary until opened, and the adversary's errors
(additive: Genkin, Ishai, Prabhakaran, Sahai, Tromer, STOC 2014, and Chida et al.'s "secure
up to additive attacks") are all fixed before c and r are opened. A shifted dealing message
(consistent or not) changes r, s or c but not their distribution; the tests check that a
consistent one lets an honest computation pass with the right outputs and an inconsistent one
aborts at the checked opening of r.

Soundness (per check)
---------------------
Write the honest-defined results as z_k = x_k·y_k + δ_k (δ_k ∈ GF(2^8)), the shadows of x as
r·x_j + e_j and those of z as (r·x_k)·y_k + e_k·y_k + e'_k (e, e' ∈ K, all fixed before c and r
are opened, and zero-records v_l). Then

    T = Σ_k α_k (e_k·y_k + e'_k − r·δ_k) + Σ_j β_j e_j + Σ_l γ_l v_l.

* Some δ_k ≠ 0: Σ α_k δ_k = 0 with probability 1/|K| over uniform α (δ_k ∈ GF(2^8) ⊂ K, α_k
  uniform in K); otherwise T = 0 only if r equals the one value fixed by (α, β, errors),
  while r is uniform and hidden when the errors were fixed: 1/|K|.
* All δ = 0 but some e_j, e'_k or v_l ≠ 0: T is a non-zero linear form in (α, β, γ) with
  coefficients fixed before the coin: T = 0 with probability 1/|K|.
* T ≠ 0: the opened value is s·T + E for an additive error E the adversary adds to the
  resharing of s·T (E may depend on everything it has seen, including c and r, but s is
  uniform and hidden from it); s·T = E (characteristic 2) for exactly one s: 1/|K|.

So Pr[a wrong product passes] ≤ 3/|K| + ε_ChaCha20 = 3·2^-48 + ε ≈ 2^-46.4 per check (the
coefficient derivation adds ε_ChaCha20, the advantage of telling ChaCha20's keystream keyed
by a uniform 128-bit coin from uniform bytes; α, β, γ are then exactly uniform in K — 6
uniform bytes each, no rejection). This meets issue 15's ≤ 2^-40 with margin; a 6-degree
extension is the smallest with 3/|K| ≤ 2^-40 (degree 5 would give 3·2^-40).

No selective failure: the abort decision reveals only whether an error was made. When some
δ_k ≠ 0 the check fails with probability ≥ 1 − 2/|K| whatever the secrets are (above). When some
shadow of a left operand is wrong (e_j ≠ 0), β_j's coefficient in T is e_j, independent of the
secrets, so T ≠ 0 with probability ≥ 1 − 1/|K| whatever x, y are. Without the β terms the
adversary could pick e'_k = −e_k·g: then the error term e_k·(y_k − g) vanishes iff y_k = g, and
whether the run aborts would reveal whether a secret byte equals g (with only 256 values, a
real leak). T is also masked by s, so the opened value is 0 or uniform: an abort carries no
function of the secrets.

Verifying ``mul_frob`` (linearized polynomials of a product)
------------------------------------------------------------
``Gf256Engine.mul_frob`` outputs o = L(ab) = Σ_u c_u (ab)^(2^u) for GF(2)-linear maps L
(the S-box's linear layer, a^4 from a·a, a^112 = (a^3·a^4)^16, ...), computed from each
party's local product in one resharing. A shift of that resharing is an additive error on o,
but o is not a product of two sharings, so the triple check alone cannot see it. Two ways:

(a) *Record the plain product and relate the outputs to it* (implemented here: the tests do
    it end to end). Ask ``mul_frob`` for the plain product p = ab as one more output of the
    same round and record the triple (a, b, p). Each Frobenius output is o = L(p), a
    GF(2)-linear (not GF(2^8)-linear) function of p, so it cannot be folded into a K-linear
    combination of shares directly; instead compute [L(p)] by a masked opening
    (:func:`linear_map`, below) and record o − [L(p)] as a value that must be zero
    (:meth:`TripleRecorder.record_zero`). Any additive error on o, on p or on the masked
    opening's output makes T a non-zero form as above; an error on p is caught by the triple
    itself. Cost for the S-box (``Gf256Engine.sbox``): its plain products a2 = a·a,
    a3 = a·a2 and a15 = a3·a12 are already outputs; a4 = a2^2 and a12 = a3^4 are Frobenius
    images of them; a112 = (a3·a4)^16 and the linear layer L(a15·a112) need the plain
    products a7 = a3·a4 and a127 = a15·a112 as two more outputs of their rounds. So per
    S-box byte: 5 triples (a,a,a2), (a,a2,a3), (a3,a12,a15), (a3,a4,a7), (a15,a112,a127) and
    4 zero-records (a4, a12, a112, S(a) − 0x63 against masked L of a2, a3, a7, a127), with
    8 PRSS bits and one checked opened byte each; the masked openings need not wait for the
    AES rounds (p is known when its round ends), so they can be batched into one round at
    check time — no extra online AES round.
(b) *Compute L by the masked opening instead of in the resharing*: [p] by ``mul`` (recorded),
    then [L(p)] = L(p + R) − [L(R)], one more round per linear layer on the AES path but
    nothing else to check. (a) keeps the AES rounds as they are. ``nonzero`` (a^255 from
    a^15 and a^240 = (a^3·a^12)^16) has the same structure.

A Frobenius output could also be related to p by moving it back to the standard points
(party i's share o_i^(2^(8−u)) is a degree-1 sharing at the points (i+1)^(2^(8−u))), but that
needs another resharing per output and is worse than (a).

The masked opening (:func:`linear_map`): R = Σ_j b_j·X^j for 8 random shared *bits* b_j
(X the generator of GF(2^8), 0x02), so [R] = Σ_j X^j [b_j] and [L(R)] = Σ_j L(X^j) [b_j] are
local; P + R is opened with the checked opening (uniform, since R is) and
[L(P)] = L(P + R) − [L(R)] locally (L is additive). Correctness needs the b_j to be *bits*:
if they were arbitrary bytes [L(R)] would not be L(R). :func:`prss_bits` gives them by PRSS
from MPyC's pairwise keys without interaction: party i's share is Σ_{S ∋ i} b_S·f_S(i+1),
b_S ∈ {0,1} from the key of the 2-set S, f_S the degree-1 polynomial with f_S(0) = 1 and zero
at the party outside S. In characteristic 2 the secret Σ_S b_S = b_{01} ⊕ b_{02} ⊕ b_{12} is a
bit, and what one party does cannot change that: the two honest parties compute their shares
from their keys correctly, so the honest-defined value is the XOR of three PRF bits (one of
them, b_S for S the honest pair, unknown to the adversary, so the bit is also uniform to it);
the dishonest party's own share only enters the opening of P + R (checked) and its resharing
contributions (additive errors, caught by the check). Dealt bits (``engine.random(bits=True)``)
would *not* do as they are: a malicious dealer could deal a non-bit. Dealt bits verified by
the check would (record the triple (b, b, q), q = b·b, and the zero-record q − b: b^2 = b
holds in GF(2^8) only for b ∈ {0, 1}).

Cost (measured: three local party processes over TLS on one 2-core host shared with other
work, ``tests/gf256_check_party.py --bench N``, each figure the median of 3 checks, then the
median of 3 runs): for n = 10,000 recorded products (distinct left operands) ``verify`` takes
20–40 ms wall time (up to ~100 ms when the host was loaded; the products' own resharing
1–3 ms), for n = 100,000 0.35–0.5 s. Six rounds are a fixed ~5–10 ms on loopback; the rest is
local table work (two (n, 6)×(n, 6) K products for Σ α·[r·z] and Σ β·[r·x], ~5 ms each at
10,000) and the two 6n-byte resharings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from numba import njit

from mpc_programs.shares.f192 import CACHE as _CACHE
from mpc_programs.verification import gf256

DEGREE = 6
"""[K : GF(2^8)]."""

MODULUS_POLY = (0x20, 0, 0, 1, 0, 0, 1)
"""m(Y) = Y^6 + Y^3 + 0x20, coefficients of Y^0..Y^6 (monic), irreducible over GF(2^8)."""

ORDER = 1 << (8 * DEGREE)
"""|K| = 2^48."""

COIN_BYTES = 16
"""Bytes of the public coin that seeds the check's coefficients (128 bits)."""

_LOW = [(i, c) for i, c in enumerate(MODULUS_POLY[:DEGREE]) if c]  # Y^6 = Σ c_i Y^i


# -- the extension field K, vectorised ---------------------------------------------------
def _reduce(c: np.ndarray) -> np.ndarray:
    """(..., 2·DEGREE−1) coefficients → (..., DEGREE) modulo m(Y), in place on c."""
    for d in range(c.shape[-1] - 1, DEGREE - 1, -1):
        top = c[..., d]
        for i, ci in _LOW:
            if ci == 1:
                c[..., d - DEGREE + i] ^= top
            else:
                c[..., d - DEGREE + i] ^= gf256.MUL[ci][top]
    return c[..., :DEGREE]


def k_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise product in K of ``(..., 6)`` uint8 arrays (broadcasting)."""
    a = np.asarray(a, dtype=np.uint8)
    b = np.asarray(b, dtype=np.uint8)
    prod = gf256.MUL[a[..., :, None], b[..., None, :]]  # (..., 6, 6): a_i b_j
    c = np.zeros(prod.shape[:-2] + (2 * DEGREE - 1,), dtype=np.uint8)
    for i in range(DEGREE):
        c[..., i:i + DEGREE] ^= prod[..., i, :]
    return np.ascontiguousarray(_reduce(c))


def k_square(a: np.ndarray) -> np.ndarray:
    return k_mul(a, a)


def k_pow(a: np.ndarray, e: int) -> np.ndarray:
    """a^e elementwise (square and multiply)."""
    a = np.asarray(a, dtype=np.uint8)
    result = np.broadcast_to(k_one(), a.shape).copy()
    base = a.copy()
    while e:
        if e & 1:
            result = k_mul(result, base)
        base = k_square(base)
        e >>= 1
    return result


def k_inv(a: np.ndarray) -> np.ndarray:
    """a^-1 = a^(|K|−2) elementwise (0 maps to 0)."""
    return k_pow(a, ORDER - 2)


def k_one(shape: tuple[int, ...] = ()) -> np.ndarray:
    out = np.zeros(shape + (DEGREE,), dtype=np.uint8)
    out[..., 0] = 1
    return out


def embed(x: np.ndarray | int) -> np.ndarray:
    """GF(2^8) → K: the constant polynomials, ``(...)`` → ``(..., 6)``."""
    x = np.asarray(x, dtype=np.uint8)
    out = np.zeros(x.shape + (DEGREE,), dtype=np.uint8)
    out[..., 0] = x
    return out


def k_scale(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """a·x for a ∈ K ``(..., 6)`` and x ∈ GF(2^8) ``(...)``: coefficient-wise."""
    return gf256.MUL[np.asarray(a, dtype=np.uint8), np.asarray(x, dtype=np.uint8)[..., None]]


def k_sum(a: np.ndarray) -> np.ndarray:
    """Σ over the first axis of ``(N, 6)`` (XOR)."""
    a = np.asarray(a, dtype=np.uint8).reshape(-1, DEGREE)
    return np.bitwise_xor.reduce(a, axis=0) if a.shape[0] else np.zeros(DEGREE, np.uint8)


@njit(cache=_CACHE)
def _dot_kernel(a: np.ndarray, b: np.ndarray, table: np.ndarray) -> np.ndarray:  # pragma: no cover
    c = np.zeros(2 * DEGREE - 1, np.uint8)
    for r in range(a.shape[0]):
        for i in range(DEGREE):
            ai = a[r, i]
            if ai:
                row = table[ai]
                for j in range(DEGREE):
                    c[i + j] ^= row[b[r, j]]
    return c


@njit(cache=_CACHE)
def _dot_scale_kernel(a: np.ndarray, x: np.ndarray, table: np.ndarray) -> np.ndarray:  # pragma: no cover
    c = np.zeros(DEGREE, np.uint8)
    for r in range(a.shape[0]):
        row = table[x[r]]
        for i in range(DEGREE):
            c[i] ^= row[a[r, i]]
    return c


def k_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ_k a_k·b_k in K for ``(N, 6)`` arrays: ``k_sum(k_mul(a, b))`` without the (N, 6, 6)
    temporaries (a numba loop; the reduction mod m(Y) once, on the sum: it is linear)."""
    a = np.ascontiguousarray(a, dtype=np.uint8).reshape(-1, DEGREE)
    b = np.ascontiguousarray(b, dtype=np.uint8).reshape(-1, DEGREE)
    if not a.shape[0]:
        return np.zeros(DEGREE, np.uint8)
    return np.ascontiguousarray(_reduce(_dot_kernel(a, b, gf256.MUL)[None])[0])


def k_dot_scale(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Σ_k a_k·x_k for a ``(N, 6)`` in K and x ``(N,)`` in GF(2^8): ``k_sum(k_scale(a, x))``."""
    a = np.ascontiguousarray(a, dtype=np.uint8).reshape(-1, DEGREE)
    x = np.ascontiguousarray(x, dtype=np.uint8).reshape(-1)
    if not a.shape[0]:
        return np.zeros(DEGREE, np.uint8)
    return _dot_scale_kernel(a, x, gf256.MUL)


# -- the reference (slow, scalar) arithmetic and the irreducibility test --------------------
def _pmul(a: Sequence[int], b: Sequence[int]) -> list[int]:
    out = [0] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] ^= gf256._mul_scalar(x, y)
    return out


def _pmod(a: Sequence[int], m: Sequence[int]) -> list[int]:
    """a mod m over GF(2^8), m monic; the result has len(m) − 1 coefficients."""
    a = list(a)
    n = len(m) - 1
    for d in range(len(a) - 1, n - 1, -1):
        c = a[d]
        if c:
            for i in range(n + 1):
                a[d - n + i] ^= gf256._mul_scalar(c, m[i])
    return (a + [0] * n)[:n]


def _trim(a: Sequence[int]) -> list[int]:
    a = list(a)
    while a and a[-1] == 0:
        a.pop()
    return a


def _pgcd(a: Sequence[int], b: Sequence[int]) -> list[int]:
    a, b = _trim(a), _trim(b)
    while b:
        inv = int(gf256.INV[b[-1]])
        bm = [gf256._mul_scalar(inv, c) for c in b]
        while len(a) >= len(bm):
            c, shift = a[-1], len(a) - len(bm)
            for i, v in enumerate(bm):
                a[shift + i] ^= gf256._mul_scalar(c, v)
            a = _trim(a)
        a, b = b, a
    return a


def _y_to_q_power(m: Sequence[int], k: int) -> list[int]:
    """Y^(256^k) mod m (the Frobenius of GF(2^8) applied k times: 8k squarings)."""
    y = [0, 1] + [0] * (len(m) - 3)
    for _ in range(8 * k):
        y = _pmod(_pmul(y, y), m)
    return y


def is_irreducible(m: Sequence[int]) -> bool:
    """Rabin's test for a monic m of degree n over GF(2^8): Y^(q^n) ≡ Y (mod m) and
    gcd(m, Y^(q^(n/p)) − Y) = 1 for every prime p dividing n."""
    n = len(m) - 1
    if m[-1] != 1 or n < 1:
        raise ValueError("m must be monic of degree >= 1")
    ident = [0, 1] + [0] * (n - 2) if n > 1 else [0]
    if n == 1:
        return True
    if _y_to_q_power(m, n) != ident:
        return False
    for p in (q for q in range(2, n + 1) if n % q == 0 and all(q % r for r in range(2, q))):
        f = _y_to_q_power(m, n // p)
        f[1] ^= 1
        if len(_trim(_pgcd(m, f))) != 1:
            return False
    return True


def reference_mul(a: Sequence[int], b: Sequence[int]) -> list[int]:
    """Slow scalar K product (schoolbook and long division): the tests' reference."""
    return _pmod(_pmul([int(v) for v in a], [int(v) for v in b]), MODULUS_POLY)


# -- shared K values over the engine -------------------------------------------------------
def _abort(message: str) -> None:
    from mpc_programs.runtime.hardened_runtime import abort_run
    abort_run(message)


async def open_checked(engine: Any, x: np.ndarray, step: str) -> np.ndarray:
    """Open with the engine's checked opening; abort naming ``step`` if the three shares do
    not lie on one degree-1 polynomial."""
    value, ok = await engine.open(np.ascontiguousarray(x, dtype=np.uint8), check=True)
    if not np.all(ok):
        _abort(f"opening check failed at {step}: a party's share of an opened value is "
               f"inconsistent with the others'")
    return value


async def mul_k_gf(engine: Any, rk: np.ndarray, x: np.ndarray) -> np.ndarray:
    """[rk·x] for K-shared ``rk`` (..., 6) and GF(2^8)-shared ``x`` (...): 6 engine products
    per element, one round (not verified: record them or shadow them)."""
    rk = np.asarray(rk, dtype=np.uint8)
    x = np.asarray(x, dtype=np.uint8)[..., None]
    shape = np.broadcast_shapes(rk.shape, x.shape)
    return await engine.mul(np.broadcast_to(rk, shape), np.broadcast_to(x, shape))


async def mul_kk(engine: Any, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[a·b] for K-shared a, b: 36 local products, local reduction, 6 bytes reshared per
    element ([GRR98] with this party's Lagrange coefficient; one round)."""
    local = k_mul(a, b)
    lam = gf256.lagrange_at_zero(tuple(engine.points))[engine.pid]
    return await engine._reshare(gf256.MUL[lam][local])


def coefficients(seed: bytes, count: int) -> np.ndarray:
    """``count`` uniform K elements ``(count, 6)`` from the public coin: ChaCha20 under
    SHA-256(seed). Every byte string is a K element, so no rejection is needed."""
    key = hashlib.sha256(b"mpcstats gf256 product check" + seed).digest()
    stream = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()
    raw = stream.update(bytes(DEGREE * count))
    return np.frombuffer(raw, dtype=np.uint8).reshape(count, DEGREE).copy()


# -- PRSS bits and the masked-opening linearized map --------------------------------------------
def prss_weights(m: int, pid: int, subsets: Sequence[Sequence[int]]) -> list[int]:
    """f_S(pid+1) for each 2-set S: f_S has degree m − |S|, is 1 at 0 and 0 at the points of
    the parties outside S (MPyC's PRSS, ``thresha._f_S_i``, over GF(2^8))."""
    out = []
    x = pid + 1
    for subset in subsets:
        w = 1
        for j in range(m):
            if j not in subset:  # factor (X − α_j)/(0 − α_j) = (X ⊕ α_j)·α_j^-1
                w = int(gf256.MUL[w, gf256.MUL[x ^ (j + 1), gf256.INV[j + 1]]])
        out.append(w)
    return out


def prss_bit_shares(keys: dict[tuple[int, ...], bytes], m: int, pid: int, uci: bytes,
                    shape: tuple[int, ...]) -> np.ndarray:
    """This party's GF(2^8) shares of pseudorandom bits from its PRSS keys (no interaction).

    The bit of the 2-set S is a PRF (SHAKE-128 keyed by S's key, input ``uci``) of the key
    shared by S's members; the secret is the XOR of the three sets' bits."""
    n = int(np.prod(shape))
    subsets = sorted(keys, key=sorted)
    weights = prss_weights(m, pid, subsets)
    out = np.zeros(n, dtype=np.uint8)
    for subset, w in zip(subsets, weights, strict=True):
        raw = hashlib.shake_128(b"mpcstats gf256 prss bits" + keys[subset] + uci
                                ).digest((n + 7) // 8)
        bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")[:n]
        out ^= gf256.MUL[w][bits]
    return out.reshape(shape)


def prss_bits(engine: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Shares of uniformly random bits that stay bits whatever one party does (PRSS)."""
    rt = engine.rt
    if getattr(rt.options, "no_prss", False):
        raise RuntimeError("PRSS bits need MPyC's PRSS keys; drop --no-prss")
    return prss_bit_shares(rt._prss_keys, engine.m, engine.pid, rt._prss_uci(), shape)


def linearized_table(coeffs: Sequence[int]) -> np.ndarray:
    """L(v) for every byte v, L(v) = Σ_u coeffs[u]·v^(2^u) (a GF(2)-linear map)."""
    v = np.arange(256, dtype=np.uint8)
    out = np.zeros(256, dtype=np.uint8)
    for u, c in enumerate(coeffs):
        if c:
            out ^= gf256.MUL[c][gf256.FROB[u % 8][v]]
    return out


async def linear_map(engine: Any, p: np.ndarray, coeffs: Sequence[int],
                     bits: np.ndarray | None = None, step: str = "linear map") -> np.ndarray:
    """[L(p)] for L(v) = Σ_u coeffs[u]·v^(2^u), by a masked opening (one round):
    L(p + R) − [L(R)] with R = Σ_j b_j·X^j for shared bits ``bits`` (shape p.shape + (8,);
    by default PRSS bits). p + R is opened with the checked opening."""
    p = np.asarray(p, dtype=np.uint8)
    if bits is None:
        bits = prss_bits(engine, p.shape + (8,))
    table = linearized_table(coeffs)
    basis = np.array([1 << j for j in range(8)], dtype=np.uint8)
    r = np.bitwise_xor.reduce(gf256.MUL[basis, bits], axis=-1)  # [R]
    lr = np.bitwise_xor.reduce(gf256.MUL[table[basis], bits], axis=-1)  # [L(R)]
    opened = await open_checked(engine, p ^ r, step)
    return table[opened] ^ lr


# -- the recorder and the check ---------------------------------------------------------------
class TripleRecorder:
    """GF(2^8) product triples (x, y, z), z = x·y elementwise, and values that must be zero,
    recorded by callers and checked together by :meth:`verify` (Chida et al.'s check, in K)."""

    def __init__(self) -> None:
        self._triples: list[tuple[Any, np.ndarray, np.ndarray, np.ndarray]] = []
        self._zeros: list[np.ndarray] = []
        self._linears: list[tuple[np.ndarray, np.ndarray, tuple[int, ...]]] = []

    def record(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> None:
        """Record z = x·y elementwise (degree-1 shares, uint8 arrays of one shape). Records
        that share the same left operand array ``x`` (the same object) share its shadow."""
        xa, ya, za = (np.asarray(v, dtype=np.uint8) for v in (x, y, z))
        if not xa.shape == ya.shape == za.shape:
            raise ValueError("x, y and z must have the same shape")
        if za.size:
            self._triples.append((x, xa.reshape(-1).copy(), ya.reshape(-1).copy(),
                                  za.reshape(-1).copy()))

    def record_zero(self, v: np.ndarray) -> None:
        """Record shares of values that must all be 0 (e.g. o − L(p) for a linear relation)."""
        va = np.asarray(v, dtype=np.uint8).reshape(-1)
        if va.size:
            self._zeros.append(va.copy())

    def record_linear(self, p: np.ndarray, o: np.ndarray, coeffs: Sequence[int]) -> None:
        """Record o = L(p) elementwise for L(v) = Σ_u coeffs[u]·v^(2^u) (e.g. a Frobenius
        output of ``mul_frob`` against its recorded plain product p). At :meth:`verify` all
        such relations get their [L(p)] by one batched masked opening (:func:`linear_map`'s
        protocol, PRSS bits, one round for all of them), and o − [L(p)] joins the check as a
        zero-record."""
        pa, oa = (np.asarray(v, dtype=np.uint8) for v in (p, o))
        if pa.shape != oa.shape:
            raise ValueError("p and o must have the same shape")
        if pa.size:
            self._linears.append((pa.reshape(-1).copy(), oa.reshape(-1).copy(),
                                  tuple(int(c) for c in coeffs)))

    def pending(self) -> int:
        """How many products, zero-values and linear relations wait for a check."""
        return (sum(t[3].size for t in self._triples) + sum(v.size for v in self._zeros)
                + sum(p.size for p, _, _ in self._linears))

    def clear(self) -> None:
        self._triples.clear()
        self._zeros.clear()
        self._linears.clear()

    async def _linear_zeros(self, engine: Any, step: str) -> None:
        """The recorded linear relations as zero-records: [L(p)] for all of them by one
        masked opening (checked) of p + R, R = Σ_j b_j X^j from PRSS bits."""
        linears = list(self._linears)
        self._linears.clear()
        if not linears:
            return
        p_all = np.concatenate([p for p, _, _ in linears])
        bits = prss_bits(engine, p_all.shape + (8,))
        basis = np.array([1 << j for j in range(8)], dtype=np.uint8)
        r = np.bitwise_xor.reduce(gf256.MUL[basis, bits], axis=-1)  # [R]
        opened = await open_checked(engine, p_all ^ r, step)
        tables: dict[tuple[int, ...], np.ndarray] = {}
        pos = 0
        for p, o, coeffs in linears:
            if coeffs not in tables:
                tables[coeffs] = linearized_table(coeffs)
            table = tables[coeffs]
            sl = slice(pos, pos + p.size)
            lr = np.bitwise_xor.reduce(gf256.MUL[table[basis], bits[sl]], axis=-1)  # [L(R)]
            self._zeros.append(o ^ table[opened[sl]] ^ lr)
            pos += p.size

    async def verify(self, engine: Any, step: str) -> None:
        """Check everything recorded since the last check; abort the run naming ``step`` if a
        product or zero-value is wrong. Every party calls it at the same program point."""
        await self._linear_zeros(engine, step)
        triples, zeros = list(self._triples), list(self._zeros)
        self.clear()
        if not triples and not zeros:
            return
        # distinct left operands (by object), the shadow of each computed once
        start: dict[int, int] = {}
        xs: list[np.ndarray] = []
        index: list[np.ndarray] = []
        offset = 0
        for key, xa, _, _ in triples:
            if id(key) not in start:
                start[id(key)] = offset
                xs.append(xa)
                offset += xa.size
            index.append(np.arange(start[id(key)], start[id(key)] + xa.size))
        x_all = np.concatenate(xs) if xs else np.zeros(0, np.uint8)
        idx = np.concatenate(index) if index else np.zeros(0, np.int64)
        y_all = np.concatenate([t[2] for t in triples]) if triples else np.zeros(0, np.uint8)
        z_all = np.concatenate([t[3] for t in triples]) if triples else np.zeros(0, np.uint8)
        v_all = np.concatenate(zeros) if zeros else np.zeros(0, np.uint8)
        n_z, n_x, n_v = z_all.size, x_all.size, v_all.size

        # 1. [r], [s] ∈ K and the coin, dealt by t+1 parties (one round)
        rand = await engine.random((2 * DEGREE + COIN_BYTES,))
        r, s, coin = rand[:DEGREE], rand[DEGREE:2 * DEGREE], rand[2 * DEGREE:]
        # 2. shadows [r·x_j], then [r·z_k]' = [r·x_k]·[y_k] (one round each)
        rx = await mul_k_gf(engine, r, x_all) if n_x else np.zeros((0, DEGREE), np.uint8)
        rz = await mul_k_gf(engine, rx[idx], y_all) if n_z else np.zeros((0, DEGREE), np.uint8)
        # 3. the coin and r, opened (checked) after every error is fixed
        opened = await open_checked(engine, np.concatenate([coin, r]), step)
        weights = coefficients(opened[:COIN_BYTES].tobytes(), n_z + n_x + n_v)
        alpha, beta, gamma = weights[:n_z], weights[n_z:n_z + n_x], weights[n_z + n_x:]
        r_open = opened[COIN_BYTES:]
        # 4. T = u − r·w (+ Σ γ v), locally
        u = k_dot(alpha, rz) ^ k_dot(beta, rx)
        w = k_dot_scale(alpha, z_all) ^ k_dot_scale(beta, x_all)
        t = u ^ k_mul(r_open, w) ^ k_dot_scale(gamma, v_all)
        # 5. s·T, opened (checked): zero unless something recorded was wrong
        st = await mul_kk(engine, s, t)
        result = await open_checked(engine, st, step)
        if np.any(result):
            _abort(f"product check failed at {step}: a party added an error to a GF(2^8) "
                   f"product ({n_z} products and {n_v} zero-values checked; with three "
                   f"parties the one who deviated cannot be named)")


_default = TripleRecorder()


def record(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> None:
    """Record z = x·y on the module's recorder (nothing in semi-honest mode)."""
    from mpc_programs.runtime import product_check
    if product_check.active():
        _default.record(x, y, z)


def record_zero(v: np.ndarray) -> None:
    """Record values that must be zero on the module's recorder (nothing in semi-honest mode)."""
    from mpc_programs.runtime import product_check
    if product_check.active():
        _default.record_zero(v)


def record_linear(p: np.ndarray, o: np.ndarray, coeffs: Sequence[int]) -> None:
    """Record o = L(p) on the module's recorder (nothing in semi-honest mode)."""
    from mpc_programs.runtime import product_check
    if product_check.active():
        _default.record_linear(p, o, coeffs)


def pending() -> int:
    return _default.pending()


async def verify(engine: Any, step: str) -> None:
    """Check everything recorded on the module's recorder (see :meth:`TripleRecorder.verify`)."""
    await _default.verify(engine, step)
