"""Synthetic Binance-like AES-GCM records for the verification demo, benchmark and tests.

A record is what the notary would have relayed: a TLS 1.3-style application-data record (AAD =
the 5-byte record header, plaintext = HTTP response + inner content type 0x17) encrypted with
``cryptography``'s AESGCM under a random key. The public positions come from the known response
shape, the way a source spec gives them. No MPC here.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mpc_programs.verification.aes_gcm_mpc import ProviderInput, RecordPart, RequestInput

FIRST_BLOCK = b"HTTP/1.1 200 OK\r"
ASSET_PREFIX = b'{"asset":"%s","free":"'
BALANCE_SUFFIX = b'","locked":"'
UID_PREFIX = b'"uid":'
UID_SUFFIX = b"}"


@dataclass(frozen=True)
class SyntheticRecord:
    key: bytes
    nonce: bytes
    aad: bytes
    plaintext: bytes
    ciphertext: bytes
    tag: bytes
    uid: bytes
    asset: bytes
    balance: bytes  # e.g. b"1.23450000"

    @property
    def units(self) -> int:
        """The balance in units of 1e-8, as the MPC should output it."""
        return int(self.balance.replace(b".", b""))

    def balance_offset(self, asset: bytes | None = None) -> int:
        prefix = ASSET_PREFIX % (asset or self.asset)
        return self.plaintext.index(prefix) + len(prefix)

    def uid_offset(self) -> int:
        return self.plaintext.index(UID_PREFIX) + len(UID_PREFIX)


def make_record(rng: random.Random, uid: int, balances: dict[bytes, bytes], asset: bytes = b"ETH",
                key_bits: int = 128, tls12: bool = False) -> SyntheticRecord:
    """Encrypt a Binance-shaped account response holding the given balances.

    TLS 1.3 layout by default (AAD = record header, inner content type appended); with
    ``tls12`` the TLS 1.2 one: nonce = 4-byte salt || 8-byte explicit nonce, AAD = 8-byte
    sequence number || type || version || plaintext length.
    """
    items = b",".join(b'{"asset":"%s","free":"%s","locked":"0.00000000"}' % (a, v)
                      for a, v in balances.items())
    body = (b'{"makerCommission":10,"takerCommission":10,"canTrade":true,"accountType":"SPOT",'
            b'"balances":[' + items + b'],"permissions":["SPOT"],"uid":%d}' % uid)
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    key = rng.randbytes(key_bits // 8)
    nonce = rng.randbytes(12)
    if tls12:
        plaintext = head + body
        seq = rng.randrange(1, 5).to_bytes(8, "big")
        aad = seq + bytes([23, 3, 3]) + len(plaintext).to_bytes(2, "big")
    else:
        plaintext = head + body + b"\x17"
        aad = bytes([23, 3, 3]) + (len(plaintext) + 16).to_bytes(2, "big")
    sealed = AESGCM(key).encrypt(nonce, plaintext, aad)
    return SyntheticRecord(key, nonce, aad, plaintext, sealed[:-16], sealed[-16:], b"%d" % uid,
                           asset, balances[asset])


def _claimed_fields(source: Any, text: bytes, extra_assets: Sequence[bytes]
                    ) -> tuple[list[tuple[int, bytes]], list[tuple[int, int]]]:
    """The known plaintext an honest claim checks around each field of ``source`` (a record or
    a multi-record response; ``text`` its plaintext), and each extra column's (start, length)."""
    off, uid_off = source.balance_offset(), source.uid_offset()
    templates = [(0, FIRST_BLOCK),
                 (off - len(ASSET_PREFIX % source.asset), ASSET_PREFIX % source.asset),
                 (off + len(source.balance), BALANCE_SUFFIX),
                 (uid_off - len(UID_PREFIX), UID_PREFIX),
                 (uid_off + len(source.uid), UID_SUFFIX)]
    extra = []
    for asset in extra_assets:
        start = source.balance_offset(asset)
        length = text.index(BALANCE_SUFFIX, start) - start
        templates += [(start - len(ASSET_PREFIX % asset), ASSET_PREFIX % asset),
                      (start + length, BALANCE_SUFFIX)]
        extra.append((start, length))
    return templates, extra


