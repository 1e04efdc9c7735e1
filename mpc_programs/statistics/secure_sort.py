"""Oblivious radix sort over the one-hot hex digits: secret ranks without comparisons.

After Hamada, Ikarashi, Chida and Takahashi, "Oblivious radix sort" (IACR ePrint
2014/121), specialised to what the store already holds — every input's 15 one-hot hex
digits — and to 3 parties with Shamir t = 1.

Inputs (secret): one-hot digit columns O_t (N × k, t = 0 least significant; Gini passes
the base-4 digits of the stored hex digits, ``quaternary_digits``) and optionally further
0/1 "digits" (a filter bit, as the 2 columns [1 − f, f]) that rank above them. Output (secret): ρ, every input's position in the stable ascending order,
and, for the last pass, the data carried along in a hidden shuffled order.

Per pass (digit t, least significant first), with ρ the positions after the lower digits:

1. Shuffle. The rows [ρ | O_t] are permuted by π = π_{12}∘π_{02}∘π_{01}, where π_S is
   drawn from the PRSS key of the pair S of parties — known to both, unknown to the
   third. One pair step is one round: each party i of S scales its shares by its 2-point
   Lagrange coefficient over S (the two products are additive pieces of the rows),
   permutes the rows by π_S and Shamir-shares them to all (``fast_mpc.share_sum``); the
   third party only receives. The sum is a fresh degree-1 sharing of π_S(rows). No single
   party knows π.
2. Open σ = π(ρ): a uniformly random permutation whatever the data (π is uniform and
   independent of ρ), so it reveals nothing. Row k of the shuffled O_t belongs at sorted
   position σ_k: placing it there (public reindexing) gives B, the digit column in the
   order of the lower digits.
3. Counting sort, stable: with C_d the number of inputs of digit d and P_{p,d} =
   Σ_{q ≤ p} B_{q,d} (local sums), the new position of the input at p is
   Σ_d B_{p,d}·(C_{<d} + P_{p,d}) − 1: a degree-2 local sum per row, one resharing.
4. New ρ in input order: the input of shuffled row k moves to dest[σ_k] (public
   reindexing), then the pair steps are undone in reverse order (three more resharings of
   one column).

The first pass needs no shuffle (ρ is the identity). The last pass shuffles the carried
data too and skips step 4: its rows stay in the shuffled order with their final ranks,
enough for any sum over (rank, value) pairs (Gini).

Cost (N inputs, D digit passes of k columns): per pass 3 shuffle rounds of (k + 1)·N
elements shared by two parties, one opening of N, N resharings for the positions and 3
rounds of N to go back: about (3k + 10)·N element sharings and 8 rounds per pass, O(N·D)
in all — no comparisons at all. Base-4 digits of a 57-bit value: 29 passes of k = 4
(the top hex digit is 0 or 1: one pass of 2 columns). All local work runs on f192 limbs
(``fast_mpc.share_sum_limbs``, ``reshare_limbs``, ``open_limbs`` and the numba kernels
here); shares enter as Python ints and are converted once (or already as limbs, from
:func:`quaternary_digits_limbs`). Gini at N = 10,000, 3 parties on 2 busy cores: 3.4 s
(17–30 s with Python ints); what is left is mostly the messages (≈ 190 MB per party
through TLS) and the round trips.

Privacy (both security levels): honest majority. Opened: one uniformly random permutation
per pass. Every other message is a fresh resharing (uniform to its receiver).

Active security with abort (``product_check`` at "malicious", the default; one malicious
party of three). With Shamir t = 1, n = 3 whatever the deviating party sends in a
resharing or a pair step only adds an error it fixes to the values the two honest parties'
shares define (secure up to additive attacks: Genkin, Ishai, Prabhakaran, Sahai, Tromer,
STOC 2014; Chida, Genkin, Hamada, Ikarashi, Kikuchi, Lindell, Nof, CRYPTO 2018) —
including a different permutation or arbitrary pieces in a pair step it belongs to: the
output is π_S(rows) + E, π_S the honest member's permutation. So the sort checks:

* Products. The positions of step 3 (N row-wise inner products Σ_d B_{p,d}·A_{p,d},
  A = C_{<d} + P_{p,d}, one resharing per row) are recorded with
  ``product_check.record_rowdot`` for the deferred check of Chida et al. (verification
  with randomised shadows [r·x]).
* Shuffles (forward and back), by tags under a secret key — Chida et al.'s idea of
  checking a relation with a secret random multiplier, applied to the permutation. Before
  the pair steps the rows ((N, w)) get one tag each, μ_i = Σ_j κ_j·row_{i,j}, under a
  fresh key κ ∈ F^w drawn by PRSS (no interaction; never opened; uniform to the adversary,
  who knows the PRSS keys of two of the three pairs only): one resharing of N, recorded
  (``record_matvec``, κ the left operand). The tags travel through the pair steps as one
  more column, and the relation μ'_i = Σ_j κ_j·row'_{i,j} of the output is recorded too.
  Write the tags' creation as μ = Σ_j κ_j·row_j + ε and the output as
  row' = P·row + E, μ' = P·μ + E'. The output relation is then off by
  δ'_i = E'_i + (P·ε)_i − Σ_j κ_j·E_{i,j}: if a row i of E is non-zero, δ'_i = 0 needs
  Σ_j κ_j·E_{i,j} to hit a value fixed without κ — probability 1/p. Any non-zero ε or δ'
  fails ``product_check.verify`` except with probability ≤ 3/p (+ ChaCha20's advantage).
  Before each check the relations kept since the last one (the positions' N rows, each
  shuffle's tags before and after) are compressed to one inner product each under public
  random coefficients γ from a coin opened then (``_Relations``): a non-zero vector of row
  errors δ survives as Σ γ_i δ_i ≠ 0 except with probability 1/p (Schwartz–Zippel), and
  the check's shadows shrink from N outputs per relation to one.
  Soundness: an error in the shuffled rows passes with probability ≤ 1/p per shuffle (κ),
  a compression loses it with ≤ 1/p per relation, the product check with ≤ 3/p per check;
  over a whole Gini sort (30 digit columns with the filter: 57 shuffles, 143 compressed
  relations, 30 checks) ≤ 290/p < 2^-183 for p = 2^192 − 237.
  Why the creation is recorded as well: without it, an ε_i ≠ 0 could be cancelled by an
  E'_k at output row k exactly when P maps i to k — the run would abort or not depending
  on the secret permutation (a selective failure revealing a point of P, and through the
  opened σ = P(ρ) a rank). With both records the run aborts whenever the party deviated
  (except with the probabilities above), whatever the data: nothing leaks through the
  abort. (On such selective-failure leaks in published shuffle verifications: Song, Yin,
  Bai, Dong, Chang, "Secret-Shared Shuffle with Malicious Security", NDSS 2024.)
  A three-party honest-majority shuffle made fully secure by verifying it: Araki,
  Furukawa, Ohara, Pinkas, Rosemarin, Tsuchida, "Secure Graph Analysis at Scale", CCS 2021
  (DOI 10.1145/3460120.3484560); the tag check here is our instance of the Chida et al.
  check, not a copy of their protocol.
  Not used: a multiset check Π(ρ − x_i) = Π(ρ − y_i) shows only that the output is *some*
  permutation of the input; it does not bind the way back to π⁻¹ of the same π (a party
  in a pair that guesses the difference of two ranks could swap them undetected, with
  probability ≈ 1/N, and aborts otherwise, depending on the data), and costs 2N products.
* Openings. ``product_check.verify`` runs before every opening of shuffled positions, so
  nothing that depends on a product or a shuffle is opened unchecked; the openings are
  checked (``fast_mpc.open_limbs``). The last pass's positions stay recorded for the
  caller's check before it opens anything (Gini: ``secure_stats.open_gini_numerator``).

Cost of the checks per pass: one tag column more in the six pair steps, two resharings
of N for the tags, one coin opened and one ``product_check.verify`` (its shadows: the N·k
one-hot entries of the positions and a few compressed outputs; five rounds). Gini's sort
at N = 10,000: 322 MB sent per party instead of 187 MB (1.72×); time 1.5–2.2× the
semi-honest one (medians of 3, 3 parties on a loaded 2-core machine).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from numba import njit

from mpc_programs.runtime import fast_mpc, product_check
from mpc_programs.shares import f192
from mpc_programs.shares.field import PRIME
from mpc_programs.runtime.secure_types import FIELD
from mpc_programs.shares.sharing import lagrange_at_zero
from mpc_programs.runtime.hardened_runtime import mpc

#: The pairs of parties whose PRSS keys draw the shuffle's permutations, in order.
_PAIRS = ((0, 1), (0, 2), (1, 2))
_PERMUTATION_BOUND = 1 << 64
_MINUS_ONE = fast_mpc.constant_limbs(-1)


def _limbs(values: np.ndarray) -> np.ndarray:
    """Local shares as (…, 3) f192 limbs (object arrays of Python ints are converted)."""
    values = np.asarray(values)
    if values.dtype == np.uint64 and values.shape[-1:] == (3,):
        return values
    return fast_mpc.to_limbs(values).reshape(*values.shape, 3)


def _pair_permutations(n: int) -> list[np.ndarray | None]:
    """This party's permutation for each pair step (None where it is not in the pair).

    Every party draws one PRSS input per step, so all stay in step; only a pair's two
    members hold its key (MPyC's PRSS keys for 3 parties, t = 1, are per pair). The
    permutation sorts the n PRF values, ties by index (a stable sort).
    """
    prfs = mpc.prfs(_PERMUTATION_BOUND)
    out: list[np.ndarray | None] = []
    for pair in _PAIRS:
        uci = mpc._prss_uci()
        if mpc.pid in pair:
            keys = _prf_words(prfs[pair], uci, n)
            out.append(np.argsort(keys, kind='stable').astype(np.int64))
        else:
            out.append(None)
    return out


def _prf_words(prf, uci: bytes, n: int) -> np.ndarray:
    """``prf(uci, n)`` for MPyC's PRF with bound 2^64, as a uint64 array: its n values are
    the 8-byte little-endian words of SHAKE-128(key ‖ uci) (``thresha.PRF.__call__``),
    read here in one go instead of as n Python ints."""
    if prf.max != _PERMUTATION_BOUND or prf.byte_length != 8:
        return np.array(prf(uci, n), dtype=np.uint64)
    return np.frombuffer(hashlib.shake_128(prf.key + uci).digest(8 * n), dtype='<u8')


async def _pair_step(rows: np.ndarray, pair: tuple[int, int], perm: np.ndarray | None,
                     inverse: bool = False) -> np.ndarray:
    """Degree-1 shares of the rows ((N, w, 3) limbs) permuted by the pair's permutation
    (or its inverse).

    The pair's two members turn their shares into additive pieces (2-point Lagrange
    coefficients over the pair), permute them and share them out
    (``fast_mpc.share_sum_limbs``); the third party only receives.
    """
    local = rows
    if perm is not None:
        scale = lagrange_at_zero([p + 1 for p in pair], PRIME)[pair.index(mpc.pid)]
        flat = np.ascontiguousarray(rows).reshape(-1, 3)
        scaled = fast_mpc.mul_const(flat, fast_mpc.constant_limbs(int(scale)),
                                    np.empty_like(flat)).reshape(rows.shape)
        if inverse:
            local = np.empty_like(scaled)
            local[perm] = scaled
        else:
            local = scaled[perm]
    return await fast_mpc.share_sum_limbs(local, pair)


async def shuffle_limbs(rows: np.ndarray, perms: list[np.ndarray | None]) -> np.ndarray:
    """The rows ((N, w, 3) limbs, first axis = inputs) in the secret order π.

    Unchecked (semi-honest) on its own: :func:`ranks_and_carry` shuffles through
    ``_checked_permute``, which adds the tags and their relations for the product check."""
    for pair, perm in zip(_PAIRS, perms, strict=True):
        rows = await _pair_step(rows, pair, perm)
    return rows


async def unshuffle_limbs(rows: np.ndarray, perms: list[np.ndarray | None]) -> np.ndarray:
    """Undo :func:`shuffle_limbs` with the same permutations."""
    for pair, perm in reversed(list(zip(_PAIRS, perms, strict=True))):
        rows = await _pair_step(rows, pair, perm, inverse=True)
    return rows


async def shuffle(rows: np.ndarray, perms: list[np.ndarray | None]) -> np.ndarray:
    """The rows (local shares as Python ints, first axis = inputs) in the secret order π."""
    rows = np.asarray(rows, dtype=object)
    return fast_mpc.from_limbs(await shuffle_limbs(_limbs(rows), perms), rows.shape)


async def unshuffle(rows: np.ndarray, perms: list[np.ndarray | None]) -> np.ndarray:
    """Undo :func:`shuffle` with the same permutations."""
    rows = np.asarray(rows, dtype=object)
    return fast_mpc.from_limbs(await unshuffle_limbs(_limbs(rows), perms), rows.shape)


@njit(cache=True)
def _positions_degree2(column, prefix):
    """Σ_d B_{p,d}·(C_{<d} + P_{p,d}) per row p of the (N, k, 3) one-hot shares B; the
    right factors C_{<d} + P_{p,d} (degree-1 shares, linear in B) go to ``prefix``
    ((N, k, 3); pass a (0, k, 3) array to skip them)."""
    n, k = column.shape[0], column.shape[1]
    acc = np.zeros((k, 3), dtype=np.uint64)  # C_d, then C_{<d} + P_{p,d}
    for i in range(n):
        for d in range(k):
            acc[d, 0], acc[d, 1], acc[d, 2] = f192._add(
                acc[d, 0], acc[d, 1], acc[d, 2], column[i, d, 0], column[i, d, 1], column[i, d, 2])
    b0, b1, b2 = np.uint64(0), np.uint64(0), np.uint64(0)
    for d in range(k):  # exclusive prefix sums of the counts
        c0, c1, c2 = acc[d, 0], acc[d, 1], acc[d, 2]
        acc[d, 0], acc[d, 1], acc[d, 2] = b0, b1, b2
        b0, b1, b2 = f192._add(b0, b1, b2, c0, c1, c2)
    out = np.empty((n, 3), dtype=np.uint64)
    for i in range(n):
        s0, s1, s2 = np.uint64(0), np.uint64(0), np.uint64(0)
        for d in range(k):
            x0, x1, x2 = column[i, d, 0], column[i, d, 1], column[i, d, 2]
            acc[d, 0], acc[d, 1], acc[d, 2] = f192._add(acc[d, 0], acc[d, 1], acc[d, 2],
                                                        x0, x1, x2)
            y0, y1, y2 = f192._mul(x0, x1, x2, acc[d, 0], acc[d, 1], acc[d, 2])
            s0, s1, s2 = f192._add(s0, s1, s2, y0, y1, y2)
            if prefix.shape[0]:
                prefix[i, d, 0], prefix[i, d, 1], prefix[i, d, 2] = acc[d, 0], acc[d, 1], acc[d, 2]
        out[i, 0], out[i, 1], out[i, 2] = s0, s1, s2
    return out


class _Relations:
    """The sort's product relations awaiting the check, compressed before they go to
    ``product_check``: N rows of a relation become one inner product under public random
    coefficients γ (Schwartz–Zippel: a non-zero vector of row errors δ gives Σ γ_i δ_i = 0
    with probability 1/p), drawn from a coin opened after every row is fixed. That cuts the
    check's shadows of the outputs from N per relation to one (the left operands' shadows
    stay). Semi-honest: nothing is kept."""

    def __init__(self) -> None:
        self.tags: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.positions: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add_tags(self, key: np.ndarray, rows: np.ndarray, tags: np.ndarray) -> None:
        """μ_i = Σ_j κ_j·rows[i, j] (key (w, 3), rows (N, w, 3), tags (N, 3))."""
        self.tags.append((key, np.ascontiguousarray(rows), np.ascontiguousarray(tags)))

    def add_positions(self, column: np.ndarray, prefix: np.ndarray, dest: np.ndarray) -> None:
        """dest_i = Σ_d column[i, d]·prefix[i, d] (column, prefix (N, k, 3), dest (N, 3))."""
        self.positions.append((column, prefix, dest))

    async def record(self) -> None:
        """Open a coin (checked; a fresh PRSS random, independent of the data), compress
        every relation with its own slice of coefficients and record it for the check."""
        if not (self.tags or self.positions):
            return
        coin = await fast_mpc.open_limbs(fast_mpc.prss_random_limbs(1))
        sizes = [t[1].shape[0] for t in self.tags] + [p[0].shape[0] for p in self.positions]
        gamma = product_check.coefficients(b"secure_sort rows " + f192.to_bytes_le(coin),
                                           sum(sizes))
        at = 0
        for key, rows, tags in self.tags:
            g = gamma[at:at + rows.shape[0]]
            at += rows.shape[0]
            # Σ_i γ_i μ_i = Σ_j κ_j·(Σ_i γ_i rows[i, j])
            weighted = f192.matvec_t(rows, g)  # (w, 3)
            product_check.record_matvec(key, weighted.reshape(-1, 1, 3),
                                        f192.inner(g, tags).reshape(1, 3))
        for column, prefix, dest in self.positions:
            n, k = column.shape[0], column.shape[1]
            g = gamma[at:at + n]
            at += n
            # Σ_i γ_i dest_i = Σ_{i,d} column[i, d]·(γ_i·prefix[i, d])
            scaled = f192.modmul(prefix.reshape(n * k, 3), np.repeat(g, k, axis=0),
                                 np.empty((n * k, 3), np.uint64))
            product_check.record_matvec(column.reshape(n * k, 3), scaled.reshape(n * k, 1, 3),
                                        f192.inner(g, dest).reshape(1, 3))
        self.tags.clear()
        self.positions.clear()

    async def verify(self, step: str) -> None:
        """Record everything kept, then run ``product_check.verify``."""
        await self.record()
        await product_check.verify(step)


async def _stable_positions(column: np.ndarray, relations: _Relations | None = None
                            ) -> np.ndarray:
    """Shares ((N, 3) limbs) of each row's position in the stable sort of this one-hot
    digit column ((N, k, 3) limbs).

    The resharing turns N row-wise inner products Σ_d B_{p,d}·A_{p,d} (A = C_{<d} + P_{p,d})
    into degree-1 shares; under active security they are kept in ``relations`` (compressed
    before the check), or recorded directly with ``product_check.record_rowdot``."""
    column = np.ascontiguousarray(column)
    record = product_check.active()
    prefix = np.empty(column.shape if record else (0,) + column.shape[1:], np.uint64)
    degree2 = _positions_degree2(column, prefix)
    dest = await fast_mpc.reshare_limbs(degree2)
    if record:
        if relations is not None:
            relations.add_positions(column, prefix, dest)
        else:
            product_check.record_rowdot(column, prefix, dest)
    return fast_mpc.add_const(dest, _MINUS_ONE, np.empty_like(dest))


async def _authenticate(rows: np.ndarray, relations: _Relations
                        ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Under active security: a fresh secret key κ (PRSS, w elements, never opened) and
    the tags μ_i = Σ_j κ_j·rows[i, j] ((N, 3) limbs), one resharing, the relation kept in
    ``relations`` for the product check (κ the left operand). Semi-honest: (None, None).
    """
    if not product_check.active():
        return None, None
    width = rows.shape[1]
    key = fast_mpc.prss_random_limbs(width)
    rows = np.ascontiguousarray(rows)
    tags = await fast_mpc.reshare_limbs(f192.rows_dot(rows, key))
    relations.add_tags(key, rows, tags)
    return key, tags


