"""Verified comparison of small secret integers, built only from ``fast_mpc`` primitives.

Why: MPyC's ``mpc.np_sgn`` is secure against a *passive* party only. Under active
security (one malicious party of three, security with abort, ``product_check``) a
malicious party can shift its internal products, its degree-2t openings and the bounded
PRSS randoms it uses as masks, and nothing would notice. Here every product goes through
``fast_mpc.multiply_limbs`` (recorded for ``product_check.verify``), every opening through
``fast_mpc.open_limbs`` (checked: the three shares must lie on one degree-1 polynomial), and
the only randomness is uniform PRSS field elements (``fast_mpc.prss_random_limbs``), which
no party can bias: with t = 1 the two honest parties' shares define the value, and they
compute them from keys the malicious party cannot change after the fact.

Two protocols:

* :func:`random_bits_limbs` — shared uniformly random bits by squaring (Damgård, Fitzi,
  Kiltz, Nielsen, Toft, "Unconditionally secure constant-rounds multi-party computation
  for equality, comparison, bits and exponentiation", TCC 2006: the random-bit
  protocol): [r] uniform, open u = r², b = (r/√u + 1)/2. The bits are *verified* before
  they are returned (``product_check.verify``), see there for why.
* :func:`less_than_zero_limbs` — [d < 0] for small signed d by a masked opening and a
  bitwise comparison with a public value: the modular reduction Mod2m of Catrina and de
  Hoogh, "Improved primitives for secure multiparty integer computation", SCN 2010
  (Protocol 3.2), whose truncation by 2^m of 2^m + d is the sign bit (their LTZ). The
  bitwise comparison [c' < r'] (public c', shared bits of r') is a log-depth tree of
  (less-than, equal) pairs: for a high part H and a low part L, lt = lt_H + eq_H·lt_L and
  eq = eq_H·eq_L (Garay, Schoenmakers, Villegas, "Practical and secure solutions for
  integer comparison", PKC 2007).

Why masks are sums of verified bits and never bounded PRSS randoms: a bounded PRSS random
(uniform in [0, 2^k), MPyC's ``_np_randoms`` with a bound, as ``np_sgn`` uses) is a sum of
PRF values weighted by the parties' subset polynomials; a malicious party that uses a wrong
value shifts the shared mask by an arbitrary field element. The masked value then wraps
modulo p, the opened c no longer determines the low bits of d + mask, and the comparison
comes out wrong with no product error anywhere for the check to catch. A mask Σ 2^i b_i of
bits whose products passed ``product_check`` is a uniform integer in [0, 2^(l+k)) — always.

Everything is batched over the N elements: the rounds do not depend on N.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mpc_programs.runtime import fast_mpc, hardened_runtime, product_check
from mpc_programs.shares import f192
from mpc_programs.shares.field import PRIME

assert PRIME % 4 == 3, "square roots by one exponentiation need p ≡ 3 (mod 4)"

#: u^E = 1/√u for a non-zero square u (one of the two roots): with v = u^((p+1)/4) a root,
#: 1/v = u^(−(p+1)/4) = u^((p−1) − (p+1)/4) = u^((3p−5)/4) since u^(p−1) = 1.
_INVERSE_ROOT_EXPONENT = (3 * PRIME - 5) // 4
#: E in binary is 1 0, then 182 ones, then the 8 bits of 77: an addition chain through
#: x^(2^k − 1) (see ``_power_chain``) takes 196 squarings and 18 products, where a 4-bit
#: window takes 192 and 62.
assert _INVERSE_ROOT_EXPONENT == (((1 << 183) + (1 << 182) - 1) << 8) + 77
_HALF = fast_mpc.constant_limbs(pow(2, -1, PRIME))
_ONE = fast_mpc.constant_limbs(1)


#: Elements exponentiated side by side: every step is a chain of dependent products (one
#: element is bound by the product's latency), so independent elements interleave.
_LANES = 4
_COPY, _SQUARE, _MULTIPLY = 0, 1, 2
_X, _A, _S, _T, _E = range(5)  # registers: the base, a_k, scratch, x^T, x^77


def _chain_program() -> np.ndarray:
    """The addition chain for E as register operations (kind, destination, source or
    count), interpreted by ``_power_chain``.

    With a_k = x^(2^k − 1): a_2k = a_k^(2^k)·a_k and a_(k+1) = a_k²·x give a_182 along the
    binary digits of 182 (1 → 2 → 5 → 11 → 22 → 45 → 91 → 182); then x^T for T = 2^183 +
    2^182 − 1 is a_183·x·a_182, and x^E = (x^T)^(2^8)·x^77."""
    ops = [(_COPY, _A, _X)]
    k = 1
    for bit in format(182, "b")[1:]:
        ops += [(_COPY, _S, _A), (_SQUARE, _S, k), (_MULTIPLY, _A, _S)]
        k *= 2
        if bit == "1":
            ops += [(_SQUARE, _A, 1), (_MULTIPLY, _A, _X)]
            k += 1
    assert k == 182
    ops += [(_COPY, _T, _A), (_SQUARE, _T, 1), (_MULTIPLY, _T, _X),  # a_183
            (_MULTIPLY, _T, _A), (_MULTIPLY, _T, _X)]  # x^T
    ops += [(_COPY, _E, _X)]
    for bit in format(77, "b")[1:]:
        ops += [(_SQUARE, _E, 1)] + ([(_MULTIPLY, _E, _X)] if bit == "1" else [])
    ops += [(_SQUARE, _T, 8), (_MULTIPLY, _T, _E)]
    return np.array(ops, dtype=np.int64)


_CHAIN = _chain_program()


@njit(cache=True)
def _power_chain(x, program, out):
    """out[i] = x[i]^E mod p (E = ``_INVERSE_ROOT_EXPONENT``): ``program`` (see
    :func:`_chain_program`) run on ``_LANES`` elements at a time. One product call site,
    so numba compiles it in about a second."""
    regs = np.empty((5, _LANES, 3), dtype=np.uint64)
    for start in range(0, x.shape[0], _LANES):
        lanes = min(_LANES, x.shape[0] - start)
        for e in range(lanes):
            for j in range(3):
                regs[_X, e, j] = x[start + e, j]
        for op in range(program.shape[0]):
            kind, dst, arg = program[op, 0], program[op, 1], program[op, 2]
            if kind == _COPY:
                for e in range(lanes):
                    for j in range(3):
                        regs[dst, e, j] = regs[arg, e, j]
                continue
            src = dst if kind == _SQUARE else arg
            for _ in range(arg if kind == _SQUARE else 1):
                for e in range(lanes):
                    regs[dst, e, 0], regs[dst, e, 1], regs[dst, e, 2] = f192._mul(
                        regs[dst, e, 0], regs[dst, e, 1], regs[dst, e, 2],
                        regs[src, e, 0], regs[src, e, 1], regs[src, e, 2])
        for e in range(lanes):
            for j in range(3):
                out[start + e, j] = regs[_T, e, j]
    return out


def inverse_square_roots(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For public (N, 3) limbs u: (w, square) with w = u^((3p−5)/4) — the inverse of a
    square root of u when u is a non-zero square — and ``square`` the booleans
    [w²·u = 1], i.e. [u is a non-zero quadratic residue] (w²·u = u^((p−1)/2), Euler's
    criterion: 1 for a square, p − 1 for a non-square, 0 for u = 0)."""
    u = np.ascontiguousarray(u)
    w = _power_chain(u, _CHAIN, np.empty_like(u))
    euler = f192.modmul(f192.modmul(w, w, np.empty_like(w)), u, np.empty_like(u))
    square = (euler[:, 0] == 1) & (euler[:, 1] == 0) & (euler[:, 2] == 0)
    return w, square


