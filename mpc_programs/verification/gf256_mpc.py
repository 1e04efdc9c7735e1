"""Secure GF(2^8) arithmetic on Shamir shares held as numpy ``uint8`` arrays, over MPyC's links.

A secret byte is Shamir-shared with threshold t among the m MPyC parties exactly as MPyC's
``SecFld(2**8)`` shares it (party i holds f(i+1), field 0x11B), so the two representations are
interchangeable share by share. Only the local arithmetic differs: table lookups on uint8 arrays
(:mod:`mpc_programs.verification.gf256`) instead of Python objects, which makes the local work ~1000x cheaper.

Messages go over MPyC's own peer connections (``protocol.send``/``receive``), labelled by a hash
of MPyC's program counter (advanced per exchange, as MPyC advances it per call), so they
interleave safely with MPyC's own traffic. A peer's message must be exactly the expected number
of bytes (every byte is a field element); anything else aborts the run naming the peer
(:func:`mpc_programs.runtime.hardened_runtime.fail`). Every party must call the engine's methods in the
same order (they are sequential coroutines; never run two engine calls concurrently).

Protocols (semi-honest, honest majority m >= 2t+1, as MPyC):

* ``mul_frob`` -- one round. A product of two degree-t sharings is a degree-2t sharing at the
  standard points; [GRR98] resharing turns it back into a degree-t sharing. Because squaring is
  the field automorphism in characteristic 2, party i's local product P_i = F(alpha_i) also gives
  P_i^(2^u) = F^(u)(alpha_i^(2^u)), a degree-2t sharing of (ab)^(2^u) at the points alpha^(2^u).
  So one resharing round can output any GF(2^8)-linear combination of Frobenius powers of the
  product, each weighted by its own Lagrange coefficients (lambda_i^(2^u)).
* ``sbox`` -- 4 rounds, 7 resharings per byte, no bit decomposition: a^2, a^4 | a^3, a^12 |
  a^15, a^112 | S(a) = 0x63 + sum_k l_k (a^15 a^112)^(2^(k+1)), where y -> sum_k l_k y^(2^k)
  is the S-box's GF(2)-linear map written as a linearized polynomial (coefficients derived in
  :mod:`mpc_programs.verification.gf256`). MPyC's ``np_aes`` demo uses x^254 (9 rounds) + bit extraction.
* ``nonzero`` -- 4 rounds: a^255 = a^15 (a^15)^16, which is 1 if a != 0 and 0 if a == 0. Exact.
* ``open`` -- one round; with ``check=True`` all m shares are used and each share beyond the
  first t+1 must agree with the degree-t interpolation (a consistency check on the sharing).
* ``deal`` -- one round: dealers Shamir-share local random values (for masks and daBits).
  Summing the contributions of t+1 dealers gives a value no t parties know.

Active security with abort (``product_check.active()``, issue 15): ``sbox``, ``nonzero``,
``prod`` and ``mul_checked`` record every product (and ``sbox`` two more plain products per
byte, a7 and a127, as extra outputs of its rounds) and relate each Frobenius output to its plain
product, on :mod:`mpc_programs.verification.gf256_check`; ``open_verified`` runs that check
before a product-dependent opening and opens with the checked opening. Semi-honest: unchanged.
"""

from __future__ import annotations

from asyncio import Future
from collections.abc import Sequence
from typing import Any

import numpy as np

from mpc_programs.verification import gf256, gf256_check
from mpc_programs.runtime import product_check
from mpc_programs.runtime.hardened_runtime import fail

_TAG = 0x4D50435341455347  # distinguishes this engine's message labels from MPyC's pcs

Term = tuple[int, int]  # (u, c): the term c * (a*b)^(2^u)


def _bytes_of(data: bytes, size: int) -> np.ndarray:
    """A peer's message as ``size`` GF(2^8) elements; a wrong length aborts the run."""
    if len(data) != size:
        fail(data, f"expected {size} bytes, got {len(data)}")
    return np.frombuffer(data, dtype=np.uint8)


