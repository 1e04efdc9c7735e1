"""Lean degree reduction and zero tests on raw share arrays (Python ints mod p).

MPyC's secure multiplication of arrays wraps every step in field-array objects and
Shamir-splits with a generic routine; for the statistics' N-element products that
overhead was about half the cost. Here the same protocols work directly on object
ndarrays of reduced field elements:

* :func:`reshare` — the resharing of [GRR98], as ``mpc._reshare``: each party i
  Shamir-shares λ_i·z_i (z_i its local degree-2t value, λ the recombination vector
  at 0) with a fresh random polynomial of degree t and sends point j to party j;
  party j's new degree-t share is the sum of the points it holds. Every message is
  one point of a polynomial with uniformly random non-constant coefficients, so it
  is uniform and independent of the secret (t = 1: one point reveals nothing). Points
  travel as fixed-width field elements (:func:`peer_codec.encode_uints`); a message of the
  wrong length or holding a value ≥ p aborts the run, naming the peer. The
  coefficients are 192-bit strings from ``os.urandom``; for p = 2^192 − 237 their
  residues are within 2^-184 of uniform.
* :func:`open_zero_flags` — the public test [a = 0] for degree-t shared a: a random
  ρ from PRSS (no communication), the local degree-2t product ρ·a plus a PRSS sharing
  of zero of degree 2t (so the opened polynomial is uniformly random given its
  constant term), opened in one round. The opened value ρ·a is 0 if a = 0 and a
  uniformly random non-zero element otherwise (up to Pr[ρ = 0] = 1/p): it reveals
  exactly the bit [a = 0] and nothing else.
* :func:`prss_low_high` and :func:`prss_zero_2t` — PRSS randomness for the
  truncations of ``secure_stats.truncate`` (the same distributions as MPyC's
  ``_np_randoms`` and its degree-2t zero sharings, with fewer PRF evaluations).

Local cost per element and party of a resharing: ≈ 1 µs (one product scaling, one
192-bit random, two points, their fixed-width encoding) against ≈ 4 µs through MPyC's secure arrays.
Messages are labelled with MPyC's program counter, advanced once per resharing in
program order at every party, so they interleave safely with MPyC's own protocols.
"""

from __future__ import annotations

import os
from asyncio import Future

import numpy as np
from mpyc import thresha

from mpc_programs.runtime import peer_codec
from mpc_programs.shares.field import PRIME
from mpc_programs.runtime.hardened_runtime import decode_field_vector, mpc

_BYTES = (PRIME.bit_length() + 7) // 8


def _randoms(count: int) -> np.ndarray:
    """``count`` uniformly random ``_BYTES``-byte integers (as an object ndarray)."""
    buf = os.urandom(_BYTES * count)
    fb = int.from_bytes
    out = np.empty(count, dtype=object)
    out[:] = [fb(buf[i:i + _BYTES], 'little') for i in range(0, _BYTES * count, _BYTES)]
    return out


