"""Verified products (issue 15, item 2): ``product_check`` after Chida et al. (CRYPTO 2018).

3 real party processes (TLS, the hardened runtime). Honest: the recorded products pass the
check and open to the right values. Attack: a party shifts one field element of any one
message it sends — a resharing of a product (consistently: the honest parties hold a valid
sharing of a wrong product, which no opening check can see), a resharing or an opening
inside the check itself — and both honest parties abort before opening anything.
"""

from __future__ import annotations

import numpy as np
import pytest

from deviation import assert_honest_parties_aborted, json_lines
from mpc_programs.runtime import product_check
from mpc_programs.runtime.local_parties import run_parties
from mpc_programs.shares import f192
from mpc_programs.shares.field import PRIME
from product_check_party import DEVIANT, N, D, values

#: Messages party 1 sends each peer from the products to the end of the check: the two
#: products' resharings, the check's two resharings, the opening of (c, r), the
#: resharing of s·T and its opening.
MESSAGES = 7
OPENINGS = (4, 6)


def test_honest_products_pass_the_check_and_open_right() -> None:
    x, y, m = values()
    results = run_parties(["tests/product_check_party.py", "--no-log"], timeout=120)
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
        report = json_lines(r.stdout)[-1]
        assert report["pending"] == N + D
        assert report["z"] == [a * b % PRIME for a, b in zip(x, y)]
        assert report["counts"] == [sum(x[i] * m[i * D + d] for i in range(N)) % PRIME
                                    for d in range(D)]


@pytest.mark.parametrize("index", range(MESSAGES))
def test_a_shifted_message_anywhere_makes_both_honest_parties_abort(index: int) -> None:
    results = run_parties(["tests/product_check_party.py", "--no-log", "--deviate", str(index)],
                          timeout=120)
    # a shifted resharing is caught by the product check; a lie in an opening by the
    # checked opening
    expected = "opening check failed" if index in OPENINGS else "product check failed at test"
    assert_honest_parties_aborted(results, DEVIANT, expected)


def test_coefficients_are_public_reduced_and_seed_bound() -> None:
    a = product_check.coefficients(b"seed", 1000)
    assert a.shape == (1000, 3)
    assert all(0 <= v < PRIME for v in f192.to_ints(a))
    assert np.array_equal(a, product_check.coefficients(b"seed", 1000))
    assert not np.array_equal(a, product_check.coefficients(b"seeD", 1000))


def test_semi_honest_records_nothing_and_bad_levels_are_refused() -> None:
    try:
        product_check.configure("semi-honest")
        one = f192.from_ints([1])
        product_check.record_products(one, one, one)
        assert product_check.pending() == 0
        with pytest.raises(ValueError, match="security must be one of"):
            product_check.configure("paranoid")
    finally:
        product_check.configure("malicious")
