"""HTTP API of a computation party.

Provider-facing: ``POST /v1/sessions/{id}/shares`` (session token), rate-limited per
client address like the public reads. Coordinator-facing
(bearer ``control_token``, this party's own: the token of another party is refused):
``POST /v1/sessions``, ``POST /v1/verify`` (stages the
accepted inputs), ``POST /v1/commit`` / ``POST /v1/abort`` (second phase),
``POST /v1/query``. Public: ``GET /v1/results/latest`` (the signed result the
results API collects), ``GET /v1/budget`` (the privacy budget this party enforces,
``budget.py``), ``GET /v1/key``, ``GET /health``.

A party re-checks every registration itself (attestation, notary key, host,
freshness, record digest) and never receives another party's share.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from contextlib import asynccontextmanager
from fractions import Fraction
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tinydb import TinyDB

from mpc_programs.shares.dealing import (LAYOUT, DealingError, PartyDealing, check_signature,
                                         decode_elements, key_rows, text_length)
from mpc_programs.shares.field import PRIME, SHARES_PER_INPUT
from mpc_programs.statistics.query import QueryError, canonical_key, parse_query
from mpc_programs.runtime.runner import MPCRunError
from mpc_programs.shares.store import AtomicJSONStorage, ShareStore, StoreError, decode_row
from servers.common import signing
from servers.common.errors import (APIError, Conflict, InvalidField, NotFound, ServiceUnavailable,
                                   Unauthorized, exception_handlers)
from servers.common.ratelimit import RateLimiter, RateLimitMiddleware
from servers.common.http import get_dict, get_int, get_list, get_str, read_json
from servers.common.registration import (CheckedRegistration, RegistrationError, check_registration,
                                         load_sources, pool_columns)
from servers.party.budget import (BudgetExhausted, PoolVersion, PrivacyLedger,
                                  TooFewNewProviders)
from servers.party.config import PartyConfig
from servers.party.policy import (ClipRefused, ExactQueryRefused, check_clip, check_exact,
                                  release_keys)
from servers.party.mpc import MPCService, error_code
from servers.party.sessions import PendingSession, SessionTable
from tlsn import public_key_from_b64, key_id as notary_key_id

log = logging.getLogger("mpcstats.party")
#: Verification outcomes kept for idempotent re-asks (a coordinator that restarted mid-run).
KEEP_RUNS = 200


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if not header.startswith("Bearer "):
        raise Unauthorized(code="missing_token", message="Authorization: Bearer <token> required")
    return header[len("Bearer "):]


class PartyState:
    def __init__(self, config: PartyConfig) -> None:
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.sessions = SessionTable(config.max_pending_sessions)
        self.mpc = MPCService(config)
        self.signing_key = signing.load_or_create_private_key(config.data_dir / "signing_key.pem")
        self.sources = load_sources(config.sources)
        self.columns = pool_columns(self.sources)
        self.server_names = {name: config.server_names.get(name, spec.host)
                             for name, spec in self.sources.items()}
        keys = [public_key_from_b64(k) for k in config.notary_keys]
        self.notaries = {notary_key_id(k): k for k in keys}
        self.results = TinyDB(config.data_dir / "results.json", storage=AtomicJSONStorage)
        # Creating the store now makes a fresh party answer queries over zero inputs.
        ShareStore(self.mpc.store_path, config.index).close()
        self._ids_cache: tuple[tuple[int, int, int], frozenset[str]] | None = None
        self.ledger = PrivacyLedger(config.data_dir, Fraction(str(config.privacy_budget_epsilon)))
        self.releases = release_keys(config.exact_releases, self.columns)

    def pool_version(self, ids: list[str] | None = None) -> PoolVersion:
        """The pool version of ``ids`` (sorted counted input ids; default: those stored now)."""
        ids = sorted(self.stored_ids()) if ids is None else ids
        return PoolVersion(hashlib.sha256(json.dumps(ids).encode()).hexdigest(), len(ids))

    def require_coordinator(self, request: Request) -> None:
        """Only this party's own token: one another party's operator holds is refused like any other."""
        if not hmac.compare_digest(_bearer(request).encode(), self.config.control_token.encode()):
            raise Unauthorized(code="bad_token", message="not this party's coordinator token")

    def stored_ids(self) -> frozenset[str]:
        """The counted input ids, re-read only when the store file changed.

        The store holds hundreds of bytes per input; reading it whole for every
        registration or health check would make them slow as the pool grows.
        """
        st = os.stat(self.mpc.store_path)  # every write replaces the file: new inode and time
        stamp = (st.st_mtime_ns, st.st_ino, st.st_size)
        if self._ids_cache is None or self._ids_cache[0] != stamp:
            with ShareStore(self.mpc.store_path, self.config.index) as store:
                self._ids_cache = (stamp, frozenset(store.ids()))
        return self._ids_cache[1]

    def input_count(self) -> int:
        return len(self.stored_ids())


async def health(request: Request) -> JSONResponse:
    state: PartyState = request.app.state.party
    return JSONResponse({"status": "ok", "party": state.config.index,
                         "inputs": state.input_count(), "pending_sessions": len(state.sessions),
                         # the coordinator starts no run while a party still finishes an older one
                         "mpc_busy": state.mpc.lock.locked(),
                         "key_id": signing.key_id(state.signing_key)})


async def public_key(request: Request) -> JSONResponse:
    state: PartyState = request.app.state.party
    return JSONResponse({"party": state.config.index, "key_id": signing.key_id(state.signing_key),
                         "public_key": signing.public_key_hex(state.signing_key)})


async def open_session(request: Request) -> JSONResponse:
    state: PartyState = request.app.state.party
    state.require_coordinator(request)
    body = await read_json(request, state.config.max_body_bytes)
    session_id = get_str(body, "session_id", min_len=16, max_len=64)
    token_sha256 = get_str(body, "token_sha256", min_len=64, max_len=64)
    try:
        checked = check_registration(
            get_dict(body, "registration"), trusted_notaries=state.notaries,
            sources=state.sources, server_names=state.server_names,
            max_age_seconds=state.config.attestation_max_age_seconds)
    except RegistrationError as exc:
        raise APIError(422, exc.code, exc.message) from None
    # No "already counted" here: the uid is only claimed until it is proven inside MPC, and the
    # answer must not tell a counted account from a new one (the verification rejects a
    # duplicate once the uid is proven).
    session = PendingSession(session_id, token_sha256, checked,
                             time.time() + state.config.session_ttl_seconds)
    if not state.sessions.add(session):
        raise Conflict(code="session_exists", message="session exists or too many pending")
    return JSONResponse({"session_id": session_id, "input_id": checked.input_id,
                         "key_length": checked.key_length}, status_code=201)


async def receive_shares(request: Request) -> JSONResponse:
    state: PartyState = request.app.state.party
    session = state.sessions.get(request.path_params["session_id"])
    token = _bearer(request)
    if session is None or not session.token_ok(token):
        # one answer for both: a wrong token must not reveal that a session exists
        raise NotFound(code="unknown_session", message="no such session for this token")
    if session.has_shares:
        raise Conflict(code="already_shared", message="shares for this session were received")
    body = await read_json(request, state.config.max_body_bytes)
    # the request, when bound, has its key dealt too
    keys = {name: _key_bits(body, f"{name}_bits", session.registration.key_length)
            for name in key_rows(session.registration.request is not None)}
    layout = get_str(body, "layout", max_len=SHARES_PER_INPUT * 40)
    try:
        decode_row(layout)
    except StoreError as exc:
        raise InvalidField("layout", f"not a row of field elements below {PRIME}: {exc}") from None
    extra = _extra_layouts(body, session.registration.extra_columns)
    part = _dealing(body, session.registration, state.config.index + 1,
                    {LAYOUT: layout, **extra, **keys})
    session.layout, session.extra_layouts = layout, extra
    session.key_bits, session.dealing = keys, part
    return JSONResponse({"session_id": session.session_id, "status": "shared"})


def _key_bits(body: dict[str, Any], name: str, key_length: int) -> str:
    """A record key's bits, dealt as a row of field elements: 8 per key byte."""
    text = get_str(body, name, max_len=text_length(8 * 32))
    try:
        bits = decode_elements(text)
    except DealingError as exc:
        raise InvalidField(name, str(exc)) from None
    if len(bits) != 8 * key_length:
        raise InvalidField(name, f"must hold {8 * key_length} field elements (the key's bits)")
    return text


