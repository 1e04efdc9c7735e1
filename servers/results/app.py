"""HTTP routes of the results API. Read-only: no route can start an MPC run or reach a party.

``GET /``               the results page (HTML: statistics, histogram, who signed; see ``page.py``)
``GET /stats``          latest agreed statistics (404 ``no_result_yet`` before the first); never rolled
                        back to an older or narrower run (see ``watermark.py``)
``GET /stats/history``  accepted results, newest first, ``?limit=`` (1..history_limit, default 20)
``GET /health``         liveness plus the poller's counters (disagreements, bad signatures, ...)
``GET /openapi.json``   the OpenAPI 3.1 document of these routes
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from mpcstats import __version__
from servers.common.errors import InvalidField, NotFound, exception_handlers
from servers.common.openapi import (add_openapi_route, error_response, html_response, json_response,
                                    operation, query_parameter)
from servers.common.ratelimit import RateLimiter, RateLimitMiddleware
from servers.results.cache import ResultCache
from servers.results.config import ResultsConfig
from servers.results.page import CONTENT_SECURITY_POLICY, render_page
from servers.results.poller import Poller, PollerThread

DEFAULT_HISTORY_PAGE = 20
API_TITLE = "MPCStats results API"
API_DESCRIPTION = ("Read-only: the statistics that all three computation parties signed. "
                   "Reading never starts a computation or reaches a party.")
PAGE_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}

ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["statistics", "n", "computed_at", "run_id", "accepted_at", "parties"],
    "properties": {
        "statistics": {"type": "object", "description": "as published by the parties: exact decimal "
                       "strings in ETH (count as an integer; quantiles and histogram as objects)",
                       "additionalProperties": True},
        "n": {"type": "integer", "description": "number of inputs (providers) in the computation"},
        "computed_at": {"type": "integer", "description": "when the parties computed it (Unix seconds); "
                        "never earlier than a result served before (results are not rolled back)"},
        "run_id": {"type": "string"},
        "query": {"type": ["object", "null"]},
        "input_digest": {"type": ["string", "null"], "description": "digest of the inputs' ids"},
        "accepted_at": {"type": "number", "description": "when this API first saw all three agree"},
        "parties": {"type": "array", "items": {
            "type": "object", "properties": {"party": {"type": "integer"}, "key_id": {"type": "string"}}}},
    },
}


def public_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """What consumers see of a cached entry: the agreed result and who vouched for it."""
    result = entry["result"]
    return {
        "statistics": result["statistics"],
        "n": result["n"],
        "computed_at": result["computed_at"],
        "run_id": result["run_id"],
        "query": result.get("query"),
        "input_digest": result.get("input_digest"),
        "accepted_at": entry["accepted_at"],
        "parties": [{"party": int(pid), "key_id": kid} for pid, kid in sorted(entry["key_ids"].items())],
    }


def create_app(config: ResultsConfig, *, poll: bool = True) -> Starlette:
    """The results API; with ``poll=False`` nothing polls (tests drive ``app.state.poller`` by hand)."""
    cache = ResultCache(config.data_dir, config.history_limit)
    poller = Poller(config.parties, cache, timeout=config.request_timeout,
                    results_path=config.results_path, max_bytes=config.max_result_bytes,
                    ca_file=str(config.party_ca_file) if config.party_ca_file else None,
                    future_tolerance=config.future_tolerance_seconds,
                    coordinator_url=config.coordinator_url)

    @operation("Results page", description="HTML page with the statistics, a histogram and who signed them; "
               "'Not enough providers yet' before the first result.",
               responses={200: html_response("The page")})
    async def page(request: Request) -> HTMLResponse:
        entry = cache.latest()
        html = render_page(public_entry(entry) if entry else None, min_providers=config.min_providers,
                           budget=poller.budget, release=poller.release)
        return HTMLResponse(html, headers=PAGE_HEADERS)

    @operation("Latest agreed statistics",
               responses={200: json_response("The latest result all three parties signed", ENTRY_SCHEMA),
                          404: error_response("`no_result_yet`: nothing agreed yet"),
                          429: error_response("`rate_limited`")})
    async def stats(request: Request) -> JSONResponse:
        entry = cache.latest()
        if entry is None:
            raise NotFound(code="no_result_yet", message="no result has been agreed by all parties yet")
        return JSONResponse(public_entry(entry))

    @operation("Accepted results, newest first",
               parameters=[query_parameter("limit", {"type": "integer", "minimum": 1,
                                                     "default": DEFAULT_HISTORY_PAGE},
                                           f"how many (at most history_limit, {config.history_limit})")],
               responses={200: json_response("Results", {
                   "type": "object", "properties": {"results": {"type": "array", "items": ENTRY_SCHEMA},
                                                    "count": {"type": "integer"}}}),
                   422: error_response("`invalid_field`: bad limit"),
                   429: error_response("`rate_limited`")})
    async def history(request: Request) -> JSONResponse:
        raw = request.query_params.get("limit", str(DEFAULT_HISTORY_PAGE))
        try:
            limit = int(raw)
        except ValueError:
            raise InvalidField("limit", "must be an integer") from None
        if not 1 <= limit <= config.history_limit:
            raise InvalidField("limit", f"must be between 1 and {config.history_limit}")
        entries = cache.history(limit)
        return JSONResponse({"results": [public_entry(e) for e in entries], "count": len(entries)})

    @operation("The privacy budget left for differentially private queries on this pool",
               description="The least remaining ε any computation party reports (each party enforces "
                           "its own budget; GET /v1/budget of the parties, read by the poller; not "
                           "signed). An identical DP query is answered from the parties' cache at no cost.",
               responses={200: json_response("Budget", {"type": "object", "properties": {
                   "epsilon_remaining": {"type": "string"}, "epsilon_budget": {"type": ["string", "null"]},
                   "parties": {"type": "integer"}}}),
                   404: error_response("`no_budget_yet`: no party has answered yet"),
                   429: error_response("`rate_limited`")})
    async def budget(request: Request) -> JSONResponse:
        if poller.budget is None:
            raise NotFound(code="no_budget_yet", message="no computation party has reported its budget yet")
        return JSONResponse(poller.budget)

    @operation("Liveness and the poller's counters",
               responses={200: json_response("Health", {"type": "object", "properties": {
                   "status": {"const": "ok"}, "results_cached": {"type": "integer"},
                   "counters": {"type": "object"}, "last_outcome": {"type": ["string", "null"]},
                   "last_detail": {"type": ["string", "null"]}}})})
    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "results_cached": len(cache), **poller.stats()})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        thread = PollerThread(poller, config.poll_seconds) if poll else None
        if thread:
            thread.start()
        try:
            yield
        finally:
            if thread:
                thread.stop()
            cache.close()

    limiter = RateLimiter(config.client_rate, config.client_burst,
                          config.global_rate, config.global_burst)
    app = Starlette(
        routes=[Route("/", page, methods=["GET"]),
                Route("/stats", stats, methods=["GET"]),
                Route("/stats/history", history, methods=["GET"]),
                Route("/budget", budget, methods=["GET"]),
                Route("/health", health, methods=["GET"])],
        middleware=[Middleware(RateLimitMiddleware, limiter=limiter, exempt_paths={"/health"})],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )
    add_openapi_route(app, API_TITLE, __version__, API_DESCRIPTION)
    app.state.cache = cache
    app.state.poller = poller
    return app
