"""Run the notary (or any ASGI app) under uvicorn in a background thread on a free port (tests, demo, bench)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from servers.notary.app import create_app
from servers.notary.config import NotaryConfig


@dataclass
class RunningServer:
    host: str
    port: int
    app: Any
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning",
                    timeout: float = 10.0) -> RunningServer:
    """Bind first (so port 0 gives a free port we can report), then serve in a daemon thread."""
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets whose proto says TCP, and
    # without it Nagle + delayed ACK stalled relayed TLS flights by ~40 ms.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(app, log_level=log_level, lifespan="off", ws="websockets-sansio",
                            ws_max_size=1 << 20)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="uvicorn")
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return RunningServer(host, sock.getsockname()[1], app, server, thread)


def start_notary(config: NotaryConfig, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start a notary with ``config`` in this process; ``.url`` is its base URL."""
    return start_in_thread(create_app(config), host, port)