def _lagrange_at(points: Sequence[int], x0: int) -> list[int]:
    out = []
    for i, xi in enumerate(points):
        num, den = 1, 1
        for j, xj in enumerate(points):
            if j != i:
                num = int(gf256.MUL[num, xj ^ x0])
                den = int(gf256.MUL[den, xj ^ xi])
        out.append(int(gf256.MUL[num, gf256.INV[den]]))
    return out


class Gf256Engine:
    """Secure GF(2^8) operations for one party of a running MPyC program."""

    def __init__(self, runtime: Any) -> None:
        self.rt = runtime
        self.m = len(runtime.parties)
        self.t = runtime.threshold
        self.pid = runtime.pid
        if self.m < 2 * self.t + 1:
            raise ValueError("honest majority required: m >= 2t+1")
        self.points = tuple(range(1, self.m + 1))
        lam = gf256.lagrange_at_zero(self.points)  # degree <= 2t <= m-1 interpolation
        self._lam_frob = [int(gf256.FROB[u, lam[self.pid]]) for u in range(8)]

    # -- transport -------------------------------------------------------------------------
    async def _exchange(self, outgoing: dict[int, bytes], incoming: Sequence[int]) -> dict[int, bytes]:
        """Send ``outgoing[peer]`` to each peer and receive one message from each of ``incoming``."""
        # Advance MPyC's own program counter, as MPyC does for each call: labels then follow the
        # program's position identically at every party and never repeat within a run.
        pc = self.rt._program_counter
        pc[0] += 1
        label = hash((_TAG, pc[0], pc[1]))
        for peer, data in outgoing.items():
            self.rt.parties[peer].protocol.send(label, data)
        got: dict[int, bytes] = {}
        for peer in incoming:
            msg = self.rt.parties[peer].protocol.receive(label)
            got[peer] = await msg if isinstance(msg, Future) else msg
        return got

    def _peers(self) -> list[int]:
        return [j for j in range(self.m) if j != self.pid]

    # -- sharing ---------------------------------------------------------------------------
    async def _reshare(self, contribution: np.ndarray) -> np.ndarray:
        """[GRR98]: turn an additive sharing (sum over parties = secret) into Shamir shares."""
        flat = np.ascontiguousarray(contribution, dtype=np.uint8).reshape(-1)
        shares = gf256.shamir_share(flat, self.m, self.t)
        got = await self._exchange({j: shares[j].tobytes() for j in self._peers()}, self._peers())
        out = shares[self.pid].copy()
        for data in got.values():
            out ^= _bytes_of(data, flat.size)
        return out.reshape(contribution.shape)

    async def mul_frob(self, items: Sequence[tuple[np.ndarray, np.ndarray, Sequence[Sequence[Term]]]]
                       ) -> list[np.ndarray]:
        """One round: for each (a, b, outputs), every output sum_(u,c) c*(a*b)^(2^u), in order."""
        contribs: list[np.ndarray] = []
        for a, b, outputs in items:
            p = gf256.MUL[a, b]
            for terms in outputs:
                v = np.zeros(p.shape, dtype=np.uint8)
                for u, c in terms:
                    coef = int(gf256.MUL[c, self._lam_frob[u % 8]])
                    v ^= gf256.MUL[coef][gf256.FROB[u % 8][p]]
                contribs.append(v)
        flat = await self._reshare(np.concatenate([v.reshape(-1) for v in contribs]))
        out, pos = [], 0
        for v in contribs:
            out.append(flat[pos:pos + v.size].reshape(v.shape))
            pos += v.size
        return out

    async def mul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Elementwise secure product, one round (not recorded: see :meth:`mul_checked`)."""
        return (await self.mul_frob([(a, b, [[(0, 1)]])]))[0]

    async def mul_checked(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """:meth:`mul`, the triple recorded for ``gf256_check.verify`` under active security."""
        z = await self.mul(a, b)
        gf256_check.record(a, b, z)
        return z

    async def open_verified(self, x: np.ndarray, step: str) -> np.ndarray:
        """Open a value that depends on secure products. Under active security every recorded
        product and linear relation is checked first (``gf256_check.verify``, aborting the run
        naming ``step``) and the opening is the checked one; semi-honest: the plain opening."""
        if not product_check.active():
            return (await self.open(x))[0]
        await gf256_check.verify(self, step)
        return await gf256_check.open_checked(self, x, step)

    async def open_masked(self, x: np.ndarray, step: str) -> np.ndarray:
        """Open a value masked by fresh uniform randomness (uniform whatever errors x holds):
        under active security with the checked opening (so every party gets the same value),
        without a product check first; semi-honest: the plain opening."""
        if not product_check.active():
            return (await self.open(x))[0]
        return await gf256_check.open_checked(self, x, step)

    async def open(self, x: np.ndarray, check: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Reveal x to all parties. Returns (values, ok) where ok[...] says the m shares lie on a
        degree-t polynomial (always True unless ``check``)."""
        x = np.ascontiguousarray(x, dtype=np.uint8)
        got = await self._exchange({j: x.tobytes() for j in self._peers()}, self._peers())
        shares = {self.pid: x}
        for j, data in got.items():
            shares[j] = _bytes_of(data, x.size).reshape(x.shape)
        base = list(range(self.t + 1))
        value = gf256.shamir_recombine([self.points[i] for i in base], [shares[i] for i in base])
        ok = np.ones(x.shape, dtype=bool)
        if check:
            for j in range(self.t + 1, self.m):
                lam = _lagrange_at([self.points[i] for i in base], self.points[j])
                pred = np.zeros(x.shape, dtype=np.uint8)
                for c, i in zip(lam, base, strict=True):
                    pred ^= gf256.MUL[c][shares[i]]
                ok &= pred == shares[j]
        return value, ok

    async def deal(self, values: np.ndarray | None, dealers: Sequence[int], shape: tuple[int, ...]
                   ) -> list[np.ndarray]:
        """One round: each dealer Shamir-shares its ``values`` (of ``shape``); every party gets
        its share of each dealer's array, in dealer order. Non-dealers pass ``values=None``."""
        outgoing: dict[int, bytes] = {}
        own = None
        if self.pid in dealers:
            assert values is not None and values.shape == shape
            shares = gf256.shamir_share(values, self.m, self.t)
            outgoing = {j: shares[j].tobytes() for j in self._peers()}
            own = shares[self.pid]
        got = await self._exchange(outgoing, [d for d in dealers if d != self.pid])
        out = []
        for d in dealers:
            if d == self.pid:
                assert own is not None
                out.append(own)
            else:
                out.append(_bytes_of(got[d], int(np.prod(shape))).reshape(shape).copy())
        return out

    async def random(self, shape: tuple[int, ...], bits: bool = False) -> np.ndarray:
        """Shares of uniformly random bytes (or bits in {0,1}) that no t parties know."""
        dealers = list(range(self.t + 1))
        mine = None
        if self.pid in dealers:
            mine = gf256.random_bytes(shape)
            if bits:
                mine &= 1
        out = np.zeros(shape, dtype=np.uint8)
        for s in await self.deal(mine, dealers, shape):
            out ^= s
        return out

    # -- composite protocols ---------------------------------------------------------------
    async def sbox(self, a: np.ndarray) -> np.ndarray:
        """AES S-box on every byte, 4 rounds.

        Under active security (``product_check.active()``) the rounds also output the plain
        products a7 = a3·a4 and a127 = a15·a112 (same rounds, 2 more resharings per byte), and
        5 triples (a, a, a2), (a, a2, a3), (a3, a12, a15), (a3, a4, a7), (a15, a112, a127)
        and 4 linear relations a4 = a2^2, a12 = a3^4, a112 = a7^16, S(a) − 0x63 = L(a127) are
        recorded for ``gf256_check.verify``."""
        terms = [(k + 1, c) for k, c in enumerate(gf256.SBOX_LINEAR)]
        if not product_check.active():
            a2, a4 = await self.mul_frob([(a, a, [[(0, 1)], [(1, 1)]])])
            a3, a12 = await self.mul_frob([(a, a2, [[(0, 1)], [(2, 1)]])])
            a15, a112 = await self.mul_frob([(a3, a12, [[(0, 1)]]), (a3, a4, [[(4, 1)]])])
            (s,) = await self.mul_frob([(a15, a112, [terms])])
            return s ^ np.uint8(0x63)
        a = np.ascontiguousarray(a, dtype=np.uint8)
        a2, a4 = await self.mul_frob([(a, a, [[(0, 1)], [(1, 1)]])])
        a3, a12 = await self.mul_frob([(a, a2, [[(0, 1)], [(2, 1)]])])
        a15, a7, a112 = await self.mul_frob([(a3, a12, [[(0, 1)]]),
                                             (a3, a4, [[(0, 1)], [(4, 1)]])])
        a127, s = await self.mul_frob([(a15, a112, [[(0, 1)], terms])])
        gf256_check.record(a, a, a2)
        gf256_check.record(a, a2, a3)
        gf256_check.record(a3, a12, a15)
        gf256_check.record(a3, a4, a7)
        gf256_check.record(a15, a112, a127)
        gf256_check.record_linear(a2, a4, _FROB1)
        gf256_check.record_linear(a3, a12, _FROB2)
        gf256_check.record_linear(a7, a112, _FROB4)
        gf256_check.record_linear(a127, s, _SBOX_L)
        return s ^ np.uint8(0x63)

    async def nonzero(self, a: np.ndarray) -> np.ndarray:
        """Shares of a^255: 1 where a != 0, 0 where a == 0. 4 rounds. Under active security
        the triples (a, a, a2), (a, a2, a3), (a3, a12, a15), (a15, a240, a255) and the linear
        relations a12 = a3^4, a240 = a15^16 are recorded."""
        if not product_check.active():
            a2 = await self.mul(a, a)
            a3, a12 = await self.mul_frob([(a, a2, [[(0, 1)], [(2, 1)]])])
            a15, a240 = await self.mul_frob([(a3, a12, [[(0, 1)], [(4, 1)]])])
            return await self.mul(a15, a240)
        a = np.ascontiguousarray(a, dtype=np.uint8)
        a2 = await self.mul_checked(a, a)
        a3, a12 = await self.mul_frob([(a, a2, [[(0, 1)], [(2, 1)]])])
        a15, a240 = await self.mul_frob([(a3, a12, [[(0, 1)], [(4, 1)]])])
        gf256_check.record(a, a2, a3)
        gf256_check.record(a3, a12, a15)
        gf256_check.record_linear(a3, a12, _FROB2)
        gf256_check.record_linear(a15, a240, _FROB4)
        return await self.mul_checked(a15, a240)

    async def prod(self, x: np.ndarray) -> np.ndarray:
        """Product over the last axis, ceil(log2 n) rounds (each product recorded under
        active security)."""
        while x.shape[-1] > 1:
            if x.shape[-1] % 2:
                one = np.ones(x.shape[:-1] + (1,), dtype=np.uint8)  # public 1: every share is 1
                x = np.concatenate([x, one], axis=-1)
            x = await self.mul_checked(x[..., 0::2], x[..., 1::2])
        return x[..., 0]


# linearized maps of the S-box's Frobenius outputs, as coefficients of v^(2^u), u = 0, 1, ...
_FROB1 = (0, 1)
_FROB2 = (0, 0, 1)
_FROB4 = (0, 0, 0, 0, 1)
_SBOX_L = (0, *(int(c) for c in gf256.SBOX_LINEAR))
