"""Calls from the coordinator to the three parties, always all three, and the agreement check."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx


class PartyCallError(Exception):
    """A party refused or could not be reached; ``status``/``code`` from its JSON error."""

    def __init__(self, party: int, status: int | None, code: str, message: str) -> None:
        super().__init__(f"party {party}: {code}: {message}")
        self.party, self.status, self.code, self.message = party, status, code, message


class Parties:
    def __init__(self, urls: list[str], tokens: list[str], timeout: float) -> None:
        """``tokens[i]`` is sent to party i and to no other (a header per request, not per client):
        a party that saw another party's token could act at that party."""
        if len(tokens) != len(urls):
            raise ValueError("one token per party is needed")
        self.urls = [u.rstrip("/") for u in urls]
        self._auth = [{"Authorization": f"Bearer {token}"} for token in tokens]
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(self, party: int, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._client.post(self.urls[party] + path, json=body,
                                               headers=self._auth[party])
        except httpx.HTTPError as exc:
            raise PartyCallError(party, None, "party_unreachable", str(exc) or type(exc).__name__) from None
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code >= 400:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            raise PartyCallError(party, response.status_code, error.get("code", "http_error"),
                                 error.get("message", response.text[:200]))
        return data

    async def all(self, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        """POST to every party concurrently; the first failure (after all finish) is raised."""
        results = await asyncio.gather(*(self._call(i, path, body) for i in range(len(self.urls))),
                                       return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return results  # type: ignore[return-value]
