"""A results API fed by three stand-in parties that sign a sample result: for screenshots, docs and tests.

The stand-ins replace ``servers/party`` with the one thing the results API reads from it: a signed result
document at ``GET /v1/results/latest``, signed with a real Ed25519 key. The sample statistics are computed
in the clear by :mod:`mpc_programs.statistics.plaintext` (the reference the MPC results are tested against) over
made-up balances, so they have exactly the shape and precision the real parties publish.
"""

from __future__ import annotations

import hashlib
import random
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mpc_programs.statistics import plaintext
from mpc_programs.shares.encoding import SCALE
from mpc_programs.statistics.query import Query
from servers.common.config import from_dict
from servers.common.serve import BackgroundServer, serve_in_thread
from servers.common.signing import generate_key, public_key_hex, sign_result
from servers.results.app import create_app
from servers.results.config import ResultsConfig
from servers.results.poller import Outcome

SAMPLE_COMPUTED_AT = 1_795_618_800  # 2026-11-25 15:00:00 UTC


class StandInParty:
    """Serves ``doc`` at ``GET /v1/results/latest``; ``doc=None`` answers 404 like a party with no result."""

    def __init__(self, **tls: Any) -> None:
        self.doc: dict[str, Any] | None = None
        self.hits = 0

        async def latest(request: Request) -> JSONResponse:
            self.hits += 1
            if self.doc is None:
                return JSONResponse({"error": {"code": "no_result", "message": "none"}}, status_code=404)
            return JSONResponse(self.doc)

        self.server = serve_in_thread(Starlette(routes=[Route("/v1/results/latest", latest)]), **tls)

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.stop()


def sample_balances(n: int, seed: int = 7) -> list[int]:
    """``n`` made-up ETH balances in 1e-8 units, log-normally spread from dust to whales."""
    rng = random.Random(seed)
    return [max(1, int(rng.lognormvariate(0.0, 2.2) * SCALE)) for _ in range(n)]


def sample_result(run_id: str = "query-sample", n: int = 240, seed: int = 7,
                  computed_at: int = SAMPLE_COMPUTED_AT, query: Query | None = None) -> dict[str, Any]:
    """A result document's ``result`` part, as a party would sign it, over :func:`sample_balances`."""
    query = query or Query()
    units = sample_balances(n, seed)
    return {"run_id": run_id, "query": query.to_json(), "n": n,
            "input_digest": hashlib.sha256(f"sample-{seed}-{n}".encode()).hexdigest(),
            "statistics": plaintext.statistics(query, units), "computed_at": computed_at}


class SampleDeployment:
    """Three stand-in parties and a results API (not polling by itself) over a temporary data dir."""

    def __init__(self, data_dir: str | Path | None = None, **config: Any) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="mpcstats-results-") if data_dir is None else None
        self.data_dir = Path(data_dir if data_dir is not None else self._tmp.name)  # type: ignore[union-attr]
        self.keys: list[Ed25519PrivateKey] = [generate_key() for _ in range(3)]
        self.parties = [StandInParty() for _ in range(3)]
        self.config = from_dict(ResultsConfig, {
            "data_dir": str(self.data_dir / "results-data"),
            "parties": [{"pid": i, "url": p.url, "public_key": public_key_hex(self.keys[i])}
                        for i, p in enumerate(self.parties)],
            "request_timeout": 2.0, **config}, "results")
        self.api: BackgroundServer = serve_in_thread(create_app(self.config, poll=False))

    @property
    def url(self) -> str:
        return self.api.url

    def publish(self, result: dict[str, Any]) -> Outcome:
        """All three parties sign ``result``; the results API polls once. Returns the poll's outcome."""
        for i, party in enumerate(self.parties):
            party.doc = sign_result(self.keys[i], result, i)
        return self.poll()

    def poll(self) -> Outcome:
        return self.api.app.state.poller.poll_once().outcome  # type: ignore[no-any-return]

    def close(self) -> None:
        self.api.stop()
        for party in self.parties:
            party.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
