"""Results API against three fake computation parties (real Starlette apps on loopback, real Ed25519 keys).

The fake parties stand in for ``servers/party``: each serves whatever signed document the test gives it at
``GET /v1/results/latest``. The results API itself runs under uvicorn on a free port with its TinyDB file
in a temporary directory. Fixtures: ``tests/results_fixtures.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme
from results_fixtures import (FakeParty, api, fake_parties, make_result, parties, party_keys,  # noqa: F401
                              poll, publish, results_config)

from servers.common.config import ConfigError, load_config
from servers.common.serve import BackgroundServer, free_port, serve_in_thread
from servers.common.signing import generate_key, key_id, public_key_hex, sign_result
from servers.results.app import create_app
from servers.results.config import ResultsConfig
from servers.results.poller import Outcome


def test_no_result_yet_is_a_json_404(api: BackgroundServer, parties: list[FakeParty]) -> None:
    assert poll(api) is Outcome.NO_RESULT
    r = requests.get(f"{api.url}/stats", timeout=5)
    assert r.status_code == 404
    assert r.json() == {"error": {"code": "no_result_yet",
                                  "message": "no result has been agreed by all parties yet"}}


def test_agreement_is_served_with_key_ids(api: BackgroundServer, parties: list[FakeParty],
                                          party_keys: list[Any]) -> None:
    publish(parties, party_keys, make_result("run-1", mean=2.5, n=7, computed_at=1_795_618_800))
    assert poll(api) is Outcome.ACCEPTED
    body = requests.get(f"{api.url}/stats", timeout=5).json()
    assert body["statistics"] == {"mean": 2.5, "median": 1.25}
    assert body["n"] == 7 and body["run_id"] == "run-1"
    assert body["computed_at"] == 1_795_618_800
    assert body["parties"] == [{"party": i, "key_id": key_id(party_keys[i])} for i in range(3)]
    assert time.time() - body["accepted_at"] < 30


def test_reading_never_reaches_the_parties(api: BackgroundServer, parties: list[FakeParty],
                                           party_keys: list[Any]) -> None:
    publish(parties, party_keys, make_result("run-1"))
    poll(api)
    before = [p.hits for p in parties]
    for path in ("/stats", "/stats/history", "/health", "/", "/openapi.json"):
        assert requests.get(api.url + path, timeout=5).status_code == 200
    assert [p.hits for p in parties] == before


def test_one_party_differs_nothing_served(api: BackgroundServer, parties: list[FakeParty],
                                          party_keys: list[Any]) -> None:
    publish(parties, party_keys, make_result("run-1", mean=2.5))
    parties[2].doc = sign_result(party_keys[2], make_result("run-1", mean=2.6), 2)
    assert poll(api) is Outcome.DISAGREEMENT
    assert requests.get(f"{api.url}/stats", timeout=5).status_code == 404
    health = requests.get(f"{api.url}/health", timeout=5).json()
    assert health["counters"]["disagreement"] == 1 and health["results_cached"] == 0


def test_disagreement_keeps_serving_the_last_agreed_result(api: BackgroundServer, parties: list[FakeParty],
                                                           party_keys: list[Any]) -> None:
    publish(parties, party_keys, make_result("run-1", mean=2.5))
    assert poll(api) is Outcome.ACCEPTED
    publish(parties, party_keys, make_result("run-2", mean=9.0))
    parties[0].doc = sign_result(party_keys[0], make_result("run-2", mean=9.1), 0)
    assert poll(api) is Outcome.DISAGREEMENT
    body = requests.get(f"{api.url}/stats", timeout=5).json()
    assert body["run_id"] == "run-1" and body["statistics"]["mean"] == 2.5


def test_tampered_document_is_refused(api: BackgroundServer, parties: list[FakeParty],
                                      party_keys: list[Any]) -> None:
    publish(parties, party_keys, make_result("run-1"))
    assert parties[1].doc is not None
    parties[1].doc["result"]["statistics"]["mean"] = 1000.0  # changed after signing
    report = api.app.state.poller.poll_once()
    assert report.outcome is Outcome.BAD_SIGNATURE and report.detail == "bad_signature"
    assert requests.get(f"{api.url}/stats", timeout=5).status_code == 404


def test_all_agree_but_one_signed_with_unknown_key(api: BackgroundServer, parties: list[FakeParty],
                                                   party_keys: list[Any]) -> None:
    result = make_result("run-1")
    publish(parties, party_keys, result)
    parties[2].doc = sign_result(generate_key(), result, 2)  # same result, key nobody configured
    report = api.app.state.poller.poll_once()
    assert report.outcome is Outcome.BAD_SIGNATURE and report.detail == "unknown_key"
    assert requests.get(f"{api.url}/stats", timeout=5).status_code == 404


def test_one_party_replaying_another_partys_document(api: BackgroundServer, parties: list[FakeParty],
                                                     party_keys: list[Any]) -> None:
    publish(parties, party_keys, make_result("run-1"))
    parties[2].doc = parties[0].doc  # a valid signature, but from party 0: party 2 vouches for nothing
    report = api.app.state.poller.poll_once()
    assert report.outcome is Outcome.BAD_SIGNATURE and report.detail == "wrong_party"
    assert requests.get(f"{api.url}/stats", timeout=5).status_code == 404


def test_signed_but_incomplete_result_is_refused(api: BackgroundServer, parties: list[FakeParty],
                                                 party_keys: list[Any]) -> None:
    result = make_result("run-1")
    del result["n"]
    publish(parties, party_keys, result)
    assert poll(api) is Outcome.MALFORMED
    assert requests.get(f"{api.url}/stats", timeout=5).status_code == 404


def test_unreachable_party_blocks_publication(tmp_path: Path, parties: list[FakeParty],
                                              party_keys: list[Any]) -> None:
    publish(parties, party_keys, make_result("run-1"))
    config = results_config(tmp_path, parties, party_keys)
    config.parties[1].url = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    with serve_in_thread(create_app(config, poll=False)) as api:
        assert poll(api) is Outcome.UNREACHABLE
        assert requests.get(f"{api.url}/stats", timeout=5).status_code == 404


def test_history_grows_newest_first_and_is_bounded_by_limit(api: BackgroundServer, parties: list[FakeParty],
                                                            party_keys: list[Any]) -> None:
    for i in range(3):
        publish(parties, party_keys, make_result(f"run-{i}", mean=float(i)))
        assert poll(api) is Outcome.ACCEPTED
        assert poll(api) is Outcome.UNCHANGED  # same run seen again is not a new entry
    body = requests.get(f"{api.url}/stats/history", timeout=5).json()
    assert body["count"] == 3
    assert [e["run_id"] for e in body["results"]] == ["run-2", "run-1", "run-0"]
    one = requests.get(f"{api.url}/stats/history", params={"limit": 1}, timeout=5).json()
    assert [e["run_id"] for e in one["results"]] == ["run-2"]
    for bad in ("0", "abc", "100000000"):
        r = requests.get(f"{api.url}/stats/history", params={"limit": bad}, timeout=5)
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_field"


def test_history_limit_drops_oldest(tmp_path: Path, parties: list[FakeParty], party_keys: list[Any]) -> None:
    config = results_config(tmp_path, parties, party_keys, history_limit=2)
    with serve_in_thread(create_app(config, poll=False)) as api:
        for i in range(4):
            publish(parties, party_keys, make_result(f"run-{i}"))
            assert poll(api) is Outcome.ACCEPTED
        body = requests.get(f"{api.url}/stats/history", params={"limit": 2}, timeout=5).json()
    assert [e["run_id"] for e in body["results"]] == ["run-3", "run-2"]


def test_restart_keeps_history(tmp_path: Path, parties: list[FakeParty], party_keys: list[Any]) -> None:
    config = results_config(tmp_path, parties, party_keys)
    with serve_in_thread(create_app(config, poll=False)) as api:
        for i in range(2):
            publish(parties, party_keys, make_result(f"run-{i}"))
            assert poll(api) is Outcome.ACCEPTED
    assert (tmp_path / "results-data" / "results_history.json").exists()
    for p in parties:
        p.doc = None  # the parties have nothing now: whatever is served comes from the file
    with serve_in_thread(create_app(config, poll=False)) as api:
        assert requests.get(f"{api.url}/stats", timeout=5).json()["run_id"] == "run-1"
        history = requests.get(f"{api.url}/stats/history", timeout=5).json()
        assert [e["run_id"] for e in history["results"]] == ["run-1", "run-0"]


def test_polls_on_schedule(tmp_path: Path, parties: list[FakeParty], party_keys: list[Any]) -> None:
    publish(parties, party_keys, make_result("run-sched"))
    config = results_config(tmp_path, parties, party_keys, poll_seconds=0.1)
    with serve_in_thread(create_app(config)) as api:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = requests.get(f"{api.url}/stats", timeout=5)
            if r.status_code == 200:
                break
            time.sleep(0.05)
        assert r.status_code == 200 and r.json()["run_id"] == "run-sched"
        time.sleep(0.35)
        health = requests.get(f"{api.url}/health", timeout=5).json()
        assert health["counters"]["polls"] >= 3 and health["counters"]["accepted"] == 1


def test_unknown_route_and_method_are_json_errors(api: BackgroundServer) -> None:
    r = requests.get(f"{api.url}/nope", timeout=5)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = requests.post(f"{api.url}/stats", timeout=5)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_config_from_toml_and_environment(tmp_path: Path, party_keys: list[Any]) -> None:
    parties_toml = "".join(
        f'[[results.parties]]\npid = {i}\nurl = "http://127.0.0.1:{9100 + i}"\n'
        f'public_key = "{public_key_hex(party_keys[i])}"\n' for i in range(3))
    path = tmp_path / "results.toml"
    path.write_text(f'[results]\ndata_dir = "data"\npoll_seconds = 3\n{parties_toml}')
    config = load_config(ResultsConfig, "results", path, environ={"MPCSTATS_RESULTS_PORT": "9999",
                                                                  "MPCSTATS_RESULTS_POLL_SECONDS": "0.5"})
    assert config.port == 9999 and config.poll_seconds == 0.5
    assert config.data_dir == tmp_path / "data"
    assert [p.url for p in config.parties] == [f"http://127.0.0.1:{9100 + i}" for i in range(3)]
    with pytest.raises(ConfigError, match="exactly 3 parties"):
        path.write_text(f'[results]\ndata_dir = "d"\n{parties_toml.rsplit("[[results.parties]]", 1)[0]}')
        load_config(ResultsConfig, "results", path, environ={})
    path.write_text(f'[results]\ndata_dir = "d"\n{parties_toml.replace(public_key_hex(party_keys[1]), "zz")}')
    with pytest.raises(ConfigError, match="party 1 public_key"):
        load_config(ResultsConfig, "results", path, environ={})


def test_parties_over_https_with_a_private_ca(tmp_path: Path, party_keys: list[Any]) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    https_parties = [FakeParty(ssl_certfile=str(cert_file), ssl_keyfile=str(key_file)) for _ in range(3)]
    try:
        assert all(p.server.url.startswith("https://") for p in https_parties)
        publish(https_parties, party_keys, make_result("run-tls"))
        untrusting = results_config(tmp_path / "a", https_parties, party_keys)
        with serve_in_thread(create_app(untrusting, poll=False)) as api:
            assert poll(api) is Outcome.UNREACHABLE  # the private CA is not in the system store
        trusting = results_config(tmp_path / "b", https_parties, party_keys, party_ca_file=str(ca_file))
        with serve_in_thread(create_app(trusting, poll=False)) as api:
            assert poll(api) is Outcome.ACCEPTED
    finally:
        for p in https_parties:
            p.server.stop()


RUN_MAIN = ("import argparse, sys\nfrom servers.results import main\np = argparse.ArgumentParser()\n"
            "main.add_arguments(p)\nsys.exit(main.run(p.parse_args(sys.argv[1:])))\n")


def test_main_runs_as_a_process_with_json_logs(tmp_path: Path, parties: list[FakeParty],
                                               party_keys: list[Any]) -> None:
    publish(parties, party_keys, make_result("run-proc"))
    path = tmp_path / "results.toml"
    path.write_text('[results]\ndata_dir = "data"\npoll_seconds = 0.2\n' + "".join(
        f'[[results.parties]]\npid = {i}\nurl = "{p.server.url}"\npublic_key = "{public_key_hex(party_keys[i])}"\n'
        for i, p in enumerate(parties)))
    port = free_port()
    env = {**os.environ, "MPCSTATS_RESULTS_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-c", RUN_MAIN, "--config", str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        body = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                r = requests.get(f"http://127.0.0.1:{port}/stats", timeout=2)
                if r.status_code == 200:
                    body = r.json()
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        assert body is not None and body["run_id"] == "run-proc"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    # uvicorn shuts down cleanly, then re-raises the signal it caught: -SIGTERM is its normal exit.
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert "Application shutdown complete." in err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert any(doc.get("outcome") == "accepted" and doc["service"] == "results" for doc in lines)

    bad = subprocess.run([sys.executable, "-c", RUN_MAIN, "--config", str(tmp_path / "missing.toml")],
                         capture_output=True, text=True, timeout=30, check=False)
    assert bad.returncode == 2 and "does not exist" in bad.stderr