async def _checked_permute(rows: np.ndarray, perms: list[np.ndarray | None],
                           relations: _Relations, inverse: bool = False) -> np.ndarray:
    """:func:`shuffle_limbs` (or :func:`unshuffle_limbs`) with, under active security, the
    rows' tags carried along as one more column and the relation between the permuted
    rows and tags kept for the product check (see the module doc, "Security")."""
    key, tags = await _authenticate(rows, relations)
    if key is not None:
        rows = np.concatenate([rows, tags[:, None, :]], axis=1)
    out = await (unshuffle_limbs(rows, perms) if inverse else shuffle_limbs(rows, perms))
    if key is None:
        return out
    out, out_tags = out[:, :-1], out[:, -1]
    relations.add_tags(key, out, out_tags)
    return out


async def _open_permutation(shares: np.ndarray) -> np.ndarray:
    """Open the shared positions ((N, 3) limbs); they must be a permutation of 0..N−1."""
    n = shares.shape[0]
    opened = await fast_mpc.open_limbs(shares)
    if n and (opened[:, 1:].any() or int(opened[:, 0].max()) >= n):
        raise RuntimeError("the opened shuffled positions are not a permutation")
    sigma = opened[:, 0].astype(np.int64)
    if not (np.bincount(sigma, minlength=n) == 1).all():
        raise RuntimeError("the opened shuffled positions are not a permutation")
    return sigma


