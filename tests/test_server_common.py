"""servers/common: config, JSON errors, body limits, rate limits, redacted logs, signatures, serving."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from servers.common import (
    APIError,
    BackgroundServer,
    ConfigError,
    Conflict,
    Forbidden,
    PayloadTooLarge,
    RateLimiter,
    RateLimitMiddleware,
    ServerStartError,
    SignatureError,
    TokenBucket,
    Unauthorized,
    canonical_json,
    configure_logging,
    exception_handlers,
    from_dict,
    generate_key,
    get_bool,
    get_float,
    get_hex,
    get_int,
    get_list,
    get_str,
    key_id,
    load_config,
    load_or_create_private_key,
    load_public_key,
    public_key_hex,
    read_body,
    read_json,
    serve_in_thread,
    sign,
    sign_result,
    verify,
    verify_result,
)

# --- config ------------------------------------------------------------------------------------------


@dataclass
class Limits:
    max_bytes: int = 100


@dataclass
class DemoConfig:
    name: str
    port: int = 8000
    ratio: float = 0.5
    debug: bool = False
    key_file: Path = Path("key.pem")
    peers: list[str] = field(default_factory=list)
    token_env: str | None = None
    limits: Limits = field(default_factory=Limits)

    def validate(self) -> None:
        if self.port > 65535:
            raise ValueError("port must be <= 65535")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "server.toml"
    path.write_text(text)
    return path


def test_config_reads_typed_values_and_resolves_paths(tmp_path: Path) -> None:
    path = write(tmp_path, '[demo]\nname = "x"\nport = 9000\nratio = 1\nkey_file = "keys/k.pem"\n'
                           'peers = ["a", "b"]\n[demo.limits]\nmax_bytes = 5\n')
    config = load_config(DemoConfig, "demo", path, environ={})
    assert config == DemoConfig(name="x", port=9000, ratio=1.0, key_file=tmp_path / "keys" / "k.pem",
                                peers=["a", "b"], limits=Limits(5))
    assert isinstance(config.ratio, float)


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[demo]\nname = "x"\nport = 9000\n')
    env = {"MPCSTATS_DEMO_PORT": "9100", "MPCSTATS_DEMO_DEBUG": "yes", "MPCSTATS_DEMO_PEERS": '["p"]',
           "MPCSTATS_DEMO_LIMITS": '{"max_bytes": 7}', "MPCSTATS_OTHER_PORT": "1"}
    config = load_config(DemoConfig, "demo", path, environ=env)
    assert (config.port, config.debug, config.peers, config.limits.max_bytes) == (9100, True, ["p"], 7)
    assert load_config(DemoConfig, "demo", None, environ={"MPCSTATS_DEMO_NAME": "only-env"}).name == "only-env"


@pytest.mark.parametrize(("toml", "env", "key", "message"), [
    ('name = "x"\nprot = 1', {}, "demo.prot", "unknown setting"),
    ('port = 1', {}, "demo.name", "is required"),
    ('name = "x"\nport = "80"', {}, "demo.port", "must be an integer"),
    ('name = "x"\nport = true', {}, "demo.port", "must be an integer"),
    ('name = "x"\ndebug = 1', {}, "demo.debug", "true or false"),
    ('name = "x"\n[demo.limits]\nmax_bytes = 1.5', {}, "demo.limits.max_bytes", "must be an integer"),
    ('name = "x"', {"MPCSTATS_DEMO_PORT": "eighty"}, "demo.port", "must be an integer"),
    ('name = "x"', {"MPCSTATS_DEMO_DEBUG": "maybe"}, "demo.debug", "true or false"),
    ('name = "x"', {"MPCSTATS_DEMO_PORTT": "1"}, "MPCSTATS_DEMO_PORTT", "unknown setting"),
    ('name = "x"\nport = 70000', {}, "demo", "port must be <= 65535"),
])
def test_config_errors_name_the_key(tmp_path: Path, toml: str, env: dict[str, str], key: str,
                                    message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(DemoConfig, "demo", write(tmp_path, f"[demo]\n{toml}\n"), environ=env)
    assert info.value.key == key and message in info.value.message


def test_config_file_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(DemoConfig, "demo", tmp_path / "missing.toml", environ={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(DemoConfig, "demo", write(tmp_path, "[demo\nname="), environ={})
    assert from_dict(DemoConfig, {"name": "n", "token_env": None}).token_env is None


# --- errors and JSON bodies (real server) ------------------------------------------------------------

LIMIT = 1000


async def echo(request: Request) -> JSONResponse:
    body = await read_json(request, max_bytes=LIMIT)
    return JSONResponse({
        "name": get_str(body, "name", max_len=10),
        "count": get_int(body, "count", min_value=0, max_value=5),
        "ratio": get_float(body, "ratio", default=0.5),
        "flag": get_bool(body, "flag", default=False),
        "blob": get_hex(body, "blob", default=b"").hex(),
        "items": get_list(body, "items", default=[], item_type=int),
    })


async def boom(request: Request) -> JSONResponse:
    raise RuntimeError("secret internal detail /etc/passwd")


async def raises(request: Request) -> JSONResponse:
    kind = request.path_params["kind"]
    errors: dict[str, Exception] = {
        "unauthorized": Unauthorized(message="token missing"), "forbidden": Forbidden(),
        "conflict": Conflict(code="uid_taken", message="uid already registered"),
        "teapot": HTTPException(418, "short and stout"), "custom": APIError(451, "legal", "not here"),
    }
    raise errors[kind]


@pytest.fixture(scope="module")
def error_server() -> Iterator[BackgroundServer]:
    app = Starlette(routes=[Route("/echo", echo, methods=["POST"]), Route("/boom", boom),
                            Route("/raise/{kind}", raises)],
                    exception_handlers=exception_handlers())
    with serve_in_thread(app) as server:
        yield server


def test_valid_body_is_parsed(error_server: BackgroundServer) -> None:
    r = requests.post(f"{error_server.url}/echo", json={"name": "ann", "count": 3, "blob": "00ff",
                                                        "items": [1, 2]}, timeout=5)
    assert r.status_code == 200
    assert r.json() == {"name": "ann", "count": 3, "ratio": 0.5, "flag": False, "blob": "00ff", "items": [1, 2]}


@pytest.mark.parametrize(("body", "code", "field_name"), [
    ({"count": 1}, "missing_field", "name"),
    ({"name": 5, "count": 1}, "invalid_field", "name"),
    ({"name": "a" * 11, "count": 1}, "invalid_field", "name"),
    ({"name": "a", "count": True}, "invalid_field", "count"),
    ({"name": "a", "count": 6}, "invalid_field", "count"),
    ({"name": "a", "count": 1, "ratio": "x"}, "invalid_field", "ratio"),
    ({"name": "a", "count": 1, "blob": "zz"}, "invalid_field", "blob"),
    ({"name": "a", "count": 1, "items": [1, "2"]}, "invalid_field", "items[1]"),
    ([1, 2], "invalid_field", "body"),
])
def test_bad_fields_are_422_naming_the_field(error_server: BackgroundServer, body: Any, code: str,
                                             field_name: str) -> None:
    r = requests.post(f"{error_server.url}/echo", json=body, timeout=5)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == code and error["message"].startswith(f"{field_name}:")


def test_malformed_json_is_400(error_server: BackgroundServer) -> None:
    for raw in (b"{not json", b"\xff\xfe", b'{"a": NaN}', b""):
        r = requests.post(f"{error_server.url}/echo", data=raw, timeout=5,
                          headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json", raw


def test_oversized_body_is_413_with_and_without_content_length(error_server: BackgroundServer) -> None:
    big = json.dumps({"name": "a" * (LIMIT * 2)}).encode()
    r = requests.post(f"{error_server.url}/echo", data=big, timeout=5)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length at all
        for _ in range(LIMIT // 100 * 3):
            yield b" " * 100

    r = requests.post(f"{error_server.url}/echo", data=chunks(), timeout=5)
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


def test_read_body_stops_at_the_cap_when_content_length_lies() -> None:
    """The declared length is small, the stream is not: counting the stream is what protects us."""
    sent = []

    async def receive() -> dict[str, Any]:
        sent.append(1)
        return {"type": "http.request", "body": b"x" * 400, "more_body": len(sent) < 100}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-length", b"10")],
             "query_string": b""}
    with pytest.raises(PayloadTooLarge):
        asyncio.run(read_body(Request(scope, receive), max_bytes=1000))
    assert len(sent) == 3  # stopped as soon as the cap was crossed, not after 100 chunks


@pytest.mark.parametrize(("kind", "status", "code", "message"), [
    ("unauthorized", 401, "unauthorized", "token missing"),
    ("forbidden", 403, "forbidden", "forbidden"),
    ("conflict", 409, "uid_taken", "uid already registered"),
    ("teapot", 418, "http_error", "short and stout"),
    ("custom", 451, "legal", "not here"),
])
def test_api_errors_map_to_status_and_code(error_server: BackgroundServer, kind: str, status: int, code: str,
                                           message: str) -> None:
    r = requests.get(f"{error_server.url}/raise/{kind}", timeout=5)
    assert r.status_code == status
    assert r.json() == {"error": {"code": code, "message": message}}


def test_routing_errors_are_json(error_server: BackgroundServer) -> None:
    r = requests.get(f"{error_server.url}/missing", timeout=5)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    r = requests.get(f"{error_server.url}/echo", timeout=5)
    assert (r.status_code, r.json()["error"]["code"]) == (405, "method_not_allowed")


def test_unexpected_exception_is_500_without_internals(error_server: BackgroundServer) -> None:
    r = requests.get(f"{error_server.url}/boom", timeout=5)
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "internal_error", "message": "internal server error"}}
    assert "passwd" not in r.text and "RuntimeError" not in r.text


# --- rate limiting -----------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_bursts_then_refills() -> None:
    bucket = TokenBucket(rate=2.0, burst=3.0, tokens=3.0, updated=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.5) == 0.0
    assert bucket.take(10.0) == 0.0 and bucket.tokens == pytest.approx(2.0)  # capped at burst


def test_limiter_per_client_then_global() -> None:
    clock = Clock()
    limiter = RateLimiter(1.0, 2, global_rate=1.0, global_burst=3, clock=clock)
    assert [limiter.check("a") for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0)]
    assert limiter.check("b") == 0.0
    assert limiter.check("c") == pytest.approx(1.0)  # global bucket empty (3 granted in total)
    clock.now = 1.0
    assert limiter.check("c") == 0.0  # c's own token was refunded when the global bucket refused
    with pytest.raises(ValueError):
        RateLimiter(0, 1)


def test_limiter_is_exact_under_threads() -> None:
    limiter = RateLimiter(1e-9, 50, clock=lambda: 0.0)
    granted = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(100):
            ok = limiter.check("same") == 0.0
            with lock:
                granted.append(ok)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 50 and len(granted) == 800


def test_limiter_forgets_least_recent_clients() -> None:
    limiter = RateLimiter(1e-9, 1, max_clients=2, clock=lambda: 0.0)
    assert limiter.check("a") == 0.0 and limiter.check("b") == 0.0
    assert limiter.check("a") > 0  # a is now most recent
    assert limiter.check("c") == 0.0  # evicts b, not a
    assert limiter.check("a") > 0


def test_middleware_answers_429_with_retry_after() -> None:
    async def ok(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    limiter = RateLimiter(0.5, 2)
    app = Starlette(routes=[Route("/x", ok), Route("/health", ok)],
                    middleware=[Middleware(RateLimitMiddleware, limiter=limiter, exempt_paths={"/health"})])
    with serve_in_thread(app) as server:
        codes = [requests.get(f"{server.url}/x", timeout=5).status_code for _ in range(2)]
        r = requests.get(f"{server.url}/x", timeout=5)
        health = [requests.get(f"{server.url}/health", timeout=5).status_code for _ in range(5)]
    assert codes == [200, 200] and health == [200] * 5
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert r.headers["Retry-After"] == "2"


# --- logging -----------------------------------------------------------------------------------------


def test_json_logs_redact_secret_fields() -> None:
    stream = io.StringIO()
    handler = configure_logging("DEBUG", service="test", stream=stream)
    try:
        log = logging.getLogger("mpcstats.test")
        log.info("registered %s", {"uid": 42, "api_key": "AKIA-123", "nested": [{"key_share": "0x55"}]},
                 extra={"api_secret": "s3cr3t", "session_token": "T0KEN-9", "key_id": "abcd", "shares": [1, 2],
                        "request": {"password": "pw", "host": "api.binance.test"}})
    finally:
        logging.getLogger().removeHandler(handler)
    line = stream.getvalue().strip()
    assert "\n" not in line
    doc = json.loads(line)
    for secret in ("AKIA-123", "0x55", "s3cr3t", "T0KEN-9", "\"pw\""):
        assert secret not in line
    assert doc["service"] == "test" and doc["logger"] == "mpcstats.test" and doc["level"] == "INFO"
    assert doc["key_id"] == "abcd" and doc["request"]["host"] == "api.binance.test"
    assert doc["api_secret"] == doc["session_token"] == doc["shares"] == "[redacted]"
    assert "'uid': 42" in doc["msg"]


# --- signing -----------------------------------------------------------------------------------------


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": [1, 2.5], "a": "é"}) == '{"a":"é","b":[1,2.5]}'.encode()
    with pytest.raises(SignatureError) as info:
        canonical_json({"x": float("nan")})
    assert info.value.reason == "malformed"


def test_sign_and_verify_and_key_id() -> None:
    key = generate_key()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key_id(key) == hashlib.sha256(raw).hexdigest()[:16] == key_id(key.public_key())
    doc = {"z": 1, "a": {"y": [1, 2]}}
    signature = sign(key, doc)
    verify(key.public_key(), {"a": {"y": [1, 2]}, "z": 1}, signature)  # key order does not matter
    for bad_doc, bad_sig, reason in [({**doc, "z": 2}, signature, "bad_signature"),
                                     (doc, "00" * 64, "bad_signature"),
                                     (doc, "zz", "malformed"), (doc, "00" * 10, "malformed")]:
        with pytest.raises(SignatureError) as info:
            verify(key.public_key(), bad_doc, bad_sig)
        assert info.value.reason == reason
    with pytest.raises(SignatureError) as info:
        verify(generate_key().public_key(), doc, signature)
    assert info.value.reason == "bad_signature"


def test_verify_result_reasons() -> None:
    keys = {pid: generate_key() for pid in range(3)}
    trusted = {pid: k.public_key() for pid, k in keys.items()}
    doc = sign_result(keys[1], {"n": 3}, 1)
    assert verify_result(doc, trusted, expected_party=1) == {"n": 3}
    cases = [
        ("malformed", "x", None),
        ("malformed", {**doc, "party": "1"}, None),
        ("wrong_party", doc, 2),
        ("wrong_party", {**sign_result(keys[1], {"n": 3}, 2)}, None),  # party 1's key claiming party 2
        ("unknown_key", sign_result(generate_key(), {"n": 3}, 1), None),
        ("bad_signature", {**doc, "result": {"n": 4}}, None),
    ]
    for reason, bad, expected in cases:
        with pytest.raises(SignatureError) as info:
            verify_result(bad, trusted, expected_party=expected)
        assert info.value.reason == reason, bad


def test_private_key_file_is_0600_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "party.pem"
    key = load_or_create_private_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert key_id(load_or_create_private_key(path)) == key_id(key)
    os.chmod(path, 0o644)
    with pytest.raises(SignatureError, match="chmod 600") as info:
        load_or_create_private_key(path)
    assert info.value.reason == "bad_key"


def test_public_key_formats() -> None:
    key = generate_key()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key_id(load_public_key(public_key_hex(key))) == key_id(load_public_key(pem.decode())) == key_id(key)
    for bad in ("abcd", "zz" * 32, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"):
        with pytest.raises(SignatureError) as info:
            load_public_key(bad)
        assert info.value.reason == "bad_key"


# --- serving -----------------------------------------------------------------------------------------


def test_background_server_stops_and_frees_its_port() -> None:
    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"hello": "world"})

    server = serve_in_thread(Starlette(routes=[Route("/", hello)]))
    assert requests.get(server.url, timeout=5).json() == {"hello": "world"}
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url, timeout=2)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", server.port))


def test_background_server_reports_a_failed_startup() -> None:
    import contextlib

    @contextlib.asynccontextmanager
    async def broken(app: Starlette) -> Any:
        raise RuntimeError("cannot open database")
        yield

    with pytest.raises(ServerStartError):
        serve_in_thread(Starlette(lifespan=broken), timeout=5)
