"""Schemathesis against the coordinator's and the results API's published OpenAPI documents.

Both apps run under uvicorn on loopback (``serve_in_thread``), reached over real HTTP at the URLs their
``/openapi.json`` describes. Schemathesis generates valid and invalid requests for every operation; the
properties: never a 5xx, and every error body is the one JSON error shape of servers/common/errors.py.

The coordinator's parties point at a closed port: a generated registration can never carry a valid
notary signature, so it is refused before any party call; a valid query meets ``min_inputs`` first (409).
Rate limits are raised so the generated requests reach the routes instead of the limiter (the limiter's
429 path is what ``tests/test_load.py`` exercises).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from results_fixtures import fake_parties, make_result, party_keys, results_config  # noqa: F401
from schemathesis.checks import not_a_server_error

from servers.common.serve import BackgroundServer, serve_in_thread
from servers.coordinator.app import create_app as create_coordinator
from servers.coordinator.config import CoordinatorConfig
from servers.results.app import create_app as create_results
from tlsn import NotaryKey, public_key_b64

pytestmark = pytest.mark.slow

EXAMPLES = settings(max_examples=25, deadline=None,
                    suppress_health_check=list(HealthCheck))


def assert_error_shape(response: Any) -> None:
    if response.status_code < 400:
        return
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str), body


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    config = CoordinatorConfig(
        data_dir=tmp_path_factory.mktemp("schemathesis-coordinator"),
        parties=["http://127.0.0.1:9/p0", "http://127.0.0.1:9/p1", "http://127.0.0.1:9/p2"],
        party_tokens=[secrets.token_urlsafe(32) for _ in range(3)],
        notary_keys=[public_key_b64(NotaryKey.generate().public_key)],
        server_names={"binance_eth": "api.binance.test"}, party_timeout_seconds=2.0,
        client_rate=10_000.0, client_burst=10_000.0, global_rate=10_000.0, global_burst=10_000.0)
    server = serve_in_thread(create_coordinator(config))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def results_api(tmp_path_factory: pytest.TempPathFactory, fake_parties, party_keys  # noqa: F811
                ) -> Iterator[BackgroundServer]:
    config = results_config(Path(tmp_path_factory.mktemp("schemathesis-results")), fake_parties, party_keys,
                            client_rate=10_000.0, client_burst=10_000)
    server = serve_in_thread(create_results(config, poll=False))
    # one accepted result, so /stats and /stats/history answer 200 with real entries
    server.app.state.cache.add(make_result("run-1"), {0: "k0", 1: "k1", 2: "k2"})
    yield server
    server.stop()


def run_schema(base_url: str) -> dict[str, int]:
    """Every operation of ``base_url``'s OpenAPI document, valid and invalid requests; status counts.

    Driven through schemathesis' Python API (``APIOperation.as_strategy``) under plain hypothesis:
    schemathesis' own pytest plugin (``from_fixture``) fails on pytest 9 (``Function._nodeid``).
    """
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    statuses: dict[str, int] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    for operation in operations:
        for mode in GenerationMode:
            @EXAMPLES
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: Any) -> None:
                response = case.call(base_url=base_url, timeout=10)
                key = f"{case.method} {case.path} {response.status_code}"
                statuses[key] = statuses.get(key, 0) + 1
                case.validate_response(response, checks=[not_a_server_error])
                assert_error_shape(response)

            try:
                check()
            except Unsatisfiable:
                # an operation without parameters or body (GET /health) has no invalid request
                assert mode is GenerationMode.NEGATIVE, operation.label
    return statuses


def test_coordinator_never_5xx_and_errors_are_json(coordinator: BackgroundServer) -> None:
    statuses = run_schema(coordinator.url)
    assert any(k.startswith("POST /v1/registrations 4") for k in statuses), statuses
    assert not any(k.endswith(tuple(f" 5{d:02d}" for d in range(100))) for k in statuses), statuses


def test_results_api_never_5xx_and_errors_are_json(results_api: BackgroundServer) -> None:
    statuses = run_schema(results_api.url)
    assert statuses.get("GET /stats 200"), statuses
    assert not any(k.endswith(tuple(f" 5{d:02d}" for d in range(100))) for k in statuses), statuses
