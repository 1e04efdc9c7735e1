"""Running a Starlette app under uvicorn: in a background thread (tests, ``mpcstats up``) or in the foreground.

Why bind the socket ourselves: with port 0 the kernel picks a free port atomically, and we can report it
before the server starts, so parallel tests and local deployments never race for "free" ports.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from typing import Any, Literal, Self

import uvicorn


class ServerStartError(RuntimeError):
    """uvicorn did not come up (bad app, lifespan failure, port in use)."""


class BackgroundServer:
    """An ASGI app served by uvicorn in a daemon thread; use as a context manager or call :meth:`stop`."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning",
                 lifespan: Literal["auto", "on", "off"] = "on", **uvicorn_options: Any) -> None:
        self.app = app
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on accepted sockets whose proto says TCP
        # (as uvicorn's own listener does), and without it Nagle + delayed ACK stall small writes by ~40 ms.
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM,
                                   socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host = host
        self.scheme = "https" if uvicorn_options.get("ssl_certfile") else "http"
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(app, log_level=log_level, lifespan=lifespan, log_config=None,
                                **uvicorn_options)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"uvicorn-{self.port}")
        self.exit_code: int | None = None

    def _run(self) -> None:
        # uvicorn reports a failed start-up with sys.exit(3); in a thread that must not look like a crash.
        try:
            self._server.run(sockets=[self._sock])
            self.exit_code = 0
        except SystemExit as exc:
            self.exit_code = exc.code if isinstance(exc.code, int) else 1

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                self._sock.close()
                raise ServerStartError(f"server on port {self.port} exited during start-up "
                                       f"(exit code {self.exit_code})")
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(f"server on port {self.port} did not start in {timeout} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to finish (runs lifespan shutdown), wait for the thread, release the port."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> Self:
        if not self._thread.is_alive() and not self._server.started:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, *, timeout: float = 10.0,
                    **options: Any) -> BackgroundServer:
    """Start ``app`` and return once it accepts connections; ``.url`` is its base URL."""
    return BackgroundServer(app, host, port, **options).start(timeout)


def listen_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, or :class:`ServerStartError` saying why not in words
    (a port in use, an address this host does not have) — uvicorn would only log a bare errno."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise ServerStartError(f"cannot listen on {host}:{port}: {host!r} does not resolve "
                               f"({exc.strerror})") from None
    family, _, proto, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            why = "the port is already in use (another server, or this one still running)"
        elif exc.errno == errno.EADDRNOTAVAIL:
            why = "this host has no such address"
        elif exc.errno == errno.EACCES:
            why = "permission denied (ports below 1024 need privileges)"
        else:
            why = exc.strerror or str(exc)
        raise ServerStartError(f"cannot listen on {host}:{port}: {why}") from None
    return sock


def run_forever(app: Any, host: str, port: int, *, log_level: str = "info", **uvicorn_options: Any) -> int:
    """Serve in the foreground until SIGINT/SIGTERM (uvicorn handles both); the CLI's exit code.

    The socket is bound first, so a port in use raises :class:`ServerStartError` naming it.
    """
    sock = listen_socket(host, port)
    config = uvicorn.Config(app, log_level=log_level, log_config=None, **uvicorn_options)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0 if server.started else 1


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago — only for processes that must bind it themselves (MPyC).

    Outside the ephemeral range, so that no outgoing connection takes it meanwhile.
    """
    from mpc_programs.runtime.runner import free_ports
    return free_ports(1, host)[0]
