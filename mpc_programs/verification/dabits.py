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
Security: semi-honest, honest majority, as MPyC. [RW19] Rotaru, Wood, MArBled Circuits, 2019.

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
  MPyC's unchecked multiplication; the caller runs ``product_check.verify`` before anything
  depending on the value is opened (``aes_gcm_mpc.verify_batch_values`` does, before the
  verdicts).
* the range products x_3·x_2, x_3·x_1 are recorded on ``gf256_check``.

NOT checked: cross-field consistency — that a daBit's GF(2^8) half and GF(p) half hold the
*same* bit. A malicious dealer can deal b in GF(2^8) and 1 − b in GF(p) (both valid bits,
both checks pass); then the GF(p) value is built from flipped bits while the range check and
the verdict see the true digits, so a malicious party can shift an accepted balance by ±2^j·10^k
units of its choice (it cannot learn anything by it: c is uniform). Checking it needs e.g.
the sacrifice/parity checks of Escudero, Ghosh, Keller, Rachuri and Scholl ("Improved Primitives
for MPC over Mixed Arithmetic-Binary Circuits", CRYPTO 2020) or generating the bits jointly in
both fields; not done here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mpc_programs.runtime import product_check
from mpc_programs.verification import gf256, gf256_check
from mpc_programs.verification.gf256_mpc import Gf256Engine


async def _dabits_prime_checked(runtime: Any, sectype: Any, mine: np.ndarray | None,
                                dealers: list[int], shape: tuple[int, ...]) -> Any:
    """:func:`_dabits_prime` under active security: every dealer's bits recorded as d² = d
    and the XOR's products computed by ``fast_mpc.multiply_limbs`` (recorded), all for
    ``product_check.verify``."""
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
    return sectype.array(field.array(fast_mpc.from_limbs(acc, shape)))


def _dabits_prime(runtime: Any, sectype: Any, mine: np.ndarray | None, dealers: list[int],
                  shape: tuple[int, ...]) -> Any:
    """GF(p) shares of the XOR of each dealer's bits (``mine`` for a dealer, else None)."""
    local = mine if mine is not None else np.zeros(shape, dtype=np.int64)
    arrays = runtime.input(sectype.array(local.astype(object)), senders=dealers)
    acc = arrays[0]
    for b in arrays[1:]:
        acc = acc + b - 2 * (acc * b)
    return acc


async def decimal_value(engine: Gf256Engine, runtime: Any, sectype: Any, digits: np.ndarray,
                        weights: np.ndarray) -> tuple[Any, np.ndarray]:
    """Secret sum_k weights[p, k] * int(chr(digits[p, k])) and the range-check bits.

    ``digits``: (P, L) uint8 shares; ``weights``: (P, L) Python ints (object array).
    Returns (secure ``sectype`` array of shape (P,), (P, 6L) uint8 shares that must all be 0).
    """
    p_count, length = digits.shape
    n = p_count * length
    dealers = list(range(engine.t + 1))
    mine = gf256.random_bytes((n, 8)) & 1 if engine.pid in dealers else None
    mine_prime = None if mine is None else mine[:, :4].astype(np.int64)
    active = product_check.active()
    if active:
        prime_bits = await _dabits_prime_checked(runtime, sectype, mine_prime, dealers, (n, 4))
    else:
        prime_bits = _dabits_prime(runtime, sectype, mine_prime, dealers, (n, 4))
    r_bits = np.zeros((n, 8), dtype=np.uint8)
    for s in await engine.deal(mine, dealers, (n, 8)):
        r_bits ^= s
    if active:
        gf256_check.record(r_bits, r_bits, r_bits)  # b·b = b: each b is a bit

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
    return value, bad.reshape(p_count, length * 6)
