"""The notary's HTTP surface: allow-list, limits, error shape, key endpoint, config loading."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest
import requests
from tlsn_fixtures import HOST, notarize

from provider_app.notary_client import NotaryClient, NotaryClientError
from servers.notary.app import start_notary
from servers.notary.config import HostTarget, load_config
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
    # Bodies are read by servers.common.http: the same codes as every other MPCStats server.
    assert error_of(requests.post(url, data=b"[", timeout=5)) == (400, "malformed_json")
    assert error_of(requests.post(url, json=[], timeout=5)) == (422, "invalid_field")
    assert error_of(requests.post(url, json={}, timeout=5)) == (422, "missing_field")
    assert error_of(requests.post(url, json={"host": 7}, timeout=5)) == (422, "invalid_field")
    assert error_of(requests.post(url, data=b"{" + b" " * 5000 + b"}", timeout=5)) == (413, "payload_too_large")


def test_attest_checks_the_secret_before_using_up_the_session(notaries) -> None:
    client = NotaryClient(notaries["tls13"].url)
    opened = client.open_session(HOST)
    url = f"{client.base_url}/v1/sessions/{opened['session_id']}/attest"
    bad = requests.post(url, json={"server_handshake_traffic_secret": "zz"}, timeout=5)
    assert error_of(bad) == (422, "invalid_field")
    with pytest.raises(NotaryClientError) as err:  # the session is still there, and still has no transcript
        client.attest(opened["session_id"], None)
    assert (err.value.status, err.value.code) == (409, "no_transcript")


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
    assert int(resp.headers["Retry-After"]) == 30  # 2 sessions per 60 s: the next one in 30 s
    # Other routes are not limited: a refused client can still fetch the key and attest.
    assert requests.get(notary.url + "/v1/key", timeout=5).status_code == 200


def test_rate_limit_refills_at_the_window_rate(exchange_tls13, notary_factory) -> None:
    notary = notary_factory(exchange_tls13, rate_limit=3, rate_window_seconds=3)
    url = notary.url + "/v1/sessions"
    codes = [requests.post(url, json={"host": HOST}, timeout=5).status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    time.sleep(1.1)  # 3 per 3 s: one more session's worth
    assert requests.post(url, json={"host": HOST}, timeout=5).status_code == 201


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


def test_config_file_errors_and_environment_overrides(tmp_path: Path, monkeypatch, test_ca) -> None:
    from servers.common.config import ConfigError

    test_ca.write_cert(tmp_path / "roots.pem")
    path = tmp_path / "notary.toml"
    path.write_text('[notary]\ntrust_roots = "roots.pem"\n\n[hosts."api.binance.test"]\n')
    monkeypatch.setenv("MPCSTATS_NOTARY_RATE_LIMIT", "7")
    config = load_config(path)
    assert config.rate_limit == 7 and config.rate_window_seconds == 60
    assert config.hosts["api.binance.test"] == HostTarget("api.binance.test", 443)  # connect defaults to the name
    assert (tmp_path / "notary_key.pem").exists()  # key_file defaults to a file next to the config
    monkeypatch.delenv("MPCSTATS_NOTARY_RATE_LIMIT")
    for bad, key in [('[notary]\nrate_limt = 3\n', "notary.rate_limt"),
                     ('[notary]\nrate_limit = "many"\n', "notary.rate_limit"),
                     ('[notary]\nrate_limit = 0\n', "notary"),
                     ('[hosts."x.test"]\nport = "443"\n', "hosts.x.test.port"),
                     ('[hosts."x.test"]\nconect = "127.0.0.1"\n', "hosts.x.test.conect")]:
        path.write_text('[notary]\ntrust_roots = "roots.pem"\n' + bad.replace("[notary]\n", ""))
        with pytest.raises(ConfigError) as err:
            load_config(path)
        assert err.value.key == key, bad


def test_cli_refuses_a_bad_config_with_exit_code_2(tmp_path: Path, capsys) -> None:
    from mpcstats.cli import main

    (tmp_path / "notary.toml").write_text("[notary]\nbogus = 1\n")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        assert main(["notary", "--config", str(tmp_path / "notary.toml")]) == 2
    finally:  # the command configured logging for a process; give the test session its own back
        root.handlers[:], root.level = handlers, level
    assert "notary.bogus" in capsys.readouterr().err


def test_logs_are_json_lines_without_secrets(notaries, exchanges, sim_accounts) -> None:
    import io
    import json

    from servers.common.logging import configure_logging

    stream = io.StringIO()
    handler = configure_logging("INFO", service="notary", stream=stream)
    try:
        result = notarize(notaries["tls13"], exchanges["tls13"], sim_accounts[1])
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    events = {line["msg"] for line in lines if line["logger"].startswith("servers.notary")}
    assert {"session opened", "relay ended", "session attested"} <= events
    assert all(line["service"] == "notary" for line in lines)
    assert result.session.server_handshake_traffic_secret.hex() not in stream.getvalue()


def test_accepted_connections_disable_nagle(notaries) -> None:
    """TLS flights are small back-to-back writes: with Nagle on, delayed ACKs stall each by ~40 ms."""
    import asyncio
    import gc
    import socket

    notary = notaries["tls13"]
    with requests.Session() as http:
        assert http.get(notary.url + "/health", timeout=5).ok
        accepted = []
        for obj in gc.get_objects():
            if type(obj) is asyncio.trsock.TransportSocket and obj.fileno() >= 0:  # not isinstance: dead proxies
                try:
                    if obj.getsockname()[1] == notary.port and obj.getpeername():
                        accepted.append(obj.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                except OSError:
                    continue  # a listening socket has no peer
    assert accepted and all(accepted)


def test_notary_key_pem_round_trip() -> None:
    key = NotaryKey.generate()
    assert NotaryKey.from_pem(key.to_pem()).key_id == key.key_id


@pytest.mark.timing
def test_bench_prints_the_documented_shape() -> None:
    from servers.notary.bench import measure

    result = measure(runs=2)
    assert set(result) == {"tls12", "tls13"}
    for entry in result.values():
        assert set(entry) == {"seconds", "bytes"}
        # a full-size account response (~32 KB over three records) plus the handshake
        assert 0 < entry["seconds"] < 5 and 20_000 < entry["bytes"] < 100_000


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