async def ranks_and_carry(digits: Sequence[np.ndarray], carry: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Stable ascending ranks by ``digits`` (least significant first, each (N, k) one-hot
    local shares), returned with ``carry`` (N, c) in one shared hidden order: row j of
    both is the same input. Needs at least two digits.

    Inputs are Python-int share arrays (or already (…, 3) limbs); the local work runs in
    f192 limbs and the results come back as object arrays of Python ints."""
    n = carry.shape[0]
    relations = _Relations()
    rho = await _stable_positions(_limbs(digits[0]), relations)
    for t, column in enumerate(digits[1:], start=1):
        last = t == len(digits) - 1
        perms = _pair_permutations(n)
        width = column.shape[1]
        parts = [rho[:, None, :], _limbs(column)]
        if last:
            parts.append(_limbs(carry))
        shuffled = await _checked_permute(np.concatenate(parts, axis=1), perms, relations)
        # nothing is opened before the products and shuffles it depends on are checked
        await relations.verify(f"oblivious sort, digit pass {t} (its products and "
                               f"shuffles, before opening the shuffled positions)")
        sigma = await _open_permutation(shuffled[:, 0])
        arranged = np.empty((n, width, 3), dtype=np.uint64)
        arranged[sigma] = shuffled[:, 1:1 + width]
        # the last positions are recorded uncompressed: the caller checks them
        dest = await _stable_positions(arranged, None if last else relations)
        moved = dest[sigma]  # row k of the shuffled order: its new position
        if last:
            return fast_mpc.from_limbs(moved), fast_mpc.from_limbs(shuffled[:, 1 + width:])
        rho = (await _checked_permute(moved[:, None, :], perms, relations, inverse=True))[:, 0]
    raise ValueError("ranks_and_carry needs at least two digit columns")


def quaternary_digits(hex_digits: Sequence[np.ndarray], top_max: int) -> list[np.ndarray]:
    """The base-4 one-hot digits of hex one-hot digits (least significant first), by
    local sums: a hex digit d is (d mod 4) + 4·(d div 4). Sorting by base-4 digits takes
    twice the passes of 4 + 1 columns instead of 16 + 1, about 40 % less to shuffle. The
    most significant hex digit is at most ``top_max`` (< 4): its upper quarter is always 0
    and is skipped, its lower one has only top_max + 1 columns."""
    out = []
    for t, column in enumerate(hex_digits):
        column = np.asarray(column, dtype=object)
        low = np.stack([column[:, e::4].sum(axis=1) for e in range(4)], axis=1) % PRIME
        if t == len(hex_digits) - 1:
            out.append(low[:, :top_max + 1])
            break
        out.append(low)
        out.append(np.stack([column[:, 4 * e:4 * e + 4].sum(axis=1) for e in range(4)],
                            axis=1) % PRIME)
    return out


@njit(cache=True)
def _quaternary(hex_digit, low, high):
    """low[:, e] = Σ_{d ≡ e mod 4} hex[:, d], high[:, e] = Σ_{d div 4 = e} hex[:, d]."""
    for i in range(hex_digit.shape[0]):
        for e in range(4):
            l0, l1, l2 = hex_digit[i, e, 0], hex_digit[i, e, 1], hex_digit[i, e, 2]
            h0, h1, h2 = hex_digit[i, 4 * e, 0], hex_digit[i, 4 * e, 1], hex_digit[i, 4 * e, 2]
            for q in range(1, 4):
                j = e + 4 * q
                l0, l1, l2 = f192._add(l0, l1, l2, hex_digit[i, j, 0], hex_digit[i, j, 1],
                                       hex_digit[i, j, 2])
                j = 4 * e + q
                h0, h1, h2 = f192._add(h0, h1, h2, hex_digit[i, j, 0], hex_digit[i, j, 1],
                                       hex_digit[i, j, 2])
            low[i, e, 0], low[i, e, 1], low[i, e, 2] = l0, l1, l2
            high[i, e, 0], high[i, e, 1], high[i, e, 2] = h0, h1, h2


def quaternary_digits_limbs(hex_digits: Sequence[np.ndarray], top_max: int) -> list[np.ndarray]:
    """:func:`quaternary_digits` with the sums in f192 limbs: the same digits as (N, k, 3)
    limbs, ready for :func:`ranks_and_carry` (no conversion per pass). The hex digits may
    be Python-int share arrays (N, 16) or limbs (N, 16, 3)."""
    out = []
    for t, column in enumerate(hex_digits):
        column = np.ascontiguousarray(_limbs(column))
        if column.shape[1] != 16:
            raise ValueError("expected one-hot hex digits (16 columns)")
        n = column.shape[0]
        low = np.empty((n, 4, 3), dtype=np.uint64)
        high = np.empty((n, 4, 3), dtype=np.uint64)
        _quaternary(column, low, high)
        if t == len(hex_digits) - 1:
            out.append(low[:, :top_max + 1])
            break
        out.append(low)
        out.append(high)
    return out


def mask_digit(mask: np.ndarray) -> np.ndarray:
    """A 0/1 filter bit f as a one-hot "digit" [1 − f, f] (local shares)."""
    mask = np.asarray(mask, dtype=object) % PRIME
    return np.stack([(1 - mask) % PRIME, mask], axis=1)


__all__ = ["ranks_and_carry", "mask_digit", "quaternary_digits", "quaternary_digits_limbs",
           "shuffle", "unshuffle", "shuffle_limbs", "unshuffle_limbs", "FIELD"]


def warm_up() -> None:
    """Load this module's compiled kernels now (see ``f192.warm_up``)."""
    column = np.zeros((2, 4, 3), dtype=np.uint64)
    _positions_degree2(column, np.empty((0, 4, 3), dtype=np.uint64))
    _positions_degree2(column, np.empty((2, 4, 3), dtype=np.uint64))
    hex_digit = np.zeros((2, 16, 3), dtype=np.uint64)
    _quaternary(hex_digit, np.empty((2, 4, 3), np.uint64), np.empty((2, 4, 3), np.uint64))
