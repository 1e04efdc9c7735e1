"""A party's provider- and consumer-facing endpoints are rate-limited per client address;
the coordinator's token-checked control calls and /health are not. The provider app waits
out a 429 on the steps that must not be lost (share uploads)."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from provider_app.client import DeploymentConfig, ProviderClient
from provider_app.errors import ContributionError
from servers.common.serve import serve_in_thread
from servers.party.app import create_app
from servers.party.config import PartyConfig
from tlsn import NotaryKey, public_key_b64


def party_config(tmp_path) -> PartyConfig:
    notary = public_key_b64(NotaryKey.generate().public_key)
    return PartyConfig(index=0, data_dir=tmp_path, mpc_peers=["127.0.0.1:1"] * 3,
                       control_token="t" * 32, notary_keys=[notary],
                       client_rate=0.5, client_burst=2)


def test_public_endpoints_answer_429_with_retry_after_above_the_limit(tmp_path):
    with serve_in_thread(create_app(party_config(tmp_path))) as server:
        url = server.url
        codes = [requests.get(url + "/v1/key", timeout=5).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        limited = requests.post(url + "/v1/sessions/abc/shares", json={}, timeout=5)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limited"
        # never limited: health, and the coordinator's calls (refused without its token)
        assert all(requests.get(url + "/health", timeout=5).status_code == 200 for _ in range(5))
        assert all(requests.post(url + "/v1/verify", json={}, timeout=5).status_code == 401
                   for _ in range(5))


class _Flaky(BaseHTTPRequestHandler):
    """429 (Retry-After: 1) for the first request, then 200."""

    calls = 0

    def do_POST(self) -> None:  # noqa: N802
        type(self).calls += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if type(self).calls == 1:
            body, status = b'{"error": {"code": "rate_limited", "message": "slow down"}}', 429
        else:
            body, status = b'{"ok": true}', 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 429:
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def flaky():
    _Flaky.calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.timing
def test_the_provider_waits_out_a_429_only_where_it_is_patient(flaky):
    client = ProviderClient(DeploymentConfig(coordinator_url=flaky, notary_url=flaky))
    with pytest.raises(ContributionError) as info:
        client._request("POST", flaky + "/x", json={})
    assert info.value.code == "rate_limited"
    _Flaky.calls = 0
    started = time.monotonic()
    assert client._request("POST", flaky + "/x", json={}, patience=5) == {"ok": True}
    assert _Flaky.calls == 2 and 0.9 < time.monotonic() - started < 5
