"""Faults with real processes on loopback: killed and stopped parties, killed coordinator and
results API, a peer that never comes. Runs fail cleanly, nothing is stored half-way, a
restarted party resumes with every accepted share."""

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from mpcstats.benchmarks import local_pool
from mpc_programs.runtime.runner import MPCRunError, free_ports, local_pki, start_party, supervise
from mpcstats.local_deployment import start_local_deployment
from provider_app.errors import ContributionError

from deployment_helpers import client, contribute, creds, party_inputs

pytestmark = pytest.mark.slow
MPC_TIMEOUT = 6.0


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    d = start_local_deployment(tmp_path_factory.mktemp("faults"), accounts=12, seed=5,
                               mpc_timeout_seconds=MPC_TIMEOUT)
    yield d
    d.stop()


def query(d) -> requests.Response:
    return requests.post(d.coordinator_url + "/v1/queries", json={"query": None}, timeout=120)


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_party_killed_during_a_verification_batch(deployment):
    assert contribute(deployment, 0) == "accepted"
    before = party_inputs(deployment)
    party1 = deployment.servers["party1"]
    c = client(deployment)
    a = deployment.accounts[1]
    notarized = c.notarize(creds(a))
    registration = c.register(notarized)
    os.kill(party1.process.pid, signal.SIGSTOP)  # party 1 hangs before the batch starts
    try:
        c.share(notarized, registration)
    except ContributionError:
        pass  # party 1 cannot take its share: nothing to verify then
    else:
        pytest.fail("a stopped party accepted a share")
    party1.kill()  # SIGKILL while stopped: the batch is in flight without it
    deployment.start_server("party1")
    # the registration never got all its shares: it expires or is rejected, never counted
    assert party_inputs(deployment) == before
    # a batch that loses a party mid-run: start a run, then kill party 1 during it
    a = deployment.accounts[2]
    notarized = c.notarize(creds(a))
    registration = c.register(notarized)
    c.share(notarized, registration)  # all three hold shares now; the coordinator batches
    os.kill(deployment.servers["party1"].process.pid, signal.SIGKILL)
    # a party outage is not the provider's fault: while party 1 is down the registration waits
    # (queued, or in the run the kill stopped), it is not rejected
    seen = set()
    until = time.monotonic() + 2 * MPC_TIMEOUT + 2  # past the deadline of the run it stopped
    while time.monotonic() < until:
        seen.add(c.status(registration)["status"])
        time.sleep(0.2)
    assert seen <= {"queued", "verifying", "committing", "accepted"}, seen
    deployment.start_server("party1")
    final = c.wait(registration, timeout=4 * MPC_TIMEOUT + 60)
    assert final["status"] in ("rejected", "accepted")
    counts = party_inputs(deployment)
    assert counts[0] == counts[1] == counts[2], counts  # in all three or in none
    if final["status"] == "rejected":  # the restarted party lost the key share it held in memory
        assert "lost" in final["reason"], final
        assert counts == before
    # the restarted party serves again: a new provider is counted everywhere
    assert contribute(deployment, 3) == "accepted"
    assert party_inputs(deployment) == [counts[0] + 1] * 3


def test_a_party_stopped_during_a_query_fails_the_query_cleanly(deployment):
    assert contribute(deployment, 4) == "accepted"
    n = party_inputs(deployment)[0]
    party2 = deployment.servers["party2"]
    os.kill(party2.process.pid, signal.SIGSTOP)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(r=query(deployment)))
    thread.start()
    time.sleep(MPC_TIMEOUT + 1)  # parties 0 and 1 give up on the missing peer
    party2.kill()
    thread.join(120)
    response = result["r"]
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "party_unreachable"  # the health check caught it
    assert "party 2" in response.json()["error"]["message"]
    deployment.start_server("party2")
    assert party_inputs(deployment) == [n, n, n]  # the restarted party has every accepted share
    again = query(deployment)
    assert again.status_code == 200 and again.json()["n"] == n


