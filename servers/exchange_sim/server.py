"""The simulator's HTTP side: ``GET /api/v3/account`` with Binance's signing rules and error bodies.

Binance's SIGNED endpoints take ``timestamp`` (ms) and optional ``recvWindow`` (ms, default 5000) and a
``signature`` = hex HMAC-SHA256(secret, query string before ``&signature=``), with the API key in
``X-MBX-APIKEY``. A request is accepted when ``timestamp < now + 1000`` and ``now - timestamp <=
recvWindow``. Errors mirror Binance's JSON codes (-2014, -2015, -1022, -1021, -1102).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from servers.exchange_sim.accounts import SimAccount
from servers.exchange_sim.assets import ASSETS
from servers.exchange_sim.certs import ExchangeCA
from servers.exchange_sim.tls import server_context

API_KEY_RE = re.compile(r"^[A-Za-z0-9]{64}$")
DEFAULT_NAMES = ("api.binance.com", "api.binance.test", "localhost")
ZERO = "0.00000000"
RESPONSE_MODES = ("full", "small")
ECHO_PATH = "/api/v3/echo"


def account_json(account: SimAccount, update_time_ms: int, *, full: bool = False,
                 omit_zero: bool = False) -> bytes:
    """The account body in Binance's field order (uid last), compact like the real API.

    ``full``: the balances list every asset of :data:`ASSETS` in order (the account's own value or
    ``"0.00000000"``), as ``GET /api/v3/account?omitZeroBalances=false`` does on the real
    exchange (tens of KB); otherwise only the account's own balances (a small response for quick
    tests). ``omit_zero`` (``omitZeroBalances=true``) drops the entries whose free and locked are 0.
    """
    if full:
        own = dict(account.balances)
        balances = [(a, own.pop(a, ZERO)) for a in ASSETS] + list(own.items())
    else:
        balances = list(account.balances.items())
    if omit_zero:
        balances = [(a, v) for a, v in balances if v != ZERO]
    body = {
        "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
        "commissionRates": {"maker": "0.00100000", "taker": "0.00100000", "buyer": "0.00000000",
                            "seller": "0.00000000"},
        "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
        "requireSelfTradePrevention": False, "preventSor": False, "updateTime": update_time_ms,
        "accountType": "SPOT",
        "balances": [{"asset": a, "free": v, "locked": ZERO} for a, v in balances],
        "permissions": ["SPOT"], "uid": account.uid,
    }
    return json.dumps(body, separators=(",", ":")).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    server: _SimHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(10)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # like nginx's tcp_nodelay
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                self.close_connection = True
                self.rfile = self.wfile = None  # type: ignore[assignment]

    def handle(self) -> None:
        if self.rfile is None:
            return
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, TimeoutError):
            pass

    def finish(self) -> None:
        if self.rfile is None:
            return
        try:
            super().finish()
        except (ssl.SSLError, OSError):
            pass

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """Silent: request lines carry API keys and signatures."""

    def _send(self, status: int, body: bytes) -> None:
        """Headers like Binance's (behind CloudFront), then the body.

        In ``split`` mode the head and the body are two writes, so the head is a TLS record of its
        own and the body fills records of at most 16 KB (OpenSSL's maximum fragment), as a real
        server streams a large answer; otherwise one write (a small response is one record).
        """
        close = self.headers.get("Connection", "").lower() == "close"
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
                "Content-Type: application/json;charset=UTF-8", f"Content-Length: {len(body)}",
                "Connection: close" if close else "Connection: keep-alive",
                f"Date: {self.date_time_string()}", f"Server: {self.server_version}",
                f"x-mbx-uuid: {uuid.uuid4()}", "x-mbx-used-weight: 20", "x-mbx-used-weight-1m: 20",
                "Strict-Transport-Security: max-age=31536000; includeSubdomains",
                "X-Frame-Options: SAMEORIGIN", "X-Xss-Protection: 1; mode=block",
                "X-Content-Type-Options: nosniff", "Content-Security-Policy: default-src 'self'",
                "X-Content-Security-Policy: default-src 'self'", "X-WebKit-CSP: default-src 'self'",
                "Cache-Control: no-cache, no-store, must-revalidate", "Pragma: no-cache", "Expires: 0",
                "X-Cache: Miss from cloudfront",
                "Via: 1.1 5f4b2d1c0e9a8b7c6d5e4f3a2b1c0d9e.cloudfront.net (CloudFront)",
                "X-Amz-Cf-Pop: FRA56-P5",
                f"X-Amz-Cf-Id: {hashlib.sha256(body).hexdigest()[:56]}=="]
        if close:
            self.close_connection = True
        head_bytes = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if self.server.split_head:
            self.wfile.write(head_bytes)
            self.wfile.flush()
            self.wfile.write(body)
        else:
            self.wfile.write(head_bytes + body)
        self.wfile.flush()

    def _error(self, status: int, code: int, message: str) -> None:
        self._send(status, json.dumps({"code": code, "msg": message}, separators=(",", ":")).encode())

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        url = urlsplit(self.path)
        if url.path == ECHO_PATH and self.server.echo:
            # An endpoint that echoes a query parameter into a 200 JSON body (for the request-binding
            # attack test): only the spec's endpoint may count.
            data = dict(parse_qsl(url.query, keep_blank_values=True)).get("data", "")
            self._send(200, ('{"echo":"' + data + '"}').encode("utf-8", "replace"))
            return
        if url.path != "/api/v3/account":
            self._error(404, -1, "Not found.")
            return
        api_key = self.headers.get("X-MBX-APIKEY", "")
        if not API_KEY_RE.match(api_key):
            self._error(401, -2014, "API-key format invalid.")
            return
        account = self.server.by_key.get(api_key)
        if account is None:
            self._error(401, -2015, "Invalid API-key, IP, or permissions for action.")
            return
        query = url.query
        params = dict(parse_qsl(query, keep_blank_values=True))
        if not params.get("timestamp", "").isdigit():
            self._error(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
            return
        signed, sep, signature = query.rpartition("&signature=")
        expected = hmac.new(account.secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not sep or not hmac.compare_digest(signature.lower(), expected):
            self._error(400, -1022, "Signature for this request is not valid.")
            return
        now = int(self.server.clock() * 1000)
        timestamp = int(params["timestamp"])
        window = int(params["recvWindow"]) if params.get("recvWindow", "").isdigit() else 5000
        if not (timestamp < now + 1000 and now - timestamp <= window):
            self._error(400, -1021, "Timestamp for this request is outside of the recvWindow.")
            return
        omit = params.get("omitZeroBalances", "false").lower() == "true"
        self._send(200, account_json(account, now, full=self.server.full, omit_zero=omit))


class _SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    by_key: dict[str, SimAccount]
    clock: Callable[[], float]
    full: bool = True
    split_head: bool = True
    echo: bool = False


@dataclass
class RunningExchange:
    """A simulator serving in a background thread; use as a context manager or call :meth:`stop`."""

    host: str
    port: int
    ca: ExchangeCA
    accounts: list[SimAccount]
    ssl_context: ssl.SSLContext
    _server: _SimHTTPServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def ca_pem(self) -> str:
        return self.ca.cert_pem

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningExchange:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_exchange_sim(accounts: list[SimAccount], *, host: str = "127.0.0.1", port: int = 0,
                       ca: ExchangeCA | None = None, server_names: list[str] | None = None,
                       tls_max_version: str | None = None, tls13_suites: list[str] | None = None,
                       tls12_ciphers: str | None = None, key_type: str = "ec",
                       clock: Callable[[], float] = time.time, response: str = "full",
                       split_head: bool | None = None, echo_endpoint: bool = False) -> RunningExchange:
    """Start the simulator on ``host:port`` (0 = a free port) in a daemon thread and return at once.

    ``server_names`` are the certificate's DNS names (default: api.binance.com, api.binance.test,
    localhost); ``tls_max_version`` "1.2" forces TLS 1.2; ``tls13_suites`` pins TLS 1.3 suites;
    ``tls12_ciphers`` is an OpenSSL cipher string; ``key_type`` "ec" or "rsa" picks the certificate key.
    ``response`` "full" lists every asset (tens of KB over several records, like the real exchange),
    "small" only the account's own balances (one record, for quick tests); ``split_head`` sends the
    head as a record of its own (default: in "full" mode); ``echo_endpoint`` adds ``/api/v3/echo``.
    """
    if response not in RESPONSE_MODES:
        raise ValueError(f"response must be one of {RESPONSE_MODES}, not {response!r}")
    ca = ca or ExchangeCA()
    cert_file, key_file = ca.issue_files(list(server_names or DEFAULT_NAMES), key_type=key_type)
    ctx = server_context(cert_file, key_file, max_version=tls_max_version, tls13_suites=tls13_suites,
                         tls12_ciphers=tls12_ciphers)
    server = _SimHTTPServer((host, port), _Handler, bind_and_activate=False)
    server.allow_reuse_address = True
    server.server_bind()
    server.server_activate()
    server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    server.by_key = {a.api_key: a for a in accounts}
    server.clock = clock
    server.full = response == "full"
    server.split_head = server.full if split_head is None else split_head
    server.echo = echo_endpoint
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="exchange-sim", daemon=True)
    thread.start()
    bound = server.socket.getsockname()
    return RunningExchange(bound[0], bound[1], ca, accounts, ctx, server, thread)

