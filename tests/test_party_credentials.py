"""Per-party credentials: the coordinator holds one token per party and each party accepts only its own.

Why it matters: every party operator receives the token the coordinator presents to its party. Were it
one token for all three (the old ``party_token``), any operator could commit, abort, query or open
sessions at the other two — e.g. commit a run the coordinator aborted, so that the stores diverge.
Real servers on 127.0.0.1 with their TinyDB files in tmp dirs; the coordinator's own client
(:class:`servers.coordinator.parties.Parties`) hands party 0 its token, which party 0's operator then
replays at the others.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mpc_programs.shares.field import SHARES_PER_INPUT
from mpc_programs.shares.store import ShareStore
from servers.common.config import ConfigError, from_dict, load_config
from servers.common.serve import BackgroundServer, serve_in_thread
from servers.coordinator.config import CoordinatorConfig
from servers.coordinator.parties import Parties
from servers.party.app import create_app
from servers.party.config import PartyConfig
from tlsn import NotaryKey, public_key_b64

ROOT = Path(__file__).resolve().parent.parent
NOTARY = public_key_b64(NotaryKey.generate().public_key)
STAGED_RUN = "run-the-coordinator-aborts"
CONTROL_PATHS = ("/v1/sessions", "/v1/verify", "/v1/commit", "/v1/abort", "/v1/query")


def _coordinator_dict(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    return {"data_dir": str(tmp_path / "coordinator"), "parties": [f"http://127.0.0.1:{9 + i}" for i in range(3)],
            "party_tokens": [secrets.token_urlsafe(32) for _ in range(3)], "notary_keys": [NOTARY],
            **overrides}


# -- configuration ----------------------------------------------------------------------------------

@pytest.mark.parametrize("tokens,expected", [
    (["a" * 32, "a" * 32, "b" * 32], "distinct"),
    (["a" * 32, "b" * 32, "a" * 32], "distinct"),
    (["a" * 32, "b" * 31, "c" * 32], "party_tokens[1] must be at least 32 characters"),
    (["a" * 32, "b" * 32], "party_tokens must list three tokens"),
    ([], "party_tokens must list three tokens"),
])
def test_party_tokens_must_be_three_long_and_distinct(tmp_path, tokens, expected) -> None:
    with pytest.raises(ConfigError) as info:
        from_dict(CoordinatorConfig, _coordinator_dict(tmp_path, party_tokens=tokens), "coordinator")
    assert "party_tokens" in str(info.value) and expected in str(info.value)


def test_a_short_control_token_is_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"control_token must be at least 32 characters"):
        from_dict(PartyConfig, {"index": 0, "data_dir": str(tmp_path), "mpc_peers": ["127.0.0.1:1"] * 3,
                                "control_token": "t" * 31, "notary_keys": [NOTARY],
                                "mpc_ssl_dir": str(tmp_path)}, "party")


def test_the_coordinator_with_the_old_single_token_config_fails_to_start(tmp_path) -> None:
    """No silent fallback: the old key is refused with what to write instead (file and environment)."""
    old = tmp_path / "coordinator.toml"
    old.write_text('[coordinator]\ndata_dir = "data"\n'
                   'parties = ["http://127.0.0.1:9", "http://127.0.0.1:10", "http://127.0.0.1:11"]\n'
                   f'party_token = "{"x" * 40}"\nnotary_keys = ["{NOTARY}"]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPCSTATS_")}
    started = subprocess.run([sys.executable, "-m", "mpcstats.cli", "coordinator", "--config", str(old),
                              "--log-level", "warning"],
                             capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert started.returncode == 2, started.stdout + started.stderr
    message = started.stderr  # errors go to stderr, like every command's
    assert "coordinator.party_token: is no longer supported" in message
    assert 'party_tokens = ["<token of party 0>", "<token of party 1>", "<token of party 2>"]' in message
    assert "control_token" in message
    assert not (tmp_path / "data").exists()  # refused before anything was created

    with pytest.raises(ConfigError, match=r"no longer supported: .*party_tokens"):
        load_config(CoordinatorConfig, "coordinator", environ={
            **{k: str(v) for k, v in _coordinator_dict(tmp_path).items() if k != "party_tokens"
               and not isinstance(v, list)},
            "MPCSTATS_COORDINATOR_PARTY_TOKEN": "x" * 40})


def test_a_party_with_the_old_shared_token_key_fails_to_load(tmp_path) -> None:
    """The shared value is known to the other two operators: each party must install its own token."""
    path = tmp_path / "party0.toml"
    path.write_text(f'[party]\nindex = 0\ndata_dir = "p0"\nmpc_peers = ["127.0.0.1:1", "127.0.0.1:2", '
                    f'"127.0.0.1:3"]\ncoordinator_token = "{"x" * 40}"\nnotary_keys = ["{NOTARY}"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(PartyConfig, "party", path, environ={})
    assert info.value.key == "party.coordinator_token"
    assert "control_token" in info.value.message and "party_tokens[index]" in info.value.message


# -- the attack --------------------------------------------------------------------------------------

class Recorder:
    """ASGI wrapper: what party 0's operator sees of every request reaching its own server."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, dict[str, str], bytes]] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.seen.append((scope["path"], headers, body))

        async def replayed() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replayed, send)


