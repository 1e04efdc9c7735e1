"""Ingestion check: accept a provider's shares only if they encode a valid input.

Inputs (secret): per provider, this party's share row of the one-hot layout (240
field elements: 15 hexadecimal digits, one one-hot vector of 16 each; then the value).
Output (opened): one verdict per provider — nothing else about an honest provider's
input is revealed.

All coefficients are public and drawn jointly *after* the shares are fixed: a PRSS
random sharing is opened (``mpc.output``: a checked degree-1 opening) and seeds
SHAKE-256 (modelled as a random oracle).

1. Consistency (both modes): s = Σ_j ρ_j·row_j + m with a fresh random mask m (PRSS,
   degree 1) is formed by every party and all three shares are exchanged; a degree-1
   sharing satisfies s(1) − 2·s(2) + s(3) = 0. The mask makes s uniformly random, so the
   exchanged shares reveal nothing. An inconsistent row passes with prob. 1/p.
2. Encoding: a public polynomial in the row's entries b (and, from ``verify_inputs``, a
   secret expected value y) that is 0 for a valid encoding and, for an invalid one,
   non-zero except with small probability over the coefficients. Its linear terms:
   Σ_t ρ2_t·(Σ_d b_td − 1) (every digit sums to 1), Σ_d ρ3_d·b_{top, d > TOP_DIGIT_MAX}
   (value < 2^57), r_v·(x − Σ_t 16^t Σ_d d·b_td) (the stored value matches its digits)
   [+ r_e·(x − y)]; plus a bit/one-hot term that differs by mode:

   * semi-honest (``product_check.active()`` false; the earlier protocol, unchanged):
     Σ_j ρ'_j·b_j(1 − b_j) over the 240 entries, computed locally as a degree-2 sharing,
     re-randomised with a pseudorandom sharing of zero of degree 2 (PRSZ) and opened from
     all three shares (``threshold=2t``). Error ≤ 2/p against a faulty provider, and no
     secure multiplication at all — but a degree-2t opening has no redundancy with
     n = 2t + 1: one deviating party shifts it by any amount it likes. Colluding with a
     provider it knows the invalid encoding and, once the seed is open, every coefficient,
     so it can make the opened value exactly 0 (an input ≥ 2^57 or a two-hot digit is
     accepted and biases every statistic) or make an honest provider fail.
     ``tests/test_ingest_active.py`` shows both.
   * malicious (the default): per digit t, u_t = Σ_d w_d·b_td with public random
     w ∈ F^16, and the term Σ_t ρ_t·(u_t² − Σ_d w_d²·b_td). For 16 field elements b_t,
     u_t² − Σ_d w_d² b_td = Σ_d (b_td² − b_td)·w_d² + 2·Σ_{d<e} b_td b_te·w_d w_e
     vanishes as a polynomial in w exactly when every entry is a bit and at most one is
     1 — with the digit sum: exactly when b_t is one-hot. So the 240 squares of the
     semi-honest check become 15 per provider (a 16× smaller product check). The parties
     compute [u_t] locally (degree 1) and the local degree-2 value Σ_t ρ_t·u_t², reshare
     it to degree 1 (``fast_mpc.reshare_limbs``, [GRR98]; one round) as [q], record the
     relation q = Σ_t u_t·(ρ_t·u_t) per provider (``product_check.record_rowdot``), add
     the linear terms locally, run ``product_check.verify("ingestion check")`` — the
     deferred verification of Chida, Genkin, Hamada, Ikarashi, Kikuchi, Lindell and Nof,
     "Fast Large-Scale Honest-Majority MPC for Malicious Adversaries" (CRYPTO 2018) —
     and only then open the degree-1 values with ``fast_mpc.open_limbs`` (all three
     shares must lie on one line, else the run aborts). Only rows that passed check 1
     take part: an inconsistent row is no degree-1 sharing, its product and its opening
     could never pass the checks, and a provider alone must not be able to abort the run.

Why this is actively secure (one malicious party of three, with abort). With t = 1,
n = 3 every deviation is an additive error (Genkin, Ishai, Prabhakaran, Sahai, Tromer,
STOC 2014; Chida et al.): the values the two honest parties' shares define are the
correct ones plus errors the adversary fixed. In check 2 the only non-linear step is the
resharing of q; any error on it (a shifted message, a wrong local product, a wrong own
share of the row) is an error on a recorded product and makes the product check abort
before anything is opened; the final opening is checked, so what opens is the value the
honest parties' shares define. Each opened value's degree-1 sharing carries the honest
dealers' fresh resharing randomness in its slope, so the three shares reveal only the
value — for an honest provider, 0. The seed is the opening of a PRSS random value whose
sharing the honest parties' shares fix: uniform, and unknown to the adversary until the
rows are fixed (the rows are inputs of this call).

Check 1 under active security: a malicious party may send any s-share it likes. (a) To
get an inconsistent row through it must make s(1) − 2·s(2) + s(3) = 0, i.e. send what
fits the honest shares; the row is then, for the honest parties, the degree-1 sharing
their two shares define, and the deviating party's own share is one it could alter
anyway — every later use of a wrong share is an additive error caught as above. So the
rows that pass are sharings of the value the honest shares define, and check 2 validates
exactly that value. (b) A wrong s-share can only turn an honest provider's verdict into
"inconsistent shares", never get an invalid input accepted; s is uniformly random (the
PRSS mask), so what the party sends is independent of every input — the rejection is
data-independent (no selective-failure leak), the same outcome as the party claiming it
never received that provider's row. From the check values, n = 3 parties cannot tell it
apart from a faulty provider: any two of the three points define a line and the third is
off. So uploaded rows come with a verifiable dealing (``shares.dealing``: Pedersen-committed,
dealer-signed shares that each party checks on its own, complaints proven with the dealer's
signature), and for those rows — every row a party server accepts — check 1's verdict is
not used (``dealt``): a wrong s-share changes nothing. Check 1 still decides for rows
without a dealing: the bulk ``ingest`` job of the benchmarks, and tests.

Soundness (malicious mode). An invalid row is accepted only if (i) its check-2
polynomial vanishes at the random coefficients — a non-zero polynomial of degree ≤ 3 in
(ρ, w, ρ2, ρ3, r_v, r_e); Schwartz–Zippel: ≤ 3/p — or (ii) an added error passes the
product check (≤ 3/p + ε_ChaCha20, ``product_check``), or (iii) a wrong share passes the
checked opening (impossible: two honest points fix the line). An inconsistent row passes
check 1 with probability 1/p. In all ≤ 7/p + ε_ChaCha20 < 2^-189, far below the 2^-40
the issue asks for (with SHAKE-256 modelled as a random oracle). Semi-honest mode: ≤ 2/p
against a faulty provider, no bound against a deviating party.

Cost. Semi-honest: no secure multiplication — local arithmetic, one exchange of N field
elements (check 1) and one opening of N elements (check 2). Malicious, in addition: one
resharing of N elements ([q]), the product check over 15·N left operands (its resharings
of 15·N and N elements, the opening of its coin and r, one resharing and one opening of
a single element) and a checked opening of N elements instead of the degree-2 one: about
17 field elements (≈ 0.4 KB) per provider and peer, six more rounds; local work is a few
compiled passes over the rows (``f192`` and the two kernels below). Measured for 10,000
inputs (``check_rows`` in three local parties, ``tests/ingest_check_party.py --inputs
10000``, one 2-core machine shared with other work, load 10–12, so noisy): semi-honest
1.2–1.9 s, malicious 1.6–2.6 s (median ≈ +0.4 s, ≈ 1.3×); Python/NumPy allocation peak
inside the call 7 MiB vs 42 MiB (the product check's resharing of the 150,000 shadows).
``mpcstats bench scale --n 10000`` (whole ingestion job: start, decode, check, store):
11.2–16.2 s vs 12.5–18.9 s, peak RSS 490 vs 520–540 MiB. The first version, with the
240 squares of the semi-honest term in the product check, took 5–9 s and ≈ 650 MiB more
per party.
"""

