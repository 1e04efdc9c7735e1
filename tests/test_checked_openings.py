"""Checked openings (issue 15, item 1): every degree-1 opening uses all three shares.

3 real party processes (TLS, the hardened runtime): honest openings of secure integers,
secure arrays and ``fast_mpc.open_limbs`` give the right values at every party; a party
that adds 1 to the share it sends in one opening (``mpc.output`` of a secint array, or
``open_limbs``) makes both honest parties abort with the opening-check message, and
neither outputs anything. The collinearity check itself is also tested locally.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from checked_openings_party import DEVIANT, VALUES
from deviation import json_lines
from mpc_programs.runtime import hardened_runtime
from mpc_programs.runtime.secure_types import FIELD
from mpc_programs.runtime.local_parties import run_parties
from mpc_programs.shares.field import PRIME
from mpc_programs.shares.sharing import lagrange_at

MESSAGE = re.compile(r"opening check failed at label \d+: the three shares are not on one "
                     r"degree-1 polynomial \(a party deviated\)")


def test_honest_openings_give_the_right_values() -> None:
    results = run_parties(["tests/checked_openings_party.py", "--no-log"], timeout=120)
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
        report = json_lines(r.stdout)[-1]
        assert report["secints"] == [3, -5, 1000]
        assert report["secint"] == -15
        assert report["array"] == VALUES
        assert report["array_2d"] == np.array(VALUES, dtype=object).reshape(2, -1).tolist()
        assert report["limbs"] == VALUES
        assert report["limbs_shape"] == [2, len(VALUES) // 2, 3]
        assert "opening check failed" not in r.stderr


@pytest.mark.parametrize("opening", ["output", "limbs"])
def test_a_party_that_lies_in_its_share_makes_both_honest_parties_abort(opening: str) -> None:
    results = run_parties(["tests/checked_openings_party.py", "--no-log", "--deviate", opening],
                          timeout=120)
    deviant = results[DEVIANT]
    assert "deviating at label" in deviant.stderr, deviant.stderr[-2000:]
    for r in results:
        if r.pid == DEVIANT:
            continue
        lines = json_lines(r.stdout)
        assert lines == [{"warm": VALUES}], r.stdout  # in step before; nothing output after
        assert r.returncode == hardened_runtime.ABORT_EXIT_CODE, r.stderr[-2000:]
        assert MESSAGE.search(r.stderr), r.stderr[-2000:]


def test_the_collinearity_check() -> None:
    rng = random.Random(15)
    secrets_ = [rng.randrange(PRIME) for _ in range(50)] + [0, PRIME - 1]
    slopes = [rng.randrange(PRIME) for _ in secrets_]
    shares = [[(s + c * x) % PRIME for s, c in zip(secrets_, slopes)] for x in (1, 2, 3)]
    for order in ([1, 2, 3], [3, 1, 2], [2, 3, 1]):
        points = [(x, shares[x - 1]) for x in order]
        assert hardened_runtime._on_one_polynomial(FIELD, points, 1)
        arrays = [(x, np.array(s, dtype=object)) for x, s in points]
        assert hardened_runtime._on_one_polynomial(FIELD, arrays, 1)
        for wrong in range(3):
            bad = [(x, list(s)) for x, s in points]
            bad[wrong][1][17] = (bad[wrong][1][17] + 1) % PRIME
            assert not hardened_runtime._on_one_polynomial(FIELD, bad, 1)
    assert lagrange_at([1, 2], 3, PRIME, signed=True) == [-1, 2]


def test_the_collinearity_check_in_the_aes_field() -> None:
    """GF(2^8) openings (AES inside MPC) interpolate in that field, not modulo 256."""
    from mpc_programs.runtime.hardened_runtime import mpc

    gf = mpc.SecFld(2**8).field
    rng = random.Random(16)
    secrets_ = [gf(rng.randrange(256)) for _ in range(40)]
    slopes = [gf(rng.randrange(256)) for _ in secrets_]
    shares = {x: [(s + c * gf(x)).value for s, c in zip(secrets_, slopes)] for x in (1, 2, 3)}
    points = [(x, shares[x]) for x in (2, 3, 1)]
    assert hardened_runtime._on_one_polynomial(gf, points, 1)
    bad = [(x, list(s)) for x, s in points]
    bad[2][1][5] = (gf(bad[2][1][5]) + gf(1)).value
    assert not hardened_runtime._on_one_polynomial(gf, bad, 1)
