"""The coordinator's durable state: sessions and counted inputs (TinyDB, atomic writes).

Sybil resistance lives here: an input id (a function of source and uid) is counted at
most once. Nothing is reserved for a *claimed* uid before it is proven: a registration
claiming a uid (counted, in flight or new) is answered alike, so it neither blocks the
account's owner (squatting) nor tells whether the account is counted (an oracle). The
claim is proven inside MPC; a verified registration is counted unless its input id
already is ("already counted" is said only to whoever proved the uid). One registration
per attestation: ``reserve`` refuses an attestation seen before, under one lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tinydb import Query, TinyDB

from mpc_programs.shares.store import AtomicJSONStorage

LIVE = ("waiting_for_shares", "queued", "verifying", "committing")
FINAL = ("accepted", "rejected", "expired")


class DuplicateInput(Exception):
    """The account is already counted or in flight."""

    def __init__(self, counted: bool) -> None:
        super().__init__("already counted" if counted else "a registration for it is in progress")
        self.counted = counted


class DuplicateAttestation(Exception):
    """This attestation was registered before (one registration per attestation)."""

    def __init__(self) -> None:
        super().__init__("this attestation was registered before: notarize again")


ALREADY_COUNTED = "already counted: this account's input is in the pool"


class CoordinatorState:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._db = TinyDB(data_dir / "coordinator.json", storage=AtomicJSONStorage)
        self._sessions = self._db.table("sessions", cache_size=0)
        self._inputs = self._db.table("inputs", cache_size=0)
        self._deviations = self._db.table("deviations", cache_size=0)
        self._lock = threading.RLock()

    def close(self) -> None:
        self._db.close()

    def reserve(self, session: dict[str, Any]) -> None:
        """Create ``session`` (status waiting_for_shares) unless its attestation
        (``attestation_sha256``) was registered before. The claimed uid reserves nothing."""
        with self._lock:
            digest = session["attestation_sha256"]
            if self._sessions.contains(Query().attestation_sha256 == digest):
                raise DuplicateAttestation()
            self._sessions.insert({**session, "status": "waiting_for_shares",
                                   "reason": None, "updated": time.time()})

    def verify_batch(self, limit: int) -> list[dict[str, Any]]:
        """Queued sessions for one verification run, oldest first: at most one per input id,
        and none whose input id has a run still committing (so an id is never staged twice)."""
        with self._lock:
            taken = {s["input_id"] for s in self._sessions.search(Query().status == "committing")}
            batch = []
            for s in self.with_status("queued"):
                if s["input_id"] not in taken:
                    taken.add(s["input_id"])
                    batch.append(s)
                    if len(batch) >= limit:
                        break
            return batch

    def get(self, session_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._sessions.search(Query().session_id == session_id)
            return dict(found[0]) if found else None

    def set_status(self, session_ids: Iterable[str], status: str, reason: str | None = None,
                   **extra: Any) -> None:
        ids = list(session_ids)
        if not ids:
            return
        with self._lock:
            self._sessions.update({"status": status, "reason": reason, "updated": time.time(),
                                   **extra}, Query().session_id.one_of(ids))

    def accept(self, sessions: list[dict[str, Any]], run_id: str) -> None:
        """Mark sessions accepted and count their inputs (one write for each table); a session
        whose input id is already counted is rejected instead (never counted twice)."""
        if not sessions:
            return
        with self._lock:
            now = time.time()
            counted = {doc["input_id"] for doc in self._inputs.all()}
            fresh, again = [], []
            for s in sessions:
                (again if s["input_id"] in counted else fresh).append(s)
                counted.add(s["input_id"])
            self._inputs.insert_multiple(
                {"input_id": s["input_id"], "session_id": s["session_id"], "source": s["source"],
                 "accepted_at": now, "run_id": run_id} for s in fresh)
            self.set_status([s["session_id"] for s in fresh], "accepted")
            self.set_status([s["session_id"] for s in again], "rejected", ALREADY_COUNTED)

    def with_status(self, status: str, limit: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            found = sorted(self._sessions.search(Query().status == status),
                           key=lambda s: s["updated"])
            return [dict(s) for s in (found if limit is None else found[:limit])]

    def expire(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        with self._lock:
            stale = [s["session_id"] for s in self._sessions.search(
                Query().status == "waiting_for_shares") if s["expires_at"] < now]
            self.set_status(stale, "expired", "the shares did not arrive in time")
            return len(stale)

    def counted_ids(self) -> list[str]:
        with self._lock:
            return sorted(doc["input_id"] for doc in self._inputs.all())

    def counts(self) -> dict[str, int]:
        with self._lock:
            out = {status: 0 for status in LIVE + FINAL}
            for s in self._sessions.all():
                out[s["status"]] = out.get(s["status"], 0) + 1
            out["inputs"] = len(self._inputs)
            out["deviations_detected"] = len(self._deviations)
            return out

    def record_deviation(self, run_id: str, reports: list[dict[str, Any]]) -> None:
        """Keep a run that a check of active security aborted: when, and what each party said
        (the step; with three parties the deviating one cannot be named by the checks)."""
        with self._lock:
            self._deviations.insert({"run_id": run_id, "at": time.time(), "reports": reports})

    def deviations(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._deviations.all())
