"""HTTP routes of the results API. Read-only: no route can start an MPC run or reach a party.

``GET /stats``          latest agreed statistics (404 ``no_result_yet`` before the first)
``GET /stats/history``  accepted results, newest first, ``?limit=`` (1..history_limit, default 20)
``GET /health``         liveness plus the poller's counters (disagreements, bad signatures, ...)
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from servers.common.errors import InvalidField, NotFound, exception_handlers
from servers.common.ratelimit import RateLimiter, RateLimitMiddleware
from servers.results.cache import ResultCache
from servers.results.config import ResultsConfig
from servers.results.poller import Poller, PollerThread

DEFAULT_HISTORY_PAGE = 20


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
                    ca_file=str(config.party_ca_file) if config.party_ca_file else None)

    async def stats(request: Request) -> JSONResponse:
        entry = cache.latest()
        if entry is None:
            raise NotFound(code="no_result_yet", message="no result has been agreed by all parties yet")
        return JSONResponse(public_entry(entry))

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

    limiter = RateLimiter(config.rate_per_second, config.rate_burst,
                          config.global_rate_per_second, config.global_rate_burst)
    app = Starlette(
        routes=[Route("/stats", stats, methods=["GET"]),
                Route("/stats/history", history, methods=["GET"]),
                Route("/health", health, methods=["GET"])],
        middleware=[Middleware(RateLimitMiddleware, limiter=limiter, exempt_paths={"/health"})],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )
    app.state.cache = cache
    app.state.poller = poller
    return app
