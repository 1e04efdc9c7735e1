"""A record key dealt as prime-field bits becomes GF(2^8) shares of its bytes, inside MPC.

Why: a provider's key shares over GF(2^8) cannot be checked by each party on its own (Pedersen
commitments live in a group of prime order p), so a consistency check among the three parties was
needed, and a deviating party could make it fail for an honest provider ("inconsistent shares").
Instead the provider deals the key's bits in the statistics field, in a committed row of its
verifiable dealing (``shares.dealing``), which every party checks by itself, and the parties turn
the bits into the GF(2^8) sharing the AES engine takes. The bits come from a checked dealing, and
the conversion only computes on verified shares, so the GF(2^8) key sharing is right by
construction: nothing is left for a deviating party to dispute.

The conversion uses daBits (random bits shared in both fields; Rotaru and Wood, "MArBled
Circuits", INDOCRYPT 2019), made and checked by ``dabits`` exactly as for the balance's digits,
with all 8 bits of each byte in GF(p). Per key bit k (a GF(p) share) and daBit r:

1. c = k ⊕ r = k + r − 2·k·r in GF(p): one multiplication (``fast_mpc.multiply_limbs``,
   recorded for the product check);
2. ``product_check.verify`` (every daBit's GF(p) half is a bit, every product right), then c
   is opened with the checked opening. c is uniform if k is a bit (r is the honest dealer's
   bit XOR the others'), so it reveals nothing. If k is not a bit then c is not either
   (c = k or 1 − k): the dealing the parties checked holds a non-bit, so the *provider* dealt
   wrong, and that byte is reported (the caller rejects the provider);
3. the key byte's GF(2^8) share is R ⊕ C with R = Σ_b r_b·x^b (each party's own shares of the
   daBits' GF(2^8) halves) and C = Σ_b c_b·x^b public: local;
4. ``dabits``' cross-field check (random subset parities with 40 sacrificial daBits: a batch
   with a daBit whose two halves differ passes with probability ≤ 2^-40) before the caller
   opens anything that depends on the key.

Soundness: after step 2 the products are right (≤ 3/p + ε_ChaCha20, ``product_check``), the
opened c is what the two honest parties' shares define (checked opening), and after step 4 the
daBits' halves agree (≤ 2^-40), so the GF(2^8) sharing is one of the key the dealing committed
to. Cost per key byte: 8 daBits, 8 multiplications, 8 opened elements; rounds: the daBit
dealings (one per field), one multiplication, one product check, one opening, the cross-field
check's three openings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mpc_programs.runtime import fast_mpc, product_check
from mpc_programs.shares import f192
from mpc_programs.verification import dabits, gf256
from mpc_programs.verification.gf256_mpc import Gf256Engine


async def bytes_from_bits(engine: Gf256Engine, runtime: Any, sectype: Any,
                          bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GF(2^8) shares of the bytes whose bits (least significant first) ``bits`` shares.

    ``bits``: this party's GF(p) shares, (m·8, 3) ``f192`` limbs. Returns ((m,) uint8 shares,
    (m,) bool: the byte's eight opened c are all bits, i.e. the dealt values were bits).
    """
    count = bits.shape[0] // 8
    if bits.shape != (count * 8, 3):
        raise ValueError("key bits come as (8·m, 3) limbs")
    if count == 0:
        return np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=bool)
    binary, prime = await dabits.random_dabits(engine, runtime, sectype, count)
    r = prime[:count * 8]
    both = await fast_mpc.multiply_limbs(bits, r)
    twice = f192.modadd(both, both, np.empty_like(both))
    masked = f192.modsub(f192.modadd(bits, r, np.empty_like(bits)), twice, np.empty_like(bits))
    await product_check.verify("key bits (the daBits and the masking products)")
    opened = np.array(f192.to_ints(await fast_mpc.open_limbs(masked)), dtype=object)
    opened = opened.reshape(count, 8)
    are_bits = np.all((opened == 0) | (opened == 1), axis=1)
    public = np.zeros(count, dtype=np.uint8)
    for b in range(8):
        public |= (np.where(are_bits, opened[:, b], 0).astype(np.uint8) << b)
    shares = np.zeros(count, dtype=np.uint8)
    for b in range(8):
        shares ^= gf256.MUL[1 << b][binary[:count, b]]
    if product_check.active():
        await dabits.check_consistency(engine, sectype, binary, prime)
    return shares ^ public, are_bits

