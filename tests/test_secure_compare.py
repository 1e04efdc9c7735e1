"""Verified comparison (``secure_compare``): random bits by squaring, [d < 0] by a masked
opening and a bitwise comparison, every product recorded for ``product_check``.

3 real party processes (TLS, the hardened runtime). Honest: [d < 0] is right for edge and
random values of several bit sizes, after the product check; random bits are bits and
balanced, and r = 0 is redrawn. Attack: a party shifts one field element of one resharing
message inside the comparison and both honest parties abort (the product check) before opening anything.
The local pieces (inverse square roots, Euler's criterion) are tested in-process.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from deviation import assert_honest_parties_aborted, json_lines
from mpc_programs.runtime.local_parties import run_parties
from mpc_programs.shares import f192
from mpc_programs.shares.field import PRIME
from mpc_programs.statistics import secure_compare
from secure_compare_party import ATTACK_BITS, BIT_SIZES, DEVIANT, RANDOM_BITS, cases

#: Messages party 1 sends each peer in ``less_than_zero_limbs`` (bits = 16): 0 the resharing
#: of r², 1 the opening of u, 2–6 the product check of the bits, 7 the opening of c, then
#: one resharing per level of the bitwise comparison (⌈log2 16⌉ = 4: messages 8–11).
FIRST_COMPARISON, LAST_COMPARISON = 8, 11


def test_honest_comparisons_are_right_and_random_bits_are_balanced_bits() -> None:
    results = run_parties(["tests/secure_compare_party.py", "--no-log"], timeout=120)
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
        compared, drawn = json_lines(r.stdout)
        for bits in BIT_SIZES:
            values = cases(bits)
            assert {0, -1, 1, (1 << bits) - 1, 1 - (1 << bits)} <= set(values)
            assert compared[str(bits)] == [int(v < 0) for v in values], bits
        assert compared["pending"] == 0
        bits = drawn["random_bits"]
        assert len(bits) == RANDOM_BITS and set(bits) <= {0, 1}
        assert abs(sum(bits) / RANDOM_BITS - 0.5) < 0.05  # σ ≈ 0.008: ≈ 6σ
        assert len(drawn["redrawn"]) == 20 and set(drawn["redrawn"]) <= {0, 1}  # r = 0 redrawn
    assert len({json.dumps(json_lines(r.stdout)) for r in results}) == 1


@pytest.mark.parametrize("index, mode", [(FIRST_COMPARISON, "plusone"),
                                         (LAST_COMPARISON, "consistent")])
def test_a_shifted_comparison_resharing_makes_both_honest_parties_abort(index: int,
                                                                        mode: str) -> None:
    results = run_parties(["tests/secure_compare_party.py", "--no-log", "--deviate",
                           str(index), mode], timeout=120)
    assert_honest_parties_aborted(results, DEVIANT, "product check failed at compare")


def test_a_shifted_square_makes_both_honest_parties_abort() -> None:
    """r² + δ instead of r²: not a square (abort at once) or a square whose "bits" are not
    bits (the check inside ``random_bits_limbs`` aborts before c is opened)."""
    results = run_parties(["tests/secure_compare_party.py", "--no-log", "--deviate", "0",
                           "consistent"], timeout=120)
    assert_honest_parties_aborted(results, DEVIANT, "r² is not a square (a party deviated)",
                                  "product check failed at random bits")


def test_inverse_square_roots_and_euler_criterion() -> None:
    rng = np.random.default_rng(7)
    roots = [1, 2, PRIME - 1, 12345] + [int(v) for v in rng.integers(1, 2**62, 50)]
    squares = [r * r % PRIME for r in roots]
    non_squares = [(PRIME - 1) * s % PRIME for s in squares]  # −1 is not a square (p ≡ 3 mod 4)
    w, square = secure_compare.inverse_square_roots(f192.from_ints(squares + non_squares + [0]))
    assert square.tolist() == [True] * len(squares) + [False] * (len(non_squares) + 1)
    for r, inv in zip(roots, f192.to_ints(w)):
        assert r * inv % PRIME in (1, PRIME - 1)


def test_attack_setup_matches_the_comparison_depth() -> None:
    assert (ATTACK_BITS - 1).bit_length() == LAST_COMPARISON - FIRST_COMPARISON + 1
