"""The published release stays put: custom queries never replace it, and it follows new inputs.

A real loopback deployment whose coordinator recomputes the release 1 s after the last newly
counted input (``release_debounce_seconds``); nobody asks for it.
"""

from __future__ import annotations

import time

import pytest
import requests
from deployment_helpers import contribute

from mpc_programs.statistics.query import canonical_key, parse_query
from mpcstats.local_deployment import start_local_deployment

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    d = start_local_deployment(tmp_path_factory.mktemp("release"), accounts=6, seed=5,
                               auto_query_seconds=1.0, min_inputs=3, results_poll_seconds=0.3)
    yield d
    d.stop()


def served(d) -> dict | None:
    response = requests.get(d.results_url + "/stats", timeout=5)
    return response.json() if response.status_code == 200 else None


def wait_for(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_new_inputs_are_published_without_anyone_asking_and_a_custom_query_never_narrows_it(
        deployment):
    assert [contribute(deployment, i) for i in range(3)] == ["accepted"] * 3
    started = time.monotonic()
    release = wait_for(lambda: (r := served(deployment)) and r["n"] == 3 and r)
    print(f"release published {time.monotonic() - started:.1f} s after the third provider")
    full = parse_query(None)
    assert set(release["statistics"]) >= {"count", "mean", "median", "histogram"}

    narrow = {"statistics": ["count", "mean"]}
    before_narrow = time.time()
    response = requests.post(deployment.coordinator_url + "/v1/queries", json={"query": narrow},
                             timeout=120)
    assert response.status_code == 200, response.text
    assert set(response.json()["statistics"]) == {"count", "mean"}
    time.sleep(1.5)  # several polls of the results API
    assert served(deployment)["run_id"] == release["run_id"]
    for url in deployment.party_urls:  # no party published the custom query either
        latest = requests.get(url + "/v1/results/latest", timeout=5).json()
        assert latest["result"]["run_id"] == release["run_id"]
    schedule = requests.get(deployment.coordinator_url + "/v1/release", timeout=5).json()
    assert canonical_key(parse_query(schedule["release_query"])) == canonical_key(full)
    assert schedule["release_covers"] == 3
    assert schedule["next_release_due"] is None and schedule["counted_inputs"] == 3

    assert contribute(deployment, 3) == "accepted"
    schedule = requests.get(deployment.coordinator_url + "/v1/release", timeout=5).json()
    assert schedule["counted_inputs"] == 4
    # due after the newest query (the narrow one) or the new input, never a stale time: bounded
    # by when the narrow query was sent, not by now (contributing may take seconds under load)
    assert schedule["next_release_due"] is None or schedule["next_release_due"] > before_narrow
    newer = wait_for(lambda: (r := served(deployment)) and r["n"] == 4 and r)
    assert set(newer["statistics"]) == set(release["statistics"])
    page = requests.get(deployment.results_url + "/", timeout=5).text
    assert "Next update" in page and 'id="next-update"' in page
