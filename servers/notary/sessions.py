"""Notary sessions: one allow-listed host, one relayed connection, one attestation, then forgotten.

A session holds only what crossed the wire — ciphertext once the handshake is done — plus counters.
It is deleted after its attestation attempt (success or not), so a client cannot use the notary as an
oracle by retrying secrets, and nothing is kept longer than needed.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from dataclasses import dataclass, field

from servers.common.errors import APIError, NotFound, ServiceUnavailable
from servers.notary.config import HostTarget
from tlsn import Transcript

OPEN, RELAYING, CLOSED, FAILED = "open", "relaying", "closed", "failed"


class SessionTooLarge(Exception):
    """More bytes were relayed than the session allows."""


@dataclass
class Session:
    id: str
    host: str
    target: HostTarget
    client: str
    deadline: float  # monotonic
    max_bytes: int
    state: str = OPEN
    failure: APIError | None = None  # why the session failed, as its attest call will report it
    peer_address: str = ""
    transcript: Transcript = field(default_factory=Transcript)
    relay_done: asyncio.Event = field(default_factory=asyncio.Event)  # set when the relay has ended

    def add(self, direction: str, data: bytes) -> None:
        if self.transcript.total_bytes + len(data) > self.max_bytes:
            self.fail(413, "session_too_large", f"session exceeded {self.max_bytes} bytes")
            raise SessionTooLarge
        self.transcript.add(direction, data)

    def fail(self, status: int, code: str, message: str) -> None:
        if self.failure is None:
            self.failure = APIError(status, code, message)
        self.state = FAILED
        self.transcript = Transcript()  # drop what was relayed

    @property
    def expired(self) -> bool:
        return time.monotonic() > self.deadline


class SessionStore:
    def __init__(self, max_open: int) -> None:
        self.max_open = max_open
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, host: str, target: HostTarget, client: str, seconds: float, max_bytes: int) -> Session:
        with self._lock:
            self._purge()
            if len(self._sessions) >= self.max_open:
                raise ServiceUnavailable(code="too_many_sessions", message="the notary is busy; retry later")
            s = Session(secrets.token_urlsafe(18), host, target, client, time.monotonic() + seconds, max_bytes)
            self._sessions[s.id] = s
            return s

    def get(self, session_id: str) -> Session:
        with self._lock:
            s = self._sessions.get(session_id)
        if s is None:
            raise NotFound(code="unknown_session", message="no such session (expired or already attested)")
        return s

    def pop(self, session_id: str) -> Session:
        s = self.get(session_id)
        with self._lock:
            self._sessions.pop(session_id, None)
        return s

    def all(self) -> list[Session]:
        with self._lock:
            return list(self._sessions.values())

    def _purge(self) -> None:
        now = time.monotonic()
        for sid in [sid for sid, s in self._sessions.items() if now > s.deadline + 60]:
            del self._sessions[sid]
