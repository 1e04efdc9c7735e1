"""``mpcstats query`` against a real results API and three fake signing parties on loopback.

Fixtures: ``tests/results_fixtures.py``. The command runs in-process through :func:`mpcstats.cli.main`
(one test runs the installed entry point as a subprocess).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from results_fixtures import (FakeParty, api, fake_parties, parties, party_keys, poll,  # noqa: F401
                              publish)

from mpcstats.cli import main
from servers.common.serve import BackgroundServer, free_port
from servers.common.signing import generate_key, key_id, public_key_hex, sign_result
from servers.results.poller import Outcome
from servers.results.sample import sample_result
from servers.results.statistics_view import display_number


def verify_args(parties: list[FakeParty], keys: list[Any]) -> list[str]:
    args = ["query", "--verify"]
    for p, k in zip(parties, keys):
        args += ["--party", p.url, "--party-key", public_key_hex(k)]
    return args


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_no_result_yet_exit_3(capsys: pytest.CaptureFixture[str], api: BackgroundServer,
                              parties: list[FakeParty], party_keys: list[Any]) -> None:
    code, out, _ = run(capsys, "query", "--results-url", api.url)
    assert code == 3 and out.startswith("Not enough providers yet")
    code, out, _ = run(capsys, *verify_args(parties, party_keys))
    assert code == 3 and "Not enough providers yet" in out
    code, out, _ = run(capsys, "query", "--results-url", api.url, "--json")
    assert code == 3 and json.loads(out)["error"]["code"] == "no_result_yet"


def test_results_url_prints_the_cached_statistics(capsys: pytest.CaptureFixture[str], api: BackgroundServer,
                                                  parties: list[FakeParty], party_keys: list[Any]) -> None:
    result = sample_result("run-cli", n=40)
    publish(parties, party_keys, result)
    assert poll(api) is Outcome.ACCEPTED
    code, out, _ = run(capsys, "query", "--results-url", api.url)
    assert code == 0
    assert "(40 providers)" in out and "run run-cli" in out
    shown = dict(re.findall(r"^  (\S.*?\S)\s{2,}(-?[\d,.]+)(?:  ETH²?)?$", out, re.M))
    for name in ("mean", "median", "min", "max", "sum"):
        label = {"min": "Minimum", "max": "Maximum"}.get(name, name.capitalize())
        assert shown[label] == display_number(result["statistics"][name])
    assert shown["Providers"] == "40"
    assert shown["90th percentile"] == display_number(result["statistics"]["quantiles"]["0.9"])
    assert "Distribution (ETH):" in out and "use --verify" in out
    code, out, _ = run(capsys, "query", "--results-url", api.url, "--json")
    body = json.loads(out)
    assert code == 0 and body["verified"] is False and body["source"] == api.url
    served = requests.get(f"{api.url}/stats", timeout=5).json()
    assert body["statistics"] == served["statistics"] == result["statistics"]


def test_verify_checks_all_three_signatures(capsys: pytest.CaptureFixture[str], parties: list[FakeParty],
                                            party_keys: list[Any]) -> None:
    result = sample_result("run-verified", n=25)
    publish(parties, party_keys, result)
    code, out, _ = run(capsys, *verify_args(parties, party_keys), "--json")
    body = json.loads(out)
    assert code == 0 and body["verified"] is True and body["source"] == "parties"
    assert body["statistics"] == result["statistics"] and body["n"] == 25
    assert body["parties"] == [{"party": i, "key_id": key_id(party_keys[i])} for i in range(3)]
    code, out, _ = run(capsys, *verify_args(parties, party_keys))
    assert code == 0 and "Verified here: all three parties signed this same result" in out


@pytest.mark.parametrize("attack, reason", [
    ("tampered", "bad_signature"),
    ("disagree", "disagreement"),
    ("unknown_key", "unknown_key"),
    ("replayed", "wrong_party"),
    ("swapped_keys", "wrong_party"),
    ("incomplete", "incomplete"),
])
def test_verify_refuses_any_mismatch(capsys: pytest.CaptureFixture[str], parties: list[FakeParty],
                                     party_keys: list[Any], attack: str, reason: str) -> None:
    result = sample_result("run-attack", n=10)
    publish(parties, party_keys, result)
    keys = list(party_keys)
    if attack == "tampered":
        assert parties[1].doc is not None
        parties[1].doc["result"]["statistics"]["mean"] = "1000000"
    elif attack == "disagree":
        other = {**result, "statistics": {**result["statistics"], "max": "99999"}}
        parties[2].doc = sign_result(party_keys[2], other, 2)
    elif attack == "unknown_key":
        parties[0].doc = sign_result(generate_key(), result, 0)
    elif attack == "replayed":
        parties[2].doc = parties[1].doc
    elif attack == "swapped_keys":
        keys[0], keys[1] = keys[1], keys[0]
    elif attack == "incomplete":
        publish(parties, party_keys, {k: v for k, v in result.items() if k != "n"})
    code, out, err = run(capsys, *verify_args(parties, keys))
    assert code == 1 and out == ""
    assert err.startswith("Refusing to show statistics:")
    code, out, _ = run(capsys, *verify_args(parties, keys), "--json")
    assert code == 1 and json.loads(out) == {"error": {"code": reason, "message": json.loads(out)["error"]["message"]}}


def test_verify_with_an_unreachable_party(capsys: pytest.CaptureFixture[str], parties: list[FakeParty],
                                          party_keys: list[Any]) -> None:
    publish(parties, party_keys, sample_result("run-x", n=10))
    args = verify_args(parties, party_keys)
    args[args.index(parties[2].url)] = f"http://127.0.0.1:{free_port()}"
    code, _, err = run(capsys, *args, "--timeout", "2")
    assert code == 1 and "cannot reach" in err


def test_deployment_file_as_written_by_mpcstats_up(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                   api: BackgroundServer, parties: list[FakeParty],
                                                   party_keys: list[Any]) -> None:
    publish(parties, party_keys, sample_result("run-dep", n=12))
    poll(api)
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps({"provider": {}, "consumer": {
        "results_url": api.url, "coordinator_url": "http://unused",
        "parties": [{"pid": i, "url": p.url, "public_key": public_key_hex(party_keys[i])}
                    for i, p in enumerate(parties)]}}))
    code, out, _ = run(capsys, "query", "--deployment", str(path), "--json")
    assert code == 0 and json.loads(out)["source"] == api.url and json.loads(out)["run_id"] == "run-dep"
    code, out, _ = run(capsys, "query", "--deployment", str(path), "--verify", "--json")
    assert code == 0 and json.loads(out)["verified"] is True


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], parties: list[FakeParty],
                             party_keys: list[Any], tmp_path: Path) -> None:
    code, _, err = run(capsys, "query")
    assert code == 2 and "--results-url" in err
    code, _, err = run(capsys, *verify_args(parties, party_keys)[:-2])
    assert code == 2 and "three times" in err
    code, _, err = run(capsys, "query", "--verify", "--deployment", str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read deployment file" in err
    args = verify_args(parties, party_keys)
    args[args.index(public_key_hex(party_keys[1]))] = "zz"
    code, _, err = run(capsys, *args)
    assert code == 1 and "public key" in err


def test_published_text_cannot_inject_terminal_escapes(capsys: pytest.CaptureFixture[str],
                                                       parties: list[FakeParty], party_keys: list[Any]) -> None:
    result = sample_result("run-\x1b[2Jclear", n=10)
    result["statistics"] = {**result["statistics"], "evil\x1b]0;title\x07": "1\x1b[31m"}
    publish(parties, party_keys, result)
    code, out, _ = run(capsys, *verify_args(parties, party_keys))
    assert code == 0 and "\x1b" not in out and "\x07" not in out and "Evil" in out


def test_entry_point_subprocess(api: BackgroundServer, parties: list[FakeParty], party_keys: list[Any]) -> None:
    publish(parties, party_keys, sample_result("run-proc", n=10))
    poll(api)
    done = subprocess.run([sys.executable, "-m", "mpcstats.cli", "query", "--results-url", api.url],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "(10 providers)" in done.stdout