from __future__ import annotations

import hashlib

import numpy as np
from mpyc import thresha
from numba import njit

from mpc_programs.shares.field import (DIGIT_BASE, DIGITS, ONE_HOT_LENGTH, PRIME, SHARES_PER_INPUT,
                                       TOP_DIGIT_MAX, VALUE_INDEX)
from mpc_programs.shares import f192
from mpc_programs.runtime import fast_mpc, product_check
from mpc_programs.runtime.secure_types import DIGIT_WEIGHTS, FIELD, local_array, secint
from mpc_programs.runtime.hardened_runtime import expect_from_peers, field_elements, mpc


def _coefficients(seed: int, label: str, count: int) -> np.ndarray:
    """``count`` public pseudorandom field elements derived from the joint seed."""
    width = (PRIME.bit_length() + 7) // 8 + 16  # extra bytes: negligible modulo bias
    stream = hashlib.shake_256(f"mpcstats-ingest|{label}|{seed}".encode()).digest(width * count)
    return np.array([int.from_bytes(stream[k * width:(k + 1) * width], "big") % PRIME
                     for k in range(count)], dtype=object)


async def _joint_seed() -> int:
    r = mpc._random(secint)
    return int(await mpc.output(r)) % PRIME


def combination(seed: int, expected: bool = False) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Check 2's public polynomial from the joint seed: (L, ρ', c, r_e) such that the
    opened value for a row b (and expected value y) is Σ_j L_j·b_j − Σ_{j<240} ρ'_j·b_j²
    + c − r_e·y (r_e = 0 without an expected value). L is reduced mod p."""
    rho_bits = _coefficients(seed, "bits", ONE_HOT_LENGTH)
    rho_value = int(_coefficients(seed, "value", 1)[0])
    rho_digits = _coefficients(seed, "digits", DIGITS)
    rho_top = _coefficients(seed, "top", DIGIT_BASE)
    linear = np.zeros(SHARES_PER_INPUT, dtype=object)
    linear[:ONE_HOT_LENGTH] = rho_bits  # b(1 − b) = b − b²: the linear half
    linear[:ONE_HOT_LENGTH] += np.repeat(rho_digits, DIGIT_BASE)  # Σ_t ρ''_t Σ_d b_td
    top = (DIGITS - 1) * DIGIT_BASE
    linear[top + TOP_DIGIT_MAX + 1:ONE_HOT_LENGTH] += rho_top[TOP_DIGIT_MAX + 1:]
    linear[:ONE_HOT_LENGTH] -= rho_value * DIGIT_WEIGHTS  # r_v·(x − Σ w·b)
    linear[VALUE_INDEX] = rho_value
    constant = -int(np.sum(rho_digits)) % PRIME  # the "− 1" of every digit's sum
    rho_expected = 0
    if expected:
        rho_expected = int(_coefficients(seed, "expected", 1)[0])
        linear[VALUE_INDEX] += rho_expected
    return linear % PRIME, rho_bits, constant, rho_expected


def active_combination(seed: int, expected: bool = False
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Check 2's public polynomial under active security: (L, w, ρ, c, r_e) such that the
    opened value for a row b (and expected value y) is

        Σ_t ρ_t·u_t² + Σ_j L_j·b_j + c − r_e·y,   u_t = Σ_d w_d·b_td (digit t's 16 entries),

    with L holding −ρ_t·w_d² at entry (t, d) plus the linear terms of :func:`combination`
    (digit sums, top digit, value against digits, expected value). L is reduced mod p."""
    w = _coefficients(seed, "one-hot w", DIGIT_BASE)
    rho_square = _coefficients(seed, "one-hot rho", DIGITS)
    rho_value = int(_coefficients(seed, "value", 1)[0])
    rho_digits = _coefficients(seed, "digits", DIGITS)
    rho_top = _coefficients(seed, "top", DIGIT_BASE)
    linear = np.zeros(SHARES_PER_INPUT, dtype=object)
    linear[:ONE_HOT_LENGTH] = -np.outer(rho_square, w * w).reshape(-1)  # −ρ_t·w_d²·b_td
    linear[:ONE_HOT_LENGTH] += np.repeat(rho_digits, DIGIT_BASE)  # Σ_t ρ2_t Σ_d b_td
    top = (DIGITS - 1) * DIGIT_BASE
    linear[top + TOP_DIGIT_MAX + 1:ONE_HOT_LENGTH] += rho_top[TOP_DIGIT_MAX + 1:]
    linear[:ONE_HOT_LENGTH] -= rho_value * DIGIT_WEIGHTS  # r_v·(x − Σ w·b)
    linear[VALUE_INDEX] = rho_value
    constant = -int(np.sum(rho_digits)) % PRIME
    rho_expected = 0
    if expected:
        rho_expected = int(_coefficients(seed, "expected", 1)[0])
        linear[VALUE_INDEX] += rho_expected
    return linear % PRIME, w, rho_square, constant, rho_expected


