"""Fixtures for the results API and its consumers: three fake signing parties and a results API on loopback.

The fake parties (:class:`servers.results.sample.StandInParty`) stand in for ``servers/party``: each serves
whatever signed document the test gives it at ``GET /v1/results/latest``, signed with a real Ed25519 key.
The results API runs under uvicorn on a free port with its TinyDB file in the test's temporary directory and
does not poll by itself: tests call :func:`poll`.

Import the fixtures into a test module with ``from results_fixtures import api, fake_parties, parties,
party_keys  # noqa: F401``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from servers.common.config import from_dict
from servers.common.serve import BackgroundServer, serve_in_thread
from servers.common.signing import generate_key, public_key_hex, sign_result
from servers.results.app import create_app
from servers.results.config import ResultsConfig
from servers.results.poller import Outcome
from servers.results.sample import StandInParty

FakeParty = StandInParty


#: 2026-11-25 15:00:00 UTC: the computed_at of the first result :func:`make_result` makes.
FIRST_COMPUTED_AT = 1_795_618_800
_later = itertools.count(FIRST_COMPUTED_AT)


def make_result(run_id: str, mean: float = 1.5, n: int = 3, *, computed_at: int | None = None,
                input_digest: str = "ab" * 32) -> dict[str, Any]:
    """A minimal result (two float statistics): enough for the API's agreement and signature logic.

    Without ``computed_at``, each call is one second later than the one before: the results API serves
    a result only if its run is newer than the served one, so results made one after the other must be.
    """
    return {"query": {"statistics": ["mean", "median"]}, "n": n, "input_digest": input_digest,
            "statistics": {"mean": mean, "median": 1.25},
            "computed_at": next(_later) if computed_at is None else computed_at, "run_id": run_id}


@pytest.fixture(scope="module")
def party_keys() -> list[Any]:
    return [generate_key() for _ in range(3)]


@pytest.fixture(scope="module")
def fake_parties() -> Iterator[list[FakeParty]]:
    parties = [FakeParty() for _ in range(3)]
    yield parties
    for p in parties:
        p.stop()


@pytest.fixture()
def parties(fake_parties: list[FakeParty]) -> list[FakeParty]:
    """The module's fake parties, reset: nothing published, no hits."""
    for p in fake_parties:
        p.doc, p.hits = None, 0
    return fake_parties


def results_config(tmp: Path, parties: list[FakeParty], keys: list[Any], **extra: Any) -> ResultsConfig:
    return from_dict(ResultsConfig, {
        "data_dir": str(tmp / "results-data"),
        "parties": [{"pid": i, "url": p.server.url, "public_key": public_key_hex(keys[i])}
                    for i, p in enumerate(parties)],
        "request_timeout": 2.0,
        **extra,
    }, "results")


@pytest.fixture()
def api(tmp_path: Path, parties: list[FakeParty], party_keys: list[Any]) -> Iterator[BackgroundServer]:
    server = serve_in_thread(create_app(results_config(tmp_path, parties, party_keys), poll=False))
    yield server
    server.stop()


def publish(parties: list[FakeParty], keys: list[Any], result: dict[str, Any]) -> None:
    """Every party signs ``result`` with its own key and serves it."""
    for i, p in enumerate(parties):
        p.doc = sign_result(keys[i], result, i)


def poll(api: BackgroundServer) -> Outcome:
    """One poll round of the results API under test."""
    return api.app.state.poller.poll_once().outcome  # type: ignore[no-any-return]
