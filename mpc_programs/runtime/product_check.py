"""Verified products: a party that adds an error to a product is caught before anything
that depends on it is opened.

The protocol is the verification of Chida, Genkin, Hamada, Ikarashi, Kikuchi, Lindell and
Nof, "Fast Large-Scale Honest-Majority MPC for Malicious Adversaries" (CRYPTO 2018; ePrint
2018/570): its protocol for large fields (|F| > 2^σ) and that protocol's verification stage,
run *deferred*: the products are computed by the plain semi-honest resharing of
``fast_mpc`` and recorded here, and :func:`verify` checks everything recorded since the
last check before the caller opens a value that depends on it. With one dishonest party of
three, Shamir sharing and [GRR98] resharing are secure *up to additive attacks* (Genkin,
Ishai, Prabhakaran, Sahai, Tromer, STOC 2014; Chida et al.'s definition of a multiplication
secure up to additive attacks): whatever the party does — a shifted resharing message, a
wrong PRSS value, a wrong share of a stored input — the values the two honest parties'
shares define come out as the correct ones plus errors the adversary fixed; an opening is
checked by ``hardened_runtime``'s checked openings. So the products are all that needs
checking.

A record is a product relation on degree-t shares, in f192 limbs:

* elementwise: z_i = x_i·y_i (``record_products``);
* matrix–vector: z_d = Σ_i Y[i, d]·x_i (``record_matvec``), e.g. the radix search's counts
  Σ_i a_i·onehot_i[d] — one record for a whole inner product, as Chida et al. treat
  inner-product gates (one resharing, one shadow per left operand);
* row-wise inner products: z_i = Σ_j x[i, j]·y[i, j] (``record_rowdot``), e.g. the oblivious
  sort's positions — one resharing per row of K products, checked as the elementwise
  products x ⊙ y summed per row (the same check, the shadows r·x of all N·K left operands).

The check of everything recorded (K output values z_k, left operands x_j):

1. a fresh random [r] (PRSS: no interaction) and the shadows [r·x_j] = [r]·[x_j] (one
   resharing round), then the shadows of the outputs, [r·z_k]' = the same relation applied
   to [r·x] and y (elementwise products, or Yᵀ·[r·x]: one resharing round);
2. a coin [c] and [r] are opened (checked): from c, the coefficients α_k and β_j (ChaCha20
   keyed by SHA-256 of c). Every error is fixed before the coefficients exist;
3. locally [u] = Σ α_k [r·z_k]' + Σ β_j [r·x_j], [w] = Σ α_k [z_k] + Σ β_j [x_j], and
   [T] = [u] − r·[w];
4. a random [s], [s·T] (one resharing) opened (checked); the run aborts unless it is 0.

Soundness: write the opened results as z_k = x_k·y_k + δ_k, the shadows of x as
r·x_j + e_j and those of z as (r·x)·y + e_j·y + e'_k. Then T = Σ α_k (e·y + e'_k − r·δ_k) +
Σ β_j e_j. If any δ_k ≠ 0, then Σ α_k δ_k ≠ 0 except with probability 1/p over α, and
T = 0 needs r to equal one value fixed before r was opened, where r is uniform and hidden
from the adversary (one share of it, and uniform shares of r·x): probability 1/p. If all
δ = 0 but some e_j ≠ 0 or e'_k ≠ 0, T is a non-zero linear form in (α, β) and vanishes with
probability ≤ 1/p. Finally s·T = 0 for T ≠ 0 only if s = 0 (1/p) or the resharing of s·T is
shifted by exactly −s·T, which the adversary cannot predict (s uniform, hidden). In all,
Pr[an error passes] ≤ 3/p + ε_ChaCha20 < 2^-190 for p = 2^192 − 237 (ε_ChaCha20: the
advantage of telling ChaCha20's keystream from uniform, as for every resharing's
coefficients in ``fast_mpc``). Because T is masked by s, an abort reveals only that some
error was made — never a function of the secrets: when e_j ≠ 0 the abort happens with
probability ≥ 1 − 1/p whatever the values y are, which is what rules out selective failure
(the β terms are why: without them an error on a shadow times y would pass iff y equals a
guess).

Cost per check: two resharing rounds over the recorded left operands and outputs (each
distinct left operand array once), one round for the openings of c and r, and one
resharing and one opening of a single element — five rounds in all, and about twice the
products' resharing volume.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from mpc_programs.shares import f192

#: ``malicious``: products are recorded and checked before openings that depend on them;
#: ``semi-honest``: nothing is recorded (MPyC's model, the earlier default).
SECURITY_LEVELS = ("malicious", "semi-honest")

_state = {"security": "malicious"}


def configure(security: str) -> None:
    """Set this party's security level for the run (every party must use the same)."""
    if security not in SECURITY_LEVELS:
        raise ValueError(f"security must be one of {', '.join(SECURITY_LEVELS)}, "
                         f"not {security!r}")
    _state["security"] = security
    _pending.clear()


def security() -> str:
    return _state["security"]


def active() -> bool:
    """True when products are recorded and checked (active security with abort)."""
    return _state["security"] == "malicious"


@dataclass(frozen=True)
class _Record:
    """z = x ⊙ y (``matrix`` None: x, y, z all (N, 3)) or z = Yᵀ·x (``matrix`` = Y,
    (N, D, 3); z (D, 3)). Limbs, reduced, never modified after recording."""

    x: np.ndarray
    y: np.ndarray | None
    matrix: np.ndarray | None
    z: np.ndarray
    #: ``record_rowdot``: x, y are (N·width, 3) and z_i sums the products of row i
    width: int = 1


_pending: list[_Record] = []


