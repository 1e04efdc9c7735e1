"""The exchange simulator answers and refuses like Binance's account endpoint, over TLS 1.2 or 1.3."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import ssl
import time
from pathlib import Path

import pytest
import requests

from servers.exchange_sim.accounts import generate_accounts, load_accounts, save_accounts
from servers.exchange_sim.server import RunningExchange, start_exchange_sim


def get_account(sim: RunningExchange, tmp_path: Path, api_key: str, secret: str, *,
                timestamp: int | None = None, recv_window: int = 5000, tamper: bool = False) -> requests.Response:
    ts = int(time.time() * 1000) if timestamp is None else timestamp
    query = f"timestamp={ts}&recvWindow={recv_window}"
    sig = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    if tamper:
        sig = ("0" if sig[0] != "0" else "1") + sig[1:]
    cafile = tmp_path / "ca.pem"
    cafile.write_text(sim.ca_pem)
    return requests.get(f"https://localhost:{sim.port}/api/v3/account?{query}&signature={sig}",
                        headers={"X-MBX-APIKEY": api_key}, verify=str(cafile), timeout=5)


def test_accounts_are_deterministic_and_round_trip(tmp_path: Path) -> None:
    a, b, c = generate_accounts(5, 1), generate_accounts(5, 1), generate_accounts(5, 2)
    assert a == b and a != c
    assert len({x.uid for x in a}) == 5 and all(len(x.api_key) == 64 and len(x.secret) == 64 for x in a)
    assert all(re.fullmatch(r"[0-9]+\.[0-9]{8}", x.eth) for x in a)
    save_accounts(tmp_path / "acc.json", a)
    assert load_accounts(tmp_path / "acc.json") == a


def test_signed_request_returns_the_account(exchange_tls13: RunningExchange, sim_accounts, tmp_path: Path) -> None:
    acc = sim_accounts[1]
    resp = get_account(exchange_tls13, tmp_path, acc.api_key, acc.secret)
    assert resp.status_code == 200
    body = resp.json()
    assert body["uid"] == acc.uid
    assert {"asset": "ETH", "free": acc.eth, "locked": "0.00000000"} in body["balances"]
    assert f'{{"asset":"ETH","free":"{acc.eth}"'.encode() in resp.content


@pytest.mark.parametrize("case,status,code", [
    ("bad_key_format", 401, -2014), ("unknown_key", 401, -2015), ("bad_signature", 400, -1022),
    ("old_timestamp", 400, -1021), ("future_timestamp", 400, -1021)])
def test_bad_requests_get_binance_errors(exchange_tls13: RunningExchange, sim_accounts, tmp_path: Path,
                                         case: str, status: int, code: int) -> None:
    acc = sim_accounts[0]
    key, kwargs = acc.api_key, {}
    now = int(time.time() * 1000)
    if case == "bad_key_format":
        key = "not-a-key"
    elif case == "unknown_key":
        key = "A" * 64
    elif case == "bad_signature":
        kwargs = {"tamper": True}
    elif case == "old_timestamp":
        kwargs = {"timestamp": now - 10_000, "recv_window": 5000}
    else:
        kwargs = {"timestamp": now + 5_000}
    resp = get_account(exchange_tls13, tmp_path, key, acc.secret, **kwargs)
    assert resp.status_code == status
    assert resp.json()["code"] == code and resp.json()["msg"]


def handshake(sim: RunningExchange, max_version: ssl.TLSVersion | None = None) -> tuple[str, str]:
    ctx = ssl.create_default_context(cadata=sim.ca_pem)
    if max_version:
        ctx.maximum_version = max_version
    with socket.create_connection((sim.host, sim.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="api.binance.test") as tls:
            version, cipher = tls.version(), tls.cipher()
    assert version and cipher
    return version, cipher[0]


def test_tls_versions_and_pinned_suites(exchanges: dict[str, RunningExchange]) -> None:
    assert handshake(exchanges["tls12"])[0] == "TLSv1.2"
    assert handshake(exchanges["tls13"]) == ("TLSv1.3", "TLS_AES_256_GCM_SHA384")  # Python's default pick
    assert handshake(exchanges["tls13_aes128"]) == ("TLSv1.3", "TLS_AES_128_GCM_SHA256")


def test_chacha_can_be_pinned_for_refusal_tests(sim_accounts, test_ca) -> None:
    with start_exchange_sim(sim_accounts, ca=test_ca, tls13_suites=["TLS_CHACHA20_POLY1305_SHA256"]) as sim:
        assert handshake(sim) == ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256")


def test_main_writes_ca_and_accounts(tmp_path: Path) -> None:
    import argparse
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "mpcstats.cli", "exchange-sim", "--port", "0", "--accounts", "2",
                             "--ca-out", str(tmp_path / "ca.pem"), "--accounts-out", str(tmp_path / "acc.json")],
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        accounts = load_accounts(tmp_path / "acc.json")
        sim = argparse.Namespace(ca_pem=(tmp_path / "ca.pem").read_text(), port=info["port"])
        resp = get_account(sim, tmp_path, accounts[0].api_key, accounts[0].secret)  # type: ignore[arg-type]
        assert resp.json()["uid"] == accounts[0].uid
        assert (tmp_path / "acc.json").stat().st_mode & 0o077 == 0
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def _raw_get(sim: RunningExchange, path: str, headers: dict[str, str] | None = None,
             max_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2) -> tuple[bytes, list[int]]:
    """GET ``path`` over TLS 1.2 and return (plaintext response, plaintext length of each
    application-data record the server sent): the record boundaries a real client sees."""
    from tlsn.records import S2C, parse_records

    ctx = ssl.create_default_context(cadata=sim.ca_pem)
    ctx.maximum_version = max_version
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="api.binance.test")
    raw = bytearray()
    with socket.create_connection((sim.host, sim.port), timeout=5) as sock:
        def pump() -> bool:
            out = outgoing.read()
            if out:
                sock.sendall(out)
            data = sock.recv(65536)
            if not data:
                incoming.write_eof()
                return False
            raw.extend(data)
            incoming.write(data)
            return True
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                pump()
        hdrs = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        obj.write(f"GET {path} HTTP/1.1\r\nHost: api.binance.test\r\n{hdrs}Connection: close\r\n\r\n".encode())
        body = bytearray()
        while True:
            try:
                chunk = obj.read(65536)
                if not chunk:
                    break
                body += chunk
            except ssl.SSLWantReadError:
                if not pump():
                    break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
    records, _ = parse_records(bytes(raw), S2C, allow_partial=True)
    sizes = [len(r.payload) - 8 - 16 for r in records if r.content_type == 23]
    return bytes(body), sizes  # TLS 1.2: the encrypted Finished is type 22, alerts 21


def _signed_path(acc, query: str) -> tuple[str, dict[str, str]]:
    sig = hmac.new(acc.secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"/api/v3/account?{query}&signature={sig}", {"X-MBX-APIKEY": acc.api_key}


def test_full_response_is_binance_sized_and_spans_records(sim_accounts, test_ca) -> None:
    """omitZeroBalances=false lists every asset (hundreds, tens of KB) in Binance's field order,
    compact; the head is a record of its own and the body fills 16 KB records, as a real server
    streams it; omitZeroBalances=true lists only the non-zero balances."""
    from servers.exchange_sim.assets import ASSETS

    acc = sim_accounts[0]
    with start_exchange_sim(sim_accounts, ca=test_ca, tls_max_version="1.2", response="full") as sim:
        now = int(time.time() * 1000)
        full, sizes = _raw_get(sim, *_signed_path(acc, f"omitZeroBalances=false&timestamp={now}&recvWindow=5000"))
        head, _, body = full.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"x-mbx-used-weight: 20" in head
        doc = json.loads(body)
        assert list(doc) == ["makerCommission", "takerCommission", "buyerCommission", "sellerCommission",
                             "commissionRates", "canTrade", "canWithdraw", "canDeposit", "brokered",
                             "requireSelfTradePrevention", "preventSor", "updateTime", "accountType",
                             "balances", "permissions", "uid"]
        assert json.dumps(doc, separators=(",", ":")).encode() == body  # compact
        assets = [b["asset"] for b in doc["balances"]]
        assert len(assets) >= 400 and {"ETHW", "BETH", "WBETH", "ETHFI", "WBTC", "ETH", "BTC"} <= set(assets)
        assert assets[:len(ASSETS)] == list(ASSETS) and doc["uid"] == acc.uid
        assert len(body) > 20_000
        assert sizes[0] == len(head) + 4 and sizes[1] == 16384 and len(sizes) >= 3
        assert sum(sizes) == len(full)
        now = int(time.time() * 1000)
        small, _ = _raw_get(sim, *_signed_path(acc, f"omitZeroBalances=true&timestamp={now}&recvWindow=5000"))
        balances = json.loads(small.partition(b"\r\n\r\n")[2])["balances"]
        assert balances and all(b["free"] != "0.00000000" for b in balances)
        assert {b["asset"] for b in balances} == {a for a, v in acc.balances.items() if v != "0.00000000"}


def test_small_mode_is_one_record(sim_accounts, test_ca) -> None:
    acc = sim_accounts[1]
    with start_exchange_sim(sim_accounts, ca=test_ca, tls_max_version="1.2", response="small") as sim:
        now = int(time.time() * 1000)
        resp, sizes = _raw_get(sim, *_signed_path(acc, f"omitZeroBalances=false&timestamp={now}&recvWindow=5000"))
        assert len(sizes) == 1 and len(json.loads(resp.partition(b"\r\n\r\n")[2])["balances"]) <= 3


def test_echo_endpoint_only_when_asked(sim_accounts, test_ca) -> None:
    with start_exchange_sim(sim_accounts, ca=test_ca, echo_endpoint=True) as sim:
        resp, _ = _raw_get(sim, "/api/v3/echo?data=hello")
        assert resp.startswith(b"HTTP/1.1 200 OK") and resp.endswith(b'{"echo":"hello"}')
    with start_exchange_sim(sim_accounts, ca=test_ca) as sim:
        resp, _ = _raw_get(sim, "/api/v3/echo?data=hello")
        assert resp.startswith(b"HTTP/1.1 404")
