"""API keys of the deployment: who may ask a query that costs privacy budget.

A differentially private query spends ε from the pool's budget (each party's ledger,
``servers/party/budget.py``). Were ``POST /v1/queries`` open to anyone for those, one
anonymous client could drain the budget for everybody. So a query with ``privacy``
needs ``Authorization: Bearer <api key>``, one of the operator's keys (the config holds
only their SHA-256, by name), and each key has its own rate limit (``api_key_rate`` per
second, ``api_key_burst``): 401 ``api_key_required`` / ``bad_api_key``, 429 above the
limit. Anonymous readers get the cached releases (the results API, ``GET /stats``) and
the operator's exact release; a key's repeat of a cached DP query costs no budget but
counts against its rate.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time

from starlette.requests import Request

from servers.common.errors import RateLimited, Unauthorized
from servers.common.ratelimit import TokenBucket


def new_api_key() -> str:
    """A fresh API key. The prefix keeps it from starting with "-", which a command line would
    take for an option (``mpcstats query --api-key KEY``); ``token_urlsafe`` alone does so
    one time in 64."""
    return "mpk_" + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    """What the coordinator's config stores for a key (``mpcstats``' operators: sha256 hex)."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    def __init__(self, hashes: dict[str, str], rate: float, burst: float) -> None:
        for name, digest in hashes.items():
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError(f"api_keys.{name} must be the SHA-256 of the key (64 lowercase hex)")
        self._hashes = dict(hashes)
        self._rate, self._burst = rate, burst
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def require(self, request: Request) -> str:
        """The name of the presented key, after charging its rate limit; else 401 / 429."""
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            raise Unauthorized(code="api_key_required",
                               message="a query with 'privacy' spends the pool's privacy budget: "
                                       "send Authorization: Bearer <API key of this deployment>")
        presented = key_hash(header[len("Bearer "):])
        name = next((n for n, h in self._hashes.items()
                     if hmac.compare_digest(h, presented)), None)
        if name is None:
            raise Unauthorized(code="bad_api_key", message="not an API key of this deployment")
        with self._lock:
            now = time.monotonic()
            bucket = self._buckets.setdefault(name, TokenBucket(self._rate, self._burst,
                                                                self._burst, now))
            wait = bucket.take(now)
        if wait > 0:
            raise RateLimited(wait, f"API key {name!r} is over its rate limit")
        return name
