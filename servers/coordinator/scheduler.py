"""Batches waiting sessions into verification runs and runs queries on the parties.

One loop, one run at a time (the parties run one MPC program at a time). A run's
outcome counts only if all three parties report the same accepted and rejected
sets; otherwise nothing is accepted.

Liveness (docs/threat-model.md, "Availability"): before any MPC run the three
parties' health is checked (``liveness``). While one is down no run starts: a query
is answered ``party_unreachable`` at once, naming the party, and queued
registrations stay queued until it is back. A run that fails because a party
became unreachable is not the providers' fault: its sessions go back to the queue.
Only a run that fails with all three parties up counts as an attempt, and after
``verify_attempts`` of those its sessions are rejected (a run that cannot succeed
must not hold the queue forever). Registrations never wait on this queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from typing import Any

from mpc_programs.statistics.query import Query, canonical_key, parse_query
from servers.coordinator.config import CoordinatorConfig
from servers.coordinator.liveness import Liveness, PartiesUnreachable, PartyDown
from servers.coordinator.parties import PartyCallError, Parties
from servers.coordinator.state import CoordinatorState

log = logging.getLogger("mpcstats.coordinator")

RETRYABLE = {"mpc_failed", "mpc_aborted", "mpc_deviation", "mpc_timeout", "party_unreachable", "party_timeout",
             "busy"}
#: A party no longer holds the session's key share (it restarted, or the session expired there):
#: the session can never be verified; the provider must share again.
LOST = {"session_lost", "shares_missing"}
QUERY_CACHE_SIZE = 64


class QueryFailed(Exception):
    def __init__(self, code: str, message: str, status: int = 503) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _deviation_reports(exc: PartyCallError) -> list[dict[str, Any]]:
    """The parties' reports of a run a check of active security aborted (empty if none)."""
    if not any(e.code == "mpc_deviation" for e in exc.errors):
        return []
    return [{"party": e.party, "code": e.code, "message": e.message} for e in exc.errors]


def _said(exc: PartyCallError) -> str:
    """Every party's failure of one call, for a log line or an error message."""
    return "; ".join(str(e) for e in exc.errors)


