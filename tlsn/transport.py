"""The byte pipe between the prover's TLS client and the server (normally: the notary's relay).

``tlsn`` stays transport-agnostic: the provider app plugs in a WebSocket client to the notary;
tests may use :class:`SocketTransport` to talk to a server directly.
"""

from __future__ import annotations

import socket
from typing import Protocol


class RelayTransport(Protocol):
    """Carries raw TLS bytes. ``recv`` returns ``b""`` once the far end has closed."""

    def send(self, data: bytes) -> None: ...

    def recv(self, timeout: float) -> bytes: ...

    def close(self) -> None: ...


class SocketTransport:
    """A plain TCP connection (no notary): for tests and for comparing against the relay."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)

    def send(self, data: bytes) -> None:
        self._sock.sendall(data)

    def recv(self, timeout: float) -> bytes:
        self._sock.settimeout(max(timeout, 0.001))
        try:
            return self._sock.recv(65536)
        except (TimeoutError, socket.timeout):
            raise TimeoutError("no bytes from the server in time") from None

    def close(self) -> None:
        self._sock.close()