def _extra_layouts(body: dict[str, Any], expected: tuple[str, ...]) -> dict[str, str]:
    """``columns``: the shared layout of every extra column the registration located."""
    raw = body.get("columns", {})
    if not isinstance(raw, dict) or sorted(raw) != sorted(expected):
        raise InvalidField("columns", "must hold one encoded row for each of: "
                                      f"{', '.join(expected) or 'no extra column'}")
    for name, row in raw.items():
        if not isinstance(row, str) or len(row) > SHARES_PER_INPUT * 40:
            raise InvalidField("columns", f"{name}: an encoded share row is expected")
        try:
            decode_row(row)
        except StoreError as exc:
            raise InvalidField("columns", f"{name}: not a row of field elements: {exc}") from None
    return dict(raw)


def _dealing(body: dict[str, Any], registration: CheckedRegistration, point: int,
             row_texts: dict[str, str]) -> PartyDealing:
    """This party's part of the provider's dealing, signed by the registration's dealer key.

    Checked now, so that every share this party holds comes with the proof a complaint needs
    (``mpc_programs.shares.dealing``): a provider whose signature fails is told at once.
    """
    if registration.dealing is None:
        raise InvalidField("dealing", "the registration has no dealing")
    try:
        part = PartyDealing.from_json(body.get("dealing"), registration.dealt_rows)
        check_signature(point, registration.dealing, row_texts, part)
    except DealingError as exc:
        raise InvalidField("dealing", str(exc)) from None
    return part


