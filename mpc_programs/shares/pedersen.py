"""Pedersen vector commitments over the share field: what makes a provider's dealing verifiable.

A provider deals each row of field elements a ∈ F_p^n (p = ``PRIME``) with degree-1 Shamir
sharing: party x gets r_x = a + b·x, b uniform. To let every party check *its own* share without
seeing the others', the provider also publishes two commitments

    C_0 = h^α · Π_j g_j^(a_j),    C_1 = h^β · Π_j g_j^(b_j)      (α, β uniform in F_p)

and gives party x the blinding share σ_x = α + β·x. Party x accepts iff

    h^(σ_x) · Π_j g_j^(r_x,j) = C_0 · C_1^x.

This is Pedersen's verifiable secret sharing (T. P. Pedersen, "Non-Interactive and
Information-Theoretic Secure Verifiable Secret Sharing", CRYPTO 1991) with the vector form of his
commitment (one generator per row element), for t = 1. What it gives and rests on:

* **Hiding, perfectly:** C_0, C_1 are uniform in the group whatever a is (α, β uniform), and a
  deviating party holds one share, which is uniform too.
* **Binding, computationally:** two openings of one commitment give a discrete-logarithm
  relation among h, g_1, ..., g_n. The generators are hashed into the group (:func:`generator`),
  so nobody knows such a relation. The group has prime order p (192 bits), so generic attacks
  (Pollard's rho) cost about 2^96 group operations; the 2048-bit modulus puts index-calculus
  attacks at about 2^112. Binding has to hold only from the dealing until the shares are checked.
* **What a party learns from a passing check:** its share lies on the line the commitments fix.
  Two honest parties' passing checks fix the sharing; a third party's share can only be wrong
  if that party alters it, which it could do anyway.

The group is the subgroup of order p of Z_q^*, q = 2·p·p' + 1 with p' prime (:data:`GROUP`). With
that shape the only elements outside the subgroup of order p·p' are non-residues mod q; a received
commitment is checked to be a quadratic residue (a Legendre symbol, microseconds), and then its
component of order p' can only make a check fail, never pass (:func:`verify_batch`).

Checking N providers at once (:func:`verify_batch`) uses the small-exponent batch test of
Bellare, Garay and Rabin ("Fast Batch Verification for Modular Exponentiation and Digital
Signatures", EUROCRYPT 1998): each provider's equation is raised to a private random 64-bit
weight ρ and all are multiplied,

    h^(Σ ρ·σ) · Π_j g_j^(Σ ρ·r_j) = Π C_0^ρ · Π C_1^(x·ρ),

one multi-exponentiation over the n + 1 generators (exponents reduced mod p) and one over the
2N commitments with short exponents (:func:`multi_exp`, Pippenger's bucket method). If any one
provider's equation fails, the batch passes with probability at most 2^-64 (the errors are fixed
before the weights are drawn; in each prime-order component a non-zero error survives the random
combination except for one value of its weight). A failing batch is bisected to find the faulty
providers (:func:`faulty`).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import gmpy2
from gmpy2 import mpz

from mpc_programs.shares.field import PRIME

#: bytes of a group element on the wire (q is a 2048-bit prime)
ELEMENT_BYTES = 256
#: bits of the private batch weights: a wrong share passes a batch with probability ≤ 2^-64
WEIGHT_BITS = 64
_DOMAIN = b"mpcstats-pedersen-v1|"


@dataclass(frozen=True)
class Group:
    """The subgroup of order ``PRIME`` of Z_q^*, q = 2·p·cofactor + 1 (both primes)."""

    q: int
    cofactor: int  # p', prime

    @property
    def to_subgroup(self) -> int:
        """Raising to this maps Z_q^* onto the subgroup of order p: (q − 1) / p."""
        return 2 * self.cofactor


def _cofactor_start() -> int:
    """Where the search for p' starts: the top of SHAKE-256 of the domain, so that q has 2048 bits."""
    low = (1 << 2046) // PRIME + 1  # 2·p·p' + 1 ≥ 2^2047
    high = ((1 << 2047) - 1) // PRIME  # 2·p·p' + 1 < 2^2048
    stream = hashlib.shake_256(_DOMAIN + b"cofactor").digest(ELEMENT_BYTES + 16)
    start = low + int.from_bytes(stream, "big") % (high - low)
    return start | 1


#: p' = _cofactor_start() + 2·COFACTOR_STEPS is the first candidate with p' and q both prime
#: (``python -m mpc_programs.shares.pedersen --search`` finds it again; the test suite checks
#: that both are prime)
COFACTOR_STEPS = 807_836


