"""Lean degree reduction and zero tests on raw share arrays, local work in f192 limbs.

MPyC's secure multiplication of arrays wraps every step in field-array objects and
Shamir-splits with a generic routine; for the statistics' N-element products that
overhead was about half the cost. Here the same protocols work directly on share arrays:
the resharing's local work (scaling, random polynomials, Shamir points, the wire bytes
and the sums) runs on (N, 3) uint64 limbs through the numba kernels of
``mpc_programs.shares.f192``. Callers that hold object ndarrays of Python ints keep the
object API (:func:`reshare`, :func:`start_reshare`, :func:`multiply`, :func:`share_sum`:
converted at entry and exit); callers that can stay in limbs use the ``*_limbs`` variants.

* :func:`reshare` — the resharing of [GRR98], as ``mpc._reshare``: each party i
  Shamir-shares λ_i·z_i (z_i its local degree-2t value, λ the recombination vector
  at 0) with a fresh random polynomial of degree t and sends point j to party j;
  party j's new degree-t share is the sum of the points it holds. Every message is
  one point of a polynomial with uniformly random non-constant coefficients, so it
  is uniform and independent of the secret (t = 1: one point reveals nothing). Points
  travel as fixed-width field elements, 24 bytes little-endian each (the bytes of
  :func:`peer_codec.encode_uints` with width 24, written straight from the limbs); a
  message of the wrong length or holding a value ≥ p aborts the run naming the peer
  (``hardened_runtime.fail``, the path of ``decode_field_vector``).
* Randomness of the coefficients: every dealing draws a fresh 256-bit key from
  ``os.urandom`` and expands it with ChaCha20 (``cryptography``, OpenSSL) into 24 bytes
  per coefficient; a 192-bit string ≥ p (probability 237/2^192 each) is rejected and
  redrawn from ``os.urandom``, so given a uniform keystream every coefficient is exactly
  uniform mod p. The keystream of ChaCha20 under a uniformly random secret key that is
  used once (the key is never reused, so the fixed all-zero nonce is safe) is
  computationally indistinguishable from uniform bytes — the standard PRF assumption on
  ChaCha20, and the same construction the OS CSPRNG behind ``os.urandom`` and
  ``secrets`` uses (Linux's getrandom expands its entropy-pool key with ChaCha20). A
  key covers 2^32 blocks (256 GiB) before the counter wraps, far above any dealing
  (24 bytes per element). The key lives only inside the call. So the messages are
  uniform and independent of the secrets exactly as with ``os.urandom``, under the
  assumption every TLS link of the run already makes; ≈ 7 ns per coefficient instead
  of ≈ 60 ns from ``os.urandom`` directly.
* :func:`open_zero_flags` — the public test [a = 0] for degree-t shared a: a random
  ρ from PRSS (no communication), the local degree-2t product ρ·a plus a PRSS sharing
  of zero of degree 2t (so the opened polynomial is uniformly random given its
  constant term), opened in one round. The opened value ρ·a is 0 if a = 0 and a
  uniformly random non-zero element otherwise (up to Pr[ρ = 0] = 1/p): it reveals
  exactly the bit [a = 0] and nothing else.
* :func:`prss_low_high` and :func:`prss_zero_2t` — PRSS randomness for the
  truncations of ``secure_stats.truncate`` (the same distributions as MPyC's
  ``_np_randoms`` and its degree-2t zero sharings, with fewer PRF evaluations).

Local cost per element and party of a resharing (N = 10^5, 2-core machine under load):
≈ 0.14 µs in limbs (scaling, one random coefficient, three points, two messages out and
two checked in) against ≈ 2.3 µs with Python ints; the object API adds its conversions
(≈ 0.08 µs in for reduced ints, ≈ 0.1 µs out: ≈ 0.38 µs in all). :func:`open_limbs` is
``hardened_runtime``'s checked output in limbs (the same messages: every share to every
party, the n points checked to lie on one degree-t polynomial).
Messages are labelled with MPyC's program counter, advanced once per resharing in
program order at every party, so they interleave safely with MPyC's own protocols.
"""

from __future__ import annotations

import hashlib
import os
from asyncio import Future

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from mpyc import thresha
from numba import njit

from mpc_programs.runtime import peer_codec, product_check
from mpc_programs.shares import f192
from mpc_programs.shares.field import PRIME
from mpc_programs.shares.sharing import lagrange_at, lagrange_at_zero
from mpc_programs.runtime.hardened_runtime import fail, mpc, opening_check_failed

_BYTES = (PRIME.bit_length() + 7) // 8
assert _BYTES == 24
_NONCE = bytes(16)
_M64 = (1 << 64) - 1