def provider_input(rec: SyntheticRecord, key_share: Sequence[int],
                   extra_assets: Sequence[bytes] = (), **changes: Any) -> ProviderInput:
    """The public claim an honest provider makes for ``rec``, with this party's key share.

    ``extra_assets``: further balances of the record to claim as extra columns (e.g.
    ``[b"BTC"]``). ``changes`` overrides fields (tests use it to build dishonest claims).
    """
    off, uid_off = rec.balance_offset(), rec.uid_offset()
    templates, extra = _claimed_fields(rec, rec.plaintext, extra_assets)
    claim = ProviderInput(
        key_share=list(key_share), ciphertext=rec.ciphertext, tag=rec.tag, nonce=rec.nonce,
        aad=rec.aad, templates=tuple(templates), uid=(uid_off, rec.uid),
        balance=(off, len(rec.balance)), extra_values=tuple(extra))
    return replace(claim, **changes) if changes else claim


@dataclass(frozen=True)
class SyntheticResponse:
    """A full-size response over several records (TLS 1.3 layout, or TLS 1.2 with ``tls12``):
    ``records`` are (nonce, aad, ciphertext, tag) in order, ``stream`` the HTTP response, and
    ``tickets`` how many NewSessionTicket records come first (TLS 1.3, no response bytes)."""

    key: bytes
    records: tuple[tuple[bytes, bytes, bytes, bytes], ...]
    stream: bytes
    uid: bytes
    asset: bytes
    balance: bytes
    tickets: int
    tls12: bool

    @property
    def units(self) -> int:
        return int(self.balance.replace(b".", b""))

    def balance_offset(self, asset: bytes | None = None) -> int:
        prefix = ASSET_PREFIX % (asset or self.asset)
        return self.stream.index(prefix) + len(prefix)

    def uid_offset(self) -> int:
        return self.stream.rindex(UID_PREFIX) + len(UID_PREFIX)


MAX_FRAGMENT = 16384