async def verify(request: Request) -> JSONResponse:
    state: PartyState = request.app.state.party
    state.require_coordinator(request)
    body = await read_json(request, state.config.max_body_bytes)
    run_id = get_str(body, "run_id", min_len=8, max_len=64)
    session_ids = get_list(body, "session_ids", max_items=1024, item_type=str)
    runs = state.results.table("runs")
    done = [r for r in runs.all() if r.get("run_id") == run_id]
    if done:  # idempotent: a coordinator that restarted mid-run asks again
        return JSONResponse(done[0]["outcome"])
    sessions = []
    for sid in session_ids:
        session = state.sessions.get(sid)
        if session is None:
            raise APIError(409, "session_lost", f"session {sid} is unknown here (expired or restarted)")
        if not session.has_shares:
            raise APIError(409, "shares_missing", f"session {sid} has no shares yet")
        sessions.append(session)
    job = {"task": "verify", "run_id": run_id, "stage_only": True,
           "submissions": [s.registration.submission(s.layout or "", s.extra_layouts or {},
                                                     s.key_bits or {}, s.dealing)  # type: ignore[arg-type]
                           for s in sessions]}
    try:
        outcome = await state.mpc.run(job)
    except MPCRunError as exc:
        log.warning("verification run %s failed (%s): %s", run_id, error_code(exc), exc)
        raise ServiceUnavailable(code=error_code(exc), message=str(exc)) from None
    by_input = {s.registration.input_id: s.session_id for s in sessions}
    answer = {"run_id": run_id,
              "accepted": sorted(by_input[i] for i in outcome["accepted"]),
              "rejected": {by_input[i]: reason for i, reason in outcome["rejected"].items()},
              "input_ids": {s.session_id: s.registration.input_id for s in sessions},
              "stored": outcome["stored"]}
    runs.insert({"run_id": run_id, "outcome": answer, "at": time.time(),
                 "session_ids": session_ids})
    old = sorted(runs.all(), key=lambda r: r["at"])[:-KEEP_RUNS]
    if old:  # keep the file small: only recent runs can be asked about again
        runs.remove(doc_ids=[r.doc_id for r in old])
    # The key shares stay in memory only until the coordinator commits or aborts the run
    # (seconds), so that a failed attempt at another party can be retried.
    return JSONResponse(answer)