# -- limb helpers ---------------------------------------------------------------------------

def random_limbs(count: int) -> np.ndarray:
    """``count`` uniformly random field elements as (count, 3) limbs (see module doc)."""
    stream = Cipher(algorithms.ChaCha20(os.urandom(32), _NONCE), mode=None).encryptor()
    x = np.frombuffer(stream.update(bytes(_BYTES * count)), dtype='<u8').reshape(count, 3)
    if f192._ge_p_any(x) >= 0:  # probability 237/2^192 per element
        x = x.copy()
        while (i := f192._ge_p_any(x)) >= 0:
            x[i] = np.frombuffer(os.urandom(_BYTES), dtype='<u8')
    return x


#: Integers ↔ limbs (the conversions live with the kernels, ``f192``).
to_limbs = f192.to_limbs
from_limbs = f192.from_limbs


def constant_limbs(value: int) -> np.ndarray:
    """A field element (any int, reduced mod p) as (3,) limbs."""
    value %= PRIME
    return np.array([(value >> (64 * k)) & _M64 for k in range(3)], dtype=np.uint64)


@njit(cache=True)
def mul_const(a, c, out):
    """out = a·c mod p for (N, 3) a and one (3,) field element c."""
    for i in range(a.shape[0]):
        out[i, 0], out[i, 1], out[i, 2] = f192._mul(a[i, 0], a[i, 1], a[i, 2], c[0], c[1], c[2])
    return out


@njit(cache=True)
def add_const(a, c, out):
    """out = a + c mod p for (N, 3) a and one (3,) field element c."""
    for i in range(a.shape[0]):
        out[i, 0], out[i, 1], out[i, 2] = f192._add(a[i, 0], a[i, 1], a[i, 2], c[0], c[1], c[2])
    return out


def _decode_limbs(data, count: int) -> np.ndarray:
    """``count`` field elements a peer sent raw (24 bytes little-endian each) as limbs;
    a wrong length or a value ≥ p aborts the run naming the peer, as
    ``hardened_runtime.decode_field_vector`` does."""
    if len(data) != count * _BYTES:
        fail(data, peer_codec.PeerMessageError(
            f"expected {count} values of {_BYTES} bytes ({count * _BYTES} bytes), "
            f"got {len(data)} bytes"))
        raise peer_codec.PeerMessageError("wrong length")  # not reached
    try:
        return f192.from_bytes_le(data, check=True)
    except ValueError:
        fail(data, peer_codec.PeerMessageError("a value is outside the field"))
        raise  # not reached


def _lagrange_at_zero(m: int) -> list[int]:
    """Recombination vector at 0 for the points 1..m, as (small, signed) integers.

    λ_i = Π_{j≠i} j/(j − i) = (−1)^(i−1)·C(m, i): exact integers, so a degree-2t value
    is scaled by a small number (3, −3, 1 for m = 3), not by a 192-bit residue.
    """
    return lagrange_at(range(1, m + 1), 0, PRIME, signed=True)


def _next_label() -> int:
    """A fresh message label: MPyC's program counter, advanced once per protocol step at
    every party, in program order."""
    mpc._program_counter[0] += 1
    return mpc._program_counter[0]


# -- resharing in limbs -----------------------------------------------------------------------

def _deal(values: np.ndarray, pc: int) -> np.ndarray:
    """Shamir-share the (N, 3) limbs ``values`` with fresh random degree-t polynomials:
    send every other party its point now, return this party's own point (limbs)."""
    pid = mpc.pid
    m, n = len(mpc.parties), values.shape[0]
    coefficients = random_limbs(mpc.threshold * n).reshape(mpc.threshold, n, 3)
    points = f192.shamir_points(np.ascontiguousarray(values), coefficients,
                                np.arange(1, m + 1, dtype=np.int64),
                                np.empty((m, n, 3), dtype=np.uint64))
    for j in range(m):
        if j != pid:
            mpc.parties[j].protocol.send(pc, f192.to_bytes_le(points[j]))
    return points[pid]


def _sum_points(pc: int, senders, own: np.ndarray):
    """Register now for the points the other ``senders`` send under ``pc``; the returned
    coroutine adds them to ``own`` ((N, 3) limbs, reduced) and returns the sum (limbs)."""
    pending = [mpc.parties[j].protocol.receive(pc) for j in senders if j != mpc.pid]

    async def finish() -> np.ndarray:
        total = own
        for item in pending:
            data = await item if isinstance(item, Future) else item
            total = f192.modadd(total, _decode_limbs(data, own.shape[0]),
                                np.empty_like(own))
        return total
    return finish()


