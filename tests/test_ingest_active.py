"""Ingestion check under active security (issue 15): ``ingest.check_rows``.

3 real party processes (TLS, the hardened runtime; ``tests/ingest_check_party.py``). Honest:
valid rows are accepted, invalid ones (a value ≥ 2^57, a two-hot digit, an inconsistent
sharing, a value that differs from the expected one) rejected, in both security modes.
Attack: party 1 colludes with the provider of an invalid row and shifts the resharing of
the check's degree-2 part — consistently, so the honest parties hold a valid degree-1
sharing of a wrong value — by exactly what makes the opened check value 0 (or makes an
honest row fail): both honest parties abort in the product check and print no verdicts.
A lie in the final opening is caught by the checked opening. The same attack succeeds
with the product check switched off, and its semi-honest counterpart (a shifted share of
the degree-2 opening) succeeds against today's protocol: the attacks are aimed right.
"""

from __future__ import annotations

import json
import random

import pytest

from mpc_programs.runtime import hardened_runtime
from mpc_programs.runtime.local_parties import run_parties
from mpc_programs.shares.field import DIGIT_BASE, DIGITS, PRIME
from mpc_programs.verification import ingest
from mpcstats.benchmarks.pool_sharing import one_hot_many
from ingest_check_party import DEVIANT

VALID = [None] * 4
INVALID = ["shares do not encode a valid input", "shares do not encode a valid input",
           "inconsistent shares"]
BIG, TWO_HOT = 4, 5


def _run(*args: str) -> list:
    return run_parties(["tests/ingest_check_party.py", "--no-log", *args], timeout=300)


def _report(stdout: str) -> dict | None:
    lines = [json.loads(ln) for ln in stdout.splitlines() if ln.startswith("{")]
    return lines[-1] if lines else None


def _honest(results: list) -> list:
    return [r for r in results if r.pid != DEVIANT]


@pytest.mark.parametrize("security", ["malicious", "semi-honest"])
def test_valid_rows_accepted_invalid_rejected(security: str) -> None:
    for r in _run("--security", security):
        assert r.returncode == 0, r.stderr[-3000:]
        report = _report(r.stdout)
        assert report["security"] == security
        assert report["verdicts"] == VALID + INVALID
        assert report["pending"] == 0


def test_expected_values_join_the_active_check() -> None:
    for r in _run("--expected"):
        assert r.returncode == 0, r.stderr[-3000:]
        assert _report(r.stdout)["verdicts"] == \
            [None, "shares do not encode a valid input", None, None] + INVALID


@pytest.mark.parametrize("attack", ["--accept-big", "--accept-two-hot", "--reject-good"])
def test_a_shifted_check_value_makes_both_honest_parties_abort(attack: str) -> None:
    results = _run(attack)
    assert "deviating: shifted q" in results[DEVIANT].stderr, results[DEVIANT].stderr[-2000:]
    for r in _honest(results):
        assert _report(r.stdout) is None, r.stdout  # nothing accepted, nothing printed
        assert r.returncode == hardened_runtime.ABORT_EXIT_CODE, r.stderr[-2000:]
        assert "product check failed at ingestion check" in r.stderr, r.stderr[-2000:]


def test_a_lie_in_the_opening_makes_both_honest_parties_abort() -> None:
    results = _run("--lie-open")
    assert "deviating: lied in the opening" in results[DEVIANT].stderr
    for r in _honest(results):
        assert _report(r.stdout) is None, r.stdout
        assert r.returncode == hardened_runtime.ABORT_EXIT_CODE, r.stderr[-2000:]
        assert "opening check failed" in r.stderr, r.stderr[-2000:]


@pytest.mark.parametrize("attack, row", [("--accept-big", BIG), ("--accept-two-hot", TWO_HOT)])
@pytest.mark.parametrize("setting", [["--skip-verify"], ["--security", "semi-honest"]])
def test_the_attacks_succeed_without_the_defence(attack: str, row: int,
                                                 setting: list[str]) -> None:
    """Not a property to keep — the evidence that the attacks above are aimed right: with
    the product check switched off, or in semi-honest mode (a shifted share of the
    degree-2 opening), the honest parties accept the invalid row."""
    for r in _honest(_run(attack, *setting)):
        assert r.returncode == 0, r.stderr[-2000:]
        verdicts = _report(r.stdout)["verdicts"]
        assert verdicts[row] is None
        assert verdicts[:4] == VALID


def _layout(units: int) -> list[int]:
    return [int(v) for v in one_hot_many([units])[0]]


@pytest.mark.parametrize("active", [True, False])
def test_the_opened_polynomial_is_zero_exactly_on_valid_layouts(active: bool) -> None:
    rng = random.Random(15)
    top = (DIGITS - 1) * DIGIT_BASE
    for _ in range(20):
        seed = rng.randrange(PRIME)
        units = rng.randrange(1 << 57)
        good = _layout(units)
        assert ingest.opened_value(good, seed, active) == 0
        assert ingest.opened_value(good, seed, active, expected=units) == 0
        assert ingest.opened_value(good, seed, active, expected=units + 1) != 0
        bad = []
        big = _layout(units % (1 << 56))  # top digit 2: a value ≥ 2^57 matching its digits
        big[top:top + DIGIT_BASE] = [0] * DIGIT_BASE
        big[top + 2] = 1
        big[-1] = (units % (1 << 56)) + (1 << 57)
        bad.append(big)
        two_hot = list(good)
        two_hot[3 * DIGIT_BASE + (good[3 * DIGIT_BASE:4 * DIGIT_BASE].index(1) + 1) % 16] = 1
        bad.append(two_hot)
        not_bits = _layout(3)  # digit 0 = (2, −1, 0, …): it sums to 1 but is no bit vector
        not_bits[0:DIGIT_BASE] = [2, PRIME - 1] + [0] * (DIGIT_BASE - 2)
        not_bits[-1] = (PRIME - 1) % PRIME  # the value matches its digits: 0·2 + 1·(−1)
        bad.append(not_bits)
        wrong_value = list(good)
        wrong_value[-1] += 1
        bad.append(wrong_value)
        no_digit = list(good)
        no_digit[0:DIGIT_BASE] = [0] * DIGIT_BASE
        bad.append(no_digit)
        for row in bad:
            assert ingest.opened_value(row, seed, active) != 0
