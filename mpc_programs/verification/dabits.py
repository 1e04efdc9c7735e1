"""Secret ASCII decimal digits in GF(2^8) -> one secret integer in a prime field, via daBits.

MPyC cannot convert between GF(2^8) and GF(p) (``mpc.convert`` raises), so this module uses
daBits [RW19]: random bits r shared twice, as GF(2^8) elements and as GF(p) elements, with the
same (unknown) value in both.

Inputs (per provider, padded to a common length L): shares of the digit bytes (secret, GF(2^8),
uint8 arrays from :class:`~mpc_programs.verification.gf256_mpc.Gf256Engine`) and public weights (10^k for the
digit's decimal place, 0 for padding). Outputs, none opened: the value sum_k weight_k * digit_k
as a secure array of ``sectype`` (e.g. ``mpc.SecInt(160)``, the statistics field), and GF(2^8)
shares of range-check bits that are all 0 iff every byte is in '0'..'9'.

Protocol:
1. daBits. Each of the t+1 dealers draws 8 random bits per byte, deals them in GF(2^8) with
   the engine and the low 4 in GF(p) with ``mpc.input``. Bits are XORed over dealers: free in
   GF(2^8) (addition), x + y - 2xy in GF(p) (one MPyC multiplication per dealer after the first).
   No t parties know the result.
2. Mask and open: c = x + r where r = sum_b 2^b r_b; one round. c is uniform, so it reveals nothing.
3. The bits of x are x_b = c_b XOR r_b: in GF(2^8) that is r_b + c_b, in GF(p) it is
   c_b + (1 - 2 c_b) r_b -- both local, because c is public.
4. Range: x in 0x30..0x39 iff x_7 = x_6 = 0, x_5 = x_4 = 1 and not (x_3 and (x_2 or x_1)), i.e.
   x_6, x_7, x_5+1, x_4+1, x_3 x_2, x_3 x_1 are all 0 (one multiplication round).
5. value = sum_k w_k sum_(b<4) 2^b x_(k,b): a public linear combination of GF(p) shares, local.

Cost: 2 GF(2^8) rounds (deal, open) + 1 GF(2^8) multiplication round + t MPyC multiplication
rounds on 4 GF(p) elements per digit byte, running concurrently with the GF(2^8) work.
Security: semi-honest, honest majority, as MPyC. [RW19] Rotaru, Wood, "MArBled Circuits:
Mixing Arithmetic and Boolean Circuits with Active Security", INDOCRYPT 2019 (ePrint 2019/207).

Under active security (``product_check.active()``, issue 15) the dealt bits are checked,
because a malicious dealer could deal a non-bit in either field:

* GF(2^8): the XORed bits b are recorded as the triple (b, b, b) on ``gf256_check``
  (b·b = b holds in GF(2^8) only for b ∈ {0, 1}); the caller's ``gf256_check.verify``
  checks it with the AES products, before the verdicts are opened. The opening of
  c = x + r is checked (every party gets the same c) but needs no product check first: c
  is uniform whatever additive errors x holds, since r is (the honest dealer's bits).
* GF(p): each dealer's bits d are recorded as the prime-field triple (d, d, d)
  (``product_check.record_products``: d² = d, i.e. d·(1 − d) = 0), and their XOR
  acc + d − 2·acc·d is computed with ``fast_mpc.multiply_limbs`` (recorded) instead of
  MPyC's unchecked multiplication; ``product_check.verify`` runs at the end of
  :func:`decimal_value` (step 2 below), before anything depending on the value is opened
  (``aes_gcm_mpc.verify_batch_values`` calls it again before the verdicts, for any products
  recorded later).
* the range products x_3·x_2, x_3·x_1 are recorded on ``gf256_check``.

* cross-field consistency — that a daBit's GF(2^8) half and GF(p) half hold the *same* bit
  (without it a dealer could deal b in GF(2^8) and 1 − b in GF(p): both halves are bits, the
  bit checks pass, and the GF(p) value is built from a flipped bit while the range check and
  the verdict see the true digits — an accepted balance off by ±2^j·10^k, of the dealer's
  choosing). Checked by :func:`_check_consistency`: the standard sacrifice check of
  daBit generation with a random-subset parity test, as in the daBit generation of [RW19]
  and of Escudero, Ghosh, Keller, Rachuri and Scholl, "Improved Primitives for MPC over
  Mixed Arithmetic-Binary Circuits" (CRYPTO 2020) — XOR a random subset of the daBits in
  the binary domain, sum the same subset in the arithmetic domain, open both (each masked by
  a sacrificed daBit, the sum statistically masked further) and compare the parities;
  cited without a section number (not looked up). Here:

  1. σ = 40 extra *sacrificial* daBits m_j are dealt with the batch's (the same dealing: 10
     extra byte rows, their low 4 bits), so they are fixed, like every daBit of the batch,
     before step 3's coin exists; they are bit-checked like the others and used nowhere else.
  2. ``product_check.verify`` runs (every GF(p) half is a bit, and the XOR products are
     right) before anything more is opened — needed for privacy: a GF(p) "bit" d ∉ {0, 1}
     would scale the honest dealer's bit by 1 − 2d in the XOR, and step 4's opening could
     then reveal it.
  3. A public coin: a PRSS random opened (checked); ChaCha20 keyed by SHA-256 of it gives
     σ random subsets S_j of the batch's N daBits (each daBit in each S_j with probability 1/2).
  4. Open (checked) in GF(p) v_j = Σ_(i∈S_j) b_i^(p) + m_j^(p) + 2·R_j, with R_j a PRSS
     random below 2^(bitlen(N+1)+κ) (κ = 40; ``mpc._np_randoms`` with a bound), and in
     GF(2^8) w_j = ⊕_(i∈S_j) b_i^(2) ⊕ m_j^(2). Abort unless v_j ≡ w_j (mod 2) (bit 0 of the
     byte w_j) for every j.

  Soundness. After step 2 every GF(p) half is a bit; let e_i = b_i^(p) ⊕ bit0(b_i^(2)) (1
  for an inconsistent daBit). v_j is opened as an integer below 2^(bitlen(N+1)+κ+3) ≪ p, so
  its parity is that of Σ b_i^(p) + m_j^(p), and check j passes iff ⊕_(i∈S_j) e_i ⊕ e_(m_j)
  = 0. The e's are fixed before the coin (all daBits are dealt, m_j too; after the coin a
  party can change no honest party's share of v_j or w_j — with t = 1, m = 3 the two honest
  shares fix an opened value, the checked openings see any other); so if some e_i = 1, each
  j fails with probability exactly 1/2 over S_j (a bad m_j only flips check j's parity, and
  it was decided before S_j was known), independently for the σ checks: a batch holding an
  inconsistent daBit passes with probability ≤ 2^-40 (plus ChaCha20's distinguishing
  advantage). The GF(2^8) halves' other 7 bits are not compared here: that they are 0 (b is
  a bit) is the triple (b, b, b) that ``gf256_check.verify`` checks before the verdicts.
  Privacy. bit 0 of w_j and the parity of v_j are masked by m_j^(2) resp. m_j^(p) — the same
  uniform bit, which contains the honest dealer's bit and is never used again — so they
  reveal at most whether the check passed, which depends only on the e's and the public S_j,
  not on any secret. The other bits of w_j are a function of the dealers' own values only
  (the honest dealer's contributions are bits). ⌊v_j/2⌋ = ⌊(Σ + m_j)/2⌋ + R_j with
  Σ + m_j ≤ N + 1 is within statistical distance (N+1)/2^(bitlen(N+1)+κ+1) ≤ 2^-40 of
  uniform noise (the PRF value of the PRSS subset of the two honest parties, uniform on
  [0, 2^(bitlen(N+1)+κ)), is in R_j). The masked opening c = x + r came before all this; it
  does not depend on the check.

  Where: at the end of :func:`decimal_value`, under active security only; nothing that
  depends on the daBits is opened before it except c. The ``product_check.verify`` of step 2
  is the one ``aes_gcm_mpc.verify_batch_values`` used to run before the verdicts (its own call
  there now finds nothing pending and returns at once). Cost: 40 more daBits (10 more rows in
  the two dealings already made), one opening round for the coin, one GF(p) and one GF(2^8)
  opening round of 40 elements, and σ·N local additions.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from mpc_programs.runtime import product_check
from mpc_programs.verification import gf256, gf256_check
from mpc_programs.verification.gf256_mpc import Gf256Engine


#: Sacrificial daBits of the consistency check (statistical security 2^-SIGMA) and the
#: extra bits of its masks R_j (statistical hiding 2^-KAPPA).
SIGMA = 40
KAPPA = 40

CONSISTENCY_FAILED = ("daBit check failed: a dealer dealt different bits in the two fields "
                      "(a party deviated)")


async def _dabits_prime_checked(runtime: Any, sectype: Any, mine: np.ndarray | None,
                                dealers: list[int], shape: tuple[int, ...]) -> np.ndarray:
    """:func:`_dabits_prime` under active security: every dealer's bits recorded as d² = d
    and the XOR's products computed by ``fast_mpc.multiply_limbs`` (recorded), all for
    ``product_check.verify``. Returns the XORed bits as (prod(shape), 3) limbs."""
    from mpc_programs.runtime import fast_mpc
    from mpc_programs.shares import f192
    from mpc_programs.shares.field import PRIME

    field = sectype.field
    if field.modulus != PRIME:
        raise ValueError("daBits under active security need the statistics field (PRIME)")
    local = mine if mine is not None else np.zeros(shape, dtype=np.int64)
    arrays = runtime.input(sectype.array(local.astype(object)), senders=dealers)
    limbs = []
    for arr in arrays:
        d = fast_mpc.to_limbs(np.asarray((await runtime.gather(arr)).value, dtype=object))
        product_check.record_products(d, d, d)  # d·d = d: d is a bit
        limbs.append(d)
    acc = limbs[0]
    for d in limbs[1:]:
        both = await fast_mpc.multiply_limbs(acc, d)
        twice = f192.modadd(both, both, np.empty_like(both))
        acc = f192.modsub(f192.modadd(acc, d, np.empty_like(acc)), twice, np.empty_like(acc))
    return acc


def _dabits_prime(runtime: Any, sectype: Any, mine: np.ndarray | None, dealers: list[int],
                  shape: tuple[int, ...]) -> Any:
    """GF(p) shares of the XOR of each dealer's bits (``mine`` for a dealer, else None)."""
    local = mine if mine is not None else np.zeros(shape, dtype=np.int64)
    arrays = runtime.input(sectype.array(local.astype(object)), senders=dealers)
    acc = arrays[0]
    for b in arrays[1:]:
        acc = acc + b - 2 * (acc * b)
    return acc


