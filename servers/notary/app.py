"""HTTP routes of the notary (Starlette). Business rules live in ``tlsn``; this maps them to HTTP."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from servers.notary.config import NotaryConfig
from servers.notary.errors import (NotaryError, handle_http_exception, handle_notary_error, handle_tlsn_error,
                                   handle_unexpected)
from servers.notary.ratelimit import RateLimiter
from servers.notary.relay import relay
from servers.notary.sessions import CLOSED, FAILED, RELAYING, SessionStore
from tlsn import TLSNError, build_attestation, public_key_b64, verify_handshake

log = logging.getLogger("servers.notary")


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise NotaryError(400, "bad_request", "body must be a JSON object") from None
    if not isinstance(body, dict):
        raise NotaryError(400, "bad_request", "body must be a JSON object")
    return body


def create_app(config: NotaryConfig) -> Starlette:
    store = SessionStore(config.max_open_sessions)
    limiter = RateLimiter(config.rate_limit, config.rate_window_seconds)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def public_key(request: Request) -> JSONResponse:
        return JSONResponse({"key_id": config.key.key_id, "alg": "Ed25519",
                             "public_key": public_key_b64(config.key.public_key)})

    async def open_session(request: Request) -> JSONResponse:
        client = request.client.host if request.client else "unknown"
        retry = limiter.check(client)
        if retry:
            raise NotaryError(429, "rate_limited", "too many sessions; slow down",
                              {"Retry-After": str(max(1, int(retry + 0.999)))})
        body = await _json_body(request)
        host = body.get("host")
        if not isinstance(host, str) or not host:
            raise NotaryError(400, "bad_request", "'host' (a server name) is required")
        if "address" in body or "port" in body:
            raise NotaryError(400, "bad_request", "the notary chooses the address; send only 'host'")
        target = config.hosts.get(host.lower())
        if target is None:
            raise NotaryError(403, "host_not_allowed", f"{host} is not on this notary's allow-list")
        session = store.create(host.lower(), target, client, config.max_session_seconds, config.max_session_bytes)
        log.info("session %s opened for %s by %s", session.id, session.host, client)
        return JSONResponse({"session_id": session.id, "host": session.host,
                             "relay_path": f"/v1/sessions/{session.id}/relay",
                             "expires_in": config.max_session_seconds, "max_bytes": config.max_session_bytes},
                            status_code=201)

    async def relay_endpoint(ws: WebSocket) -> None:
        try:
            session = store.get(ws.path_params["session_id"])
        except NotaryError:
            await ws.close(1008, "unknown_session")
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
                raise NotaryError(409, "relay_active", "close the relay before asking for the attestation") from None
        body = await _json_body(request)
        session = store.pop(session_id)  # one attempt per session, success or not
        if session.state == FAILED and session.failure:
            raise NotaryError(*session.failure)
        if session.expired:
            raise NotaryError(410, "session_expired", "session time limit passed")
        if session.state != CLOSED:
            raise NotaryError(409, "no_transcript", "nothing was relayed in this session")
        secret_hex = body.get("server_handshake_traffic_secret")
        try:
            secret = bytes.fromhex(secret_hex) if isinstance(secret_hex, str) else None
        except ValueError:
            raise NotaryError(400, "bad_request", "server_handshake_traffic_secret must be hex") from None
        try:
            facts = await asyncio.to_thread(verify_handshake, session.transcript, server_name=session.host,
                                            trust_roots=config.trust_roots,
                                            server_handshake_traffic_secret=secret)
        except TLSNError as exc:
            log.info("session %s refused: %s", session.id, exc.reason)
            raise
        attestation = build_attestation(facts, notary_key_id=config.key.key_id, session_id=session.id,
                                        peer_address=session.peer_address, signed_at=int(time.time()))
        signed = config.key.sign(attestation)
        log.info("session %s attested: %s %s, %d records", session.id, facts.tls_version, facts.suite.name,
                 len(facts.records))
        return JSONResponse({"signed_attestation": signed.to_dict()})

    app = Starlette(
        routes=[
            Route("/health", health),
            Route("/v1/key", public_key),
            Route("/v1/sessions", open_session, methods=["POST"]),
            Route("/v1/sessions/{session_id}/attest", attest, methods=["POST"]),
            WebSocketRoute("/v1/sessions/{session_id}/relay", relay_endpoint),
        ],
        exception_handlers={NotaryError: handle_notary_error, TLSNError: handle_tlsn_error,
                            HTTPException: handle_http_exception, Exception: handle_unexpected},
    )
    app.state.sessions = store
    app.state.config = config
    return app