def warm_up() -> None:
    """Load (or, the first time on a machine, compile: a few seconds) this module's kernel
    now, outside a protocol round — as ``f192.warm_up`` does for the field kernels."""
    inverse_square_roots(np.ones((_LANES + 1, 3), dtype=np.uint64))


async def random_bits_limbs(count: int) -> np.ndarray:
    """Shares of ``count`` uniformly random bits, (count, 3) limbs, verified.

    Protocol (Damgård, Fitzi, Kiltz, Nielsen, Toft, TCC 2006): [r] uniform (PRSS, no
    interaction); [u] = [r]·[r] (``fast_mpc.multiply_limbs``: recorded for the product
    check); u opened (checked). For u ≠ 0 a square, v = u^((p+1)/4) is one of its roots ±r
    (p ≡ 3 mod 4), the same at every party, and r/v = ±1 with each sign equally likely
    given u (r and −r give the same u), so b = (r·v⁻¹ + 1)/2 is a uniform bit, computed
    locally from public v⁻¹ (one exponentiation, :func:`inverse_square_roots`). u reveals
    r² only, which is independent of the bit. u = 0 (r = 0, probability 1/p per element)
    is redrawn; u not a square cannot happen unless a party deviated, and aborts the run.

    Why the bits are verified (``product_check.verify``) before they are returned, and not
    only later with the caller's products: a party that adds an error δ to the resharing
    of r² makes u = r² + δ; then r/√u is not ±1, and the "bit" is one of two values the
    adversary knows (it knows r² = u − δ, i.e. r up to its sign). A mask Σ 2^i b_i with
    such a b_j takes one of two values 2^j·(1 ± x)/2 apart by a huge field element: the
    opened c = a + mask shows which, and the rest of the mask then misses bit j — with
    j = 0 the masked opening would reveal the parity of a before any check could abort.
    Verifying first makes every returned bit a bit (else the run aborts: no selective
    failure, the abort depends only on δ). The check also covers every product the caller
    recorded before this call (they are checked earlier than it planned, which is
    harmless); it is skipped, as all checks are, under ``semi-honest``. Cost: two rounds
    (r², the opening of u) plus the five of the check, whatever ``count`` is.
    """
    if count <= 0:
        return np.empty((0, 3), dtype=np.uint64)
    r = fast_mpc.prss_random_limbs(count)
    u = await fast_mpc.open_limbs(await fast_mpc.multiply_limbs(r, r))
    todo = np.flatnonzero(~u.any(axis=1))
    if todo.size:
        r = r.copy()  # the recorded product keeps the r it was made of
    while todo.size:  # r = 0: probability 1/p each; every party sees the same u
        fresh = fast_mpc.prss_random_limbs(todo.size)
        r[todo] = fresh
        u[todo] = await fast_mpc.open_limbs(await fast_mpc.multiply_limbs(fresh, fresh))
        todo = todo[~u[todo].any(axis=1)]
    w, square = inverse_square_roots(u)
    if not square.all():
        hardened_runtime.abort_run("random bits: r² is not a square (a party deviated)")
    signs = f192.modmul(r, w, np.empty_like(r))  # shares of ±1
    bits = fast_mpc.mul_const(fast_mpc.add_const(signs, _ONE, signs), _HALF, signs)
    await product_check.verify("random bits")
    return bits


