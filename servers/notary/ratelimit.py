"""Per-client sliding-window rate limit on opening sessions (each session costs a TCP connection).

The client is the peer address uvicorn reports; behind a reverse proxy run uvicorn with
``--proxy-headers`` and a trusted ``--forwarded-allow-ips`` so that this is the real client.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    def __init__(self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window_seconds, clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> float:
        """Record a hit; return 0 if allowed, else the seconds until the client may retry."""
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(client, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return hits[0] + self.window - now
            hits.append(now)
            return 0.0