def make_response(rng: random.Random, uid: int, balances: dict[bytes, bytes], asset: bytes = b"ETH",
                  key_bits: int = 128, tls12: bool = False, response_bytes: int = 40_000,
                  tickets: int = 0) -> SyntheticResponse:
    """A Binance-shaped account response of about ``response_bytes`` (zero balances of filler
    assets after the given ones, uid last), sent as a real server does: the head as one record,
    the body in records of at most 16 KB; TLS 1.3 ``tickets`` NewSessionTicket records first."""
    items = [b'{"asset":"%s","free":"%s","locked":"0.00000000"}' % (a, v) for a, v in balances.items()]
    filler = 0
    while sum(len(i) + 1 for i in items) < response_bytes - 600:
        items.append(b'{"asset":"X%04dETH","free":"0.00000000","locked":"0.00000000"}' % filler)
        filler += 1
    body = (b'{"makerCommission":10,"takerCommission":10,"canTrade":true,"accountType":"SPOT",'
            b'"balances":[' + b",".join(items) + b'],"permissions":["SPOT"],"uid":%d}' % uid)
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\n"
            b"Content-Length: %d\r\nConnection: keep-alive\r\n\r\n" % len(body))
    contents = [head] + [body[i:i + MAX_FRAGMENT] for i in range(0, len(body), MAX_FRAGMENT)]
    key = rng.randbytes(key_bits // 8)
    aead = AESGCM(key)
    records = []
    if tls12:
        salt, explicit = rng.randbytes(4), rng.randrange(1 << 60)
        for seq, content in enumerate(contents, start=1):
            nonce = salt + (explicit + seq).to_bytes(8, "big")
            aad = seq.to_bytes(8, "big") + bytes([23, 3, 3]) + len(content).to_bytes(2, "big")
            sealed = aead.encrypt(nonce, content, aad)
            records.append((nonce, aad, sealed[:-16], sealed[-16:]))
    else:
        iv = rng.randbytes(12)
        inner = [rng.randbytes(200) + b"\x16" for _ in range(tickets)] + [c + b"\x17" for c in contents]
        for seq, plain in enumerate(inner):
            nonce = bytes(a ^ b for a, b in zip(iv, seq.to_bytes(12, "big")))
            aad = bytes([23, 3, 3]) + (len(plain) + 16).to_bytes(2, "big")
            sealed = aead.encrypt(nonce, plain, aad)
            records.append((nonce, aad, sealed[:-16], sealed[-16:]))
    return SyntheticResponse(key, tuple(records), head + body, b"%d" % uid, asset, balances[asset],
                             0 if tls12 else tickets, tls12)


def response_input(resp: SyntheticResponse, key_share: Sequence[int],
                   extra_assets: Sequence[bytes] = (), **changes: Any) -> ProviderInput:
    """The public claim an honest provider makes for a multi-record ``resp``: every record from
    the first (tickets included) through the last, positions in the response stream."""
    off, uid_off = resp.balance_offset(), resp.uid_offset()
    templates, extra = _claimed_fields(resp, resp.stream, extra_assets)
    (nonce, aad, ct, tag), *more = resp.records
    inner = () if resp.tls12 else tuple([0x16] * resp.tickets + [0x17] * (len(resp.records) - resp.tickets))
    claim = ProviderInput(
        key_share=list(key_share), ciphertext=ct, tag=tag, nonce=nonce, aad=aad,
        templates=tuple(templates), uid=(uid_off, resp.uid), balance=(off, len(resp.balance)),
        extra_values=tuple(extra), more_records=tuple(RecordPart(c, t, n, a) for n, a, c, t in more),
        inner_types=inner)
    return replace(claim, **changes) if changes else claim


@dataclass(frozen=True)
class SyntheticRequest:
    """The provider's request as one client record: ``plaintext`` is the HTTP request,
    ``api_key_span`` (offset, length) the secret bytes."""

    key: bytes
    record: RecordPart
    plaintext: bytes
    api_key_span: tuple[int, int]
    tls12: bool


def request_bytes(target: bytes, host: bytes = b"api.binance.com", api_key: bytes = b"A" * 64) -> bytes:
    """The request a source spec builds (see ``tlsn.spec.SourceSpec.build_request``)."""
    return (b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nX-MBX-APIKEY: " + api_key
            + b"\r\nAccept: application/json\r\nAccept-Encoding: identity\r\n"
            b"User-Agent: mpcstats-notarize/1\r\nConnection: close\r\n\r\n")


ACCOUNT_TARGET = (b"/api/v3/account?omitZeroBalances=false&timestamp=1796425904586&recvWindow=5000"
                  b"&signature=" + b"ab12" * 16)


def make_request(rng: random.Random, key_bits: int = 128, tls12: bool = False,
                 target: bytes = ACCOUNT_TARGET, host: bytes = b"api.binance.com",
                 api_key: bytes | None = None) -> SyntheticRequest:
    """The request encrypted under a fresh client-write key (TLS 1.3 layout unless ``tls12``)."""
    api_key = api_key if api_key is not None else bytes(rng.choice(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
                                                        for _ in range(64))
    plain = request_bytes(target, host, api_key)
    start = plain.index(b"X-MBX-APIKEY: ") + len(b"X-MBX-APIKEY: ")
    key = rng.randbytes(key_bits // 8)
    if tls12:
        nonce = rng.randbytes(12)
        aad = (1).to_bytes(8, "big") + bytes([23, 3, 3]) + len(plain).to_bytes(2, "big")
        sealed = AESGCM(key).encrypt(nonce, plain, aad)
    else:
        nonce = rng.randbytes(12)
        aad = bytes([23, 3, 3]) + (len(plain) + 1 + 16).to_bytes(2, "big")
        sealed = AESGCM(key).encrypt(nonce, plain + b"\x17", aad)
    return SyntheticRequest(key, RecordPart(sealed[:-16], sealed[-16:], nonce, aad), plain,
                            (start, len(api_key)), tls12)


def request_input(req: SyntheticRequest, key_share: Sequence[int], expected: bytes | None = None,
                  api_key_length: int | None = None) -> RequestInput:
    """What the servers derive for ``req``: every byte of the ``expected`` request (default: the
    request itself) known except the API key (``api_key_length`` bytes at the same place)."""
    expected = req.plaintext if expected is None else expected
    start = expected.index(b"X-MBX-APIKEY: ") + len(b"X-MBX-APIKEY: ")
    length = req.api_key_span[1] if api_key_length is None else api_key_length
    known = ((0, expected[:start]), (start + length, expected[start + length:]))
    return RequestInput(list(key_share), req.record, known, ((start, length),), inner_type=not req.tls12)