def opened_value(row: list[int], seed: int, active: bool, expected: int | None = None) -> int:
    """The value check 2 opens for a plaintext layout ``row`` (tests; 0 iff valid, w.h.p.)."""
    b = [int(v) % PRIME for v in row]
    if active:
        linear, w, rho, constant, r_e = active_combination(seed, expected is not None)
        quadratic = sum(int(rho[t]) * sum(int(w[d]) * b[t * DIGIT_BASE + d]
                                          for d in range(DIGIT_BASE)) ** 2
                        for t in range(DIGITS))
    else:
        linear, rho_bits, constant, r_e = combination(seed, expected is not None)
        quadratic = -sum(int(c) * v * v for c, v in zip(rho_bits, b[:ONE_HOT_LENGTH]))
    value = quadratic + sum(int(c) * v for c, v in zip(linear, b)) + constant
    return (value - r_e * (expected or 0)) % PRIME


async def check_rows(rows: np.ndarray, expected_values: np.ndarray | None = None,
                     dealt: np.ndarray | None = None) -> list[str | None]:
    """Per provider: None if accepted, else the reason for rejection.

    ``rows``: this party's share rows, either Python ints of shape (N, SHARES_PER_INPUT) or
    ``f192`` limbs of shape (N, SHARES_PER_INPUT, 3) (what the store's bytes decode to —
    the fast path for large ingestions). ``expected_values`` (optional): this party's shares
    of a secret value per provider that the layout's value must equal — the balance
    decrypted from the notarized record (``verify_inputs``). The equality joins the same
    opened combination, at no extra cost.

    Local work is a few passes of compiled row sums (``f192.rows_dot``): every linear term
    of check 2 — the digit sums, the top digit, the value against its digits, the linear
    half of the one-hot term, the expected value — is folded into one coefficient vector L
    (:func:`combination`, :func:`active_combination`), so the combination is Σ_j L_j·row_j
    plus the degree-2 part (semi-honest: − Σ_{j<240} ρ'_j·row_j²; malicious: Σ_t ρ_t·u_t²,
    reshared and verified) plus a constant (− r_e·y) — the polynomial of the module
    docstring. Under ``product_check.active()`` any products recorded before the call are
    verified with this check's ("ingestion check").

    ``dealt`` (optional, one bool per row): rows whose provider's verifiable dealing every
    party has checked (``shares.dealing``; ``verify_inputs.dealing_verdicts``). Their sharing
    is established, so check 1's verdict does not apply to them: a deviating party's wrong
    s-share cannot turn them into "inconsistent shares".
    """
    rows = _as_limbs(rows)
    n = rows.shape[0]
    if n == 0:
        return []
    if rows.shape[1] != SHARES_PER_INPUT:
        raise ValueError("share rows have the wrong width")
    seed = await _joint_seed()
    rho = _coefficients(seed, "consistency", SHARES_PER_INPUT)

    # 1. consistency of the sharing, masked by a PRSS random sharing
    masks = np.asarray(mpc._np_randoms(FIELD, n).value, dtype=object)  # PRSS: no communication
    masked = f192.modadd(f192.rows_dot(rows, f192.from_ints(rho)), f192.from_ints(masks),
                         np.empty((n, 3), np.uint64))
    exchanged = expect_from_peers(await mpc.transfer(f192.to_ints(masked)),
                                  field_elements(n), f"{n} field elements")
    s1, s2, s3 = (np.array(exchanged[i], dtype=object) for i in range(3))
    consistent = ((s1 - 2 * s2 + s3) % PRIME == 0)
    if dealt is not None:
        consistent = consistent | np.asarray(dealt, dtype=bool)

    if product_check.active():
        opened = await _encoding_check_active(rows, consistent, seed, expected_values)
    else:
        opened = await _encoding_check_semi_honest(rows, seed, expected_values)
    verdicts: list[str | None] = []
    for ok, value in zip(consistent, opened):
        if not ok:
            verdicts.append("inconsistent shares")
        elif int(value) % PRIME != 0:
            verdicts.append("shares do not encode a valid input")
        else:
            verdicts.append(None)
    return verdicts


