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
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mpc_programs.verification import gf256
from mpc_programs.verification.gf256_mpc import Gf256Engine


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
    prime_bits = _dabits_prime(runtime, sectype, None if mine is None else mine[:, :4].astype(np.int64),
                               dealers, (n, 4))
    r_bits = np.zeros((n, 8), dtype=np.uint8)
    for s in await engine.deal(mine, dealers, (n, 8)):
        r_bits ^= s

    r = np.zeros(n, dtype=np.uint8)
    for b in range(8):
        r ^= gf256.MUL[1 << b][r_bits[:, b]]
    c, _ = await engine.open(digits.reshape(-1) ^ r)
    c_bits = ((c[:, None] >> np.arange(8)) & 1).astype(np.uint8)  # (n, 8) public
    x_bits = r_bits ^ c_bits  # GF(2^8) shares of the bits of each byte

    x3 = x_bits[:, 3]
    products = await engine.mul(np.stack([x3, x3], axis=1), x_bits[:, [2, 1]])
    bad = np.concatenate([x_bits[:, [6, 7]], x_bits[:, [4, 5]] ^ np.uint8(1), products], axis=1)

    w = weights.reshape(-1).astype(object)
    cb = c_bits[:, :4].astype(object)
    pow2 = np.array([1, 2, 4, 8], dtype=object)
    coef = (w[:, None] * pow2[None, :] * (1 - 2 * cb)).reshape(p_count, length * 4)
    const = (w[:, None] * pow2[None, :] * cb).reshape(p_count, length * 4).sum(axis=1)
    prime_bits = prime_bits.reshape(p_count, length * 4)
    value = runtime.np_sum(prime_bits * coef, axis=1) + np.array([int(v) for v in const], dtype=object)
    return value, bad.reshape(p_count, length * 6)