def _run_sessions(state: PartyState, run_id: str) -> list[str]:
    found = [r for r in state.results.table("runs").all() if r.get("run_id") == run_id]
    return list(found[0].get("session_ids", [])) if found else []


async def commit(request: Request) -> JSONResponse:
    """Second phase: make a verified run's staged inputs count (idempotent)."""
    state: PartyState = request.app.state.party
    state.require_coordinator(request)
    body = await read_json(request, 4096)
    run_id = get_str(body, "run_id", min_len=8, max_len=64)
    async with state.mpc.lock:  # never while an MPC child writes the same store
        try:
            with ShareStore(state.mpc.store_path, state.config.index) as store:
                added = store.commit(run_id)
                count = store.count()
        except StoreError as exc:
            raise APIError(409, "nothing_staged", str(exc)) from None
        except OSError as exc:
            raise ServiceUnavailable(code="store_unwritable", message=str(exc)) from None
    state.sessions.pop_many(_run_sessions(state, run_id))  # key shares dropped
    return JSONResponse({"run_id": run_id, "added": added, "stored": count})


async def abort(request: Request) -> JSONResponse:
    state: PartyState = request.app.state.party
    state.require_coordinator(request)
    body = await read_json(request, 4096)
    run_id = get_str(body, "run_id", min_len=8, max_len=64)
    drop = body.get("drop_sessions") is True
    async with state.mpc.lock:
        with ShareStore(state.mpc.store_path, state.config.index) as store:
            store.abort(run_id)
    if drop:  # the coordinator gave up on these sessions: drop their key shares now
        state.sessions.pop_many(_run_sessions(state, run_id))
    return JSONResponse({"run_id": run_id, "aborted": True})


async def query(request: Request) -> JSONResponse:
    state: PartyState = request.app.state.party
    state.require_coordinator(request)
    body = await read_json(request, state.config.max_body_bytes * 64)
    run_id = get_str(body, "run_id", min_len=8, max_len=64)
    try:
        parsed = parse_query(body.get("query"), state.columns)
    except QueryError as exc:
        raise InvalidField("query", str(exc)) from None
    input_ids = get_list(body, "input_ids", max_items=1_000_000, item_type=str)
    # The deployment's published release (what /v1/results/latest and the results API serve) is
    # replaced only by a run the coordinator marks as the release; a custom query is answered
    # to whoever asked and never narrows the published figures.
    release = body.get("release", False)
    if not isinstance(release, bool):
        raise InvalidField("release", "must be true or false")
    # the coordinator fixes the time so that the three signed results are identical
    computed_at = get_int(body, "computed_at", default=int(time.time()), min_value=0)
    # A party enforces its own rules: a query covers every counted input (no narrowing a
    # query to a few providers) and never fewer than this party's minimum pool size.
    stored = sorted(state.stored_ids())
    if sorted(input_ids) != stored:
        raise Conflict(code="input_set_mismatch",
                       message="a query must cover exactly the inputs this party has counted")
    if len(stored) < state.config.min_inputs:
        raise Conflict(code="not_enough_inputs",
                       message=f"not enough providers yet ({len(stored)} of "
                               f"{state.config.min_inputs})")
    try:
        check_exact(parsed, state.config.exact_queries, state.releases)
        check_clip(parsed, state.config.dp_clip, state.columns[0])
    except ExactQueryRefused as exc:
        raise Conflict(code="exact_query_refused", message=str(exc)) from None
    except ClipRefused as exc:
        raise Conflict(code="clip_not_allowed", message=str(exc)) from None
    if release and state.config.exact_queries == "release" and (
            parsed.privacy is not None or canonical_key(parsed) not in state.releases):
        raise Conflict(code="not_a_release",
                       message="only one of the operator's exact releases (GET /v1/budget) can "
                               "be published as the release")
    version, key = state.pool_version(stored), canonical_key(parsed)  # the inputs this run covers
    guarded = parsed.privacy is not None or state.config.exact_queries == "release"
    if guarded:
        # the same question over the same pool: the same signed answer, no new noise, no ε
        cached = state.ledger.cached(version, key)
        if cached is not None:
            if release:
                _publish(state, cached)
            return JSONResponse({**cached, "cached": True})
        try:
            if parsed.privacy is not None:
                state.ledger.spend(version, key, parsed.privacy.epsilon_total())
            else:
                state.ledger.exact_release(version, state.config.exact_release_min_new_providers)
        except BudgetExhausted as exc:
            raise Conflict(code="privacy_budget_exhausted", message=str(exc)) from None
        except TooFewNewProviders as exc:
            raise Conflict(code="too_few_new_providers", message=str(exc)) from None
    job = {"task": "stats", "query": parsed.to_json(), "input_ids": stored,
           "min_inputs": state.config.min_inputs, "columns": state.columns}
    try:
        outcome = await state.mpc.run(job)
    except MPCRunError as exc:
        log.warning("query run %s failed (%s): %s", run_id, error_code(exc), exc)
        raise ServiceUnavailable(code=error_code(exc), message=str(exc)) from None
    result = {"run_id": run_id, "query": outcome["query"], "n": outcome["n"],
              "input_digest": outcome["input_digest"], "statistics": outcome["statistics"],
              "computed_at": computed_at}
    document = signing.sign_result(state.signing_key, result, state.config.index)
    if guarded:
        state.ledger.remember(version, key, document)
    if release:
        _publish(state, document)
    return JSONResponse(document)


