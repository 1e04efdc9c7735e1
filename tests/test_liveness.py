"""Liveness at the coordinator, with stand-in parties whose health and MPC calls a test controls.

A real coordinator (uvicorn in a thread) talks HTTP to three small stand-in party servers: they
answer ``/health`` as their party (or 503 when "down"), open sessions, and either hang a
verification or query run (a stuck MPC run) or fail it the way parties fail when a peer died.
What must hold: registrations and status calls are answered while a run hangs; no run starts
while a party is down (a query hears ``party_unreachable`` naming the party at once; queued
registrations wait, none is rejected); a run that a party outage stops is re-queued, not
rejected, and succeeds once the party is back; the MPC deadline scales with the run's size.
The same with real processes and a killed party: tests/test_faults.py.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mpc_programs.runtime.runner import MPCRunError
from provider_app.client import DeploymentConfig, ProviderClient
from servers.common.config import ConfigError, from_dict
from servers.common.mpc_deadline import MPCDeadline
from servers.common.serve import BackgroundServer, serve_in_thread
from servers.coordinator.app import create_app as create_coordinator
from servers.coordinator.config import CoordinatorConfig
from servers.party.mpc import classify, error_code
from tlsn import public_key_b64
from deployment_helpers import as_notarized
from tlsn_fixtures import notarize

#: "Answered promptly": a generous bound for a loaded 2-core machine; the measured time is printed.
PROMPT = 2.0


class StandInParty:
    """A party server that does no MPC: the test decides how each run ends."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.down = False  # /health answers 503 and control calls fail, like a party going away
        self.hang = threading.Event()  # set: /v1/verify and /v1/query hang until released
        self.release = threading.Event()
        self.verify_error: tuple[int, str, str] | None = None  # (status, code, message)
        self.dies_in_run = False  # goes down during the next verification run
        self.busy = False  # /health says an older MPC run still ends here
        self.verify_calls = 0
        self.input_ids: dict[str, str] = {}

        async def health(request: Request) -> JSONResponse:
            if self.down:
                return JSONResponse({"error": {"code": "down", "message": "stopping"}}, 503)
            return JSONResponse({"status": "ok", "party": self.index, "inputs": 0,
                                 "mpc_busy": self.busy})

        async def sessions(request: Request) -> JSONResponse:
            body = await request.json()
            self.input_ids[body["session_id"]] = secrets.token_hex(8)
            return JSONResponse({"session_id": body["session_id"], "key_length": 16}, 201)

        async def verify(request: Request) -> JSONResponse:
            body = await request.json()
            self.verify_calls += 1
            await self._maybe_hang()
            if self.dies_in_run:
                self.down, self.dies_in_run = True, False
            if self.verify_error is not None:
                status, code, message = self.verify_error
                return JSONResponse({"error": {"code": code, "message": message}}, status)
            ids = body["session_ids"]
            return JSONResponse({"run_id": body["run_id"], "accepted": sorted(ids), "rejected": {},
                                 "input_ids": {s: self.input_ids.get(s, s) for s in ids},
                                 "stored": len(ids)})

        async def ok(request: Request) -> JSONResponse:
            if self.down:
                return JSONResponse({"error": {"code": "down", "message": "stopping"}}, 503)
            return JSONResponse({"ok": True})

        async def query(request: Request) -> JSONResponse:
            await self._maybe_hang()
            return JSONResponse({"error": {"code": "mpc_aborted", "message": "stand-in"}}, 503)

        self.server = serve_in_thread(Starlette(routes=[
            Route("/health", health), Route("/v1/sessions", sessions, methods=["POST"]),
            Route("/v1/verify", verify, methods=["POST"]), Route("/v1/commit", ok, methods=["POST"]),
            Route("/v1/abort", ok, methods=["POST"]), Route("/v1/query", query, methods=["POST"])]))

    async def _maybe_hang(self) -> None:
        import asyncio
        while self.hang.is_set() and not self.release.is_set():
            await asyncio.sleep(0.05)

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def registrations(exchange_tls13, notary_factory, sim_accounts) -> dict[str, Any]:
    """Registration documents of three simulated accounts, notarized by a real notary."""
    notary = notary_factory(exchange_tls13)
    client = ProviderClient(DeploymentConfig("http://127.0.0.1:9", notary.url))
    docs = [client.registration_document(as_notarized(notarize(notary, exchange_tls13, a)))
            for a in sim_accounts[:3]]
    return {"docs": docs, "notary_key": public_key_b64(notary.app.state.config.key.public_key)}


