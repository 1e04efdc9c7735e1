"""Fetch the three parties' signed results and accept one only when all three vouch for the same thing.

Why all three: each party signs what *it* opened. One party that is broken, out of date, or lying cannot
get a number published — it can only stop publication (which is logged and counted, and visible in
``/health``). A document counts only if it is signed by the key configured for the party it came from.

Agreement is not enough to be served: an old triple is still validly signed. The cache serves a result
only if its run is newer than the served one (``watermark.py``); an older or narrower triple is refused,
reported as ``rollback`` (logged, counted, in ``/health``) and the newer result stays served.

The poller runs in its own thread with a blocking HTTP client: a slow party delays the next poll, never a
request handler.
"""

from __future__ import annotations

import json
from fractions import Fraction
import logging
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from servers.common.signing import SignatureError, canonical_json, key_id, verify_result
from servers.results.cache import ResultCache
from servers.results.config import PartyEndpoint
from servers.results.watermark import DEFAULT_FUTURE_TOLERANCE_SECONDS, MarkError, RunMark, Verdict

log = logging.getLogger("mpcstats.results.poller")

REQUIRED_RESULT_FIELDS = ("statistics", "n", "computed_at", "run_id")


class Outcome(str, Enum):
    ACCEPTED = "accepted"            # all three agree; a new result was cached
    UNCHANGED = "unchanged"          # all three agree on a result we already have
    NO_RESULT = "no_result"          # at least one party has nothing published yet (404)
    UNREACHABLE = "unreachable"      # network error, timeout, non-JSON or unexpected status
    BAD_SIGNATURE = "bad_signature"  # a document failed signature/key checks
    MALFORMED = "malformed"          # signed, but the result lacks required fields
    DISAGREEMENT = "disagreement"    # valid signatures over different results
    ROLLBACK = "rollback"            # all three agree on a run not newer than the served one: refused


@dataclass
class PollReport:
    outcome: Outcome
    detail: str = ""
    parties: dict[int, str] = field(default_factory=dict)  # pid -> what happened with that party


class _PartyFailure(Exception):
    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome, self.detail = outcome, detail


