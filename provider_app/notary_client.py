"""Client side of the notary protocol: open a session, relay TLS bytes over a WebSocket, ask for the
attestation. No Qt here; the CLI and the desktop app both use it. ``tlsn`` itself stays transport-agnostic:
:class:`WebSocketRelay` is the :class:`tlsn.RelayTransport` it is given.
"""

from __future__ import annotations

import re
import socket
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import requests
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK
from websockets.sync.client import ClientConnection, connect

from provider_app.responses import decode
from tlsn import (Credentials, ProverSession, SignedAttestation, SourceSpec, prove, public_key_from_b64,
                  verify_attestation)

# The relay's close reason is its error code; the close code is the fallback (servers/notary/relay.py).
_CLOSE_CODES = {1008: "session_refused", 1009: "session_too_large", 1011: "upstream_unreachable"}
_CODE_RE = re.compile(r"[a-z][a-z0-9_]{2,40}")


class NotaryClientError(Exception):
    """The notary refused or failed; ``code`` is its machine-readable error code."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


class WebSocketRelay:
    """A :class:`tlsn.RelayTransport` over the notary's relay WebSocket; counts bytes both ways."""

    def __init__(self, url: str, open_timeout: float = 10.0) -> None:
        self._stack = ExitStack()  # the connection is a context manager; close() exits it
        self._ws: ClientConnection = self._stack.enter_context(
            connect(url, open_timeout=open_timeout, max_size=1 << 20, compression=None))
        # TLS flights are small, back-to-back writes: Nagle + delayed ACK would add ~40 ms each.
        try:
            self._ws.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # the notary already closed the relay; recv() reports why
        self.bytes_sent = 0
        self.bytes_received = 0

    def send(self, data: bytes) -> None:
        try:
            self._ws.send(data)
        except ConnectionClosed as exc:
            self._raise_closed(exc)
        self.bytes_sent += len(data)

    def recv(self, timeout: float) -> bytes:
        try:
            data = self._ws.recv(timeout=timeout)
        except ConnectionClosedOK:
            return b""
        except ConnectionClosed as exc:
            self._raise_closed(exc)
        if isinstance(data, str):
            raise NotaryClientError("bad_relay_frame", "the relay sent text")
        self.bytes_received += len(data)
        return data

    def _raise_closed(self, exc: ConnectionClosed) -> None:
        rcvd = exc.rcvd
        code = rcvd.code if rcvd else 1006
        reason = rcvd.reason if rcvd else "connection lost"
        error = reason if _CODE_RE.fullmatch(reason) else _CLOSE_CODES.get(code, "relay_closed")
        raise NotaryClientError(error, f"relay closed ({code}): {reason}")

    def close(self) -> None:
        self._stack.close()


@dataclass
class NotarizationResult:
    attestation: SignedAttestation
    session: ProverSession
    bytes_relayed: int


class NotaryClient:
    def __init__(self, base_url: str, timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()

    def _call(self, method: str, path: str, json: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            resp = self.http.request(method, self.base_url + path, json=json, timeout=self.timeout)
        except requests.RequestException as exc:
            raise NotaryClientError("notary_unreachable", str(exc)) from None
        body, code, message = decode(resp)
        if code is not None:
            raise NotaryClientError(code, message if message is not None else resp.text[:200],
                                    resp.status_code)
        return body

    def public_key(self) -> dict[str, Any]:
        return self._call("GET", "/v1/key")

    def open_session(self, host: str) -> dict[str, Any]:
        return self._call("POST", "/v1/sessions", {"host": host})

    def relay(self, session: dict[str, Any]) -> WebSocketRelay:
        ws_base = "ws" + self.base_url[len("http"):]
        return WebSocketRelay(ws_base + session["relay_path"], self.timeout)

    def attest(self, session_id: str, server_handshake_traffic_secret: bytes | None) -> SignedAttestation:
        body = {"server_handshake_traffic_secret": server_handshake_traffic_secret.hex()
                if server_handshake_traffic_secret is not None else None}
        return SignedAttestation.from_dict(self._call("POST", f"/v1/sessions/{session_id}/attest", body)
                                           ["signed_attestation"])

    def notarize(self, spec: SourceSpec, credentials: Credentials, *, host: str | None = None,
                 context: Any = None, verify_key: bool = True) -> NotarizationResult:
        """Open a session, run the prover through the relay, get and check the attestation."""
        host = host or spec.host
        opened = self.open_session(host)
        transport = self.relay(opened)
        session = prove(transport, spec, credentials, context=context, server_name=host, timeout=self.timeout)
        signed = self.attest(opened["session_id"], session.server_handshake_traffic_secret)
        if verify_key:
            key = self.public_key()
            verify_attestation(signed, {key["key_id"]: public_key_from_b64(key["public_key"])}, server_name=host)
        return NotarizationResult(signed, session, transport.bytes_sent + transport.bytes_received)
