"""Reading the pool's statistics as a consumer: from the results API, or from the three parties directly.

Two levels of trust:

* :func:`fetch_latest` asks a results API for its cached ``/stats``. You trust that API to have checked the
  parties' signatures (it does; see ``poller.py``).
* :func:`fetch_verified` trusts nothing in between: it fetches each party's signed result itself, checks
  every signature against the key configured for *that* party (:func:`servers.common.signing.verify_result`)
  and that all three signed the same result. Any failure is a :class:`VerificationError` — never a number.

Both return the same shape as the results API's ``/stats`` (``statistics``, ``n``, ``computed_at``,
``run_id``, ``parties`` with key ids, ...), so callers print either the same way. Used by ``mpcstats query``.

:func:`verify_query_answer` applies the same checks to the coordinator's answer to ``POST /v1/queries``
(the result the three parties signed, with their three signatures).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from servers.common.signing import (
    SignatureError,
    canonical_json,
    load_public_key,
    public_key_hex,
    verify_result,
)

RESULTS_PATH = "/v1/results/latest"
MAX_BYTES = 1 << 20
REQUIRED_RESULT_FIELDS = ("statistics", "n", "computed_at", "run_id")


class ConsumerError(Exception):
    """Reading the statistics failed; ``reason`` is machine-readable, ``message`` is for humans."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class NoResultYet(ConsumerError):
    """Nothing published yet (or not by every party): not enough providers so far."""

    def __init__(self, message: str = "no statistics have been published yet") -> None:
        super().__init__("no_result_yet", message)


class FetchError(ConsumerError):
    """A server could not be reached or answered something that is not the expected JSON."""


class VerificationError(ConsumerError):
    """A party's document failed its signature check, or the parties signed different results.

    Reasons: those of :class:`~servers.common.signing.SignatureError` (``bad_signature``, ``unknown_key``,
    ``wrong_party``, ``malformed``, ``bad_key``), plus ``incomplete`` and ``disagreement``.
    """


@dataclass(frozen=True)
class PartySource:
    pid: int
    url: str
    public_key: str  # 64 hex digits (raw Ed25519) or PEM


@dataclass(frozen=True)
class Deployment:
    results_url: str | None
    parties: tuple[PartySource, ...]
    ca_file: str | None = None
    coordinator_url: str | None = None


def load_deployment(path: str | Path) -> Deployment:
    """Read a deployment file: ``mpcstats up``'s ``deployment.json`` (its ``consumer`` part) or just that part::

        {"results_url": "https://...", "parties": [{"pid": 0, "url": "https://...", "public_key": "<hex>"}, ...],
         "ca_file": "optional CA bundle for the parties' HTTPS"}
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConsumerError("bad_deployment", f"cannot read deployment file {path}: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("consumer"), dict):
        data = data["consumer"]
    if not isinstance(data, dict) or not isinstance(data.get("parties"), list):
        raise ConsumerError("bad_deployment", f"{path}: parties is missing: a list of the three parties' "
                                              "pid, url and public_key (docs/deployment.md, 'Files you "
                                              "hand out')")
    parties = []
    for i, p in enumerate(data["parties"]):
        if not isinstance(p, dict):
            raise ConsumerError("bad_deployment", f"{path}: parties[{i}] must be an object with pid, url "
                                                  "and public_key")
        for name in ("url", "public_key"):
            if not isinstance(p.get(name), str):
                raise ConsumerError("bad_deployment", f"{path}: parties[{i}].{name} is missing (a string; "
                                                      "see docs/deployment.md, 'Files you hand out')")
        pid = p.get("pid", i)
        if isinstance(pid, bool) or not isinstance(pid, int):
            raise ConsumerError("bad_deployment", f"{path}: party {i} 'pid' must be an integer")
        parties.append(PartySource(pid, p["url"], p["public_key"]))
    results_url = data.get("results_url") if isinstance(data.get("results_url"), str) else None
    ca_file = data.get("ca_file") if isinstance(data.get("ca_file"), str) else None
    coordinator_url = data.get("coordinator_url") if isinstance(data.get("coordinator_url"), str) else None
    return Deployment(results_url, tuple(parties), ca_file, coordinator_url)


def fetch_latest(results_url: str, *, timeout: float = 10.0, verify: str | bool = True) -> dict[str, Any]:
    """The results API's latest agreed result (its ``GET /stats``)."""
    status, body = _get_json(results_url.rstrip("/") + "/stats", timeout, verify)
    if status == 404 and _error_code(body) == "no_result_yet":
        raise NoResultYet()
    if status != 200 or not isinstance(body, dict) or not isinstance(body.get("statistics"), dict):
        raise FetchError("bad_response", f"{results_url}/stats answered HTTP {status} "
                         f"({_error_code(body) or 'unexpected body'})")
    return body