def _start_flat(values: np.ndarray):
    """Send this party's points of the resharing of the (N, 3) limbs ``values``; return a
    coroutine that receives the others' points and returns the new shares (limbs).

    Everything local (the products' scaling, the random polynomials, the sends) happens
    now, so the caller can do local work while the messages travel.
    """
    pc = _next_label()
    m = len(mpc.parties)
    scaled = f192.scale(values, _lagrange_at_zero(m)[mpc.pid], np.empty_like(values))
    return _sum_points(pc, range(m), _deal(scaled, pc))


def _flat_limbs(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype != np.uint64 or x.shape[-1:] != (3,):
        raise TypeError("expected field elements as (..., 3) uint64 limbs")
    return np.ascontiguousarray(x.reshape(-1, 3))


async def share_sum_limbs(values: np.ndarray, senders: tuple[int, ...]) -> np.ndarray:
    """:func:`share_sum` on (…, 3) limbs (reduced); returns limbs of the same shape."""
    shape = values.shape
    flat = _flat_limbs(values)
    pc = _next_label()
    own = _deal(flat, pc) if mpc.pid in senders else np.zeros_like(flat)
    return (await _sum_points(pc, senders, own)).reshape(shape)


async def share_sum(values: np.ndarray, senders: tuple[int, ...]) -> np.ndarray:
    """Degree-t shares of Σ_{i ∈ senders} values_i: each sender Shamir-shares its own local
    array (any shape) with fresh random polynomials; the others send nothing. One round.

    The building block of a shuffle step (``secure_sort``): two parties holding additive
    pieces of the rows hand the whole set a fresh sharing of their sum. Every message is
    one point of a degree-t polynomial with uniformly random non-constant coefficients.
    """
    values = np.asarray(values, dtype=object)
    out = await share_sum_limbs(to_limbs(values).reshape(*values.shape, 3), senders)
    return from_limbs(out, values.shape)


def start_reshare_limbs(values: np.ndarray):
    """Start :func:`reshare_limbs` now (all local work and the sends happen at the call)
    and return an awaitable for the new shares, (…, 3) limbs of the same shape."""
    shape = np.shape(values)
    flat = _flat_limbs(values)
    m, t = len(mpc.parties), mpc.threshold
    if flat.shape[0] == 0 or m != 2 * t + 1:
        async def general() -> np.ndarray:
            out = await reshare(from_limbs(flat))
            return to_limbs(out).reshape(shape)
        return general()
    pending = _start_flat(flat)

    async def finish() -> np.ndarray:
        return (await pending).reshape(shape)
    return finish()


async def reshare_limbs(values: np.ndarray) -> np.ndarray:
    """Degree-t shares of local degree-2t values given as (…, 3) limbs (one round)."""
    return await start_reshare_limbs(values)


async def multiply_limbs(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Elementwise secure product of two degree-t shared (…, 3) limb arrays.

    Under active security the product is recorded for ``product_check.verify``."""
    shape = np.shape(left)
    left, right = _flat_limbs(left), _flat_limbs(right)
    product = f192.modmul(left, right, np.empty_like(left))
    out = await start_reshare_limbs(product)
    product_check.record_products(left, right, out)
    return out.reshape(shape)


def prss_random_limbs(count: int) -> np.ndarray:
    """This party's shares of ``count`` uniformly random secret field elements, as
    (count, 3) limbs: MPyC's PRSS (no interaction; no t parties know the values), computed
    as MPyC's ``_np_randoms`` does — same keys, same unique common input, same values — by
    :func:`pseudorandom_share_limbs`."""
    if mpc.options.no_prss:
        raise RuntimeError("random shared values need MPyC's PRSS; drop --no-prss")
    field = mpc.SecInt(32, p=PRIME).field
    return pseudorandom_share_limbs(field, len(mpc.parties), mpc.pid, mpc.prfs(field.order),
                                    mpc._prss_uci(), count)


def pseudorandom_share_limbs(field, m: int, i: int, prfs, uci: bytes, n: int) -> np.ndarray:
    """MPyC's ``thresha.np_pseudorandom_share`` for the statistics field, in (n, 3) limbs:
    Σ_S PRF_S(uci)·f_S(i) over the subsets S whose keys party i holds.

    Why not MPyC's: its PRF turns each output into a Python int (``int.from_bytes`` of
    ``byte_length`` bytes, then ``% p``) and the sum runs over object arrays: 1.2 µs per
    element, then the conversion to limbs — a large part of a verified random bit's cost
    (``secure_compare``); this path takes 0.26 µs (measured 2026-12-05). Here the SHAKE-128
    stream is the same (``thresha.PRF``: key ‖ uci, n·byte_length bytes), each chunk is read
    as little-endian words and reduced mod p in one compiled pass (``f192.reduce_wide``),
    and the weights f_S(i) multiply limbs. The values are MPyC's exactly (a test compares
    them), so honest parties agree whichever path computed them."""
    total = np.zeros((n, 3), dtype=np.uint64)
    for subset, prf in prfs.items():
        length = prf.byte_length
        if prf.max != field.order or not 24 <= length <= 48:
            raise ValueError("PRSS parameters this path does not cover")
        stream = hashlib.shake_128(prf.key + uci).digest(n * length)
        words = np.zeros((n, 48), dtype=np.uint8)
        words[:, :length] = np.frombuffer(stream, dtype=np.uint8).reshape(n, length)
        values = f192.reduce_wide(words.view('<u8').astype(np.uint64),
                                  np.empty((n, 3), dtype=np.uint64))
        weight = np.broadcast_to(constant_limbs(int(thresha._f_S_i(field, m, i, subset))),
                                 values.shape)
        f192.modadd(total, f192.modmul(values, np.ascontiguousarray(weight), values), total)
    return total


def _combine_limbs(shares: list[np.ndarray], weights: list[int]) -> np.ndarray:
    """Σ weight·share mod p over (N, 3) limbs; small signed weights scale, others multiply."""
    total = np.zeros_like(shares[0])
    for share, weight in zip(shares, weights):
        if -(1 << 32) < weight < (1 << 32):
            term = f192.scale(share, weight, np.empty_like(share))
        else:
            term = mul_const(share, constant_limbs(weight), np.empty_like(share))
        total = f192.modadd(total, term, total)
    return total


async def open_limbs(values: np.ndarray) -> np.ndarray:
    """Open degree-t shared (…, 3) limbs to every party, checked (as ``mpc.output`` is in
    ``hardened_runtime``): each party sends its share to every other party, every received
    vector must have the right length and values < p (else the run aborts naming the
    sender), and the n points must lie on one polynomial of degree t, elementwise (t = 1,
    n = 3: s1 − 2·s2 + s3 ≡ 0 mod p) — else the run aborts at every honest party with
    ``hardened_runtime.opening_check_failed`` naming the label (which party deviated cannot
    be told with n = 3, t = 1). Then it recombines its own share with the t shares of its
    predecessors, as MPyC does. One round, one label."""
    shape = np.shape(values)
    flat = _flat_limbs(values)
    m, t, pid = len(mpc.parties), mpc.threshold, mpc.pid
    pc = _next_label()
    others = [(pid + j) % m for j in range(1, m)]
    if others:
        payload = f192.to_bytes_le(flat)
        for j in others:
            mpc.parties[j].protocol.send(pc, payload)
    pending = [mpc.parties[j].protocol.receive(pc) for j in others]
    points = {pid + 1: flat}
    for j, item in zip(others, pending):
        data = await item if isinstance(item, Future) else item
        points[j + 1] = _decode_limbs(data, flat.shape[0])
    xs = [(pid - t + j) % m + 1 for j in range(t)] + [pid + 1]
    rest = [k for k in sorted(points) if k not in xs]
    for k in rest:  # Lagrange from the t + 1 recombined points, evaluated at x = k
        if not np.array_equal(_combine_limbs([points[x] for x in xs],
                                             lagrange_at(xs, k, PRIME, signed=True)), points[k]):
            opening_check_failed(pc, m, t)
    total = _combine_limbs([points[x] for x in xs], lagrange_at_zero(xs, PRIME))
    return total.reshape(shape)


# -- the object API (Python ints) -------------------------------------------------------------

def start_reshare(values: np.ndarray):
    """Start :func:`reshare` now and return an awaitable for the result, so local work
    (or other rounds) can overlap the messages."""
    values = np.asarray(values, dtype=object)
    m, t = len(mpc.parties), mpc.threshold
    if values.size == 0 or m != 2 * t + 1:
        return reshare(values)
    shape = values.shape
    pending = _start_flat(to_limbs(values))

    async def finish() -> np.ndarray:
        return from_limbs(await pending, shape)
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
    left, right = np.asarray(left, dtype=object), np.asarray(right, dtype=object)
    m, t = len(mpc.parties), mpc.threshold
    if left.shape != right.shape or left.size == 0 or m != 2 * t + 1:
        return await reshare(left * right)
    x, y = to_limbs(left), to_limbs(right)
    product = f192.modmul(x, y, np.empty((left.size, 3), np.uint64))
    out = await _start_flat(product)
    product_check.record_products(x, y, out)
    return from_limbs(out, left.shape)


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