def _lagrange_at_zero(m: int) -> list[int]:
    """Recombination vector at 0 for the points 1..m, as (small, signed) integers.

    λ_i = Π_{j≠i} j/(j − i) = (−1)^(i−1)·C(m, i): exact integers, so a degree-2t value
    is scaled by a small number (3, −3, 1 for m = 3), not by a 192-bit residue.
    """
    out = []
    for i in range(1, m + 1):
        num, den = 1, 1
        for j in range(1, m + 1):
            if j != i:
                num *= j
                den *= j - i
        assert num % den == 0
        out.append(num // den)
    return out


def _next_label() -> int:
    """A fresh message label: MPyC's program counter, advanced once per protocol step at
    every party, in program order."""
    mpc._program_counter[0] += 1
    return mpc._program_counter[0]


def _deal(values: np.ndarray, pc: int) -> np.ndarray:
    """Shamir-share the flat ``values`` with fresh random degree-t polynomials: send every
    other party its point now, return this party's own point (not yet reduced)."""
    pid = mpc.pid
    coefficients = [_randoms(values.size) for _ in range(mpc.threshold)]
    own = values
    for j in range(len(mpc.parties)):
        x = j + 1
        y = coefficients[-1]
        for c in coefficients[-2::-1]:
            y = y * x + c
        y = y * x + values
        if j == pid:
            own = y
        else:
            mpc.parties[j].protocol.send(pc, peer_codec.encode_uints((y % PRIME).tolist(), _BYTES))
    return own


def _sum_points(pc: int, senders, own: np.ndarray):
    """Register now for the points the other ``senders`` send under ``pc``; the returned
    coroutine adds them to ``own`` (reduced mod p)."""
    pending = [mpc.parties[j].protocol.receive(pc) for j in senders if j != mpc.pid]

    async def finish() -> np.ndarray:
        total = own
        for item in pending:
            data = await item if isinstance(item, Future) else item
            total = total + decode_field_vector(data, own.size, _BYTES, PRIME)
        return total % PRIME
    return finish()


def _start_flat(values: np.ndarray):
    """Send this party's points of the resharing of flat ``values``; return a coroutine
    that receives the others' points and returns the new shares.

    Everything local (the products' scaling, the random polynomials, the sends) happens
    now, so the caller can do local work while the messages travel.
    """
    pc = _next_label()
    m = len(mpc.parties)
    own = _deal(values * _lagrange_at_zero(m)[mpc.pid] % PRIME, pc)
    return _sum_points(pc, range(m), own)


async def share_sum(values: np.ndarray, senders: tuple[int, ...]) -> np.ndarray:
    """Degree-t shares of Σ_{i ∈ senders} values_i: each sender Shamir-shares its own local
    array (any shape) with fresh random polynomials; the others send nothing. One round.

    The building block of a shuffle step (``secure_sort``): two parties holding additive
    pieces of the rows hand the whole set a fresh sharing of their sum. Every message is
    one point of a degree-t polynomial with uniformly random non-constant coefficients.
    """
    values = np.asarray(values, dtype=object)
    pc = _next_label()
    flat = values.reshape(-1)
    own = _deal(flat, pc) if mpc.pid in senders else np.zeros(flat.size, dtype=object)
    return (await _sum_points(pc, senders, own)).reshape(values.shape)


def start_reshare(values: np.ndarray):
    """Start :func:`reshare` now and return an awaitable for the result, so local work
    (or other rounds) can overlap the messages."""
    values = np.asarray(values, dtype=object)
    m, t = len(mpc.parties), mpc.threshold
    if values.size == 0 or m != 2 * t + 1:
        return reshare(values)
    shape = values.shape
    pending = _start_flat(values.reshape(-1))

    async def finish() -> np.ndarray:
        return np.asarray(await pending, dtype=object).reshape(shape)
    return finish()


async def reshare(values: np.ndarray) -> np.ndarray:
    """Degree-t shares of local degree-2t values (any shape, Python ints; one round)."""
    values = np.asarray(values, dtype=object)
    if values.size == 0:
        return values
    m, t = len(mpc.parties), mpc.threshold
    if m != 2 * t + 1:
        field = mpc.SecInt(32, p=PRIME).field
        flat = field.array(values.reshape(-1) % PRIME, check=False)
        out = np.asarray((await mpc._reshare(flat)).value, dtype=object)
        return out.reshape(values.shape)
    return await start_reshare(values)


async def multiply(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Elementwise secure product of two degree-t shared arrays (local shares)."""
    return await reshare(np.asarray(left, dtype=object) * np.asarray(right, dtype=object))


def open_zero_flags(values: np.ndarray, field):
    """Public [a = 0] per element of the degree-t shared a (local shares); see module doc.

    Returns a future (all local work is done at the call, in program order) for the
    opened values ρ·a; :func:`zero_flags` turns them into booleans.
    """
    values = np.asarray(values, dtype=object)
    flat = values.reshape(-1) % PRIME
    n = flat.size
    if mpc.options.no_prss:
        raise RuntimeError("the zero test needs MPyC's PRSS; drop --no-prss")
    m, t = len(mpc.parties), mpc.threshold
    rho = np.asarray(mpc._np_randoms(field, n).value, dtype=object)
    prfs = mpc.prfs(field.order)
    zero = np.asarray(thresha.np_pseudorandom_share_0(field, m, mpc.pid, prfs,
                                                      mpc._prss_uci(), n).value, dtype=object)
    masked = (rho * flat + zero) % PRIME
    return mpc.output(field.array(masked, check=False), threshold=2 * t)


def zero_flags(opened, shape) -> np.ndarray:
    """Booleans [ρ·a = 0] from what :func:`open_zero_flags` opened."""
    opened = np.asarray(opened.value if hasattr(opened, 'value') else opened, dtype=object)
    return np.array([int(v) == 0 for v in opened.reshape(-1)], dtype=bool).reshape(shape)


def prss_low_high(field, n: int, f: int, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """PRSS shares of r_low = Σ_S lo_S and r_high = Σ_S hi_S (no communication).

    For every subset S of parties in MPyC's PRSS one PRF value v_S uniform on
    [0, 2^bits) is split into lo_S = v_S mod 2^f and hi_S = ⌊v_S / 2^f⌋ — independent
    and uniform on [0, 2^f) and [0, 2^(bits − f)): exactly what two separate PRSS draws
    with those bounds (``mpc._np_randoms``) give, from one PRF evaluation instead of two.
    Party i's shares are Σ_S lo_S·f_S(i) and Σ_S hi_S·f_S(i), as in
    ``thresha.np_pseudorandom_share``.
    """
    m = len(mpc.parties)
    prfs = mpc.prfs(1 << bits)
    uci = mpc._prss_uci()
    low_mask = (1 << f) - 1
    low = np.zeros(n, dtype=object)
    high = np.zeros(n, dtype=object)
    for subset, prf in prfs.items():
        coefficient = thresha._f_S_i(field, m, mpc.pid, subset)
        coefficient = int(getattr(coefficient, 'value', coefficient))
        if coefficient > PRIME // 2:
            coefficient -= PRIME
        v = prf(uci, (n,))
        low = low + (v & low_mask) * coefficient
        high = high + (v >> f) * coefficient
    return low % PRIME, high % PRIME


def prss_zero_2t(field, n: int) -> np.ndarray:
    """This party's PRSS shares of n zeros of degree 2t (no communication)."""
    m = len(mpc.parties)
    prfs = mpc.prfs(field.order)
    zero = thresha.np_pseudorandom_share_0(field, m, mpc.pid, prfs, mpc._prss_uci(), n)
    return np.asarray(zero.value, dtype=object)

