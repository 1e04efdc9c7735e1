"""The notary's HTTP surface: allow-list, limits, error shape, key endpoint, config loading."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import requests
from tlsn_fixtures import HOST, notarize

from provider_app.notary_client import NotaryClient, NotaryClientError
from servers.notary.config import load_config
from servers.notary.runner import start_notary
from tlsn import NotaryKey, key_id, public_key_from_b64


def error_of(resp: requests.Response) -> tuple[int, str]:
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return resp.status_code, body["error"]["code"]


def test_health_and_public_key(notaries) -> None:
    notary = notaries["tls13"]
    assert requests.get(notary.url + "/health", timeout=5).json() == {"status": "ok"}
    info = requests.get(notary.url + "/v1/key", timeout=5).json()
    assert info["alg"] == "Ed25519"
    assert key_id(public_key_from_b64(info["public_key"])) == info["key_id"]
    assert info["key_id"] == notary.app.state.config.key.key_id


def test_refuses_host_not_on_allow_list(notaries) -> None:
    url = notaries["tls13"].url + "/v1/sessions"
    assert error_of(requests.post(url, json={"host": "evil.example"}, timeout=5)) == (403, "host_not_allowed")
    # The client may never choose the address: that would make the notary an open proxy.
    assert error_of(requests.post(url, json={"host": HOST, "address": "10.0.0.1"}, timeout=5)) == (400, "bad_request")
    assert error_of(requests.post(url, data=b"[", timeout=5)) == (400, "bad_request")
    assert error_of(requests.post(url, json={}, timeout=5)) == (400, "bad_request")


def test_unknown_session_and_route_are_json_errors(notaries) -> None:
    url = notaries["tls13"].url
    assert error_of(requests.post(url + "/v1/sessions/nope/attest", json={}, timeout=5)) == (404, "unknown_session")
    assert error_of(requests.get(url + "/v1/nothing", timeout=5)) == (404, "not_found")
    assert error_of(requests.get(url + "/v1/sessions", timeout=5)) == (405, "method_not_allowed")


def test_rate_limit_per_client(exchange_tls13, notary_factory) -> None:
    notary = notary_factory(exchange_tls13, rate_limit=2, rate_window_seconds=60)
    url = notary.url + "/v1/sessions"
    for _ in range(2):
        assert requests.post(url, json={"host": HOST}, timeout=5).status_code == 201
    resp = requests.post(url, json={"host": HOST}, timeout=5)
    assert error_of(resp) == (429, "rate_limited")
    assert int(resp.headers["Retry-After"]) >= 1


def test_refuses_oversized_session(exchange_tls13, notary_factory, sim_accounts) -> None:
    notary = notary_factory(exchange_tls13, max_session_bytes=1500)
    with pytest.raises(NotaryClientError) as err:
        notarize(notary, exchange_tls13, sim_accounts[0])
    assert err.value.code == "session_too_large"
    # And the attest endpoint says the same for a session that blew its budget.
    client = NotaryClient(notary.url)
    opened = client.open_session(HOST)
    with pytest.raises(NotaryClientError):
        notarize_into(client, opened, exchange_tls13, sim_accounts[0])
    with pytest.raises(NotaryClientError) as err:
        client.attest(opened["session_id"], None)
    assert (err.value.status, err.value.code) == (413, "session_too_large")
    assert all(not s.transcript.total_bytes for s in notary.app.state.sessions.all())  # nothing kept


def notarize_into(client: NotaryClient, opened: dict, sim, account) -> None:
    from tlsn import Credentials, client_context, load_spec, prove

    prove(client.relay(opened), load_spec("binance_eth"), Credentials(account.api_key, account.secret),
          server_name=HOST, context=client_context(cadata=sim.ca_pem), timeout=5)


def test_session_time_limit(exchange_tls13, notary_factory) -> None:
    notary = notary_factory(exchange_tls13, max_session_seconds=0.5)
    client = NotaryClient(notary.url)
    opened = client.open_session(HOST)
    assert opened["expires_in"] == 0.5
    time.sleep(0.6)
    with pytest.raises(NotaryClientError) as err:
        client.attest(opened["session_id"], None)
    assert (err.value.status, err.value.code) == (410, "session_expired")
    # A relay that outlives the limit is cut, and the session cannot be attested.
    opened = client.open_session(HOST)
    relay = client.relay(opened)
    with pytest.raises(NotaryClientError) as err:
        relay.recv(timeout=5)
    assert err.value.code == "session_timeout"
    with pytest.raises(NotaryClientError) as err:
        client.attest(opened["session_id"], None)
    assert (err.value.status, err.value.code) == (408, "session_timeout")
    # A relay opened after the deadline is refused before the notary connects anywhere.
    opened = client.open_session(HOST)
    time.sleep(0.6)
    with pytest.raises(NotaryClientError) as err:
        client.relay(opened).recv(timeout=5)
    assert err.value.code == "session_expired"


def test_upstream_unreachable(notary_factory) -> None:
    from servers.exchange_sim.server import RunningExchange

    dead = RunningExchange.__new__(RunningExchange)
    dead.host, dead.port = "127.0.0.1", 9  # discard port: nothing listens
    notary = notary_factory(dead)
    client = NotaryClient(notary.url)
    opened = client.open_session(HOST)
    with pytest.raises(NotaryClientError) as err:
        client.relay(opened).recv(timeout=5)
    assert err.value.code == "upstream_unreachable"


def test_config_file_loads_hosts_roots_and_creates_private_key(tmp_path: Path, test_ca) -> None:
    test_ca.write_cert(tmp_path / "roots.pem")
    (tmp_path / "notary.toml").write_text(
        '[notary]\nkey_file = "key.pem"\ntrust_roots = "roots.pem"\nmax_session_bytes = 5000\n'
        'rate_limit = 3\n\n[hosts."API.Binance.test"]\nconnect = "127.0.0.1"\nport = 8443\n')
    config = load_config(tmp_path / "notary.toml")
    assert config.hosts["api.binance.test"].connect_host == "127.0.0.1"
    assert config.hosts["api.binance.test"].port == 8443
    assert config.max_session_bytes == 5000 and config.rate_limit == 3 and len(config.trust_roots) == 1
    assert os.stat(tmp_path / "key.pem").st_mode & 0o777 == 0o600
    again = load_config(tmp_path / "notary.toml")
    assert again.key.key_id == config.key.key_id  # the key persists across restarts
    with start_notary(config) as server:
        assert requests.get(server.url + "/v1/key", timeout=5).json()["key_id"] == config.key.key_id


def test_notary_key_pem_round_trip() -> None:
    key = NotaryKey.generate()
    assert NotaryKey.from_pem(key.to_pem()).key_id == key.key_id


def test_bench_prints_the_documented_shape() -> None:
    from servers.notary.bench import measure

    result = measure(runs=2)
    assert set(result) == {"tls12", "tls13"}
    for entry in result.values():
        assert set(entry) == {"seconds", "bytes"}
        assert 0 < entry["seconds"] < 5 and 1500 < entry["bytes"] < 20000


def test_attest_waits_for_an_open_relay_then_refuses(notaries) -> None:
    client = NotaryClient(notaries["tls13"].url)
    opened = client.open_session(HOST)
    relay = client.relay(opened)
    relay.send(b"\x16\x03\x01\x00")  # half a record header; the relay stays open
    try:
        with pytest.raises(NotaryClientError) as err:
            client.attest(opened["session_id"], None)
        assert (err.value.status, err.value.code) == (409, "relay_active")
    finally:
        relay.close()
