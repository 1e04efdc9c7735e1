"""``mpcstats bench verify``'s party program on synthetic records, with the values opened
and compared (--check): one column and two (ETH and BTC balances verified per provider)."""

import json

import pytest

from mpc_programs.runtime.local_parties import run_parties


@pytest.mark.parametrize("columns", [1, 2])
def test_the_verify_benchmark_accepts_and_recovers_every_value(columns):
    results = run_parties(["-m", "mpcstats.benchmarks.verify_demo", "--json", "--check", "--batch", "3",
                           "--repeat", "1", "--columns", str(columns)], timeout=120)
    reports = [json.loads(next(line for line in r.stdout.splitlines() if line.startswith("{")))
               for r in results]
    assert all(r["accepted"] == 3 and r["balances_ok"] is True for r in reports), reports


def test_the_verify_benchmark_on_full_size_responses():
    """40 KB responses over several records (tickets, head, 16 KB body records), every record's
    tag checked, the balances recovered."""
    results = run_parties(["-m", "mpcstats.benchmarks.verify_demo", "--json", "--check", "--batch", "2",
                           "--repeat", "1", "--response-bytes", "40000"], timeout=120)
    reports = [json.loads(next(line for line in r.stdout.splitlines() if line.startswith("{")))
               for r in results]
    assert all(r["accepted"] == 2 and r["balances_ok"] is True for r in reports), reports
    assert reports[0]["records"] == 6 and reports[0]["response_bytes"] >= 39_000
    assert reports[0]["request_bound"] is True


def test_keys_dealt_as_gf256_shares_verify_too():
    """The comparison path of ``bench verify --keys gf256``: GF(2^8) key shares dealt directly."""
    results = run_parties(["-m", "mpcstats.benchmarks.verify_demo", "--json", "--check", "--batch", "2",
                           "--repeat", "1", "--keys", "gf256"], timeout=120)
    reports = [json.loads(next(line for line in r.stdout.splitlines() if line.startswith("{")))
               for r in results]
    assert all(r["accepted"] == 2 and r["balances_ok"] is True for r in reports), reports