def test_a_party_killed_during_a_query_is_named_unreachable_and_the_query_works_after_restart(
        deployment):
    """Kill party 1 while its MPC child runs a query: the coordinator answers party_unreachable
    naming party 1 at once (it stops waiting for the others' MPC children), and once party 1 is
    restarted the same query succeeds."""
    # a new input: the default query over this input set has no cached answer, and the result
    # this test leaves published is the one the coordinator answers the default query with later
    assert contribute(deployment, 6) == "accepted"
    n = party_inputs(deployment)[0]
    runs = deployment.root / "party1" / "runs"
    before = set(runs.glob("*.log"))
    spec = None
    result: dict = {}

    def ask() -> None:
        response = requests.post(deployment.coordinator_url + "/v1/queries",
                                 json={"query": spec}, timeout=120)
        result.update(r=response, at=time.monotonic())

    thread = threading.Thread(target=ask)
    thread.start()
    assert wait_for(lambda: set(runs.glob("*.log")) - before), "party 1 started no MPC run"
    killed_at = time.monotonic()
    deployment.servers["party1"].kill()  # its MPC child dies with it (PDEATHSIG)
    thread.join(120)
    seconds = result["at"] - killed_at
    print(f"\nparty 1 killed during a query: HTTP {result['r'].status_code} after {seconds:.2f} s: "
          f"{result['r'].text[:300]}")
    assert result["r"].status_code == 503
    error = result["r"].json()["error"]
    assert error["code"] == "party_unreachable", error
    assert error["message"].startswith(f"party 1 ({deployment.party_urls[1]}) is unreachable: ")
    assert seconds < 30
    log = (deployment.root / "logs" / "coordinator.log").read_text()
    assert f"party 1 ({deployment.party_urls[1]}) is unreachable" in log
    # while it is down, a query is refused at once, before any MPC run starts
    started = time.monotonic()
    refused = requests.post(deployment.coordinator_url + "/v1/queries", json={"query": spec},
                            timeout=60)
    print(f"query while party 1 is down: HTTP {refused.status_code} after "
          f"{time.monotonic() - started:.2f} s")
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "party_unreachable"
    deployment.start_server("party1")
    started = time.monotonic()
    again = requests.post(deployment.coordinator_url + "/v1/queries", json={"query": spec},
                          timeout=120)
    while again.status_code == 503 and again.json()["error"]["code"] == "busy":
        time.sleep(0.5)  # parties 0 and 2 may still end the run party 1 left
        again = requests.post(deployment.coordinator_url + "/v1/queries", json={"query": spec},
                              timeout=120)
    print(f"the same query after party 1's restart: HTTP {again.status_code} after "
          f"{time.monotonic() - started:.2f} s")
    assert again.status_code == 200, again.text
    assert again.json()["n"] == n


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _established(pid: int) -> int:
    """How many established TCP connections process ``pid`` holds (Linux /proc)."""
    try:
        inodes = {os.readlink(f).split("[")[1].rstrip("]") for f in Path(f"/proc/{pid}/fd").iterdir()
                  if os.readlink(f).startswith("socket:[")}
    except OSError:
        return 0
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "01" and fields[9] in inodes:
                count += 1
    return count


def test_a_party_killed_mid_run_makes_the_others_abort_naming_it(deployment):
    """Kill party 1 once its MPC links are up: the other two parties' MPC children abort on the
    lost peer (mpc_aborted, naming it) instead of waiting for the deadline, so they are free again
    within seconds; the coordinator has already answered party_unreachable."""
    server = deployment.servers["party1"].process.pid
    levels = [f"0.{i:02d}" for i in range(3, 99, 3)]
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(r=requests.post(
        deployment.coordinator_url + "/v1/queries",
        json={"query": {"statistics": ["quantiles"], "quantiles": levels}}, timeout=120)))
    thread.start()
    child: list[int] = []

    def connected() -> bool:  # party 1's MPC child holds its two peer links
        child[:] = _children(server)
        if child and _established(child[0]) >= 2:
            os.kill(child[0], signal.SIGSTOP)  # freeze it mid-run: the run cannot end by itself
            return True
        return False

    assert wait_for(connected, timeout=60), "party 1's MPC child never connected"
    killed_at = time.monotonic()
    os.kill(child[0], signal.SIGKILL)  # as when its host dies: the peers' links break
    deployment.servers["party1"].kill()
    try:
        _judge_the_abort(deployment, thread, result, killed_at)
    finally:  # the next tests need party 1, whatever happened here
        deployment.start_server("party1")


