"""Active security of the oblivious radix sort (issue 15): ``secure_sort`` under
``product_check``.

3 real party processes (TLS, the hardened runtime) sort seeded shares of N values by their
base-4 digits, carrying the values along. Honest: the ranks and the carried values open
right with the checks active (and without them). Attack: party 1 shifts one field element
of its messages in one shuffle pair step (forward or backward), in one resharing of the
counting sort's positions (a product) or in one resharing of a shuffle's tags — both honest
parties abort with the product check's message before the next opening of data that
depends on it: no further shuffled positions and no result are opened.
"""

from __future__ import annotations

import pytest

from deviation import assert_honest_parties_aborted, json_lines
from mpc_programs.runtime.local_parties import run_parties
from sort_check_party import DEVIANT, N, expected

#: (kind, index) -> how many shuffled-position openings come before the deviation. The
#: sort of 3 digits: positions of digit 0; pass 1: tags, shuffle (party 1 sends in steps
#: (0, 1) and (1, 2)), open, positions, tags, unshuffle; pass 2 (last): tags, shuffle,
#: open, positions. The rest of the run must open nothing.
ATTACKS = {
    ("shuffle", 0): 0, ("shuffle", 1): 0,  # pass 1, forward
    ("shuffle", 2): 1, ("shuffle", 3): 1,  # pass 1, backward (the ranks' way back)
    ("shuffle", 4): 1, ("shuffle", 5): 1,  # pass 2, forward, with the carried values
    ("positions", 0): 0, ("positions", 1): 1, ("positions", 2): 2,
    ("tags", 0): 0, ("tags", 1): 1, ("tags", 2): 1,
    ("tagshift", 0): 0, ("tagshift", 1): 1, ("tagshift", 2): 1,
}
#: The ones CI runs: each kind, and each pass and direction of the shuffles once (random
#: positions of the whole sort, Gini's, are ``mpcstats bench malicious``'s job).
SHORT_FORM = [("shuffle", 0), ("shuffle", 3), ("shuffle", 5), ("positions", 0),
              ("positions", 2), ("tags", 1), ("tagshift", 2)]


def _check_sorted(report: dict) -> None:
    rank, vals = expected()
    ranks, carry = report["ranks"], report["carry"]
    assert sorted(ranks) == list(range(N))
    assert sorted(carry) == sorted(vals)
    ordered = sorted(vals)
    # row j of the shuffled output: the value and its rank in the stable ascending order
    assert all(ordered[r] == v for r, v in zip(ranks, carry))


@pytest.mark.parametrize("security", ["malicious", "semi-honest"])
def test_honest_sort_is_right_with_and_without_the_checks(security: str) -> None:
    results = run_parties(["tests/sort_check_party.py", "--no-log", "--security", security],
                          timeout=180)
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
        report = json_lines(r.stdout)[-1]
        _check_sorted(report)
        # the last pass's positions are left for the caller's check (Gini's numerator)
        assert report["pending"] == (N if security == "malicious" else 0)
        assert r.stderr.count("opened shuffled positions") == 2


def _assert_aborted_before_opening(results, openings_before: int) -> None:
    assert_honest_parties_aborted(results, DEVIANT, "product check failed at")
    for r in results:
        if r.pid == DEVIANT:
            continue
        assert "opening check failed" not in r.stderr, r.stderr[-2000:]
        assert r.stderr.count("opened shuffled positions") == openings_before, r.stderr[-2000:]


@pytest.mark.parametrize(("kind", "index"), SHORT_FORM)
def test_a_consistent_shift_in_the_sort_makes_both_honest_parties_abort(kind: str,
                                                                        index: int) -> None:
    results = run_parties(["tests/sort_check_party.py", "--no-log", "--attack", kind,
                           str(index)], timeout=180)
    _assert_aborted_before_opening(results, ATTACKS[kind, index])


@pytest.mark.parametrize(("kind", "index"), [("shuffle", 2), ("positions", 1)])
def test_plus_one_on_one_message_makes_both_honest_parties_abort(kind: str,
                                                                 index: int) -> None:
    results = run_parties(["tests/sort_check_party.py", "--no-log", "--attack", kind,
                           str(index), "--mode", "plus1"], timeout=180)
    _assert_aborted_before_opening(results, ATTACKS[kind, index])
