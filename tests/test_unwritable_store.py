"""A party whose data directory cannot be written (disk full, read-only mount): a clear error,
and the three stores stay consistent — an input is in all three or in none."""

import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from mpcstats.local_deployment import start_local_deployment
from provider_app.client import DeploymentConfig, ProviderClient

from deployment_helpers import contribute, creds, party_inputs

pytestmark = pytest.mark.slow


def _immutable(path, on: bool) -> bool:
    """chattr ±i: even root cannot create, replace or rename files in an immutable directory."""
    result = subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True)
    return result.returncode == 0


def test_an_unwritable_party_store_rejects_cleanly_and_keeps_the_stores_consistent(tmp_path):
    deployment = start_local_deployment(tmp_path / "dep", accounts=3, seed=9,
                                        mpc_timeout_seconds=20)
    data_dir = deployment.root / "party2"
    try:
        assert contribute(deployment, 0, timeout=180) == "accepted"
        if not _immutable(data_dir, True):
            pytest.skip("chattr is not supported on this file system")
        try:
            outcome = contribute(deployment, 1, timeout=180)
            assert outcome.startswith("rejected"), outcome
            assert "could not run" in outcome
            assert party_inputs(deployment) == [1, 1, 1]  # in none of the three
            log = (deployment.root / "logs" / "party2.log").read_text()
            assert "mpc_failed" in log or "Permission" in log or "not permitted" in log
        finally:
            _immutable(data_dir, False)
        # once the disk is writable again the same account is counted, everywhere
        assert contribute(deployment, 1, timeout=180) == "accepted"
        assert party_inputs(deployment) == [2, 2, 2]
    finally:
        _immutable(data_dir, False)
        deployment.stop()


class _FaultProxy:
    """An HTTP proxy in front of one party that runs ``after_verify`` once a verification
    run has been staged there and before the coordinator hears of it: a fault timed into the
    window between the two phases of the commit."""

    def __init__(self, target: str, after_verify) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("authorization", "content-type")}
                answer = requests.request(self.command, target + self.path, data=body or None,
                                          headers=headers, timeout=120)
                if self.path == "/v1/verify" and answer.status_code == 200:
                    after_verify()
                self.send_response(answer.status_code)
                for name in ("Content-Type", "Retry-After"):
                    if name in answer.headers:
                        self.send_header(name, answer.headers[name])
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = _forward

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        proxy.target = target

    def close(self) -> None:
        self.server.shutdown()


def test_a_commit_that_fails_at_one_party_is_retried_until_all_three_hold_the_input(tmp_path):
    deployment = start_local_deployment(tmp_path / "dep", accounts=2, seed=9,
                                        mpc_timeout_seconds=20)
    data_dir = deployment.root / "party2"
    frozen = threading.Event()

    def freeze() -> None:
        if not frozen.is_set() and _immutable(data_dir, True):
            frozen.set()

    proxy = _FaultProxy(deployment.party_urls[2], freeze)
    try:
        # the coordinator (and the provider's pinned list) reach party 2 through the proxy
        config_file = deployment.root / "coordinator.toml"
        config_file.write_text(config_file.read_text().replace(deployment.party_urls[2], proxy.url))
        deployment.start_server("coordinator")
        config = DeploymentConfig.from_dict(
            {**deployment.provider_config(), "party_urls": [*deployment.party_urls[:2], proxy.url]})
        account = deployment.accounts[0]
        outcome: list[str] = []

        def contribute_through_proxy() -> None:
            outcome.append(ProviderClient(config).contribute(creds(account), timeout=180).status)

        worker = threading.Thread(target=contribute_through_proxy)
        worker.start()
        deadline = time.monotonic() + 120
        while party_inputs(deployment) != [1, 1, 0]:  # parties 0 and 1 committed, party 2 failed
            assert time.monotonic() < deadline, party_inputs(deployment)
            if frozen.is_set() is False and not worker.is_alive():
                pytest.skip("chattr is not supported on this file system")
            time.sleep(0.2)
        assert frozen.is_set()
        # in the window no statistic is computed over an input set the parties disagree on
        query = requests.post(deployment.coordinator_url + "/v1/queries", json={"query": None},
                              timeout=120)
        assert query.status_code in (409, 503), query.text
        time.sleep(2)  # the coordinator keeps retrying the commit meanwhile
        assert party_inputs(deployment) == [1, 1, 0]
        _immutable(data_dir, False)
        worker.join(timeout=120)
        assert outcome == ["accepted"]
        assert party_inputs(deployment) == [1, 1, 1]
        query = requests.post(deployment.coordinator_url + "/v1/queries", json={"query": None},
                              timeout=120)
        assert query.status_code == 200 and query.json()["n"] == 1, query.text
    finally:
        _immutable(data_dir, False)
        proxy.close()
        deployment.stop()
