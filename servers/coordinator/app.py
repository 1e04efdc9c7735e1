"""HTTP API of the coordinator.

Providers: ``POST /v1/registrations`` (attestation + record material + claimed uid →
session id, one-time token, party URLs), ``POST /v1/registrations/{id}/ready`` (after
the shares went to the parties), ``GET /v1/registrations/{id}`` (status; token).
Consumers: ``POST /v1/queries`` (run a statistics query over every counted input,
rate-limited; the results API serves what the parties publish). ``GET /health``.

The coordinator never sees a share or a plaintext balance; it sees the uid (by design).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mpc_programs.statistics.query import QueryError, parse_query
from mpcstats import __version__
from servers.common.errors import (APIError, Conflict, InvalidField, NotFound, exception_handlers)
from servers.common.http import read_json
from servers.common.openapi import add_openapi_route, json_response, operation
from servers.common.ratelimit import RateLimiter, RateLimitMiddleware
from servers.common.registration import (RegistrationError, check_registration, load_sources,
                                         pool_columns)
from servers.coordinator.api_keys import ApiKeys
from servers.coordinator.config import CoordinatorConfig
from servers.coordinator.parties import PartyCallError, Parties
from servers.coordinator.scheduler import QueryFailed, Scheduler
from servers.coordinator.state import CoordinatorState, DuplicateAttestation
from tlsn import key_id as notary_key_id
from tlsn import public_key_from_b64

log = logging.getLogger("mpcstats.coordinator")


class Coordinator:
    def __init__(self, config: CoordinatorConfig) -> None:
        self.config = config
        self.state = CoordinatorState(config.data_dir)
        self.parties = Parties(config.parties, config.party_tokens, config.party_timeout_seconds)
        self.scheduler = Scheduler(config, self.state, self.parties)
        self.api_keys = ApiKeys(config.api_keys, config.api_key_rate, config.api_key_burst)
        self.sources = load_sources(config.sources)
        self.server_names = {n: config.server_names.get(n, s.host) for n, s in self.sources.items()}
        keys = [public_key_from_b64(k) for k in config.notary_keys]
        self.notaries = {notary_key_id(k): k for k in keys}


def _session_for_token(request: Request) -> dict[str, Any]:
    coordinator: Coordinator = request.app.state.coordinator
    header = request.headers.get("authorization", "")
    session = coordinator.state.get(request.path_params["session_id"])
    token = header[len("Bearer "):] if header.startswith("Bearer ") else ""
    if session is None or not hmac.compare_digest(
            hashlib.sha256(token.encode()).hexdigest(), session["token_sha256"]):
        raise NotFound(code="unknown_session", message="no such registration for this token")
    return session


_REGISTRATION_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["source", "attestation", "fields", "uid"],
    "properties": {
        "source": {"type": "string", "example": "binance_eth"},
        "attestation": {"type": "object", "description": "the notary's signed attestation"},
        "records": {"type": "array", "minItems": 1, "maxItems": 64,
                    "description": "every server record from the first under the application keys "
                                   "(TLS 1.3 tickets included) through the last one holding a field",
                    "items": {"type": "object", "required": ["index", "seq", "header", "payload"],
                              "properties": {"index": {"type": "integer"}, "seq": {"type": "integer"},
                                             "header": {"type": "string", "description": "hex"},
                                             "payload": {"type": "string", "description": "hex"}}}},
        "iv": {"type": "string", "description": "hex: the server write IV (TLS 1.2: 4-byte salt)"},
        "tickets": {"type": "integer", "description": "TLS 1.3: how many records are tickets"},
        "record": {"type": "object", "description": "one-record form (instead of records and iv)",
                   "required": ["index", "seq", "header", "payload", "iv"],
                   "properties": {"index": {"type": "integer"}, "seq": {"type": "integer"},
                                  "header": {"type": "string", "description": "hex"},
                                  "payload": {"type": "string", "description": "hex"},
                                  "iv": {"type": "string", "description": "hex"}}},
        "fields": {"type": "object",
                   "description": "uid and each value column present (balance, ...): {offset, length}"},
        "uid": {"type": "string"}}}}}}
_TOKEN = [{"name": "Authorization", "in": "header", "required": True,
           "schema": {"type": "string"}, "description": "Bearer <registration token>"}]


@operation("Liveness and counts of sessions by status and of counted inputs",
           responses={200: json_response("counts", {"type": "object"})})
async def health(request: Request) -> JSONResponse:
    coordinator: Coordinator = request.app.state.coordinator
    return JSONResponse({"status": "ok", **coordinator.state.counts()})


@operation("Register a notarized account response",
           description="Checks the notary's signature, the host, freshness and the records' digests, "
                       "and that the attestation was not registered before (one registration per "
                       "attestation). The claimed uid reserves nothing: it is proven inside MPC, and "
                       "a verified input already counted is rejected then (one account, one input). "
                       "Returns a session id, a one-time token and the parties' URLs.",
           request_body=_REGISTRATION_BODY,
           responses={201: json_response("session opened", {"type": "object"}),
                      403: "attestation refused", 409: "attestation registered before",
                      422: "malformed registration", 429: "rate limited",
                      503: "a party is unavailable"})
async def register(request: Request) -> JSONResponse:
    coordinator: Coordinator = request.app.state.coordinator
    config = coordinator.config
    body = await read_json(request, config.max_body_bytes)
    try:
        checked = check_registration(body, trusted_notaries=coordinator.notaries,
                                     sources=coordinator.sources,
                                     server_names=coordinator.server_names,
                                     max_age_seconds=config.attestation_max_age_seconds)
    except RegistrationError as exc:
        status = 403 if exc.code.startswith("attestation_") else 422
        raise APIError(status, exc.code, exc.message) from None
    session_id = secrets.token_hex(16)
    token = secrets.token_urlsafe(32)
    token_sha256 = hashlib.sha256(token.encode()).hexdigest()
    expires_at = time.time() + config.session_ttl_seconds
    # One registration per attestation; the claimed uid reserves nothing before it is proven
    # inside MPC (no squatting), and the answer is the same whether the account is new,
    # counted or in flight (no membership oracle).
    # the digest of the notary's signature (checked above; Ed25519 signatures are not malleable),
    # not of the JSON around it, which a provider could pad with fields nobody reads
    attestation_sha256 = hashlib.sha256(base64.b64decode(body["attestation"]["signature"])).hexdigest()
    try:
        coordinator.state.reserve({"session_id": session_id, "input_id": checked.input_id,
                                   "source": checked.source, "token_sha256": token_sha256,
                                   "attestation_sha256": attestation_sha256,
                                   "expires_at": expires_at, "created": time.time()})
    except DuplicateAttestation as exc:
        raise Conflict(code="attestation_used", message=str(exc)) from None
    try:
        await coordinator.parties.all("/v1/sessions", {
            "session_id": session_id, "token_sha256": token_sha256, "registration": body})
    except PartyCallError as exc:
        coordinator.state.set_status([session_id], "rejected", f"a party refused: {exc.code}")
        if exc.status in (409, 422, 403):
            raise APIError(exc.status or 422, exc.code, exc.message) from None
        raise APIError(503, "party_unavailable", str(exc)) from None
    log.info("registration %s opened", session_id)
    return JSONResponse({"session_id": session_id, "token": token, "expires_at": expires_at,
                         "key_length": checked.key_length,
                         "parties": config.provider_party_urls()}, status_code=201)


@operation("Mark a registration ready once its shares went to the three parties",
           parameters=_TOKEN, responses={200: json_response("queued", {"type": "object"}),
                                         404: "unknown session or token", 409: "wrong state"})
async def ready(request: Request) -> JSONResponse:
    coordinator: Coordinator = request.app.state.coordinator
    session = _session_for_token(request)
    if session["status"] != "waiting_for_shares":
        raise Conflict(code="wrong_state", message=f"registration is {session['status']}")
    coordinator.state.set_status([session["session_id"]], "queued")
    coordinator.scheduler.wakeup.set()
    return JSONResponse({"session_id": session["session_id"], "status": "queued"})


@operation("Status of a registration (waiting_for_shares, queued, verifying, committing, "
           "accepted, rejected with reason, expired)", parameters=_TOKEN,
           responses={200: json_response("status", {"type": "object"}),
                      404: "unknown session or token"})
async def status(request: Request) -> JSONResponse:
    session = _session_for_token(request)
    body = {"session_id": session["session_id"], "status": session["status"],
            "reason": session.get("reason"), "updated": session["updated"]}
    # while a party is down, queued registrations wait: say for what, so the provider is told now
    outage = getattr(request.app.state.coordinator.scheduler, "_outage", None)
    if outage and session["status"] in ("queued", "verifying"):
        body["waiting_for"] = outage
    return JSONResponse(body)


@operation("Run a statistics query over every counted input (MPC on the three parties)",
           description="The body is {\"query\": spec} (see docs/statistics.md); the answer is the "
                       "result all three parties signed, with their signatures.",
           request_body={"required": False, "content": {"application/json": {
               "schema": {"type": "object", "properties": {"query": {"type": "object"}}}}}},
           responses={200: json_response("signed result", {"type": "object"}),
                      401: "api_key_required / bad_api_key: a query with privacy spends the "
                           "pool's budget and needs Authorization: Bearer <API key>",
                      409: "not enough providers yet, exact_query_refused (only the operator's "
                           "release is exact), too_few_new_providers, privacy_budget_exhausted",
                      422: "invalid query", 429: "rate limited (per address; per API key)",
                      503: "party_unreachable (no run starts while a party is down; the message "
                           "names it), busy, mpc_aborted, mpc_deviation (a check of active "
                           "security caught a party deviating; recorded) or mpc_timeout"})
async def run_query(request: Request) -> JSONResponse:
    coordinator: Coordinator = request.app.state.coordinator
    body = await read_json(request, 16 * 1024)
    try:
        query = parse_query(body.get("query"), pool_columns(coordinator.sources))
    except QueryError as exc:
        raise InvalidField("query", str(exc)) from None
    if query.privacy is not None:  # it spends the pool's privacy budget: a deployment's key only
        coordinator.api_keys.require(request)
    try:
        result = await coordinator.scheduler.run_query(query)
    except QueryFailed as exc:
        raise APIError(exc.status, exc.code, exc.message) from None
    return JSONResponse(result)


@operation("The privacy budget: each party's (total, spent and remaining epsilon) and the least remaining",
           description="Each party enforces its own budget over differentially private queries "
                       "(sequential composition, persisted ledger); a DP query runs only if all three "
                       "still have its epsilon. An identical query is answered from the parties' cache "
                       "at no cost.",
           responses={200: json_response("budget", {"type": "object"})})
async def budget(request: Request) -> JSONResponse:
    coordinator: Coordinator = request.app.state.coordinator
    return JSONResponse(await coordinator.scheduler.budget())


@operation("The published release: which query it is, how many counted inputs it covers, and "
           "when it is recomputed next (after new inputs, debounced; null: nothing new to cover)",
           responses={200: json_response("release schedule", {
               "type": "object",
               "properties": {"release_query": {"type": "object"},
                              "next_release_due": {"type": ["number", "null"]},
                              "release_debounce_seconds": {"type": "number"},
                              "counted_inputs": {"type": "integer"},
                              "release_covers": {"type": ["integer", "null"]},
                              "last_release_at": {"type": ["integer", "null"]}}})})
async def release(request: Request) -> JSONResponse:
    coordinator: Coordinator = request.app.state.coordinator
    return JSONResponse(coordinator.scheduler.release_status())


@operation("The last published release this coordinator obtained (consumers should read the "
           "results API); custom queries never replace it",
           responses={200: json_response("signed result", {"type": "object"}),
                      404: "no result yet"})
async def latest(request: Request) -> JSONResponse:
    coordinator: Coordinator = request.app.state.coordinator
    if coordinator.scheduler.last_result is None:
        raise NotFound(code="no_result_yet", message="no statistics computed yet")
    return JSONResponse(coordinator.scheduler.last_result)


def create_app(config: CoordinatorConfig) -> Starlette:
    coordinator = Coordinator(config)

    @asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        coordinator.scheduler.start()
        yield
        await coordinator.scheduler.stop()
        await coordinator.parties.close()
        coordinator.state.close()

    limiter = RateLimiter(config.client_rate, config.client_burst, config.global_rate,
                          config.global_burst)
    app = Starlette(routes=[
        Route("/health", health),
        Route("/v1/registrations", register, methods=["POST"]),
        Route("/v1/registrations/{session_id}", status),
        Route("/v1/registrations/{session_id}/ready", ready, methods=["POST"]),
        Route("/v1/queries", run_query, methods=["POST"]),
        Route("/v1/results/latest", latest),
        Route("/v1/release", release),
        Route("/v1/budget", budget),
    ], middleware=[Middleware(RateLimitMiddleware, limiter=limiter, exempt_paths=("/health",))],
        exception_handlers=exception_handlers(), lifespan=lifespan)
    app.state.coordinator = coordinator
    add_openapi_route(app, "MPCStats coordinator API", __version__,
                      "Registrations (providers) and statistics queries (consumers).")
    return app