def fetch_verified(parties: Sequence[PartySource], *, timeout: float = 10.0, verify: str | bool = True,
                   results_path: str = RESULTS_PATH) -> dict[str, Any]:
    """Each party's signed latest result, checked and compared; the agreed result in ``/stats`` shape."""
    keys = _party_keys(parties)
    ordered = sorted(parties, key=lambda p: p.pid)
    with ThreadPoolExecutor(max_workers=3) as pool:
        fetched = list(pool.map(lambda p: _get_json(p.url.rstrip("/") + results_path, timeout, verify),
                                ordered))
    documents = []
    for party, (status, body) in zip(ordered, fetched):
        if status == 404:
            raise NoResultYet(f"party {party.pid} has published no statistics yet")
        if status != 200:
            raise FetchError("bad_response", f"party {party.pid} ({party.url}) answered HTTP {status}")
        documents.append(body)
    return _agreed(ordered, documents, keys)


def verify_query_answer(answer: Any, parties: Sequence[PartySource]) -> dict[str, Any]:
    """The coordinator's answer to a query — ``{...result, "signatures": [{"party", "key_id", "signature"},
    ...]}`` — checked like :func:`fetch_verified` checks the parties' documents: each of the three parties
    must have signed this very result with its own key. Returns it in ``/stats`` shape (``verified``)."""
    keys = _party_keys(parties)
    ordered = sorted(parties, key=lambda p: p.pid)
    if not isinstance(answer, Mapping) or not isinstance(answer.get("signatures"), list):
        raise VerificationError("incomplete", "the coordinator's answer carries no signatures")
    result = {k: v for k, v in answer.items() if k != "signatures"}
    by_party: dict[int, Mapping[str, Any]] = {}
    for entry in answer["signatures"]:
        pid = entry.get("party") if isinstance(entry, Mapping) else None
        if isinstance(pid, bool) or not isinstance(pid, int) or pid in by_party:
            raise VerificationError("malformed", "the coordinator's answer lists a malformed or repeated "
                                    "signature")
        by_party[pid] = entry
    missing = [str(p.pid) for p in ordered if p.pid not in by_party]
    if missing:
        raise VerificationError("incomplete", f"party {', '.join(missing)} did not sign the answer")
    documents = [{"result": result, "party": p.pid, "key_id": by_party[p.pid].get("key_id"),
                  "signature": by_party[p.pid].get("signature")} for p in ordered]
    return _agreed(ordered, documents, keys)


def _party_keys(parties: Sequence[PartySource]) -> dict[int, Any]:
    if sorted(p.pid for p in parties) != [0, 1, 2]:
        raise ConsumerError("bad_deployment", "need exactly three parties with ids 0, 1 and 2")
    try:
        keys = {p.pid: load_public_key(p.public_key) for p in parties}
    except SignatureError as exc:
        raise ConsumerError("bad_key", f"a party public key cannot be used: {exc.message}") from None
    if len({public_key_hex(k) for k in keys.values()}) != 3:
        raise ConsumerError("bad_deployment", "each party needs its own public key")
    return keys


def _agreed(ordered: Sequence[PartySource], documents: Sequence[Any], keys: Mapping[int, Any]) -> dict[str, Any]:
    """Every party's signed document checked against its own key, and all three the same result."""
    results = []
    for party, document in zip(ordered, documents):
        try:
            result = verify_result(document, keys, expected_party=party.pid)
        except SignatureError as exc:
            raise VerificationError(exc.reason, f"party {party.pid}'s result is not trustworthy: "
                                    f"{exc.message}") from None
        missing = [f for f in REQUIRED_RESULT_FIELDS if f not in result]
        if missing:
            raise VerificationError("incomplete", f"party {party.pid}'s signed result lacks "
                                    f"{', '.join(missing)}")
        results.append(result)
    if len({canonical_json(r) for r in results}) != 1:
        differing = [p.pid for p, r in zip(ordered, results) if canonical_json(r) != canonical_json(results[0])]
        raise VerificationError("disagreement", "the parties signed different results (party "
                                f"{', '.join(map(str, differing))} differs from party {ordered[0].pid}); "
                                "refusing to show any of them")
    agreed = results[0]
    return {"statistics": agreed["statistics"], "n": agreed["n"], "computed_at": agreed["computed_at"],
            "run_id": agreed["run_id"], "query": agreed.get("query"), "input_digest": agreed.get("input_digest"),
            "parties": [{"party": d["party"], "key_id": d["key_id"]} for d in documents],
            "verified": True}


def _get_json(url: str, timeout: float, verify: str | bool) -> tuple[int, Any]:
    return request_json("GET", url, timeout=timeout, verify=verify)


def request_json(method: str, url: str, *, timeout: float, verify: str | bool,
                 body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """(HTTP status, decoded JSON body), reading at most MAX_BYTES: a hostile server cannot make
    a consumer buffer without end. Any failure is a :class:`FetchError`."""
    try:
        with requests.request(method, url, json=body, timeout=timeout, verify=verify, stream=True,
                              headers={"Accept": "application/json", **(headers or {})}) as response:
            chunks, size = [], 0
            for chunk in response.iter_content(65536):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise FetchError("too_large", f"{url} answered more than {MAX_BYTES} bytes")
                chunks.append(chunk)
            status = response.status_code
    except requests.RequestException as exc:
        raise FetchError("unreachable", f"cannot reach {url}: {type(exc).__name__}") from None
    try:
        return status, json.loads(b"".join(chunks).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FetchError("bad_response", f"{url} answered HTTP {status} with a body that is not JSON") from None


def _error_code(body: Any) -> str | None:
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        code = body["error"].get("code")
        return code if isinstance(code, str) else None
    return None