def _subsets(coin: bytes, count: int) -> np.ndarray:
    """(SIGMA, count) 0/1 matrix from the public coin: ChaCha20 under SHA-256(coin)."""
    key = hashlib.sha256(b"mpcstats daBit consistency check" + coin).digest()
    stream = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()
    raw = np.frombuffer(stream.update(bytes((SIGMA * count + 7) // 8)), dtype=np.uint8)
    return np.unpackbits(raw)[:SIGMA * count].reshape(SIGMA, count)


def _subset_sums(subsets: np.ndarray, limbs: np.ndarray) -> list[int]:
    """Σ_(i∈S_j) x_i mod p for each row S_j of ``subsets`` ((J, N) 0/1) over (N, 3) limbs:
    one uint64 matrix product over the 32-bit halves of the limbs (exact for N < 2^32)."""
    from mpc_programs.shares.field import PRIME

    if limbs.shape[0] >= 1 << 32:
        raise ValueError("too many daBits for the subset sums")
    halves = np.concatenate([limbs & np.uint64(0xFFFFFFFF), limbs >> np.uint64(32)], axis=1)
    acc = subsets.astype(np.uint64) @ halves  # (J, 6), each < N·2^32
    shifts = (0, 64, 128, 32, 96, 160)
    return [sum(int(v) << s for v, s in zip(row, shifts, strict=True)) % PRIME for row in acc]


async def _check_consistency(engine: Gf256Engine, sectype: Any, bits2: np.ndarray,
                             bits_p: np.ndarray) -> None:
    """The cross-field check of the module doc (steps 2–4): ``bits2`` (N + SIGMA,) GF(2^8)
    shares and ``bits_p`` (N + SIGMA, 3) GF(p) limbs of the same daBits, the last SIGMA the
    sacrificial ones. Aborts the run unless every parity agrees."""
    import math

    from mpc_programs.runtime import fast_mpc
    from mpc_programs.runtime.hardened_runtime import abort_run, mpc
    from mpc_programs.shares import f192
    from mpc_programs.shares.field import PRIME

    n = bits2.shape[0] - SIGMA
    # 2. every GF(p) half is a bit (and every XOR product right) before anything is opened
    await product_check.verify("daBits (GF(p) bits)")
    # 3. the public coin, drawn after every daBit (and every m_j) is fixed
    coin = await fast_mpc.open_limbs(fast_mpc.prss_random_limbs(1))
    subsets = _subsets(f192.to_bytes_le(coin), n)
    # 4. v_j = Σ_(S_j) b^(p) + m_j^(p) + 2·R_j (GF(p)), w_j = ⊕_(S_j) b^(2) ⊕ m_j^(2) (GF(2^8))
    bound_bits = (n + 1).bit_length() + KAPPA
    d = math.comb(len(mpc.parties), mpc.threshold)  # PRSS subsets: each adds one PRF value
    masks = mpc._np_randoms(sectype.field, SIGMA, bound=d << bound_bits)  # each < 2^bound_bits
    masks = np.asarray(masks.value, dtype=object)
    sums = _subset_sums(subsets, bits_p[:n])
    sacrificed = f192.from_limbs(bits_p[n:])
    v = [(s + int(m) + 2 * int(r)) % PRIME for s, m, r in zip(sums, sacrificed, masks, strict=True)]
    v_open = f192.from_limbs(await fast_mpc.open_limbs(f192.to_limbs(v)))
    chosen = subsets.astype(bool)
    w = np.array([np.bitwise_xor.reduce(bits2[:n][chosen[j]]) ^ bits2[n + j]
                  for j in range(SIGMA)], dtype=np.uint8)
    w_open = await engine.open_masked(w, "daBit check")
    v_parity = np.array([int(x) & 1 for x in v_open], dtype=np.uint8)
    if not np.array_equal(v_parity, w_open & 1):
        abort_run(CONSISTENCY_FAILED)


async def random_dabits(engine: Gf256Engine, runtime: Any, sectype: Any, rows: int,
                        prime_bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` bytes of random bits in GF(2^8), the low ``prime_bits`` of each in GF(p) too.

    Returns ((rows', 8) uint8 GF(2^8) shares of the bits, (rows'·prime_bits, 3) GF(p) limbs
    of the low bits, row-major), where under active security rows' = rows + SIGMA /
    prime_bits: the last rows' low bits are the SIGMA sacrificial daBits of
    :func:`check_consistency`. Every bit is recorded as b·b = b in both fields
    (``gf256_check``, ``product_check``).
    """
    dealers = list(range(engine.t + 1))
    active = product_check.active()
    total = rows + (SIGMA // prime_bits if active else 0)
    mine = gf256.random_bytes((total, 8)) & 1 if engine.pid in dealers else None
    prime = await _dabits_prime_checked(
        runtime, sectype, None if mine is None else mine[:, :prime_bits].astype(np.int64),
        dealers, (total, prime_bits))
    binary = np.zeros((total, 8), dtype=np.uint8)
    for share in await engine.deal(mine, dealers, (total, 8)):
        binary ^= share
    if active:
        gf256_check.record(binary, binary, binary)  # b·b = b: each b is a bit
    return binary, prime


async def check_consistency(engine: Gf256Engine, sectype: Any, binary: np.ndarray,
                            prime: np.ndarray) -> None:
    """The cross-field check of the module doc over :func:`random_dabits`' output, the GF(p)
    bits' count per row taken from ``prime`` (aborts the run unless both halves of every daBit
    hold the same bit)."""
    prime_bits = prime.shape[0] // binary.shape[0]
    await _check_consistency(engine, sectype,
                             np.ascontiguousarray(binary[:, :prime_bits]).reshape(-1), prime)


async def decimal_value(engine: Gf256Engine, runtime: Any, sectype: Any, digits: np.ndarray,
                        weights: np.ndarray) -> tuple[Any, np.ndarray]:
    """Secret sum_k weights[p, k] * int(chr(digits[p, k])) and the range-check bits.

    ``digits``: (P, L) uint8 shares; ``weights``: (P, L) Python ints (object array).
    Returns (secure ``sectype`` array of shape (P,), (P, 6L) uint8 shares that must all be 0).
    Under active security the daBits are checked (bits in each field; the same bit in both)
    before it returns; see the module doc.
    """
    p_count, length = digits.shape
    n = p_count * length
    active = product_check.active()
    if active:  # the low 4 bits in GF(p); + the sacrificial daBits' rows
        from mpc_programs.runtime import fast_mpc

        all_bits, prime_limbs = await random_dabits(engine, runtime, sectype, n, prime_bits=4)
        prime_bits = sectype.array(sectype.field.array(fast_mpc.from_limbs(prime_limbs[:n * 4],
                                                                           (n, 4))))
    else:
        dealers = list(range(engine.t + 1))
        mine = gf256.random_bytes((n, 8)) & 1 if engine.pid in dealers else None
        prime_bits = _dabits_prime(runtime, sectype,
                                   None if mine is None else mine[:, :4].astype(np.int64),
                                   dealers, (n, 4))
        all_bits = np.zeros((n, 8), dtype=np.uint8)
        for s in await engine.deal(mine, dealers, (n, 8)):
            all_bits ^= s
    r_bits = all_bits[:n]

    r = np.zeros(n, dtype=np.uint8)
    for b in range(8):
        r ^= gf256.MUL[1 << b][r_bits[:, b]]
    c = await engine.open_masked(digits.reshape(-1) ^ r, "daBits masked digits")
    c_bits = ((c[:, None] >> np.arange(8)) & 1).astype(np.uint8)  # (n, 8) public
    x_bits = r_bits ^ c_bits  # GF(2^8) shares of the bits of each byte

    x3 = x_bits[:, 3]
    products = await engine.mul_checked(np.stack([x3, x3], axis=1), x_bits[:, [2, 1]])
    bad = np.concatenate([x_bits[:, [6, 7]], x_bits[:, [4, 5]] ^ np.uint8(1), products], axis=1)

    w = weights.reshape(-1).astype(object)
    cb = c_bits[:, :4].astype(object)
    pow2 = np.array([1, 2, 4, 8], dtype=object)
    coef = (w[:, None] * pow2[None, :] * (1 - 2 * cb)).reshape(p_count, length * 4)
    const = (w[:, None] * pow2[None, :] * cb).reshape(p_count, length * 4).sum(axis=1)
    prime_bits = prime_bits.reshape(p_count, length * 4)
    value = runtime.np_sum(prime_bits * coef, axis=1) + np.array([int(v) for v in const], dtype=object)
    if active:
        # the batch's 4n daBits (low 4 bits of each row) and the SIGMA sacrificial ones after
        await check_consistency(engine, sectype, all_bits, prime_limbs)
    return value, bad.reshape(p_count, length * 6)