@lru_cache(maxsize=1)
def group() -> Group:
    cofactor = _cofactor_start() + 2 * COFACTOR_STEPS
    return Group(q=2 * PRIME * cofactor + 1, cofactor=cofactor)


def search_cofactor(start: int, limit: int = 10_000_000) -> int:
    """Steps of 2 from ``start`` to the first p' with p' and 2·p·p' + 1 both (probable) primes."""
    small = mpz(1)
    for prime in range(3, 20_000, 2):
        if gmpy2.is_prime(prime):
            small *= prime
    p = mpz(PRIME)
    for step in range(limit):
        candidate = mpz(start) + 2 * step
        q = 2 * p * candidate + 1
        if gmpy2.gcd(candidate * q, small) != 1:
            continue
        if gmpy2.is_prime(candidate, 40) and gmpy2.is_prime(q, 40):
            return step
    raise RuntimeError("no cofactor found within the limit")


#: the first TABLE_SIZE generators, precomputed (256 bytes each, big-endian): hashing one into
#: the group takes about 10 ms, and a row needs one per element plus h (a layout 242, the
#: bits of an AES-256 key 257)
TABLE = Path(__file__).with_name("pedersen_generators.bin")
TABLE_SIZE = 512
#: SHA-256 of :data:`TABLE` (``python -m mpc_programs.shares.pedersen --table`` writes it)
TABLE_SHA256 = "39ac0770c4264ef2820b9b252d0b84db312ba3b86a685724310919f0b0e5dd5e"


@lru_cache(maxsize=1)
def table() -> tuple[int, ...]:
    """The precomputed generators; empty if the file is absent (they are then hashed as needed)."""
    try:
        data = TABLE.read_bytes()
    except FileNotFoundError:
        return ()
    if hashlib.sha256(data).hexdigest() != TABLE_SHA256 or len(data) != TABLE_SIZE * ELEMENT_BYTES:
        raise RuntimeError(f"{TABLE} is not the generator table this code was built with")
    return tuple(int.from_bytes(data[k:k + ELEMENT_BYTES], "big")
                 for k in range(0, len(data), ELEMENT_BYTES))


def generator(index: int) -> int:
    """The ``index``-th generator of the subgroup of order p (0 is h, the blinding generator).

    Hashed into Z_q^* and raised to (q − 1)/p (:func:`hashed_generator`): nobody knows its
    logarithm to any other generator's base. The first :data:`TABLE_SIZE` come from the table.
    """
    known = table()
    return known[index] if index < len(known) else hashed_generator(index)


@lru_cache(maxsize=None)
def hashed_generator(index: int) -> int:
    """:func:`generator`, computed: about 10 ms (an 1856-bit exponent); cached per process."""
    grp = group()
    stream = hashlib.shake_256(_DOMAIN + b"generator|" + str(index).encode()).digest(
        ELEMENT_BYTES + 16)
    element = gmpy2.powmod(mpz(int.from_bytes(stream, "big")) % grp.q, grp.to_subgroup, grp.q)
    if element == 1:  # probability ~ 1/p
        raise ArithmeticError(f"generator {index} is the identity")
    return int(element)


def generators(count: int) -> list[int]:
    """h, g_1, ..., g_count."""
    return [generator(i) for i in range(count + 1)]