@pytest.fixture
def setup(tmp_path, registrations) -> Iterator[tuple[BackgroundServer, list[StandInParty], list]]:
    parties = [StandInParty(i) for i in range(3)]
    config = CoordinatorConfig(
        data_dir=tmp_path / "coordinator", parties=[p.url for p in parties],
        party_tokens=[secrets.token_urlsafe(32) for _ in range(3)],
        notary_keys=[registrations["notary_key"]], server_names={"binance_eth": "api.binance.test"},
        min_inputs=1, batch_interval_seconds=0.1, health_timeout_seconds=1.0,
        party_timeout_seconds=1.5,
        client_rate=1000.0, client_burst=1000.0)
    config.validate()
    coordinator = serve_in_thread(create_coordinator(config))
    yield coordinator, parties, registrations["docs"]
    for p in parties:
        p.release.set()
    coordinator.stop()
    for p in parties:
        p.server.stop()


def _timed(method: str, url: str, **kwargs: Any) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.request(method, url, timeout=30, **kwargs)
    return response, time.monotonic() - started


def _register(base: str, doc: dict[str, Any]) -> tuple[dict[str, Any], float]:
    response, seconds = _timed("POST", base + "/v1/registrations", json=doc)
    assert response.status_code == 201, response.text
    return response.json(), seconds


def _status(base: str, reg: dict[str, Any]) -> str:
    response = requests.get(f"{base}/v1/registrations/{reg['session_id']}", timeout=10,
                            headers={"Authorization": f"Bearer {reg['token']}"})
    assert response.status_code == 200, response.text
    return response.json()["status"]


def _ready(base: str, reg: dict[str, Any]) -> None:
    response = requests.post(f"{base}/v1/registrations/{reg['session_id']}/ready", timeout=10,
                             headers={"Authorization": f"Bearer {reg['token']}"})
    assert response.status_code == 200, response.text