def _judge_the_abort(deployment, thread: threading.Thread, result: dict, killed_at: float) -> None:
    thread.join(120)
    answered = time.monotonic() - killed_at
    others = [deployment.party_urls[0], deployment.party_urls[2]]
    assert wait_for(lambda: not any(requests.get(u + "/health", timeout=5).json()["mpc_busy"]
                                    for u in others), timeout=60)
    idle = time.monotonic() - killed_at
    last = [[line for line in (deployment.root / "logs" / f"party{i}.log").read_text().splitlines()
             if "query run" in line][-1] for i in (0, 2)]
    print(f"\nparty 1 killed mid-run: coordinator answered in {answered:.2f} s "
          f"({result['r'].json()['error']['code']}); parties 0 and 2 idle after {idle:.2f} s "
          f"(deadline {MPC_TIMEOUT} s + per input); their logs: {[line[-220:] for line in last]}")
    assert result["r"].status_code == 503
    assert result["r"].json()["error"]["code"] == "party_unreachable"
    assert answered < 30 and idle < 30
    # with the MPC children's own peer-loss abort, they report it naming the peer
    assert all("mpc_aborted" in line and "party 1" in line for line in last), last


def test_killed_coordinator_and_results_api_come_back_with_their_state(deployment):
    counted = requests.get(deployment.coordinator_url + "/health", timeout=5).json()["inputs"]
    response = query(deployment)
    assert response.status_code == 200
    run_id = response.json()["run_id"]

    def served() -> str | None:
        r = requests.get(deployment.results_url + "/stats", timeout=5)
        return r.json()["run_id"] if r.status_code == 200 else None

    assert wait_for(lambda: served() == run_id)
    history = requests.get(deployment.results_url + "/stats/history", timeout=5).json()["count"]
    deployment.servers["coordinator"].kill()
    deployment.servers["results"].kill()
    deployment.start_server("coordinator")
    deployment.start_server("results")
    assert requests.get(deployment.coordinator_url + "/health", timeout=5).json()["inputs"] == counted
    assert requests.get(deployment.results_url + "/stats/history",
                        timeout=5).json()["count"] == history
    assert served() == run_id  # the cached, agreed result survives a hard kill
    assert contribute(deployment, 5) == "accepted"
    assert contribute(deployment, 5).startswith("already_counted")


def test_a_peer_that_never_comes_times_out_and_stores_nothing(tmp_path):
    stores = local_pool.store_paths(tmp_path)
    pending = local_pool.share_pool({"x": 5, "y": 7})
    addresses = [("127.0.0.1", p) for p in free_ports(3)]
    party_dirs = local_pki(tmp_path / "pki", 3)  # MPC links always run over TLS
    runs = [start_party(pid, addresses, {"task": "ingest", "store": str(stores[pid]),
                                         "pending": pending[pid]}, tmp_path, stamp="slow",
                        cwd=party_dirs[pid])
            for pid in (0, 1)]  # party 2 never starts
    started = time.monotonic()
    with pytest.raises(MPCRunError, match="timed out"):
        supervise(runs, timeout=3)
    assert time.monotonic() - started < 10
    assert all(r.process.poll() is not None for r in runs)  # the watchdog killed them
    assert not any(s.exists() and "inputs" in s.read_text() and '"x"' in s.read_text()
                   for s in stores)