async def _encoding_check_semi_honest(rows: np.ndarray, seed: int,
                                      expected_values: np.ndarray | None) -> list[int]:
    """Check 2, semi-honest: the degree-2t combination of :func:`combination`,
    re-randomised by a PRSS sharing of zero of degree 2t and opened (no redundancy: one
    deviating party can shift it at will — see the module docstring)."""
    n = rows.shape[0]
    linear, rho_bits, constant, rho_expected = combination(seed, expected_values is not None)
    total = f192.modsub(f192.rows_dot(rows, f192.from_ints(linear)),
                        f192.rows_dot(rows[:, :ONE_HOT_LENGTH], f192.from_ints(rho_bits), True),
                        np.empty((n, 3), np.uint64))
    correction = np.full(n, constant, dtype=object)
    if expected_values is not None:
        correction = correction - rho_expected * np.asarray(expected_values, dtype=object)
    zero = np.asarray(thresha.np_pseudorandom_share_0(
        FIELD, len(mpc.parties), mpc.pid, mpc.prfs(FIELD.order), mpc._prss_uci(),
        n).value, dtype=object)
    total_ints = (np.array(f192.to_ints(total), dtype=object) + zero + correction) % PRIME
    opened = await mpc.output(local_array(total_ints, True), threshold=2 * mpc.threshold)
    return [int(v) for v in opened]