class Scheduler:
    def __init__(self, config: CoordinatorConfig, state: CoordinatorState, parties: Parties) -> None:
        self.config = config
        self.state = state
        self.parties = parties
        self.liveness = Liveness(config.parties, config.health_timeout_seconds)
        self.deadline = config.mpc_deadline()
        self.mpc_lock = asyncio.Lock()
        self.wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._dirty = False
        self._last_query = 0.0
        #: when the first and the last input the published release does not cover yet were
        #: counted (None: the release covers every counted input)
        self._first_new: float | None = None
        self._last_new: float | None = None
        #: a release the parties' policy refused (e.g. too few new providers): not before this
        self._release_not_before = 0.0
        #: the outage last logged, so that a party that stays down is logged once, not per tick
        self._outage: str | None = None
        #: parties whose last health answer said they still run an MPC program
        self._busy: list[int] = []
        self.last_result: dict[str, Any] | None = None
        #: (query, input set) -> signed result; see ``run_query``
        self._results: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}

    def start(self) -> None:
        # sessions that were being verified when we stopped: ask again with the same
        # run id (the parties answer idempotently) — see ``_resume``
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.liveness.close()

    async def _loop(self) -> None:
        await self._resume()
        while True:
            try:
                self.state.expire()
                await self.retry_commits()
                await self.verify_waiting()
                await self._auto_query()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the scheduler alive; the error is in the log
                log.exception("scheduler iteration failed")
            try:
                await asyncio.wait_for(self.wakeup.wait(), self.config.batch_interval_seconds)
            except TimeoutError:
                pass
            self.wakeup.clear()

    # -- liveness -------------------------------------------------------------------------------

    def _mpc_call_timeout(self, deadline: float) -> float:
        """The parties kill their MPC child at ``deadline``; their answer follows shortly."""
        return deadline + self.config.party_timeout_seconds

    def _note(self, outage: PartiesUnreachable | None, consequence: str = "") -> None:
        """Log an outage when it starts or changes, and its end."""
        text = None if outage is None else "; ".join(str(d) for d in outage.down)
        if text == self._outage:
            return
        if text is None:
            log.warning("all three parties answer again (after: %s)", self._outage)
        else:
            log.warning("%s — %s", text, consequence or "no MPC run starts until it is back")
        self._outage = text

    async def _outage_now(self, consequence: str) -> PartiesUnreachable | None:
        """The parties that are down now (health check), or None when all three are up."""
        down, self._busy = await self.liveness.check()
        outage = PartiesUnreachable(down) if down else None
        self._note(outage, consequence)
        return outage

    async def _ready_for_run(self, consequence: str, wait_busy: float) -> PartiesUnreachable | None:
        """Like ``_outage_now``, and wait up to ``wait_busy`` seconds for parties that still
        finish an older run; ``self._busy`` lists those still busy after that."""
        waited_until = time.monotonic() + wait_busy
        while True:
            outage = await self._outage_now(consequence)
            if outage is not None or not self._busy or time.monotonic() >= waited_until:
                return outage
            await asyncio.sleep(0.25)

    async def _outage_after(self, exc: PartyCallError, consequence: str) -> PartiesUnreachable | None:
        """Did ``exc`` (a failed run) come from a party outage? A party the call could not reach,
        or one that does not answer its health check now, makes it one; the other parties'
        failures (their MPC child aborted on the lost peer) are quoted as the detail."""
        down = {d.party: d for d in await self.liveness.down()}
        for e in exc.errors:
            if e.code == "party_unreachable" and e.party not in down:
                down[e.party] = PartyDown(e.party, self.parties.urls[e.party], e.message)
        if not down:
            self._note(None)
            return None
        others = [str(e) for e in exc.errors if e.party not in down]
        outage = PartiesUnreachable([down[p] for p in sorted(down)],
                                    "the run stopped; " + "; ".join(others) if others else "")
        self._note(outage, consequence)
        return outage

    # -- verification -----------------------------------------------------------------------------

    async def _resume(self) -> None:
        stuck = self.state.with_status("verifying")
        runs: dict[str, list[dict[str, Any]]] = {}
        for s in stuck:
            runs.setdefault(s.get("run_id") or "", []).append(s)
        for run_id, sessions in runs.items():
            if run_id:
                await self._verify(sessions, run_id)
            else:
                self.state.set_status([s["session_id"] for s in sessions], "queued")

    async def verify_waiting(self) -> None:
        batch = self.state.verify_batch(self.config.max_batch)
        if not batch:
            return
        if await self._outage_now(f"{len(batch)} queued registration(s) wait until it is back"):
            return
        if self._busy:  # an older run still ends at these parties: the next tick will do
            return
        await self._verify(batch, f"verify-{secrets.token_hex(8)}")

    async def _verify(self, batch: list[dict[str, Any]], run_id: str) -> None:
        """Phase one on all parties (each attempt is its own run id), then commit."""
        ids = [s["session_id"] for s in batch]
        base_id, failures = run_id.split(".")[0], 0
        timeout = self._mpc_call_timeout(self.deadline.verification(len(ids)))
        async with self.mpc_lock:
            while True:
                self.state.set_status(ids, "verifying", run_id=run_id)
                try:
                    answers = await self.parties.all(
                        "/v1/verify", {"run_id": run_id, "session_ids": ids}, timeout=timeout)
                    break
                except PartyCallError as exc:
                    if not await self._verify_failed(exc, run_id, ids, failures + 1):
                        return
                    failures += 1
                    await asyncio.sleep(0.5)
                    run_id = f"{base_id}.{failures + 1}"
            first = answers[0]
            if any((a["accepted"], a["rejected"]) != (first["accepted"], first["rejected"])
                   for a in answers[1:]):
                log.error("parties disagree on verification run %s", run_id)
                await self._abort(run_id, drop_sessions=True)
                self.state.set_status(ids, "rejected", "the computation parties disagreed")
                return
            accepted = [s for s in batch if s["session_id"] in set(first["accepted"])]
            for sid, reason in first["rejected"].items():
                self.state.set_status([sid], "rejected", reason)
            self.state.set_status([s["session_id"] for s in accepted], "committing", run_id=run_id)
            log.info("verification run %s: %d accepted, %d rejected", run_id, len(accepted),
                     len(first["rejected"]))
            await self._commit(run_id, accepted)

    def _note_deviation(self, exc: PartyCallError, run_id: str) -> None:
        """Record (and log loudly) a run that a check of active security aborted."""
        reports = _deviation_reports(exc)
        if reports:
            log.error("run %s: a computation party deviated from the protocol and the run was "
                      "aborted (%s)", run_id, _said(exc))
            self.state.record_deviation(run_id, reports)

    async def _verify_failed(self, exc: PartyCallError, run_id: str, ids: list[str],
                             attempt: int) -> bool:
        """Settle a failed verification attempt; True: try again now."""
        self._note_deviation(exc, run_id)
        if any(e.code in LOST for e in exc.errors):
            log.warning("verification run %s: a party lost the sessions: %s", run_id, _said(exc))
            await self._abort(run_id, drop_sessions=True)
            self.state.set_status(ids, "rejected",
                                  "a computation party lost this session's key share (it "
                                  "restarted or the session expired there); nothing was counted: "
                                  "please contribute again")
            return False
        outage = await self._outage_after(exc, f"{len(ids)} registration(s) go back to the queue")
        if outage is not None:
            log.warning("verification run %s stopped by a party outage (%s); its %d registration(s) "
                        "are queued again, not rejected", run_id, outage.message, len(ids))
            await self._abort(run_id, drop_sessions=False)
            self.state.set_status(ids, "queued")
            return False
        final = exc.code not in RETRYABLE or attempt >= self.config.verify_attempts
        log.warning("verification run %s failed with every party up (attempt %d of %d): %s",
                    run_id, attempt, self.config.verify_attempts, _said(exc))
        await self._abort(run_id, drop_sessions=final)
        if final:
            self.state.set_status(ids, "rejected", f"verification could not run ({exc.code}); "
                                                   "nothing was counted: please contribute again")
        return not final

    async def _commit(self, run_id: str, sessions: list[dict[str, Any]]) -> bool:
        """Second phase: every party moves the run's staged inputs into its store."""
        try:
            await self.parties.all("/v1/commit", {"run_id": run_id})
        except PartyCallError as exc:
            log.warning("commit of run %s failed, will retry: %s", run_id, _said(exc))
            return False
        self.state.accept(sessions, run_id)
        if sessions:
            now = time.time()
            self._dirty = True
            self._first_new = self._first_new or now
            self._last_new = now
            self.wakeup.set()
        return True

    async def _abort(self, run_id: str, drop_sessions: bool) -> None:
        try:
            await self.parties.all("/v1/abort", {"run_id": run_id,
                                                 "drop_sessions": drop_sessions})
        except PartyCallError as exc:  # staged rows that are never committed are harmless
            log.warning("abort of run %s incomplete: %s", run_id, _said(exc))

    async def retry_commits(self) -> None:
        pending = self.state.with_status("committing")
        if not pending or await self._outage_now("accepted runs are committed when it is back"):
            return
        runs: dict[str, list[dict[str, Any]]] = {}
        for s in pending:
            runs.setdefault(s["run_id"], []).append(s)
        for run_id, sessions in runs.items():
            async with self.mpc_lock:
                await self._commit(run_id, sessions)

    # -- queries -----------------------------------------------------------------------------------

    def release_key(self) -> str:
        from servers.party.policy import DEFAULT_RELEASE
        return canonical_key(parse_query(self.config.release_query or DEFAULT_RELEASE))

    def next_release_due(self) -> float | None:
        """When the release is recomputed next (Unix time), or None: nothing new to cover.

        Event-driven: ``release_debounce_seconds`` after the last newly counted input, but no
        later than ``release_max_delay_seconds`` after the first; or on the optional timer
        (``auto_query_seconds``). A release the parties' policy refused waits one debounce.
        """
        if not self._dirty:
            return None
        candidates = []
        debounce, cap = self.config.release_debounce_seconds, self.config.release_max_delay_seconds
        if debounce > 0 and self._last_new is not None and self._first_new is not None:
            candidates.append(min(self._last_new + debounce, self._first_new + max(cap, debounce)))
        if self.config.auto_query_seconds > 0:
            candidates.append(self._last_query + self.config.auto_query_seconds)
        if not candidates:
            return None
        return max(min(candidates), self._release_not_before)

    def release_status(self) -> dict[str, Any]:
        """Public: what the published release covers and when it is recomputed."""
        counted = len(self.state.counted_ids())
        covered = self.last_result.get("n") if self.last_result else None
        return {"release_query": json.loads(self.release_key()),
                "next_release_due": self.next_release_due(),
                "release_debounce_seconds": self.config.release_debounce_seconds,
                "counted_inputs": counted, "release_covers": covered,
                "last_release_at": self.last_result.get("computed_at") if self.last_result else None}

    async def _auto_query(self) -> None:
        due = self.next_release_due()
        if due is None or time.time() < due or len(self.state.counted_ids()) < self.config.min_inputs:
            return
        try:  # a release over every counted input marks the pool clean (``_compute``)
            from servers.party.policy import DEFAULT_RELEASE
            await self.run_query(parse_query(self.config.release_query or DEFAULT_RELEASE),
                                 release=True)
        except QueryFailed as exc:
            log.warning("scheduled release failed: %s", exc.message)
            # the parties' policy (too few new providers), an outage: not every tick
            self._release_not_before = time.time() + max(self.config.release_debounce_seconds,
                                                          self.config.batch_interval_seconds)

    async def _require_parties(self) -> None:
        outage = await self._ready_for_run("queries are refused until it is back",
                                           self.config.party_timeout_seconds)
        if outage is not None:
            raise QueryFailed("party_unreachable", outage.message, 503)
        if self._busy:
            raise QueryFailed("busy", "; ".join(
                f"party {i} ({self.parties.urls[i]}) is still finishing an earlier MPC run"
                for i in self._busy) + "; try again shortly", 503)

    async def run_query(self, query: Query, release: bool | None = None) -> dict[str, Any]:
        """Run ``query`` over every counted input — or answer from the cache.

        The same query over the same input set is answered with the result already
        signed: it costs no MPC (a public endpoint must not let anyone keep three
        parties busy), and a differentially private query cannot be repeated to
        average its noise away. No run starts while a party is down.
        """
        if release is None:  # a consumer asked for exactly the release: it is the release
            release = canonical_key(query) == self.release_key()
        input_ids = self.state.counted_ids()
        if len(input_ids) < self.config.min_inputs:
            raise QueryFailed("not_enough_inputs",
                              f"not enough providers yet ({len(input_ids)} of "
                              f"{self.config.min_inputs})", 409)
        key = (canonical_key(query), tuple(input_ids))  # "1" and "1.0" are one ε
        cached = self._results.get(key)
        if cached is not None:
            return cached
        if self.mpc_lock.locked():  # another run holds the queue: do not wait for it in vain
            outage = await self._outage_now("queries are refused until it is back")
            if outage is not None:
                raise QueryFailed("party_unreachable", outage.message, 503)
        async with self.mpc_lock:
            cached = self._results.get(key)
            if cached is not None:
                return cached
            await self._require_parties()
            result = await self._compute(query, input_ids, release)
            self._results[key] = result
            while len(self._results) > QUERY_CACHE_SIZE:
                self._results.pop(next(iter(self._results)))
            return result

    async def budget(self) -> dict[str, Any]:
        """Every party's privacy budget (``GET /v1/budget`` of each) and the least remaining.

        Each party enforces its own; a DP query runs only if all three still have its ε.
        """
        from fractions import Fraction

        async def one(url: str) -> dict[str, Any] | str:
            try:
                response = await self.parties._client.get(url + "/v1/budget", timeout=5)
                response.raise_for_status()
                data = response.json()
                return data if isinstance(data, dict) else "not a JSON object"
            except Exception as exc:  # noqa: BLE001 - reported per party
                return f"{type(exc).__name__}: {exc}"

        answers = await asyncio.gather(*(one(u) for u in self.parties.urls))
        parties = [a if isinstance(a, dict) else {"party": i, "error": a}
                   for i, a in enumerate(answers)]
        remaining = [Fraction(p["epsilon_remaining"]) for p in parties if "epsilon_remaining" in p]
        out: dict[str, Any] = {"parties": parties}
        if remaining:
            low = min(remaining)
            out["epsilon_remaining"] = next(p["epsilon_remaining"] for p in parties
                                            if Fraction(p.get("epsilon_remaining", "-1")) == low)
        return out

    async def _compute(self, query: Query, input_ids: list[str], release: bool) -> dict[str, Any]:
        run_id = f"query-{secrets.token_hex(8)}"
        body = {"run_id": run_id, "query": query.to_json(), "input_ids": input_ids,
                "min_inputs": self.config.min_inputs, "computed_at": int(time.time()),
                "release": release}
        timeout = self._mpc_call_timeout(self.deadline.query(len(input_ids)))
        try:
            documents = await self.parties.all("/v1/query", body, timeout=timeout,
                                               fail_fast=True)
        except PartyCallError as exc:
            log.warning("query run %s failed: %s", run_id, _said(exc))
            self._note_deviation(exc, run_id)
            if exc.code not in LOST and exc.status != 409:
                outage = await self._outage_after(exc, "queries are refused until it is back")
                if outage is not None:
                    raise QueryFailed("party_unreachable", outage.message, 503) from None
            raise QueryFailed(exc.code, _said(exc), 409 if exc.status == 409 else 503) from None
        self._last_query = time.time()
        results = [d["result"] for d in documents]
        if any(r != results[0] for r in results):
            raise QueryFailed("parties_disagree", "the computation parties disagree")
        signed = {**results[0],
                  "signatures": [{"party": d["party"], "key_id": d["key_id"],
                                  "signature": d["signature"]} for d in documents]}
        if release:  # custom queries never replace the published release
            self.last_result = signed
            if len(input_ids) >= len(self.state.counted_ids()):
                self._dirty = False
                self._first_new = self._last_new = None
        return signed