def _limbs(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype != np.uint64 or a.shape[-1:] != (3,):
        raise TypeError("expected field elements as (..., 3) uint64 limbs")
    return np.ascontiguousarray(a.reshape(-1, 3))


def record_products(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> None:
    """Record z = x ⊙ y elementwise (degree-t shares as limbs of one shape)."""
    if not active():
        return
    x, y, z = _limbs(x), _limbs(y), _limbs(z)
    if not x.shape == y.shape == z.shape:
        raise ValueError("x, y and z must have the same shape")
    if x.shape[0]:
        _pending.append(_Record(x, y, None, z))


def record_matvec(x: np.ndarray, matrix: np.ndarray, z: np.ndarray) -> None:
    """Record z[d] = Σ_i matrix[i, d]·x[i] (x (N, 3), matrix (N, D, 3), z (D, 3))."""
    if not active():
        return
    x, z = _limbs(x), _limbs(z)
    matrix = np.asarray(matrix)
    if matrix.ndim != 3 or matrix.shape[0] != x.shape[0] or matrix.shape[1] != z.shape[0]:
        raise ValueError("matrix must be (N, D, 3) for x (N, 3) and z (D, 3)")
    if z.shape[0]:
        _pending.append(_Record(x, None, matrix, z))


def record_inner(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> None:
    """Record z = Σ_i x_i·y_i (x, y (N, 3), z one element: (3,) or (1, 3))."""
    y = _limbs(y)
    record_matvec(x, y.reshape(y.shape[0], 1, 3), np.asarray(z).reshape(1, 3))


def record_rowdot(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> None:
    """Record z_i = Σ_j x[i, j]·y[i, j] (x, y (N, K, 3), z (N, 3))."""
    if not active():
        return
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 3 or x.shape != y.shape:
        raise ValueError("x and y must both be (N, K, 3)")
    z = _limbs(z)
    if z.shape[0] != x.shape[0]:
        raise ValueError("z must have one value per row of x")
    if z.shape[0] and x.shape[1]:
        _pending.append(_Record(_limbs(x), _limbs(y), None, z, width=x.shape[1]))


def pending() -> int:
    """How many output values wait for a check."""
    return sum(r.z.shape[0] for r in _pending)


def coefficients(seed: bytes, count: int) -> np.ndarray:
    """``count`` field elements (limbs) from the public coin: ChaCha20 under SHA-256(seed).

    A 192-bit string ≥ p is reduced once (probability 237/2^192 each; the same at every
    party, which is all that matters here: the coefficients are public)."""
    key = hashlib.sha256(b"mpcstats product check" + seed).digest()
    stream = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()
    raw = np.frombuffer(stream.update(bytes(24 * count)), dtype="<u8").reshape(count, 3).copy()
    return f192.reduce_once(raw)


async def verify(step: str) -> None:
    """Check every product recorded since the last check; abort the run naming ``step``
    if any is wrong. Every party must call it at the same point of the program."""
    if not active() or not _pending:
        return
    from mpc_programs.runtime import fast_mpc
    from mpc_programs.runtime.hardened_runtime import abort_run

    records = list(_pending)
    _pending.clear()
    # distinct left operands (the same array is often the left side of several records)
    lefts: dict[int, int] = {}
    xs: list[np.ndarray] = []
    for record in records:
        if id(record.x) not in lefts:
            lefts[id(record.x)] = sum(x.shape[0] for x in xs)
            xs.append(record.x)
    x_all = np.concatenate(xs) if len(xs) > 1 else xs[0]
    r, s, coin = fast_mpc.prss_random_limbs(3)
    # 1. [r·x] and the outputs' shadows
    rx = await fast_mpc.reshare_limbs(fast_mpc.mul_const(x_all, r, np.empty_like(x_all)))
    local = []
    for record in records:
        start = lefts[id(record.x)]
        shadow_x = rx[start:start + record.x.shape[0]]
        if record.matrix is None:
            product = f192.modmul(shadow_x, record.y, np.empty_like(shadow_x))
            if record.width > 1:  # record_rowdot: the products of a row summed
                ones = np.zeros((record.width, 3), np.uint64)
                ones[:, 0] = 1
                product = f192.rows_dot(product.reshape(-1, record.width, 3), ones)
            local.append(product)
        else:
            local.append(f192.matvec_t(record.matrix, np.ascontiguousarray(shadow_x)))
    rz = await fast_mpc.reshare_limbs(np.concatenate(local) if len(local) > 1 else local[0])
    z_all = np.concatenate([record.z for record in records]) if len(records) > 1 \
        else records[0].z
    # 2. the coin and r, opened (checked) after every error is fixed
    opened = await fast_mpc.open_limbs(np.stack([coin, r]))
    weights = coefficients(f192.to_bytes_le(opened[:1]), z_all.shape[0] + x_all.shape[0])
    alpha, beta = weights[:z_all.shape[0]], weights[z_all.shape[0]:]
    # 3. T = u − r·w, locally
    u = f192.modadd(f192.inner(alpha, rz)[None], f192.inner(beta, rx)[None],
                    np.empty((1, 3), np.uint64))
    w = f192.modadd(f192.inner(alpha, z_all)[None], f192.inner(beta, x_all)[None],
                    np.empty((1, 3), np.uint64))
    rw = fast_mpc.mul_const(w, opened[1], np.empty_like(w))
    t = f192.modsub(u, rw, np.empty_like(u))
    # 4. s·T, opened: zero unless a product was wrong
    st = await fast_mpc.reshare_limbs(fast_mpc.mul_const(t, s, np.empty_like(t)))
    result = await fast_mpc.open_limbs(st)
    if np.any(result):
        abort_run(f"product check failed at {step}: a party added an error to a product "
                  f"({z_all.shape[0]} products checked; with three parties the one who "
                  f"deviated cannot be named)")
