"""Batches waiting sessions into verification runs and runs queries on the parties.

One loop, one run at a time (the parties run one MPC program at a time). A run's
outcome counts only if all three parties report the same accepted and rejected
sets; otherwise nothing is accepted and the run is retried, then rejected.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from typing import Any

from mpc_programs.query import Query, parse_query
from servers.coordinator.config import CoordinatorConfig
from servers.coordinator.parties import PartyCallError, Parties
from servers.coordinator.state import CoordinatorState

log = logging.getLogger("mpcstats.coordinator")

RETRYABLE = {"mpc_failed", "party_unreachable", "busy"}
QUERY_CACHE_SIZE = 64


class QueryFailed(Exception):
    def __init__(self, code: str, message: str, status: int = 503) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class Scheduler:
    def __init__(self, config: CoordinatorConfig, state: CoordinatorState, parties: Parties) -> None:
        self.config = config
        self.state = state
        self.parties = parties
        self.mpc_lock = asyncio.Lock()
        self.wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._dirty = False
        self._last_query = 0.0
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
        batch = self.state.with_status("queued", self.config.max_batch)
        if batch:
            await self._verify(batch, f"verify-{secrets.token_hex(8)}")

    async def _verify(self, batch: list[dict[str, Any]], run_id: str) -> None:
        """Phase one on all parties (each attempt is its own run id), then commit."""
        ids = [s["session_id"] for s in batch]
        attempts = 0
        async with self.mpc_lock:
            while True:
                attempts += 1
                if attempts > 1:
                    run_id = f"{run_id.split('.')[0]}.{attempts}"
                self.state.set_status(ids, "verifying", run_id=run_id)
                try:
                    answers = await self.parties.all("/v1/verify",
                                                     {"run_id": run_id, "session_ids": ids})
                    break
                except PartyCallError as exc:
                    log.warning("verification run %s failed (attempt %d): %s", run_id, attempts, exc)
                    final = exc.code not in RETRYABLE or attempts >= self.config.verify_attempts
                    await self._abort(run_id, drop_sessions=final)
                    if not final:
                        await asyncio.sleep(0.5)
                        continue
                    reason = ("a computation party lost this session; please contribute again"
                              if exc.code in ("session_lost", "shares_missing")
                              else f"verification could not run ({exc.code})")
                    self.state.set_status(ids, "rejected", reason)
                    return
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

    async def _commit(self, run_id: str, sessions: list[dict[str, Any]]) -> bool:
        """Second phase: every party moves the run's staged inputs into its store."""
        try:
            await self.parties.all("/v1/commit", {"run_id": run_id})
        except PartyCallError as exc:
            log.warning("commit of run %s failed, will retry: %s", run_id, exc)
            return False
        self.state.accept(sessions, run_id)
        if sessions:
            self._dirty = True
        return True

    async def _abort(self, run_id: str, drop_sessions: bool) -> None:
        try:
            await self.parties.all("/v1/abort", {"run_id": run_id,
                                                 "drop_sessions": drop_sessions})
        except PartyCallError as exc:  # staged rows that are never committed are harmless
            log.warning("abort of run %s incomplete: %s", run_id, exc)

    async def retry_commits(self) -> None:
        pending = self.state.with_status("committing")
        runs: dict[str, list[dict[str, Any]]] = {}
        for s in pending:
            runs.setdefault(s["run_id"], []).append(s)
        for run_id, sessions in runs.items():
            async with self.mpc_lock:
                await self._commit(run_id, sessions)

    async def _auto_query(self) -> None:
        interval = self.config.auto_query_seconds
        if interval <= 0 or not self._dirty or time.time() - self._last_query < interval:
            return
        try:
            await self.run_query(parse_query(None))
            self._dirty = False
        except QueryFailed as exc:
            log.warning("scheduled query failed: %s", exc.message)

    async def run_query(self, query: Query) -> dict[str, Any]:
        """Run ``query`` over every counted input — or answer from the cache.

        The same query over the same input set is answered with the result already
        signed: it costs no MPC (a public endpoint must not let anyone keep three
        parties busy), and a differentially private query cannot be repeated to
        average its noise away.
        """
        input_ids = self.state.counted_ids()
        if len(input_ids) < self.config.min_inputs:
            raise QueryFailed("not_enough_inputs",
                              f"not enough providers yet ({len(input_ids)} of "
                              f"{self.config.min_inputs})", 409)
        key = (json.dumps(query.to_json(), sort_keys=True), tuple(input_ids))
        async with self.mpc_lock:
            cached = self._results.get(key)
            if cached is not None:
                return cached
            result = await self._compute(query, input_ids)
            self._results[key] = result
            while len(self._results) > QUERY_CACHE_SIZE:
                self._results.pop(next(iter(self._results)))
            return result

    async def _compute(self, query: Query, input_ids: list[str]) -> dict[str, Any]:
        run_id = f"query-{secrets.token_hex(8)}"
        body = {"run_id": run_id, "query": query.to_json(), "input_ids": input_ids,
                "min_inputs": self.config.min_inputs, "computed_at": int(time.time())}
        try:
            documents = await self.parties.all("/v1/query", body)
        except PartyCallError as exc:
            raise QueryFailed(exc.code, str(exc), 409 if exc.status == 409 else 503) from None
        self._last_query = time.time()
        results = [d["result"] for d in documents]
        if any(r != results[0] for r in results):
            raise QueryFailed("parties_disagree", "the computation parties disagree")
        self.last_result = {**results[0],
                            "signatures": [{"party": d["party"], "key_id": d["key_id"],
                                            "signature": d["signature"]} for d in documents]}
        return self.last_result
