"""Unit tests of tlsn's building blocks: records, handshake parsing, key schedules, suites, specs."""

from __future__ import annotations

import hashlib
import hmac
import ssl

import pytest

from tlsn import (C2S, S2C, KeyLogError, RecordError, SpecError, UnsupportedCipherError, hkdf_expand_label,
                  load_spec, parse_keylog, parse_records, suite_by_code, suite_by_name, tls12_prf,
                  tls13_traffic_keys)
from tlsn import messages as msg
from tlsn.keys import keylog_secret, tls12_server_write_keys
from tlsn.records import assign_sequence_numbers
from tlsn.spec import Credentials, parse_spec


def record(content_type: int, payload: bytes) -> bytes:
    return bytes([content_type, 3, 3]) + len(payload).to_bytes(2, "big") + payload


def test_parse_records_splits_stream_and_keeps_headers() -> None:
    stream = record(22, b"hello") + record(20, b"\x01") + record(23, b"x" * 40)
    records, tail = parse_records(stream, S2C)
    assert tail == b""
    assert [r.content_type for r in records] == [22, 20, 23]
    assert [r.index for r in records] == [0, 1, 2]
    assert records[2].header == bytes([23, 3, 3, 0, 40])
    assert b"".join(r.raw for r in records) == stream
    assert records[0].payload_sha256 == hashlib.sha256(b"hello").hexdigest()


def test_parse_records_refuses_truncated_stream() -> None:
    stream = record(22, b"hello") + record(23, b"x" * 40)
    with pytest.raises(RecordError) as err:
        parse_records(stream[:-3], S2C)
    assert err.value.reason == "truncated_transcript"
    records, tail = parse_records(stream[:-3], S2C, allow_partial=True)
    assert len(records) == 1 and len(tail) == 5 + 37


def test_parse_records_refuses_garbage() -> None:
    with pytest.raises(RecordError) as err:
        parse_records(b"GET / HTTP/1.1\r\n\r\n", C2S)
    assert err.value.reason == "malformed_record"


def test_sequence_numbers_tls12_start_after_change_cipher_spec() -> None:
    records, _ = parse_records(record(22, b"a") + record(20, b"\x01") + record(22, b"fin")
                               + record(23, b"data1") + record(23, b"data2"), S2C)
    labelled = assign_sequence_numbers(records, "TLSv1.2", 0)
    assert [(r.epoch, r.seq) for r in labelled] == [("plaintext", None), ("plaintext", None),
                                                    ("application", 0), ("application", 1), ("application", 2)]


def test_sequence_numbers_tls13_restart_for_application_epoch() -> None:
    records, _ = parse_records(record(22, b"sh") + record(20, b"\x01") + b"".join(record(23, b"r%d" % i)
                                                                                  for i in range(5)), S2C)
    labelled = assign_sequence_numbers(records, "TLSv1.3", 3)
    assert [(r.epoch, r.seq) for r in labelled][2:] == [("handshake", 0), ("handshake", 1), ("handshake", 2),
                                                        ("application", 0), ("application", 1)]


def test_client_hello_from_real_ssl_names_server_and_offers_no_psk() -> None:
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="api.binance.test")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    records, _ = parse_records(outgoing.read(), C2S)
    messages, tail = msg.split_messages(records[0].payload)
    assert tail == b"" and messages[0].msg_type == msg.CLIENT_HELLO
    hello = msg.parse_client_hello(messages[0].body)
    assert hello.server_name == "api.binance.test"
    assert len(hello.random) == 32
    assert msg.EXT_PRE_SHARED_KEY not in hello.extensions


