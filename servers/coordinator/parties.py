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
        #: every party's failure of the same call (``Parties.all``), this one first
        self.errors: list[PartyCallError] = [self]


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

    async def _call(self, party: int, path: str, body: dict[str, Any],
                    timeout: float | None = None) -> dict[str, Any]:
        extra = {} if timeout is None else {"timeout": timeout}
        try:
            response = await self._client.post(self.urls[party] + path, json=body,
                                               headers=self._auth[party], **extra)
        except httpx.TimeoutException as exc:
            code = "party_unreachable" if isinstance(exc, httpx.ConnectTimeout) else "party_timeout"
            raise PartyCallError(party, None, code,
                                 f"no answer in time ({type(exc).__name__})") from None
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

    async def all(self, path: str, body: dict[str, Any], timeout: float | None = None,
                  fail_fast: bool = False) -> list[dict[str, Any]]:
        """POST to every party concurrently (``timeout``: this call's, else the client's).

        One failure is raised, carrying every party's in ``errors``: an unreachable party
        first, since the others' failures (an aborted MPC run) follow from it. ``fail_fast``:
        stop waiting for the others as soon as one party is unreachable — an MPC run cannot
        finish without it, and its caller should hear so now, not at the others' deadline.
        """
        tasks = [asyncio.create_task(self._call(i, path, body, timeout))
                 for i in range(len(self.urls))]
        pending: set[asyncio.Task[dict[str, Any]]] = set(tasks)
        try:
            while pending:
                _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if fail_fast and any(t.done() and not t.cancelled()
                                     and isinstance(t.exception(), PartyCallError)
                                     and t.exception().code == "party_unreachable"  # type: ignore[union-attr]
                                     for t in tasks):
                    break
        finally:
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        errors = [t.exception() for t in tasks if t.done() and not t.cancelled()
                  and t.exception() is not None]
        if not errors:
            return [t.result() for t in tasks]
        calls = [e for e in errors if isinstance(e, PartyCallError)]
        if len(calls) < len(errors):
            raise next(e for e in errors if not isinstance(e, PartyCallError))  # type: ignore[misc]
        calls.sort(key=lambda e: e.code not in ("party_unreachable", "party_timeout"))
        calls[0].errors = calls
        raise calls[0]
