"""HTTP routes of the notary (Starlette). Business rules live in ``tlsn``; this maps them to HTTP."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from servers.common.errors import APIError, BadRequest, Conflict, Forbidden, RateLimited, exception_handlers
from servers.common.http import get_hex, get_str, read_json
from servers.common.ratelimit import RateLimiter
from servers.common.serve import BackgroundServer, serve_in_thread
from servers.notary.config import NotaryConfig
from servers.notary.relay import relay
from servers.notary.sessions import CLOSED, FAILED, RELAYING, SessionStore
from tlsn import HandshakeError, TLSNError, UnsupportedCipherError, build_attestation, public_key_b64, verify_handshake

log = logging.getLogger("servers.notary")

#: uvicorn settings the relay needs, in the foreground (``main.py``) and in a thread (:func:`start_notary`).
UVICORN_OPTIONS: dict[str, Any] = {"ws": "websockets-sansio", "ws_max_size": 1 << 20}
MAX_BODY_BYTES = 4096  # both JSON bodies are a few dozen bytes


def _refusal(exc: TLSNError) -> APIError:
    """A handshake the notary will not attest is the client's fault (422), with ``tlsn``'s reason."""
    status = 422 if isinstance(exc, HandshakeError | UnsupportedCipherError) else 400
    return APIError(status, exc.reason, exc.message)


def create_app(config: NotaryConfig) -> Starlette:
    store = SessionStore(config.max_open_sessions)
    # N sessions per client per window, as a token bucket: burst N, refilled at N per window.
    limiter = RateLimiter(config.rate_limit / config.rate_window_seconds, config.rate_limit)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def public_key(request: Request) -> JSONResponse:
        return JSONResponse({"key_id": config.key.key_id, "alg": "Ed25519",
                             "public_key": public_key_b64(config.key.public_key)})

    async def open_session(request: Request) -> JSONResponse:
        client = request.client.host if request.client else "unknown"
        retry = limiter.check(client)
        if retry:
            raise RateLimited(retry, "too many sessions; slow down")
        body = await read_json(request, MAX_BODY_BYTES)
        if "address" in body or "port" in body:
            raise BadRequest(message="the notary chooses the address; send only 'host'")
        host = get_str(body, "host", min_len=1, max_len=253).lower()
        target = config.hosts.get(host)
        if target is None:
            raise Forbidden(code="host_not_allowed", message=f"{host} is not on this notary's allow-list")
        session = store.create(host, target, client, config.max_session_seconds, config.max_session_bytes)
        log.info("session opened", extra={"session_id": session.id, "host": host, "client": client})
        return JSONResponse({"session_id": session.id, "host": session.host,
                             "relay_path": f"/v1/sessions/{session.id}/relay",
                             "expires_in": config.max_session_seconds, "max_bytes": config.max_session_bytes},
                            status_code=201)

    async def relay_endpoint(ws: WebSocket) -> None:
        try:
            session = store.get(ws.path_params["session_id"])
        except APIError as exc:
            await ws.close(1008, exc.code)
            return
        await relay(ws, session, config)

    async def attest(request: Request) -> JSONResponse:
        session_id = request.path_params["session_id"]
        session = store.get(session_id)
        if session.state == RELAYING:
            # The client may ask right after closing its WebSocket, before the relay has wound down.
            try:
                await asyncio.wait_for(session.relay_done.wait(), timeout=2.0)
            except asyncio.TimeoutError:
                raise Conflict(code="relay_active",
                               message="close the relay before asking for the attestation") from None
        body = await read_json(request, MAX_BODY_BYTES)
        secret = get_hex(body, "server_handshake_traffic_secret", default=None, max_len=64)
        session = store.pop(session_id)  # one attempt per session, success or not
        if session.state == FAILED and session.failure:
            raise session.failure
        if session.expired:
            raise APIError(410, "session_expired", "session time limit passed")
        if session.state != CLOSED:
            raise Conflict(code="no_transcript", message="nothing was relayed in this session")
        try:
            facts = await asyncio.to_thread(verify_handshake, session.transcript, server_name=session.host,
                                            trust_roots=config.trust_roots,
                                            server_handshake_traffic_secret=secret)
        except TLSNError as exc:
            log.info("session refused", extra={"session_id": session.id, "reason": exc.reason})
            raise _refusal(exc) from exc
        attestation = build_attestation(facts, notary_key_id=config.key.key_id, session_id=session.id,
                                        peer_address=session.peer_address, signed_at=int(time.time()))
        signed = config.key.sign(attestation)
        log.info("session attested", extra={"session_id": session.id, "tls_version": facts.tls_version,
                                            "suite": facts.suite.name, "records": len(facts.records)})
        return JSONResponse({"signed_attestation": signed.to_dict()})

    app = Starlette(
        routes=[
            Route("/health", health),
            Route("/v1/key", public_key),
            Route("/v1/sessions", open_session, methods=["POST"]),
            Route("/v1/sessions/{session_id}/attest", attest, methods=["POST"]),
            WebSocketRoute("/v1/sessions/{session_id}/relay", relay_endpoint),
        ],
        exception_handlers=exception_handlers(),
    )
    app.state.sessions = store
    app.state.config = config
    return app


def start_notary(config: NotaryConfig, host: str = "127.0.0.1", port: int = 0) -> BackgroundServer:
    """Start a notary with ``config`` in this process (tests, bench); ``.url`` is its base URL."""
    return serve_in_thread(create_app(config), host, port, **UVICORN_OPTIONS)