def test_tls12_prf_matches_published_sha256_vector() -> None:
    # Widely used TLS 1.2 PRF (P_SHA256) test vector.
    out = tls12_prf(bytes.fromhex("9bbe436ba940f017b17652849a71db35"), b"test label",
                    bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c"), 100, "sha256")
    assert out.hex().startswith("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a")
    assert out.hex().endswith("a48082d122ee42c5a72e5a5110fff70187347b66")


def test_tls13_traffic_keys_match_rfc8448() -> None:
    # RFC 8448 §3: server handshake traffic secret -> server handshake write key and IV.
    secret = bytes.fromhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
    keys = tls13_traffic_keys(secret, suite_by_code(0x1301))
    assert keys.key.hex() == "3fce516009c21727d0f2e4e86ee403bc"
    assert keys.iv.hex() == "5d313eb2671276ee13000b30"


def test_aes256_suites_use_sha384_and_32_byte_keys() -> None:
    suite = suite_by_name("TLS_AES_256_GCM_SHA384")
    keys = tls13_traffic_keys(b"\x01" * 48, suite)
    assert len(keys.key) == 32 and len(keys.iv) == 12
    assert keys.key == hkdf_expand_label(b"\x01" * 48, "key", b"", 32, "sha384")
    tls12 = tls12_server_write_keys(b"\x02" * 48, b"c" * 32, b"s" * 32, suite_by_code(0xC030))
    assert len(tls12.key) == 32 and len(tls12.iv) == 4
    block = tls12_prf(b"\x02" * 48, b"key expansion", b"s" * 32 + b"c" * 32, 72, "sha384")
    assert tls12.key == block[32:64] and tls12.iv == block[68:72]


@pytest.mark.parametrize("code", [0x1303, 0xCCA8, 0x009C, 0xC013])
def test_non_aes_gcm_suites_are_refused(code: int) -> None:
    with pytest.raises(UnsupportedCipherError) as err:
        suite_by_code(code)
    assert err.value.reason == "unsupported_cipher"
    with pytest.raises(UnsupportedCipherError):
        suite_by_name("TLS_CHACHA20_POLY1305_SHA256")


def test_keylog_parsing_and_missing_secret() -> None:
    cr = "ab" * 32
    log = parse_keylog(f"# comment\nCLIENT_RANDOM {cr} {'11' * 48}\nSERVER_TRAFFIC_SECRET_0 {cr} {'22' * 32}\n")
    assert keylog_secret(log, bytes.fromhex(cr), "CLIENT_RANDOM") == b"\x11" * 48
    with pytest.raises(KeyLogError):
        keylog_secret(log, bytes.fromhex(cr), "SERVER_HANDSHAKE_TRAFFIC_SECRET")


def test_binance_spec_builds_a_signed_identity_request() -> None:
    spec = load_spec("binance_eth")
    assert spec.host == "api.binance.com" and set(spec.fields) >= {"uid", "balance"}
    request = spec.build_request(Credentials("K" * 64, "secret"), host="api.binance.test", timestamp_ms=1700000000000)
    head = request.decode()
    assert head.startswith("GET /api/v3/account?") and head.endswith("\r\n\r\n")
    assert "Accept-Encoding: identity\r\n" in head and "X-MBX-APIKEY: " + "K" * 64 in head
    query = head.split(" ")[1].split("?", 1)[1]
    signed, _, signature = query.rpartition("&signature=")
    assert "timestamp=1700000000000" in signed and "recvWindow=5000" in signed
    assert signature == hmac.new(b"secret", signed.encode(), hashlib.sha256).hexdigest()
    body = b'{"balances":[{"asset":"ETH","free":"12.34500000","locked":"0.00000000"}],"uid":123}'
    assert spec.fields["balance"].regex().search(body).group(1) == b"12.34500000"
    assert spec.fields["uid"].regex().search(body).group(1) == b"123"


def test_spec_validation_names_the_problem() -> None:
    with pytest.raises(SpecError, match="fields.balance"):
        parse_spec({"name": "x", "host": "h", "request": {"path": "/"},
                    "fields": {"uid": {"prefix": "a", "pattern": "[0-9]+", "suffix": "b"}}})
    with pytest.raises(SpecError, match="pattern"):
        parse_spec({"name": "x", "host": "h", "request": {"path": "/"},
                    "fields": {"uid": {"prefix": "a", "pattern": "[", "suffix": "b"},
                               "balance": {"prefix": "a", "pattern": "1", "suffix": "b"}}})
    with pytest.raises(SpecError) as err:
        load_spec("no_such_source")
    assert err.value.reason == "spec_not_found"


FIELD = {"prefix": "a", "pattern": "[0-9]+", "suffix": "b"}


@pytest.mark.parametrize("extra, message", [
    ({"columns": ["balance", "usdt"]}, "define fields.usdt"),
    ({"columns": ["uid"]}, "must name a value field"),
    ({"columns": []}, "1 to 4 distinct"),
    ({"columns": ["balance", "balance"]}, "1 to 4 distinct"),
    ({"columns": ["btc", "balance"], "btc_optional": True}, "first column .btc. cannot be optional"),
    ({"columns": ["balance", "BTC"], "field": "BTC"}, "use a-z, 0-9 and _"),
    ({"btc_optional": "yes"}, "optional must be true or false"),
])
def test_column_lists_are_validated(extra, message) -> None:
    fields = {"uid": FIELD, "balance": FIELD, extra.get("field", "btc"): FIELD}
    if "btc_optional" in extra:
        fields["btc"] = {**FIELD, "optional": extra["btc_optional"]}
    doc = {"name": "x", "host": "h", "request": {"path": "/"}, "fields": fields}
    if "columns" in extra:
        doc["columns"] = extra["columns"]
    with pytest.raises(SpecError, match=message):
        parse_spec(doc)


def test_the_two_column_spec_reads_both_balances_and_allows_btc_to_be_missing() -> None:
    spec = load_spec("binance_eth_btc")
    assert spec.columns == ("balance", "btc") and spec.primary == "balance"
    assert spec.fields["btc"].optional and not spec.fields["balance"].optional
    assert load_spec("binance_eth").columns == ("balance",)


def test_http_response_checks_refuse_compressed_bodies() -> None:
    from tlsn import ProverError
    from tlsn.prover import check_http_response

    assert check_http_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}") == 200
    assert check_http_response(b"HTTP/1.1 401 Unauthorized\r\nContent-Encoding: identity\r\n\r\n") == 401
    with pytest.raises(ProverError) as err:
        check_http_response(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n\x1f\x8b")
    assert err.value.reason == "compressed_body"
    with pytest.raises(ProverError) as err:
        check_http_response(b"HTTP/2 200\r\n\r\n")
    assert err.value.reason == "malformed_response"
