"""The verifiable dealing in a run of 3 real party processes (TLS, the hardened runtime).

Honest parties, an honest provider and a malicious one: the malicious provider's wrong share is
proven by the party that got it and that provider alone is rejected. A deviating party (party 1)
cannot get an honest provider rejected: a complaint without proof, or with a share it changed,
aborts the run naming it; a lie in ``ingest``'s consistency test no longer rejects a provider
whose dealing was checked, while the same lie without the dealing does (the attack is aimed right).
"""

from __future__ import annotations

import json

import pytest

from mpc_programs.runtime.local_parties import run_parties
from mpc_programs.shares import dealing
from mpc_programs.shares.encoding import one_hot
from mpc_programs.shares.store import encode_row
from deviation import assert_honest_parties_aborted, faulty_dealing, json_lines
from dealing_party import DEVIANT

VALUES = [5, 123_456_789, 10**15, 0]
FAULTY = 2  # the provider that deals party 2 (point 3) a wrong share


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    per_party: list[list[dict]] = [[], [], []]
    for k, value in enumerate(VALUES):
        rows = {dealing.LAYOUT: one_hot(value)}
        if k == FAULTY:
            public, shares, parts = faulty_dealing(rows, 3)
        else:
            dealt = dealing.deal_rows(rows)
            public, shares, parts = dealt.public, list(dealt.rows), list(dealt.parts)
        for pid in range(3):
            per_party[pid].append({"public": public.to_json(), "part": parts[pid].to_json(),
                                   "texts": {n: encode_row(r) for n, r in shares[pid].items()}})
    path = tmp_path_factory.mktemp("dealing") / "job.json"
    path.write_text(json.dumps(per_party))
    return path


def _run(job, monkeypatch, *args: str) -> list:
    monkeypatch.setenv("MPCSTATS_TEST_JOB", str(job))
    return run_parties(["tests/dealing_party.py", "--no-log", *args], timeout=240)


def _reports(results) -> list[dict]:
    out = []
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
        out.append(json_lines(r.stdout)[-1])
    return out


def test_a_wrong_share_rejects_its_provider_only(job, monkeypatch):
    for report in _reports(_run(job, monkeypatch)):
        assert report["dealing"] == [k != FAULTY for k in range(len(VALUES))]
        assert report["check"] == [None] * (len(VALUES) - 1)


@pytest.mark.parametrize("attack", ["false-complaint", "forged-complaint"])
def test_a_party_cannot_complain_an_honest_provider_out(job, monkeypatch, attack):
    results = _run(job, monkeypatch, "--attack", attack)
    assert_honest_parties_aborted(results, DEVIANT, f"party {DEVIANT} complained about the "
                                  "dealing of provider-0 without proof", deviated="deviating:")


def test_a_lie_in_the_consistency_test_no_longer_rejects_a_dealt_provider(job, monkeypatch):
    for report in _reports(_run(job, monkeypatch, "--attack", "lie-consistency")):
        assert report["check"] == [None] * (len(VALUES) - 1)


def test_without_the_dealing_the_same_lie_rejects_an_honest_provider(job, monkeypatch):
    for report in _reports(_run(job, monkeypatch, "--attack", "lie-consistency", "--undealt")):
        assert report["check"][0] == "inconsistent shares"
        assert report["check"][1:] == [None] * (len(VALUES) - 2)