def multi_exp(bases: Sequence[int], exponents: Sequence[int], modulus: int) -> int:
    """Π bases_i^exponents_i mod ``modulus`` (Pippenger's bucket method).

    With windows of c bits, each window costs one multiplication per base plus 2·2^c for the
    buckets, and c squarings: for 1,000,000 bases with 64-bit exponents (c = 16) about 4.5
    million multiplications instead of the 64 million of one exponentiation per base.
    """
    if len(bases) != len(exponents):
        raise ValueError("as many exponents as bases")
    m = mpz(modulus)
    pairs = [(mpz(b), int(e)) for b, e in zip(bases, exponents) if e]
    if any(e < 0 for _, e in pairs):
        raise ValueError("exponents are non-negative")
    if not pairs:
        return 1 % modulus
    bits = max(e.bit_length() for _, e in pairs)
    width = max(1, min(16, len(pairs).bit_length() - 2))
    mask = (1 << width) - 1
    result = mpz(1)
    for shift in range(((bits - 1) // width) * width, -1, -width):
        if result != 1:
            for _ in range(width):
                result = result * result % m
        buckets: dict[int, mpz] = {}
        for base, exponent in pairs:
            digit = (exponent >> shift) & mask
            if digit:
                held = buckets.get(digit)
                buckets[digit] = base if held is None else held * base % m
        running = total = mpz(1)
        for digit in range(mask, 0, -1):  # Σ digit·bucket_digit as a running product
            held = buckets.get(digit)
            if held is not None:
                running = running * held % m
            if running != 1:
                total = total * running % m
        result = result * total % m
    return int(result)


@dataclass(frozen=True)
class Dealing:
    """A committed degree-1 sharing of one row: per party (point x = 1, 2, 3) its row and σ_x."""

    commitments: tuple[int, int]  # C_0, C_1
    rows: tuple[tuple[int, ...], ...]  # rows[x − 1]
    blindings: tuple[int, ...]  # blindings[x − 1] = σ_x


def commit(values: Sequence[int], blinding: int) -> int:
    """h^blinding · Π_j g_j^(values_j)."""
    grp = group()
    return multi_exp(generators(len(values)), [blinding % PRIME, *(v % PRIME for v in values)],
                     grp.q)


def deal(row: Sequence[int], parties: int = 3) -> Dealing:
    """Share ``row`` (field elements) with degree 1 among ``parties`` parties, committed."""
    slope = [secrets.randbelow(PRIME) for _ in row]
    alpha, beta = secrets.randbelow(PRIME), secrets.randbelow(PRIME)
    commitments = (commit(row, alpha), commit(slope, beta))
    rows = tuple(tuple((a + b * x) % PRIME for a, b in zip(row, slope))
                 for x in range(1, parties + 1))
    blindings = tuple((alpha + beta * x) % PRIME for x in range(1, parties + 1))
    return Dealing(commitments, rows, blindings)


def in_group(element: int) -> bool:
    """1 < element < q and a quadratic residue mod q: in the subgroup of order p·p'."""
    q = group().q
    return 1 < element < q and gmpy2.legendre(mpz(element), mpz(q)) == 1


def verify_batch(point: int, commitments: Sequence[tuple[int, int]],
                 rows: Sequence[Sequence[int]], blindings: Sequence[int],
                 weights: Sequence[int] | None = None) -> bool:
    """Do all these shares of party ``point`` lie on their committed lines? (module docstring)

    ``weights``: the private random weights (drawn here unless given; tests give them).
    False also when a commitment is no group element.
    """
    count = len(commitments)
    if not (len(rows) == len(blindings) == count):
        raise ValueError("one row and one blinding per commitment pair")
    if count == 0:
        return True
    width = len(rows[0])
    if any(len(row) != width for row in rows):
        raise ValueError("rows of one batch have one width")
    if not all(in_group(c) for pair in commitments for c in pair):
        return False
    grp = group()
    if weights is None:
        weights = [secrets.randbits(WEIGHT_BITS) for _ in range(count)]
    column_sums = [0] * width
    blinding_sum = 0
    for weight, row, blinding in zip(weights, rows, blindings):
        blinding_sum += weight * blinding
        for j, value in enumerate(row):
            column_sums[j] += weight * value
    left = multi_exp(generators(width), [blinding_sum % PRIME, *(s % PRIME for s in column_sums)],
                     grp.q)
    bases = [c for pair in commitments for c in pair]
    exponents = [e for weight in weights for e in (weight, weight * point)]
    return left == multi_exp(bases, exponents, grp.q)


def faulty(point: int, commitments: Sequence[tuple[int, int]], rows: Sequence[Sequence[int]],
           blindings: Sequence[int]) -> list[int]:
    """Indices of the providers whose shares fail their commitments (bisection over batches)."""
    if verify_batch(point, commitments, rows, blindings):
        return []
    if len(commitments) == 1:
        return [0]
    half = len(commitments) // 2
    left = faulty(point, commitments[:half], rows[:half], blindings[:half])
    right = faulty(point, commitments[half:], rows[half:], blindings[half:])
    return left + [half + i for i in right]


def element_bytes(element: int) -> bytes:
    return int(element).to_bytes(ELEMENT_BYTES, "big")


def element_from_bytes(data: bytes) -> int:
    """A received group element; ValueError unless it is one (see :func:`in_group`)."""
    if len(data) != ELEMENT_BYTES:
        raise ValueError(f"a group element is {ELEMENT_BYTES} bytes")
    element = int.from_bytes(data, "big")
    if not in_group(element):
        raise ValueError("not an element of the commitment group")
    return element


def write_table(path: Path = TABLE) -> str:
    """Hash the first :data:`TABLE_SIZE` generators into ``path``; returns its SHA-256."""
    data = b"".join(element_bytes(hashed_generator(i)) for i in range(TABLE_SIZE))
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["--search"]:
        print(search_cofactor(_cofactor_start()))
    elif sys.argv[1:] == ["--table"]:
        print(write_table())
    else:
        print("usage: python -m mpc_programs.shares.pedersen --search | --table", file=sys.stderr)
        sys.exit(2)
