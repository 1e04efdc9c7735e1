"""The results API cannot be rolled back to an older or narrower signed release.

An old triple of results is still validly signed by all three parties. Whoever kept one (a party operator,
anyone who saved the documents) can make the parties' ``/v1/results/latest`` answer it again — here the
stand-in parties serve it, with real Ed25519 signatures by the configured keys, to a results API on loopback
with its TinyDB file in the test's directory. The API must keep serving the newer run, also after a restart.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests
from results_fixtures import (FakeParty, api, fake_parties, make_result, parties, party_keys,  # noqa: F401
                              poll, publish, results_config)

from servers.common.serve import BackgroundServer, serve_in_thread
from servers.results.app import create_app
from servers.results.poller import Outcome
from servers.results.watermark import RunMark, Verdict, judge

T = 1_795_618_800  # 2026-11-25 15:00:00 UTC


def served(api: BackgroundServer) -> dict[str, Any]:
    response = requests.get(f"{api.url}/stats", timeout=5)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def refused(api: BackgroundServer, parties: list[FakeParty], keys: list[Any], result: dict[str, Any],
            why: str) -> None:
    """All three sign ``result``; the poll refuses it as a rollback, naming ``why``, without a 5xx."""
    publish(parties, keys, result)
    report = api.app.state.poller.poll_once()
    assert report.outcome is Outcome.ROLLBACK, report
    assert why in report.detail and report.parties == {0: "ok", 1: "ok", 2: "ok"}
    health = requests.get(f"{api.url}/health", timeout=5).json()
    assert health["last_outcome"] == "rollback" and why in health["last_detail"]


def test_an_older_signed_triple_never_replaces_the_newer_one(api: BackgroundServer, parties: list[FakeParty],
                                                             party_keys: list[Any]) -> None:
    newer = make_result("run-new", mean=5.0, n=10, computed_at=T + 3600, input_digest="10" * 32)
    publish(parties, party_keys, newer)
    assert poll(api) is Outcome.ACCEPTED
    # an older release the API never saw: fewer inputs, earlier, validly signed by all three
    refused(api, parties, party_keys, make_result("run-old", mean=1.0, n=8, computed_at=T,
                                                  input_digest="08" * 32), "fewer inputs")
    # the same inputs, computed earlier (an older query over today's pool)
    refused(api, parties, party_keys, make_result("run-earlier", mean=2.0, n=10, computed_at=T + 60,
                                                  input_digest="10" * 32), "is older than")
    # computed later over fewer inputs: a store rolled back, or a query narrowed to some providers
    refused(api, parties, party_keys, make_result("run-narrow", mean=9.9, n=2, computed_at=T + 7200,
                                                  input_digest="02" * 32), "fewer inputs")
    body = served(api)
    assert body["run_id"] == "run-new" and body["statistics"]["mean"] == 5.0
    history = requests.get(f"{api.url}/stats/history", timeout=5).json()
    assert [e["run_id"] for e in history["results"]] == ["run-new"]  # refused triples are not recorded
    health = requests.get(f"{api.url}/health", timeout=5).json()
    assert health["counters"]["rollback"] == 3 and health["results_cached"] == 1
    # a genuinely newer run still gets through
    publish(parties, party_keys, make_result("run-next", mean=6.0, n=11, computed_at=T + 7300,
                                             input_digest="11" * 32))
    assert poll(api) is Outcome.ACCEPTED and served(api)["run_id"] == "run-next"


def test_a_replayed_result_the_api_already_served_is_refused(api: BackgroundServer, parties: list[FakeParty],
                                                             party_keys: list[Any]) -> None:
    first = make_result("run-1", n=4, computed_at=T, input_digest="04" * 32)
    publish(parties, party_keys, first)
    assert poll(api) is Outcome.ACCEPTED
    publish(parties, party_keys, make_result("run-2", n=5, computed_at=T + 10, input_digest="05" * 32))
    assert poll(api) is Outcome.ACCEPTED
    assert poll(api) is Outcome.UNCHANGED  # the served run seen again is not news, and not a rollback
    refused(api, parties, party_keys, first, "fewer inputs")
    assert served(api)["run_id"] == "run-2"


def test_rollback_is_refused_after_a_restart(tmp_path: Path, parties: list[FakeParty],
                                             party_keys: list[Any]) -> None:
    config = results_config(tmp_path, parties, party_keys)
    with serve_in_thread(create_app(config, poll=False)) as api:
        publish(parties, party_keys, make_result("run-new", n=10, computed_at=T + 3600, input_digest="10" * 32))
        assert poll(api) is Outcome.ACCEPTED
    # a fresh process over the same data dir; the parties now answer an older triple it never saw
    with serve_in_thread(create_app(config, poll=False)) as api:
        assert served(api)["run_id"] == "run-new"
        refused(api, parties, party_keys, make_result("run-old", n=9, computed_at=T, input_digest="09" * 32),
                "fewer inputs")
        refused(api, parties, party_keys, make_result("run-old-same-pool", n=10, computed_at=T + 1,
                                                      input_digest="10" * 32), "is older than")
        assert served(api)["run_id"] == "run-new"
    with serve_in_thread(create_app(config, poll=False)) as api:
        assert served(api)["run_id"] == "run-new"
        history = requests.get(f"{api.url}/stats/history", timeout=5).json()
        assert [e["run_id"] for e in history["results"]] == ["run-new"]


def test_equal_time_is_newer_only_over_a_grown_input_set(api: BackgroundServer, parties: list[FakeParty],
                                                          party_keys: list[Any]) -> None:
    publish(parties, party_keys, make_result("run-a", mean=1.0, n=5, computed_at=T, input_digest="aa" * 32))
    assert poll(api) is Outcome.ACCEPTED
    # same second, same size, other inputs: inputs are append-only, so this is no run of the same pool
    refused(api, parties, party_keys, make_result("run-fork", n=5, computed_at=T, input_digest="bb" * 32),
            "different input set")
    # ... and no later time makes a different set of the same size legitimate
    refused(api, parties, party_keys, make_result("run-fork-later", n=5, computed_at=T + 5,
                                                  input_digest="bb" * 32), "different input set")
    # same second, same inputs, other numbers: which came first cannot be told, so the served one stays
    refused(api, parties, party_keys, make_result("run-twin", mean=7.0, n=5, computed_at=T,
                                                  input_digest="aa" * 32), "same time, same inputs")
    # same second, fewer inputs
    refused(api, parties, party_keys, make_result("run-less", n=4, computed_at=T, input_digest="cc" * 32),
            "fewer inputs")
    assert served(api)["run_id"] == "run-a"
    # same second over a grown pool: a provider joined and the next run started within that second
    publish(parties, party_keys, make_result("run-grown", mean=2.0, n=6, computed_at=T, input_digest="dd" * 32))
    assert poll(api) is Outcome.ACCEPTED and served(api)["run_id"] == "run-grown"


def test_a_later_custom_query_over_the_same_inputs_is_served(api: BackgroundServer, parties: list[FakeParty],
                                                             party_keys: list[Any]) -> None:
    """Custom queries differ in the signed query spec, never in the inputs: later is newer."""
    publish(parties, party_keys, make_result("query-default", n=7, computed_at=T, input_digest="77" * 32))
    assert poll(api) is Outcome.ACCEPTED
    custom = make_result("query-custom", n=7, computed_at=T + 30, input_digest="77" * 32)
    custom["query"] = {"statistics": ["count"], "filter": [[">", "1"]]}
    publish(parties, party_keys, custom)
    assert poll(api) is Outcome.ACCEPTED
    assert served(api)["query"] == custom["query"]


def test_a_result_dated_in_the_future_is_refused(api: BackgroundServer, parties: list[FakeParty],
                                                 party_keys: list[Any]) -> None:
    """Served, it would hold back every honest release until that date."""
    refused(api, parties, party_keys, make_result("run-future", n=3, computed_at=int(time.time()) + 86_400),
            "in the future")
    assert requests.get(f"{api.url}/stats", timeout=5).status_code == 404


def test_a_result_without_unix_seconds_cannot_be_ordered(api: BackgroundServer, parties: list[FakeParty],
                                                         party_keys: list[Any]) -> None:
    for bad in ("2026-11-25T15:00:00Z", 1.5, True, None):
        result = make_result("run-bad", n=3)
        result["computed_at"] = bad
        publish(parties, party_keys, result)
        report = api.app.state.poller.poll_once()
        assert report.outcome is Outcome.MALFORMED and "computed_at" in report.detail
    assert requests.get(f"{api.url}/stats", timeout=5).status_code == 404


def test_every_earlier_run_of_an_honest_history_is_refused() -> None:
    """Runs of a growing pool, some in the same second: each later one passes, each earlier one does not."""
    history = [RunMark(f"r{i}", n, t, f"set-{n}") for i, (n, t) in
               enumerate([(3, 100), (3, 160), (4, 160), (6, 160), (6, 200), (6, 260), (9, 300)])]
    now = 10_000.0
    for i, current in enumerate(history):
        for j, other in enumerate(history):
            verdict = judge(current, other, same_result=i == j, now=now).verdict
            expected = Verdict.SAME if i == j else Verdict.NEWER if j > i else Verdict.REFUSED
            assert verdict is expected, (current, other)