def public_bits(values: np.ndarray, width: int) -> np.ndarray:
    """The low ``width`` bits of public limbs (N, 3) as an (N, width) uint8 array (LSB
    first)."""
    out = np.empty((values.shape[0], width), dtype=np.uint8)
    for j in range(width):
        out[:, j] = (values[:, j // 64] >> np.uint64(j % 64)) & np.uint64(1)
    return out


def _select(public: np.ndarray, shared: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leaves of the comparison tree for public bits c_j and shared bits b_j (…, 3):
    lt_j = [c_j < b_j] = (1 − c_j)·b_j and eq_j = [c_j = b_j] = c_j ? b_j : 1 − b_j.
    Both linear (c public): no products."""
    zero = np.zeros_like(shared)
    one_minus = f192.modsub(np.broadcast_to(_ONE, shared.shape).copy(), shared,
                            np.empty_like(shared))
    mask = public.reshape(-1).astype(bool)[:, None]
    lt = np.where(mask, zero, shared)
    eq = np.where(mask, shared, one_minus)
    return lt, eq


async def bitwise_less_than(public: np.ndarray, shared: np.ndarray) -> np.ndarray:
    """[c < b] per row for public bits c (N, m) and shared bits b (N, m, 3), LSB first;
    returns (N, 3) limbs. ⌈log2 m⌉ rounds of ``fast_mpc.multiply_limbs`` (one call each, all
    rows and groups batched): ≈ 2m products per row."""
    n, m = public.shape
    lt, eq = _select(public.reshape(-1), shared.reshape(-1, 3))
    lt, eq = lt.reshape(n, m, 3), eq.reshape(n, m, 3)
    while lt.shape[1] > 1:
        width = lt.shape[1]
        pairs = width // 2
        lo, hi = slice(0, 2 * pairs, 2), slice(1, 2 * pairs, 2)
        # eq of the group holding bit 0 is never needed (it is only ever a low part)
        eq_hi = eq[:, hi]
        left = np.concatenate([eq_hi.reshape(-1, 3), eq_hi[:, 1:].reshape(-1, 3)])
        right = np.concatenate([lt[:, lo].reshape(-1, 3), eq[:, lo][:, 1:].reshape(-1, 3)])
        products = await fast_mpc.multiply_limbs(left, right)
        carried = products[:n * pairs].reshape(n, pairs, 3)
        new_lt = f192.modadd(lt[:, hi].reshape(-1, 3), carried.reshape(-1, 3),
                             np.empty((n * pairs, 3), np.uint64)).reshape(n, pairs, 3)
        new_eq = np.empty((n, pairs, 3), np.uint64)
        new_eq[:, 0] = 0  # unused (the group of bit 0)
        new_eq[:, 1:] = products[n * pairs:].reshape(n, pairs - 1, 3)
        if width % 2:  # the top group passes through to the next level
            new_lt = np.concatenate([new_lt, lt[:, -1:]], axis=1)
            new_eq = np.concatenate([new_eq, eq[:, -1:]], axis=1)
        lt, eq = new_lt, new_eq
    return np.ascontiguousarray(lt[:, 0])


async def less_than_zero_limbs(d: np.ndarray, bits: int) -> np.ndarray:
    """Shares of [d < 0] (limbs, not opened) for degree-1 shared d, (N, 3) limbs of
    integers in (−2^bits, 2^bits) (negative d as p − |d|). One call for all N elements.

    Protocol (Catrina–de Hoogh 2010, Mod2m / LTZ with m = ``bits``): a = 2^m + d lies in
    [0, 2^(m+1)) and [d ≥ 0] is its bit m. With k = ``STATISTICAL_SECURITY_BITS`` and
    m + 1 + k verified random bits b_i (:func:`random_bits_limbs`), R = Σ 2^i b_i is uniform
    in [0, 2^(m+1+k)); c = a + R (< 2^(m+2+k) ≪ p: no wrap) is opened, checked. Then with
    c' = c mod 2^m and r' = R mod 2^m, a mod 2^m = c' − r' + 2^m·[c' < r'], hence

        [d ≥ 0] = ⌊a / 2^m⌋ = ⌊c / 2^m⌋ − ⌊R / 2^m⌋ − [c' < r'],

    with ⌊R / 2^m⌋ = Σ_{i ≥ m} 2^(i−m) b_i shared and [c' < r'] from the bitwise comparison
    (:func:`bitwise_less_than`, ⌈log2 m⌉ rounds). Returned: 1 − [d ≥ 0].

    Why c may be opened before any product check of d: whatever additive error e the
    adversary put into d (through a product the caller has not verified yet), the opened
    value is c = a + e + R with e known to it, so it learns a + R — statistically within
    2^−k of uniform, given a, exactly as for e = 0. A wrong d only makes the result wrong,
    and the caller's ``product_check.verify`` (which it must run before opening anything
    that depends on the result) aborts. What must be right before c is opened is R: hence
    the bits are verified inside :func:`random_bits_limbs`. The products of the bitwise
    comparison are recorded and left for the caller's check.

    Rounds: 2 + 5 (random bits and their check) + 1 (c) + ⌈log2 m⌉ (comparison).
    Products per element: m + 1 + k (squares) + ≈ 2m (comparison).
    Measured (bits = 16, 3 local parties on the 2-core machine while other benchmarks ran,
    load 9–13; the call plus the caller's ``product_check.verify``, median of 3): wall
    N = 60 0.14–0.29 s, N = 1000 1.8–2.9 s; one party's CPU time N = 60 0.02 s, N = 1000
    0.27 s. The 57 000 random bits are most of it: per bit, MPyC's PRSS draw
    (``prss_random_limbs``, Python) ≈ 3 µs and the exponentiation
    (:func:`inverse_square_roots`) ≈ 2 µs of CPU time.
    """
    d = np.ascontiguousarray(np.asarray(d, dtype=np.uint64).reshape(-1, 3))
    n = d.shape[0]
    k = hardened_runtime.STATISTICAL_SECURITY_BITS
    m = int(bits)
    if m < 1:
        raise ValueError("bits must be at least 1")
    width = m + 1 + k
    if width + 1 >= PRIME.bit_length() - 1:
        raise ValueError(f"bits = {m} too large: 2^(bits + 2 + {k}) must stay below p")
    if n == 0:
        return np.empty((0, 3), dtype=np.uint64)
    b = (await random_bits_limbs(n * width)).reshape(n, width, 3)
    powers = f192.from_ints([1 << i for i in range(width)])
    mask = f192.rows_dot(b, powers)
    a = fast_mpc.add_const(d, fast_mpc.constant_limbs(1 << m), np.empty_like(d))
    c = await fast_mpc.open_limbs(f192.modadd(a, mask, np.empty_like(a)))
    c_bits = public_bits(c, m)
    borrow = await bitwise_less_than(c_bits, np.ascontiguousarray(b[:, :m]))
    # [d < 0] = 1 − ⌊c/2^m⌋ + ⌊R/2^m⌋ + [c' < r']
    high_r = f192.rows_dot(np.ascontiguousarray(b[:, m:]), powers[:width - m])
    high_c = f192.from_ints([(v >> m) for v in f192.to_ints(c)])
    out = f192.modadd(high_r, borrow, np.empty_like(high_r))
    out = f192.modsub(out, high_c, out)
    return fast_mpc.add_const(out, _ONE, out)
