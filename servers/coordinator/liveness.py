"""Is every computation party up? Asked before each MPC run, and after a run that failed.

Why before: an MPC run needs all three parties. Starting one while a party is down
made the two others wait for their MPC deadline (minutes), held the coordinator's
one-run-at-a-time queue all that time, and ended in a vague ``mpc_failed``. A health
probe of the three (concurrent, a short timeout) answers in about a second and names
the party that is missing, and why. Why after: a run that failed because a party
died mid-run is the parties' outage, not the providers' fault, and is retried.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class PartyDown:
    party: int
    url: str
    cause: str

    def __str__(self) -> str:
        return f"party {self.party} ({self.url}) is unreachable: {self.cause}"


class PartiesUnreachable(Exception):
    """One or more parties did not answer their health check; the message names each."""

    def __init__(self, down: list[PartyDown], detail: str = "") -> None:
        self.down = down
        message = "; ".join(str(d) for d in down)
        super().__init__(f"{message} ({detail})" if detail else message)
        self.message = str(self)


def _cause(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Liveness:
    """Probes ``GET {url}/health`` of every party; a party must answer 200 as itself."""

    def __init__(self, urls: list[str], timeout: float) -> None:
        self.urls = [u.rstrip("/") for u in urls]
        self.timeout = timeout
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def close(self) -> None:
        await self._client.aclose()

    async def _probe(self, party: int) -> PartyDown | bool:
        """The party's trouble, or whether it is still busy with an MPC run."""
        url = self.urls[party]
        try:
            response = await self._client.get(url + "/health")
        except httpx.TimeoutException:
            return PartyDown(party, url, f"no answer to GET /health within {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return PartyDown(party, url, _cause(exc))
        if response.status_code != 200:
            return PartyDown(party, url, f"GET /health answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            return PartyDown(party, url, "GET /health did not answer JSON")
        if not isinstance(body, dict) or body.get("party") != party:
            # a URL list in the wrong order would make every run fail at MPyC's handshake
            return PartyDown(party, url, f"the server there answers as party {body.get('party')!r}"
                             if isinstance(body, dict) else "GET /health answered no object")
        return body.get("mpc_busy") is True

    async def check(self) -> tuple[list[PartyDown], list[int]]:
        """The parties that are down, and those still busy with an MPC run (an older run the
        coordinator gave up on: a new run would wait behind it at that party only, and the
        others' children could reach their deadline waiting for it)."""
        found = await asyncio.gather(*(self._probe(i) for i in range(len(self.urls))))
        return ([d for d in found if isinstance(d, PartyDown)],
                [i for i, d in enumerate(found) if d is True])

    async def down(self) -> list[PartyDown]:
        """Every party that is not up now (empty: all three are)."""
        return (await self.check())[0]

    async def require_all(self, detail: str = "") -> None:
        """Raise :class:`PartiesUnreachable` unless all three parties are up."""
        down = await self.down()
        if down:
            raise PartiesUnreachable(down, detail)