def _wait_status(base: str, reg: dict[str, Any], wanted: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    status = _status(base, reg)
    while status != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
        status = _status(base, reg)
    return status


def test_registrations_and_status_are_answered_while_an_mpc_run_hangs(setup) -> None:
    coordinator, parties, docs = setup
    base = coordinator.url
    for p in parties:
        p.hang.set()  # every verification run hangs, as with a stopped MPC peer
    first, _ = _register(base, docs[0])
    _ready(base, first)
    assert _wait_status(base, first, "verifying") == "verifying"  # the run holds the MPC queue
    second, register_seconds = _register(base, docs[1])
    status_response, status_seconds = _timed(
        "GET", f"{base}/v1/registrations/{first['session_id']}",
        headers={"Authorization": f"Bearer {first['token']}"})
    health, health_seconds = _timed("GET", base + "/health")
    _ready(base, second)
    print(f"\nwhile an MPC run hangs: registration {register_seconds:.3f} s, "
          f"status {status_seconds:.3f} s, health {health_seconds:.3f} s")
    assert register_seconds < PROMPT and status_seconds < PROMPT and health_seconds < PROMPT
    assert status_response.json()["status"] == "verifying" and health.json()["verifying"] == 1
    assert _status(base, second) == "queued"  # it waits for the queue, its registration did not
    for p in parties:
        p.release.set()
    assert _wait_status(base, first, "accepted") == "accepted"
    assert _wait_status(base, second, "accepted") == "accepted"


def test_no_run_starts_while_a_party_is_down_and_queued_registrations_wait(setup, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="mpcstats.coordinator")
    coordinator, parties, docs = setup
    base = coordinator.url
    first, _ = _register(base, docs[0])
    _ready(base, first)
    assert _wait_status(base, first, "accepted") == "accepted"  # one counted input
    parties[1].down = True
    reg, _ = _register(base, docs[1])  # the party still takes sessions; its health says no
    _ready(base, reg)
    calls = [p.verify_calls for p in parties]
    response, seconds = _timed("POST", base + "/v1/queries", json={"query": None})
    print(f"\nquery while party 1 is down: HTTP {response.status_code} in {seconds:.3f} s")
    assert response.status_code == 503 and seconds < PROMPT
    error = response.json()["error"]
    assert error["code"] == "party_unreachable"
    assert error["message"].startswith(f"party 1 ({parties[1].url}) is unreachable: ")
    assert "503" in error["message"]
    time.sleep(1.0)  # several scheduler ticks: the batch waits, nothing runs, nothing is rejected
    assert _status(base, reg) == "queued"
    waiting = requests.get(f"{base}/v1/registrations/{reg['session_id']}", timeout=10,
                           headers={"Authorization": f"Bearer {reg['token']}"}).json()
    assert waiting["waiting_for"].startswith(f"party 1 ({parties[1].url}) is unreachable")  # the provider hears why
    assert [p.verify_calls for p in parties] == calls
    assert any(f"party 1 ({parties[1].url}) is unreachable" in r.getMessage()
               for r in caplog.records)
    parties[1].down = False
    assert _wait_status(base, reg, "accepted") == "accepted"


def test_a_run_stopped_by_a_party_outage_is_queued_again_not_rejected(setup) -> None:
    coordinator, parties, docs = setup
    base = coordinator.url
    lost = "the MPC run aborted: MPC party 0 failed: lost the connection to party 1"
    parties[0].verify_error = parties[2].verify_error = (503, "mpc_aborted", lost)
    parties[1].verify_error = (503, "down", "stopping")
    parties[1].dies_in_run = True  # from then on its health check fails
    reg, _ = _register(base, docs[2])
    _ready(base, reg)
    deadline = time.monotonic() + 10
    while not parties[1].down and time.monotonic() < deadline:
        time.sleep(0.02)
    assert parties[1].down  # the run reached the parties and lost party 1
    status = _status(base, reg)
    while status == "verifying" and time.monotonic() < deadline:
        status = _status(base, reg)
    assert status == "queued"  # back in the queue: not rejected
    calls = [p.verify_calls for p in parties]
    time.sleep(0.5)
    assert _status(base, reg) == "queued"
    assert [p.verify_calls for p in parties] == calls  # and not retried while party 1 is down
    for p in parties:
        p.verify_error = None
    parties[1].down = False
    assert _wait_status(base, reg, "accepted") == "accepted"


def test_no_run_starts_while_a_party_still_finishes_an_older_one(setup) -> None:
    coordinator, parties, docs = setup
    base = coordinator.url
    first, _ = _register(base, docs[0])
    _ready(base, first)
    assert _wait_status(base, first, "accepted") == "accepted"
    parties[2].busy = True
    response, seconds = _timed("POST", base + "/v1/queries", json={"query": None})
    assert response.status_code == 503 and response.json()["error"]["code"] == "busy"
    assert "party 2" in response.json()["error"]["message"] and seconds < 10
    reg, _ = _register(base, docs[1])
    _ready(base, reg)
    time.sleep(0.5)
    assert _status(base, reg) == "queued" and parties[0].verify_calls == 1
    parties[2].busy = False
    assert _wait_status(base, reg, "accepted") == "accepted"


def test_failures_with_every_party_up_still_end_in_rejection(setup) -> None:
    """A run that cannot succeed must not hold the queue forever: ``verify_attempts`` tries."""
    coordinator, parties, docs = setup
    base = coordinator.url
    for p in parties:
        p.verify_error = (503, "mpc_aborted", "the MPC run aborted: a bug")
    reg, _ = _register(base, docs[0])
    _ready(base, reg)
    assert _wait_status(base, reg, "rejected") == "rejected"
    assert all(p.verify_calls == 2 for p in parties)


def test_the_mpc_deadline_scales_with_the_run_and_is_capped() -> None:
    d = MPCDeadline(base_seconds=30, per_submission_seconds=0.5, per_input_seconds=0.02,
                    max_seconds=600)
    assert d.verification(1) == 30.5 and d.verification(64) == 62.0
    assert d.query(10) == pytest.approx(30.2) and d.query(10_000) == 230.0
    assert d.query(1_000_000) == 600  # the cap
    assert d.for_job({"task": "verify", "submissions": [{}] * 4}) == 32.0
    assert d.for_job({"task": "stats", "input_ids": ["a"] * 100}) == 32.0
    with pytest.raises(ValueError, match="mpc_timeout_max_seconds"):
        MPCDeadline(30, 0.5, 0.02, 10).check()


def test_deadline_settings_are_checked_in_the_configs(tmp_path) -> None:
    base = {"data_dir": str(tmp_path), "parties": ["http://a", "http://b", "http://c"],
            "party_tokens": [secrets.token_urlsafe(32) for _ in range(3)], "notary_keys": ["k"]}
    config = from_dict(CoordinatorConfig, base)
    assert config.mpc_deadline() == MPCDeadline()  # the documented defaults
    with pytest.raises(ConfigError, match="mpc_seconds_per_input"):
        from_dict(CoordinatorConfig, {**base, "mpc_seconds_per_input": -1})
    with pytest.raises(ConfigError, match="health_timeout_seconds"):
        from_dict(CoordinatorConfig, {**base, "health_timeout_seconds": 0})


def test_a_party_reports_an_aborted_child_and_a_deadline_apart() -> None:
    aborted = classify(MPCRunError("MPC party 0 failed: connection to party 1 lost"), 31.0)
    assert error_code(aborted) == "mpc_aborted" and "connection to party 1 lost" in str(aborted)
    timed_out = classify(MPCRunError("MPC run timed out after 31 s"), 31.0)
    assert error_code(timed_out) == "mpc_timeout" and "31 s" in str(timed_out)
    assert error_code(MPCRunError("other")) == "mpc_failed"


def test_a_deviation_caught_by_a_check_is_recorded_and_the_run_retried(setup) -> None:
    """Issue 15, item 4: a run a check of active security aborted is recorded by the
    coordinator (``/health`` counts it, the state keeps each party's report naming the step)
    and retried like any aborted run; nothing of it is counted."""
    coordinator, parties, docs = setup
    base = coordinator.url
    caught = ("a party deviated from the protocol; the check caught it and the run aborted: "
              "MPC party 1 failed: party 1: MPC run aborted: product check failed at ingestion "
              "check")
    for p in parties:
        p.verify_error = (503, "mpc_deviation", caught)
    reg, _ = _register(base, docs[0])
    _ready(base, reg)
    assert _wait_status(base, reg, "rejected") == "rejected"
    assert all(p.verify_calls == 2 for p in parties)  # retried once, as mpc_aborted is
    health = requests.get(base + "/health", timeout=10).json()
    assert health["deviations_detected"] == 2 and health["inputs"] == 0
    state = coordinator.app.state.coordinator.state
    reports = state.deviations()[0]["reports"]
    assert [r["party"] for r in reports] == [0, 1, 2]
    assert all("product check failed at ingestion check" in r["message"] for r in reports)


def test_a_party_reports_a_caught_deviation_apart() -> None:
    for message in ("product check failed at order statistic digit: a party added an error",
                    "opening check failed at label 12: the three shares are not on one "
                    "degree-1 polynomial (a party deviated)",
                    "random bits: r² is not a square (a party deviated)"):
        failed = classify(MPCRunError(f"MPC party 0 failed: {message}"), 31.0)
        assert error_code(failed) == "mpc_deviation" and message in str(failed)