def _row(seed: int) -> list[int]:
    return [(seed * 7919 + j) % 1000 for j in range(SHARES_PER_INPUT)]


@pytest.fixture
def parties(tmp_path) -> Iterator[tuple[list[BackgroundServer], list[str], list[Path], Recorder]]:
    """Three parties with one counted input each and a staged run awaiting the coordinator's word."""
    tokens = [secrets.token_urlsafe(32) for _ in range(3)]
    servers, dirs = [], []
    recorder: Recorder | None = None
    try:
        for i in range(3):
            config = from_dict(PartyConfig, {
                "index": i, "data_dir": str(tmp_path / f"party{i}"), "mpc_peers": ["127.0.0.1:1"] * 3,
                "control_token": tokens[i], "notary_keys": [NOTARY], "min_inputs": 1,
                "mpc_ssl_dir": str(tmp_path / f"pki{i}")}, "party")  # no MPC runs here
            app: Any = create_app(config)
            with ShareStore(config.data_dir / "shares.json", i) as store:
                assert str(store.path) == app.state.party.mpc.store_path
                store.add_many({"binance_eth:" + "a" * 40: _row(1)})
                store.stage(STAGED_RUN, {"binance_eth:" + "b" * 40: _row(2)})
            if i == 0:
                app = recorder = Recorder(app)
            servers.append(serve_in_thread(app))
            dirs.append(config.data_dir)
        assert recorder is not None
        yield servers, tokens, dirs, recorder
    finally:
        for server in servers:
            server.stop()


def _files(data_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(data_dir.iterdir()) if p.is_file()}


def _party_state(url: str, data_dir: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    health = requests.get(url + "/health", timeout=5).json()
    return {k: health[k] for k in ("inputs", "pending_sessions")}, _files(data_dir)


def _attack_bodies() -> dict[str, dict[str, Any]]:
    return {
        "/v1/sessions": {"session_id": secrets.token_hex(16), "token_sha256": "0" * 64, "registration": {}},
        "/v1/verify": {"run_id": "run-" + secrets.token_hex(6), "session_ids": []},
        "/v1/commit": {"run_id": STAGED_RUN},
        "/v1/abort": {"run_id": STAGED_RUN, "drop_sessions": True},
        "/v1/query": {"run_id": "run-" + secrets.token_hex(6), "query": None,
                      "input_ids": ["binance_eth:" + "a" * 40], "computed_at": 1},
    }


def test_one_partys_coordinator_credential_is_useless_at_the_other_parties(parties) -> None:
    servers, tokens, dirs, recorder = parties
    urls = [s.url for s in servers]
    # The coordinator's own client calls all three; party 0's server sees what it was sent.
    client = Parties(urls, tokens, timeout=10)

    async def legitimate() -> list[dict[str, Any]]:
        try:
            return await client.all("/v1/abort", {"run_id": "run-nothing-staged"})
        finally:
            await client.close()

    assert [a["aborted"] for a in asyncio.run(legitimate())] == [True, True, True]
    [(path, headers, body)] = recorder.seen
    assert path == "/v1/abort"
    stolen = headers["authorization"]
    assert stolen == f"Bearer {tokens[0]}"
    assert all(t not in str(recorder.seen) for t in tokens[1:])  # party 0 never saw the others' tokens

    before = [_party_state(urls[j], dirs[j]) for j in (1, 2)]
    for j in (1, 2):
        # the exact request the coordinator sent to party 0, replayed at party j
        replay = requests.post(urls[j] + path, data=body, timeout=10,
                               headers={"Authorization": stolen, "Content-Type": "application/json"})
        assert replay.status_code == 401, replay.text
        assert replay.json() == {"error": {"code": "bad_token", "message": replay.json()["error"]["message"]}}
        # every control call, with bodies that party j's own token would have made it act on
        for control, payload in _attack_bodies().items():
            response = requests.post(urls[j] + control, json=payload, headers={"Authorization": stolen},
                                     timeout=10)
            assert response.status_code in (401, 403), (control, response.text)
            error = response.json()
            assert set(error) == {"error"} and set(error["error"]) == {"code", "message"}, error
            assert error["error"]["code"] == "bad_token"
    assert [_party_state(urls[j], dirs[j]) for j in (1, 2)] == before  # nothing changed anywhere
    for j in (1, 2):
        with ShareStore(dirs[j] / "shares.json", j) as store:
            assert store.staged_runs() == [STAGED_RUN] and store.count() == 1
        assert requests.get(urls[j] + "/v1/results/latest", timeout=5).status_code == 404

    # Control: with party 1's own token the same commit is acted on — the refusal was the credential.
    committed = requests.post(urls[1] + "/v1/commit", json={"run_id": STAGED_RUN},
                              headers={"Authorization": f"Bearer {tokens[1]}"}, timeout=10)
    assert committed.status_code == 200 and committed.json()["stored"] == 2