class Poller:
    def __init__(self, parties: list[PartyEndpoint], cache: ResultCache, *, timeout: float = 5.0,
                 results_path: str = "/v1/results/latest", max_bytes: int = 1 << 20,
                 ca_file: str | None = None,
                 future_tolerance: float = DEFAULT_FUTURE_TOLERANCE_SECONDS,
                 coordinator_url: str = "",
                 session_factory: Callable[[], requests.Session] = requests.Session) -> None:
        self.parties = sorted(parties, key=lambda p: p.pid)
        self.keys: dict[int, Ed25519PublicKey] = {p.pid: p.key() for p in self.parties}
        self.cache = cache
        self.timeout = timeout
        self.results_path = results_path
        self.max_bytes = max_bytes
        self.verify: str | bool = ca_file or True
        self.future_tolerance = future_tolerance
        self._session_factory = session_factory
        self._lock = threading.Lock()
        self.counters: Counter[str] = Counter()
        self.last_report: PollReport | None = None
        #: The privacy budget the parties report (``GET /v1/budget``; unsigned, informational):
        #: the least remaining ε of the three, or None before any party answered.
        self.budget: dict[str, Any] | None = None
        #: The coordinator's release schedule (``GET /v1/release``; informational), or None.
        self.coordinator_url = coordinator_url.rstrip("/")
        self.release: dict[str, Any] | None = None

    def poll_once(self) -> PollReport:
        """One round: fetch all three in parallel, verify, compare, cache if new. Never raises for a party."""
        with ThreadPoolExecutor(max_workers=len(self.parties)) as pool:
            outcomes = list(pool.map(self._fetch_and_verify, self.parties))
        report = self._decide(outcomes)
        with ThreadPoolExecutor(max_workers=len(self.parties)) as pool:
            budgets = [b for b in pool.map(self._fetch_budget, self.parties) if b is not None]
        release = self._fetch_release() if self.coordinator_url else None
        with self._lock:
            self.release = release
            if budgets:
                least = min(budgets, key=lambda b: Fraction(b["epsilon_remaining"]))
                self.budget = {"epsilon_remaining": least["epsilon_remaining"],
                               "epsilon_budget": least.get("epsilon_budget"),
                               "parties": len(budgets)}
            self.counters["polls"] += 1
            self.counters[report.outcome.value] += 1
            self.last_report = report
        level = logging.INFO if report.outcome in (Outcome.ACCEPTED, Outcome.UNCHANGED,
                                                   Outcome.NO_RESULT) else logging.WARNING
        log.log(level, "poll %s", report.outcome.value,
                extra={"outcome": report.outcome.value, "detail": report.detail, "parties": report.parties})
        return report

    def stats(self) -> dict[str, Any]:
        with self._lock:
            last = self.last_report
            return {"counters": dict(self.counters),
                    "last_outcome": last.outcome.value if last else None,
                    "last_detail": last.detail if last else None}

    # --- one party ---------------------------------------------------------------------------------

    def _fetch_and_verify(self, party: PartyEndpoint) -> dict[str, Any] | _PartyFailure:
        url = party.url.rstrip("/") + self.results_path
        try:
            with self._session_factory() as session:
                response = session.get(url, timeout=self.timeout, stream=True, verify=self.verify,
                                       headers={"Accept": "application/json"})
                body = self._read_capped(response)
        except requests.RequestException as exc:
            return _PartyFailure(Outcome.UNREACHABLE, f"{type(exc).__name__}")
        except _PartyFailure as failure:
            return failure
        if response.status_code == 404:
            return _PartyFailure(Outcome.NO_RESULT, "no result published")
        if response.status_code != 200:
            return _PartyFailure(Outcome.UNREACHABLE, f"HTTP {response.status_code}")
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _PartyFailure(Outcome.UNREACHABLE, "response is not JSON")
        try:
            result = verify_result(document, self.keys, expected_party=party.pid)
        except SignatureError as exc:
            return _PartyFailure(Outcome.BAD_SIGNATURE, exc.reason)
        missing = [f for f in REQUIRED_RESULT_FIELDS if f not in result]
        if missing:
            return _PartyFailure(Outcome.MALFORMED, f"result lacks {', '.join(missing)}")
        try:
            RunMark.of(result)  # a result that cannot be ordered against the served one is never served
        except MarkError as exc:
            return _PartyFailure(Outcome.MALFORMED, str(exc))
        return result

    def _get_json(self, url: str, verify: str | bool = True) -> Any:
        """GET ``url`` as JSON (size-capped); None if it does not answer 200 with JSON."""
        try:
            with self._session_factory() as session:
                response = session.get(url, timeout=self.timeout, stream=True, verify=verify,
                                       headers={"Accept": "application/json"})
                body = self._read_capped(response)
            return json.loads(body) if response.status_code == 200 else None
        except (requests.RequestException, _PartyFailure, ValueError):
            return None

    def _fetch_budget(self, party: PartyEndpoint) -> dict[str, Any] | None:
        """One party's ``GET /v1/budget`` (remaining and total ε), or None if it does not answer."""
        data = self._get_json(party.url.rstrip("/") + "/v1/budget", self.verify)
        try:
            remaining, total = data["epsilon_remaining"], data.get("epsilon_budget")
            Fraction(remaining)  # a number, or this answer is ignored
            return {"epsilon_remaining": str(remaining), "epsilon_budget": str(total)}
        except (ValueError, KeyError, TypeError, AttributeError, ZeroDivisionError):
            return None

    def _fetch_release(self) -> dict[str, Any] | None:
        """The coordinator's ``GET /v1/release``: when the release is recomputed next."""
        data = self._get_json(self.coordinator_url + "/v1/release")
        try:
            due = data.get("next_release_due")
            return {"next_release_due": float(due) if due is not None else None,
                    "counted_inputs": int(data.get("counted_inputs", 0)),
                    "release_debounce_seconds": float(data.get("release_debounce_seconds", 0))}
        except (ValueError, TypeError, AttributeError):
            return None

    def _read_capped(self, response: requests.Response) -> bytes:
        chunks, size = [], 0
        for chunk in response.iter_content(65536):
            size += len(chunk)
            if size > self.max_bytes:
                response.close()
                raise _PartyFailure(Outcome.UNREACHABLE, f"response larger than {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    # --- all three ---------------------------------------------------------------------------------

    def _decide(self, outcomes: list[dict[str, Any] | _PartyFailure]) -> PollReport:
        per_party: dict[int, str] = {}
        failures: list[_PartyFailure] = []
        results: list[dict[str, Any]] = []
        for party, outcome in zip(self.parties, outcomes):
            if isinstance(outcome, _PartyFailure):
                per_party[party.pid] = f"{outcome.outcome.value}: {outcome.detail}"
                failures.append(outcome)
            else:
                per_party[party.pid] = "ok"
                results.append(outcome)
        if failures:
            # The most alarming failure names the round: a forged document matters more than a timeout.
            order = [Outcome.BAD_SIGNATURE, Outcome.MALFORMED, Outcome.UNREACHABLE, Outcome.NO_RESULT]
            worst = min(failures, key=lambda f: order.index(f.outcome))
            return PollReport(worst.outcome, worst.detail, per_party)
        if len({canonical_json(r) for r in results}) != 1:
            run_ids = sorted({str(r.get("run_id")) for r in results})
            return PollReport(Outcome.DISAGREEMENT, f"parties signed different results (run ids {run_ids})",
                              per_party)
        key_ids = {pid: key_id(key) for pid, key in self.keys.items()}
        judgement = self.cache.add(results[0], key_ids, future_tolerance=self.future_tolerance)
        run_id = str(results[0].get("run_id"))
        if judgement.verdict is Verdict.NEWER:
            return PollReport(Outcome.ACCEPTED, run_id, per_party)
        if judgement.verdict is Verdict.SAME:
            return PollReport(Outcome.UNCHANGED, run_id, per_party)
        return PollReport(Outcome.ROLLBACK, f"refused: {judgement.reason}", per_party)


class PollerThread:
    """Calls :meth:`Poller.poll_once` every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, poller: Poller, interval: float) -> None:
        self.poller = poller
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="results-poller")

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poller.poll_once()
            except Exception:  # a bug in one round must not end polling for good
                log.exception("poll round failed")
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
