"""Bad input on the notary's WebSocket relay: oversized and wrong-kind frames.

The upstream here is a plain TCP listener that records every byte it receives, so each test can
assert that nothing of a refused frame reached the "exchange". The notary is the real one (uvicorn
with the same WebSocket settings as ``mpcstats notary``), reached only over HTTP and WebSocket.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
from tlsn_fixtures import HOST
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

WS_MAX_SIZE = 1 << 20  # servers/notary/main.py and runner.py: uvicorn's ws_max_size
DEFAULT_SESSION_BYTES = 1_000_000  # NotaryConfig.max_session_bytes


@dataclass
class RecordingUpstream:
    """A TCP server standing in for the exchange: accepts connections and keeps what arrives."""

    host: str = "127.0.0.1"
    port: int = 0
    received: bytearray = field(default_factory=bytearray)
    connections: int = 0

    def __post_init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind((self.host, 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        with conn:
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                with self._lock:
                    self.received.extend(data)

    def byte_count(self, settle: float = 0.3) -> int:
        time.sleep(settle)  # let anything in flight arrive
        with self._lock:
            return len(self.received)

    def stop(self) -> None:
        self._stop.set()
        self._sock.close()


@pytest.fixture
def upstream() -> Iterator[RecordingUpstream]:
    up = RecordingUpstream()
    yield up
    up.stop()


def open_relay(notary) -> tuple[str, str]:
    response = requests.post(notary.url + "/v1/sessions", json={"host": HOST}, timeout=5)
    assert response.status_code == 201, response.text
    body = response.json()
    return body["session_id"], "ws://" + notary.url.removeprefix("http://") + body["relay_path"]


def closed_by_notary(ws, frame: bytes | str) -> tuple[int | None, str]:
    """Send one frame; return the close code and reason the notary answered with."""
    try:
        ws.send(frame)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ws.recv(timeout=10)  # the upstream never answers, so only the close can end this
    except ConnectionClosed as exc:
        return (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (None, "")
    except TimeoutError:
        pass
    pytest.fail("the notary did not close the relay")


def attest_error(notary, session_id: str) -> tuple[int, str]:
    response = requests.post(f"{notary.url}/v1/sessions/{session_id}/attest", json={}, timeout=10)
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return response.status_code, body["error"]["code"]


def test_frame_above_the_websocket_limit_is_closed_1009_and_nothing_relayed(notary_factory, upstream) -> None:
    notary = notary_factory(upstream)
    session_id, url = open_relay(notary)
    with connect(url, max_size=None, open_timeout=5, close_timeout=5) as ws:
        code, _ = closed_by_notary(ws, b"\x16" * (WS_MAX_SIZE + 1))
    assert code == 1009  # "message too big" (RFC 6455 §7.4.1)
    assert upstream.byte_count() == 0
    status, _code = attest_error(notary, session_id)
    assert 400 <= status < 500  # no attestation over an empty or partial transcript
    # the notary is still healthy and serves the next client
    assert requests.get(notary.url + "/health", timeout=5).status_code == 200


def test_frame_above_the_session_budget_is_closed_1009_and_nothing_relayed(notary_factory, upstream) -> None:
    notary = notary_factory(upstream)  # default max_session_bytes (1,000,000) < ws_max_size (1 MiB)
    session_id, url = open_relay(notary)
    with connect(url, max_size=None, open_timeout=5, close_timeout=5) as ws:
        code, reason = closed_by_notary(ws, b"\x17" * (DEFAULT_SESSION_BYTES + 1))
    assert (code, reason) == (1009, "session_too_large")
    assert upstream.byte_count() == 0
    assert attest_error(notary, session_id) == (413, "session_too_large")


def test_many_small_frames_stop_at_the_session_budget(notary_factory, upstream) -> None:
    notary = notary_factory(upstream, max_session_bytes=1000)
    session_id, url = open_relay(notary)
    with connect(url, max_size=None, open_timeout=5, close_timeout=5) as ws:
        try:
            for _ in range(20):
                ws.send(b"\x17" * 300)
            ws.recv(timeout=10)
            pytest.fail("the relay stayed open past its byte budget")
        except ConnectionClosed as exc:
            assert exc.rcvd is not None and (exc.rcvd.code, exc.rcvd.reason) == (1009, "session_too_large")
    assert upstream.byte_count() <= 1000  # the frames within the budget went through, nothing after
    assert attest_error(notary, session_id) == (413, "session_too_large")


def test_text_frame_is_closed_as_policy_violation_and_nothing_relayed(notary_factory, upstream) -> None:
    notary = notary_factory(upstream)
    session_id, url = open_relay(notary)
    with connect(url, open_timeout=5, close_timeout=5) as ws:
        code, reason = closed_by_notary(ws, "GET / HTTP/1.1\r\n\r\n")
    assert (code, reason) == (1008, "bad_relay_frame")
    assert upstream.byte_count() == 0
    assert attest_error(notary, session_id) == (400, "bad_relay_frame")


def test_relay_for_an_unknown_session_is_refused(notary_factory, upstream) -> None:
    notary = notary_factory(upstream)
    url = "ws://" + notary.url.removeprefix("http://") + "/v1/sessions/nope/relay"
    try:  # refused at the upgrade (HTTP 403) or right after it (close 1008 unknown_session)
        with connect(url, open_timeout=5, close_timeout=5) as ws:
            code, reason = closed_by_notary(ws, b"\x16\x03\x01")
        assert (code, reason) == (1008, "unknown_session")
    except InvalidStatus as exc:
        assert exc.response.status_code == 403
    assert upstream.connections == 0 and upstream.byte_count() == 0
