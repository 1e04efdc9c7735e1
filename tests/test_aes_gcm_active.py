"""Active security of the AES-GCM input verification (issue 15): GF(2^8) products checked.

Runs ``tests/aes_gcm_party.py`` as 3 processes: in semi-honest mode (today's protocol, the same
opened values as the default malicious run of ``tests/test_aes_gcm_mpc.py``), and with party 1
shifting one resharing of an S-box product *consistently* (the honest parties then hold a valid
sharing of a wrong product, which no checked opening sees): under active security both honest
parties abort with "product check failed" before any verdict is opened; semi-honest, the run
completes with a wrong verdict. A daBit dealt inconsistently (b in GF(2^8), 1 − b in GF(p))
aborts both honest parties with "daBit check failed"; semi-honest it shifts a balance.
"""

from __future__ import annotations


import pytest
from aes_gcm_cases import build_cases

from deviation import assert_honest_parties_aborted, json_lines
from mpc_programs.runtime.local_parties import run_parties

PARTY = "tests/aes_gcm_party.py"
DEVIANT = 1
CASES = build_cases()
EXPECTED = {c.name: c.accept for c in CASES}


def _reports(*args: str) -> list[dict]:
    out = []
    for r in run_parties([PARTY, *args], timeout=180):
        assert r.returncode == 0, r.stderr[-3000:]
        out.append(json_lines(r.stdout)[-1])
    return out


def test_semi_honest_and_malicious_runs_open_the_same_values() -> None:
    semi = _reports("--security", "semi-honest")
    mal = _reports("--security", "malicious")
    # a rejected provider's balance is garbage (under active security a row with inconsistent
    # key shares runs on the key 0): compare the accepted ones
    strip = [{k: (v if k != "balances" else {n: b for n, b in v.items() if EXPECTED[n]})
              for k, v in rep.items() if k != "party"} for rep in semi + mal]
    assert all(s == strip[0] for s in strip), [s["verdicts"] for s in strip]
    assert strip[0]["verdicts"] == EXPECTED
    assert {n: b for n, b in strip[0]["balances"].items() if EXPECTED[n]} == {
        c.name: c.units for c in CASES if c.accept}


#: (mul_frob call, byte): call 0 is the first S-box round of the first AES group (a2 at the
#: front of its resharing), call 2 the third (a15 first), call 3 the fourth (the S-box output
#: L(a127) last: a Frobenius output, checked through its zero-record against a127).
ATTACKS = [("0", "0"), ("2", "0"), ("3", "-1")]


@pytest.mark.parametrize("call, byte", ATTACKS)
def test_a_shifted_sbox_product_aborts_both_honest_parties_before_any_verdict(
        call: str, byte: str) -> None:
    results = run_parties([PARTY, "--attack", call, "--byte", byte], timeout=180)
    # no verdict was opened: both honest parties abort before printing anything
    assert_honest_parties_aborted(results, DEVIANT, "product check failed at AES-GCM H and E_k(J0)",
                                  deviated=f"deviating in mul_frob call {call}")


def test_semi_honest_the_same_shift_goes_unnoticed_and_changes_a_verdict() -> None:
    """Why the check is needed: without it the run completes and an honest provider is
    rejected (its H is computed from a wrong S-box byte, so its tag fails)."""
    results = run_parties([PARTY, "--security", "semi-honest", "--attack", "0", "--byte", "0"],
                          timeout=180)
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
    verdicts = json_lines(results[0].stdout)[-1]["verdicts"]
    assert verdicts != EXPECTED


@pytest.mark.parametrize("field, step", [("gf256", "AES-GCM H and E_k(J0)"),
                                         ("prime", "daBits (GF(p) bits)")])
def test_a_dealt_non_bit_in_either_field_aborts_before_any_verdict(field: str, step: str) -> None:
    """A daBit dealer deals 2 (not a bit) in GF(2^8) only, or in GF(p) only: the triple
    (b, b, b) on gf256_check, resp. (d, d, d) on product_check, fails."""
    results = run_parties([PARTY, "--bad-dabit", field], timeout=180)
    assert_honest_parties_aborted(results, DEVIANT, f"product check failed at {step}",
                                  deviated="dealing a non-bit")


@pytest.mark.parametrize("dealer", ["0", "1"])
def test_an_inconsistent_dabit_aborts_both_honest_parties_before_any_verdict(dealer: str) -> None:
    """A daBit dealer deals b in GF(2^8) and 1 − b in GF(p) (both bits: the bit checks pass):
    the cross-field parity check of ``dabits`` fails at both honest parties (a batch with one
    inconsistent daBit passes it with probability 2^-40)."""
    results = run_parties([PARTY, "--inconsistent-dabit", "--deviant", dealer], timeout=180)
    assert_honest_parties_aborted(results, int(dealer), "daBit check failed",
                                  deviated="dealing an inconsistent daBit")


def test_semi_honest_an_inconsistent_dabit_goes_unnoticed_and_shifts_a_balance() -> None:
    """Why the check is needed: semi-honest, the run completes, every verdict is right and
    the first provider's balance is off (its first digit's bit 0 is flipped in GF(p) only)."""
    results = run_parties([PARTY, "--security", "semi-honest", "--inconsistent-dabit"],
                          timeout=180)
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
    report = json_lines(results[0].stdout)[-1]
    assert report["verdicts"] == EXPECTED
    first = CASES[0]
    assert first.accept
    assert report["balances"][first.name] != first.units


def test_k_dot_equals_the_sum_of_k_products() -> None:
    import numpy as np

    from mpc_programs.verification import gf256_check as kf
    rng = np.random.default_rng(15)
    for n in (0, 1, 9, 2000):
        a, b = (rng.integers(0, 256, (n, kf.DEGREE), dtype=np.uint8) for _ in range(2))
        x = rng.integers(0, 256, n, dtype=np.uint8)
        assert (kf.k_dot(a, b) == kf.k_sum(kf.k_mul(a, b))).all()
        assert (kf.k_dot_scale(a, x) == kf.k_sum(kf.k_scale(a, x))).all()
