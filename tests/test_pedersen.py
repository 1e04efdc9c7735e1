"""Pedersen-committed dealing: every party checks its own share; a faulty dealing cannot pass.

The attacks are a malicious provider's: a shifted share, a wrong blinding, commitments with a
component outside the group of order p (order 2 or order p'), one bad dealing hidden in a batch.
"""

from __future__ import annotations

import random
import secrets

import gmpy2
import pytest

from mpc_programs.shares import pedersen
from mpc_programs.shares.field import PRIME, SHARES_PER_INPUT


def test_the_group_has_the_shape_the_soundness_argument_needs():
    group = pedersen.group()
    assert group.q.bit_length() == 2048
    assert group.q == 2 * PRIME * group.cofactor + 1
    assert gmpy2.is_prime(group.q, 40) and gmpy2.is_prime(group.cofactor, 40)
    assert group.cofactor == pedersen._cofactor_start() + 2 * pedersen.COFACTOR_STEPS


def test_generators_are_distinct_elements_of_order_p():
    q = pedersen.group().q
    gens = pedersen.generators(8)
    assert len(set(gens)) == 9
    for g in gens:
        assert g != 1 and pow(g, PRIME, q) == 1
        assert pedersen.in_group(g)


@pytest.mark.parametrize("count, bits", [(1, 8), (3, 192), (40, 64), (300, 66)])
def test_multi_exp_is_the_product_of_the_powers(count, bits):
    rng = random.Random(count)
    q = pedersen.group().q
    bases = [rng.randrange(2, q) for _ in range(count)]
    exponents = [rng.getrandbits(bits) for _ in range(count)]
    exponents[0] = 0
    expected = 1
    for b, e in zip(bases, exponents):
        expected = expected * pow(b, e, q) % q
    assert pedersen.multi_exp(bases, exponents, q) == expected
    assert pedersen.multi_exp([], [], q) == 1


def test_every_party_accepts_an_honest_dealing_of_a_full_row():
    row = [secrets.randbelow(PRIME) for _ in range(SHARES_PER_INPUT)]
    dealing = pedersen.deal(row)
    for point in (1, 2, 3):
        assert pedersen.verify_batch(point, [dealing.commitments], [dealing.rows[point - 1]],
                                     [dealing.blindings[point - 1]])
    # the shares reconstruct the row (points 1 and 2: r = 2·r_1 − r_2)
    assert [(2 * a - b) % PRIME for a, b in zip(dealing.rows[0], dealing.rows[1])] == row


def _batch(count: int, width: int = 12) -> list[pedersen.Dealing]:
    return [pedersen.deal([secrets.randbelow(PRIME) for _ in range(width)]) for _ in range(count)]


def _party_view(dealings, point):
    return ([d.commitments for d in dealings], [list(d.rows[point - 1]) for d in dealings],
            [d.blindings[point - 1] for d in dealings])


def test_a_shifted_share_fails_only_at_the_party_that_got_it():
    dealings = _batch(20)
    commitments, rows, blindings = _party_view(dealings, 2)
    rows[7][3] = (rows[7][3] + 1) % PRIME
    assert not pedersen.verify_batch(2, commitments, rows, blindings)
    assert pedersen.faulty(2, commitments, rows, blindings) == [7]
    for point in (1, 3):
        assert pedersen.verify_batch(point, *_party_view(dealings, point))


def test_bisection_finds_every_faulty_dealing_in_a_batch():
    dealings = _batch(50, width=4)
    commitments, rows, blindings = _party_view(dealings, 3)
    bad = [0, 17, 49]
    rows[0][0] = (rows[0][0] + PRIME - 5) % PRIME
    blindings[17] = (blindings[17] + 1) % PRIME  # a wrong blinding share
    rows[49] = list(dealings[49].rows[0])  # party 1's row sent to party 3
    assert pedersen.faulty(3, commitments, rows, blindings) == bad


def test_a_share_on_another_line_fails_even_if_the_row_is_the_same():
    """The provider commits to one slope and deals another: every party but the one at x = 0
    (there is none) notices; here all three do."""
    row = [5, 6, 7]
    honest = pedersen.deal(row)
    other = pedersen.deal(row)
    for point in (1, 2, 3):
        assert not pedersen.verify_batch(point, [honest.commitments], [other.rows[point - 1]],
                                         [other.blindings[point - 1]])


def test_commitments_outside_the_group_of_order_p_cannot_pass():
    q = pedersen.group().q
    dealing = _batch(1)[0]
    c0, c1 = dealing.commitments
    # order 2: −C is a non-residue, refused before any exponentiation
    assert not pedersen.in_group(q - c0)
    assert not pedersen.verify_batch(1, [(q - c0, c1)], [dealing.rows[0]], [dealing.blindings[0]])
    # order p': a residue, so it gets to the equation, which it fails at every party
    u = pow(7, 2 * PRIME, q)
    assert u != 1 and pow(u, pedersen.group().cofactor, q) == 1
    for point in (1, 2, 3):
        assert not pedersen.verify_batch(point, [(c0 * u % q, c1)], [dealing.rows[point - 1]],
                                         [dealing.blindings[point - 1]])


def test_a_batch_with_a_wrong_share_fails_for_random_weights():
    """Soundness of the small-exponent test: 20 fresh weight draws, every one catches it."""
    dealings = _batch(5, width=3)
    commitments, rows, blindings = _party_view(dealings, 1)
    rows[2][1] = (rows[2][1] + 2 ** 100) % PRIME
    assert not any(pedersen.verify_batch(1, commitments, rows, blindings) for _ in range(20))


@pytest.mark.parametrize("data, why", [
    (b"\x01" * 255, "bytes"),
    ((0).to_bytes(256, "big"), "not an element"),
    ((1).to_bytes(256, "big"), "not an element"),
    (b"\xff" * 256, "not an element"),  # ≥ q
])
def test_received_elements_are_checked(data, why):
    with pytest.raises(ValueError, match=why):
        pedersen.element_from_bytes(data)


def test_received_non_residues_are_refused():
    q = pedersen.group().q
    g = pedersen.generator(1)
    assert pedersen.element_from_bytes(pedersen.element_bytes(g)) == g
    with pytest.raises(ValueError, match="not an element"):
        pedersen.element_from_bytes(pedersen.element_bytes(q - g))


def test_the_generator_table_holds_the_hashed_generators():
    table = pedersen.table()
    assert len(table) == pedersen.TABLE_SIZE
    for index in (0, 1, 2, 120, 241, pedersen.TABLE_SIZE - 1):
        assert table[index] == pedersen.hashed_generator(index)
    assert pedersen.generator(pedersen.TABLE_SIZE) == pedersen.hashed_generator(pedersen.TABLE_SIZE)
