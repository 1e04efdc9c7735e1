"""Record keys dealt as prime-field bits become GF(2^8) key shares inside MPC (``key_bits``).

3 real party processes. Honest: the opened bytes are the keys, in both security modes, and a
dealt "bit" that is no bit is flagged (the provider dealt wrong). Attacks by party 1: a wrong
share of a product k·r (which would flip a key bit and get an honest provider rejected) and a
daBit whose two halves differ: both honest parties abort.
"""

from __future__ import annotations

import pytest

from mpc_programs.runtime.local_parties import run_parties
from deviation import assert_honest_parties_aborted, json_lines
from key_bits_party import DEVIANT, KEYS


def _run(*args: str) -> list:
    return run_parties(["tests/key_bits_party.py", "--no-log", *args], timeout=240)


@pytest.mark.parametrize("security", ["malicious", "semi-honest"])
def test_the_bits_become_the_key_bytes(security):
    for r in _run("--security", security):
        assert r.returncode == 0, r.stderr[-3000:]
        report = json_lines(r.stdout)[-1]
        assert report["keys"][:-1] == [k.hex() for k in KEYS[:-1]]
        flags = report["are_bits"]
        assert flags == [True] * (len(flags) - len(KEYS[-1])) + [False] + [True] * (len(KEYS[-1]) - 1)


@pytest.mark.parametrize("attack, said, reason", [
    ("wrong-product", "deviating: a wrong product share",
     "key bits (the daBits and the masking products)"),
    ("inconsistent-dabit", "dealing an inconsistent daBit", "daBit check failed"),
])
def test_a_deviating_party_cannot_change_a_key(attack, said, reason):
    assert_honest_parties_aborted(_run("--attack", attack), DEVIANT, reason, deviated=said)


@pytest.mark.parametrize("keys, verdicts", [("bits", [True] * 3), ("gf256", [False, True, True])])
def test_a_lie_in_the_key_share_check_rejects_no_provider_whose_key_was_dealt(keys, verdicts):
    """Party 1 sends a wrong share of provider 0's key in the consistency check. Keys dealt as bits
    (what providers upload) are made inside MPC, so the check decides nothing: all accepted. With
    GF(2^8) key shares dealt directly the same lie rejects the honest provider (aimed right)."""
    results = run_parties(["tests/dealt_keys_party.py", "--no-log", "--keys", keys,
                           "--lie-key-check"], timeout=240)
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
        assert json_lines(r.stdout)[-1]["verdicts"] == verdicts
    assert "deviating" in results[1].stderr