def _publish(state: PartyState, document: dict[str, Any]) -> None:
    """Make ``document`` this party's published release (``GET /v1/results/latest``)."""
    latest = state.results.table("latest")
    latest.truncate()
    latest.insert(dict(document))


async def budget(request: Request) -> JSONResponse:
    """Public: this party's privacy budget (total, spent, remaining ε; per pool version)."""
    state: PartyState = request.app.state.party
    return JSONResponse({"party": state.config.index,
                         **state.ledger.status(state.pool_version()),
                         "exact_queries": state.config.exact_queries,
                         "dp_clip": state.config.dp_clip,
                         "exact_releases": [json.loads(k) for k in sorted(state.releases)]})


async def latest_result(request: Request) -> JSONResponse:
    state: PartyState = request.app.state.party
    docs = state.results.table("latest").all()
    if not docs:
        raise NotFound(code="no_result_yet", message="no statistics computed yet")
    return JSONResponse(dict(docs[0]))


#: Control calls that answer 401 at once without the coordinator's token: not rate-limited,
#: so that a busy pool of providers cannot starve the coordinator's verification runs.
COORDINATOR_PATHS = frozenset({"/v1/sessions", "/v1/verify", "/v1/commit", "/v1/abort",
                               "/v1/query"})


def create_app(config: PartyConfig) -> Starlette:
    state = PartyState(config)

    @asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        yield
        state.results.close()

    app = Starlette(routes=[
        Route("/health", health),
        Route("/v1/key", public_key),
        Route("/v1/sessions", open_session, methods=["POST"]),
        Route("/v1/sessions/{session_id}/shares", receive_shares, methods=["POST"]),
        Route("/v1/verify", verify, methods=["POST"]),
        Route("/v1/commit", commit, methods=["POST"]),
        Route("/v1/abort", abort, methods=["POST"]),
        Route("/v1/query", query, methods=["POST"]),
        Route("/v1/results/latest", latest_result),
        Route("/v1/budget", budget),
    ], exception_handlers=exception_handlers(), lifespan=lifespan,
        middleware=[Middleware(RateLimitMiddleware, limiter=RateLimiter(
            config.client_rate, config.client_burst, config.global_rate, config.global_burst),
            exempt_paths=COORDINATOR_PATHS | {"/health"})])
    app.state.party = state
    return app
