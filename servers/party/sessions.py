"""Sharing sessions a party holds in memory until they are verified.

Key shares never touch this party's disk: they live here until the verification
run that uses them ends (accepted or rejected), and then they are dropped. A party
restart therefore loses pending shares; the coordinator sees the session as lost
and the provider simply registers again.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass

from mpc_programs.shares.dealing import PartyDealing
from servers.common.registration import CheckedRegistration


@dataclass
class PendingSession:
    session_id: str
    token_sha256: str
    registration: CheckedRegistration
    expires_at: float
    layout: str | None = None
    extra_layouts: dict[str, str] | None = None  # the extra columns' rows, by name
    #: the rows of the record keys' bits (server-write, and client-write if the request is
    #: bound), by their names in the dealing
    key_bits: dict[str, str] | None = None
    dealing: PartyDealing | None = None  # this party's blindings and the dealer's signature

    @property
    def has_shares(self) -> bool:
        return self.key_bits is not None and self.layout is not None

    def token_ok(self, token: str) -> bool:
        digest = hashlib.sha256(token.encode()).hexdigest()
        return hmac.compare_digest(digest, self.token_sha256)


class SessionTable:
    def __init__(self, limit: int) -> None:
        self._sessions: dict[str, PendingSession] = {}
        self._lock = threading.Lock()
        self.limit = limit

    def add(self, session: PendingSession) -> bool:
        """False if a session with this id exists or the table is full."""
        with self._lock:
            self._expire()
            if session.session_id in self._sessions or len(self._sessions) >= self.limit:
                return False
            self._sessions[session.session_id] = session
            return True

    def get(self, session_id: str) -> PendingSession | None:
        with self._lock:
            self._expire()
            return self._sessions.get(session_id)

    def pop_many(self, session_ids: list[str]) -> None:
        with self._lock:
            for sid in session_ids:
                session = self._sessions.pop(sid, None)
                if session is not None:  # drop the key share explicitly
                    session.key_bits = None
                    session.layout = None
                    session.extra_layouts = None
                    session.dealing = None

    def _expire(self) -> None:
        now = time.time()
        for sid in [s for s, v in self._sessions.items() if v.expires_at < now]:
            expired = self._sessions.pop(sid)
            expired.key_bits = expired.layout = expired.extra_layouts = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)