async def _encoding_check_active(rows: np.ndarray, consistent: np.ndarray, seed: int,
                                 expected_values: np.ndarray | None) -> list[int]:
    """Check 2 under active security (module docstring): only the rows that passed check 1;
    the 15 squares per row are one resharing, recorded and verified before the checked
    opening. Returns the opened values (0 for the rows left out)."""
    n = rows.shape[0]
    opened = [0] * n
    # An inconsistent row is no degree-t sharing: its products could not pass the product
    # check nor its value the checked opening, and a provider alone must not be able to
    # abort the run. So only the rows that passed check 1 take part.
    keep = np.flatnonzero(consistent)
    if keep.size == 0:
        return opened
    linear, w, rho, constant, rho_expected = active_combination(
        seed, expected_values is not None)
    rho_limbs = f192.from_ints(rho)
    # local passes over all rows, then the kept ones (no copy of the rows themselves)
    digits = _digit_sums(rows, f192.from_ints(w))  # [u_t], degree t: (N, DIGITS, 3)
    linear_part = f192.rows_dot(rows, f192.from_ints(linear))
    if keep.size < n:
        digits, linear_part = digits[keep], linear_part[keep]
    local = f192.rows_dot(digits, rho_limbs, True)  # Σ_t ρ_t·u_t², degree 2t
    squares = await fast_mpc.reshare_limbs(local)  # degree t (one round)
    product_check.record_rowdot(digits, _scale_columns(digits, rho_limbs), squares)
    total = f192.modadd(linear_part, squares, np.empty((keep.size, 3), np.uint64))
    correction = np.full(keep.size, constant, dtype=object)
    if expected_values is not None:
        correction = correction - rho_expected * np.asarray(expected_values,
                                                            dtype=object)[keep]
    total = f192.modadd(total, f192.from_ints(correction % PRIME), total)
    await product_check.verify("ingestion check")  # before anything depending on it opens
    values = f192.to_ints(await fast_mpc.open_limbs(total))  # checked opening
    for k, v in zip(keep, values):
        opened[k] = int(v)
    return opened


@njit(cache=True)
def _digit_sums(rows, w):
    """(N, ≥240, 3) share rows, (16, 3) w -> (N, DIGITS, 3): u[i, t] = Σ_d w_d·rows[i, 16t + d]."""
    n, digits, base = rows.shape[0], ONE_HOT_LENGTH // w.shape[0], w.shape[0]
    out = np.empty((n, digits, 3), dtype=np.uint64)
    acc = np.zeros(15, dtype=np.uint64)
    for i in range(n):
        for t in range(digits):
            acc[:] = 0
            for d in range(base):
                j = t * base + d
                f192._acc_product(acc, rows[i, j, 0], rows[i, j, 1], rows[i, j, 2],
                                  w[d, 0], w[d, 1], w[d, 2])
            out[i, t, 0], out[i, t, 1], out[i, t, 2] = f192._collapse(acc)
    return out


def _as_limbs(rows: np.ndarray) -> np.ndarray:
    """Share rows as (N, SHARES_PER_INPUT, 3) ``f192`` limbs (Python ints are converted)."""
    if rows.dtype == np.uint64 and rows.ndim == 3:
        return rows
    rows = np.asarray(rows, dtype=object)
    if rows.ndim != 2:
        raise ValueError("share rows must be a 2-D array")
    return f192.to_limbs(rows).reshape(rows.shape[0], rows.shape[1], 3)


@njit(cache=True)
def _scale_columns(m, v):
    """(N, K, 3) limbs times a (K, 3) row of constants, column by column: out[i, j] =
    m[i, j]·v[j] mod p."""
    out = np.empty_like(m)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            out[i, j, 0], out[i, j, 1], out[i, j, 2] = f192._mul(
                m[i, j, 0], m[i, j, 1], m[i, j, 2], v[j, 0], v[j, 1], v[j, 2])
    return out
