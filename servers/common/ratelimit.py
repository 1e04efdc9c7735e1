"""Token-bucket rate limiting per client address and for the whole server.

Why token buckets: they allow a short burst (a provider app retrying, a page loading three resources)
while holding the long-run rate, and the time until the next token is exactly the ``Retry-After`` a
polite client needs. The per-client bucket is checked first, so one flooding client exhausts its own
bucket, not the global one everyone shares. Buckets live in memory behind one lock: correct from any
thread or event loop, and the critical section is a few float operations.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from servers.common.errors import error_response


@dataclass
class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` stored. Not locked: :class:`RateLimiter` locks."""

    rate: float
    burst: float
    tokens: float
    updated: float

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def take(self, now: float, cost: float = 1.0) -> float:
        """Take ``cost`` tokens: 0.0 if granted, else the seconds until they would be."""
        self._refill(now)
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate if self.rate > 0 else float("inf")

    def refund(self, cost: float = 1.0) -> None:
        self.tokens = min(self.burst, self.tokens + cost)


class RateLimiter:
    """Per-client and global buckets; ``check(client)`` returns 0.0 (allowed) or seconds to wait.

    ``max_clients`` bounds memory: the least recently seen client's bucket is dropped first (a client
    forgotten that way gets a full bucket back, which only errs towards allowing).
    """

    def __init__(self, per_client_rate: float, per_client_burst: float,
                 global_rate: float | None = None, global_burst: float | None = None, *,
                 max_clients: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        if per_client_rate <= 0 or per_client_burst < 1:
            raise ValueError("per-client rate must be > 0 and burst >= 1")
        if (global_rate is None) != (global_burst is None):
            raise ValueError("give both global_rate and global_burst, or neither")
        self.per_client_rate, self.per_client_burst = per_client_rate, per_client_burst
        self.clock = clock
        self.max_clients = max_clients
        self._clients: OrderedDict[str, TokenBucket] = OrderedDict()
        now = clock()
        self._global = (TokenBucket(global_rate, global_burst, global_burst, now)
                        if global_rate is not None and global_burst is not None else None)
        self._lock = threading.Lock()

    def check(self, client: str, cost: float = 1.0) -> float:
        now = self.clock()
        with self._lock:
            bucket = self._clients.get(client)
            if bucket is None:
                bucket = TokenBucket(self.per_client_rate, self.per_client_burst, self.per_client_burst, now)
                self._clients[client] = bucket
                if len(self._clients) > self.max_clients:
                    self._clients.popitem(last=False)
            else:
                self._clients.move_to_end(client)
            wait = bucket.take(now, cost)
            if wait or self._global is None:
                return wait
            wait = self._global.take(now, cost)
            if wait:
                bucket.refund(cost)  # refused for everyone's sake: not this client's fault
            return wait


class RateLimitMiddleware:
    """ASGI middleware: HTTP requests over the limit get 429 ``rate_limited`` with ``Retry-After``.

    The client is the TCP peer address. ``X-Forwarded-For`` is deliberately ignored: behind a reverse
    proxy, put the limit in the proxy, because a header is whatever the client wants it to be.
    """

    def __init__(self, app: ASGIApp, limiter: RateLimiter, exempt_paths: Collection[str] = ()) -> None:
        self.app = app
        self.limiter = limiter
        self.exempt_paths = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        wait = self.limiter.check(address)
        if wait and scope["type"] == "http":
            retry = str(max(1, int(wait + 0.999))) if wait != float("inf") else "3600"
            response = error_response(429, "rate_limited", "too many requests", {"Retry-After": retry})
            await response(scope, receive, send)
            return
        if wait:  # websocket: refuse the upgrade
            await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)
