"""Deterministic test cases for the AES-GCM verification program, shared by the pytest process
and the MPyC party processes it starts (``tests/aes_gcm_party.py``): both rebuild the same cases
from the seed, each party keeps its own key-share rows."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import numpy as np

from mpc_programs.verification.aes_gcm_mpc import ProviderInput, RecordPart, share_key_bytes
from mpcstats.benchmarks.synthetic_records import (ACCOUNT_TARGET, SyntheticRecord,
                                                   SyntheticRequest, SyntheticResponse, make_record,
                                                   make_response, make_request, provider_input,
                                                   request_bytes, request_input, response_input)

SEED = 20261125
M = 3


@dataclass(frozen=True)
class Case:
    name: str
    accept: bool
    units: int | None  # balance the MPC must output when accepted
    inputs: list[ProviderInput]  # one per party


def _flip(data: bytes, i: int) -> bytes:
    return data[:i] + bytes([data[i] ^ 1]) + data[i + 1:]


def build_cases(seed: int = SEED) -> list[Case]:
    rng = random.Random(seed)
    share_rng = np.random.default_rng(seed)
    balances = {b"BTC": b"0.10000000", b"ETH": b"1.23450000"}

    def rec(uid: int, key_bits: int = 128, eth: bytes | None = None,
            tls12: bool = False) -> SyntheticRecord:
        b = {**balances, b"ETH": eth} if eth else balances
        return make_record(rng, uid=uid, balances=b, key_bits=key_bits, tls12=tls12)

    def rows(key: bytes) -> list[list[int]]:
        return share_key_bytes(key, m=M, t=1, rng=share_rng)

    def case(name: str, accept: bool, r: SyntheticRecord, key: bytes | None = None,
             share_rows: list[list[int]] | None = None, **changes: object) -> Case:
        rs = share_rows if share_rows is not None else rows(key if key is not None else r.key)
        ins = [provider_input(r, rs[i], **changes) for i in range(M)]
        return Case(name, accept, r.units if accept else None, ins)

    cases: list[Case] = []
    honest1 = rec(111111111, eth=b"12.00000001")
    cases.append(case("honest_aes128", True, honest1))
    honest2 = rec(222222222, key_bits=256, eth=b"0.00000000")
    cases.append(case("honest_aes256", True, honest2))
    honest3 = rec(333333333, eth=b"98765.43210000")
    cases.append(case("honest_long_balance", True, honest3))

    r = rec(400000001)
    cases.append(case("wrong_key", False, r, key=rng.randbytes(16)))
    r = rec(400000002)
    cases.append(case("key_of_another_record", False, r, key=honest1.key))
    r = rec(400000003)
    cases.append(case("tampered_ciphertext", False, r,
                      ciphertext=_flip(r.ciphertext, r.balance_offset())))
    r = rec(400000004)
    cases.append(case("tampered_tag", False, r, tag=_flip(r.tag, 3)))
    r = rec(400000005)
    off, length = r.balance_offset(), len(r.balance)
    base = provider_input(r, [0] * 16)
    moved = tuple((o + 2 if o >= off - 30 and o <= off + length else o, d) for o, d in base.templates)
    cases.append(case("wrong_offsets", False, r, balance=(off + 2, length), templates=moved))
    r = rec(400000006)
    btc = r.balance_offset(b"BTC")
    base = provider_input(r, [0] * 16)
    shifted = tuple((o + btc - r.balance_offset() if d.startswith((b'{"asset"', b'","locked"')) else o, d)
                    for o, d in base.templates)
    cases.append(case("offsets_at_other_asset", False, r, balance=(btc, 10), templates=shifted))
    r = rec(400000007)
    cases.append(case("claimed_uid_differs", False, r, uid=(r.uid_offset(), b"400000008")))
    r = rec(400000009)
    cases.append(case("claimed_uid_prefix", False, r, uid=(r.uid_offset(), b"40000000")))
    r = rec(400000010)
    bad_rows = rows(r.key)
    bad_rows[2] = bad_rows[2][:5] + [bad_rows[2][5] ^ 0x40] + bad_rows[2][6:]
    cases.append(case("inconsistent_shares", False, r, share_rows=bad_rows))
    r = rec(400000011, eth=b"1.2345a000")
    cases.append(case("letter_in_balance", False, r))
    r = rec(400000012, eth=b"1.2345:000")
    cases.append(case("colon_in_balance", False, r))
    r = rec(400000013, eth=b"123456789012.00000000")
    cases.append(case("balance_field_too_long", False, r))
    r = rec(400000014, eth=b"11.00000000")
    cases.append(case("balance_claimed_shorter", False, r,
                      balance=(r.balance_offset() + 1, len(r.balance) - 1)))
    r = rec(400000015)
    cases.append(case("offset_outside_record", False, r, uid=(len(r.ciphertext) + 3, r.uid)))
    r = rec(400000016)
    not_ok = make_record(rng, uid=400000016, balances=balances)
    pt404 = not_ok.plaintext.replace(b"HTTP/1.1 200 OK", b"HTTP/1.1 404 NO", 1)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    sealed = AESGCM(not_ok.key).encrypt(not_ok.nonce, pt404, not_ok.aad)
    r404 = replace(not_ok, plaintext=pt404, ciphertext=sealed[:-16], tag=sealed[-16:])
    cases.append(case("first_block_not_200", False, r404))
    honest5 = rec(666666666, eth=b"3.14159265", tls12=True)
    cases.append(case("honest_tls12_layout", True, honest5))
    r = rec(400000017, key_bits=256, tls12=True)
    cases.append(case("tampered_aad_tls12", False, r, aad=_flip(r.aad, 7)))
    honest4 = rec(555555555, eth=b"7.50000000")
    cases.append(case("honest_last", True, honest4))

    # Full-size responses over several records (issue 17): head record, 16 KB body records,
    # TLS 1.3 tickets first; ETH early, the uid at the end of the last record.
    def full(uid: int, eth: bytes = b"1.23450000", **kw: object) -> SyntheticResponse:
        return make_response(rng, uid=uid, balances={**balances, b"ETH": eth}, **kw)  # type: ignore[arg-type]

    def mcase(name: str, accept: bool, r: SyntheticResponse, **changes: object) -> Case:
        rs = rows(r.key)
        ins = [response_input(r, rs[i], **changes) for i in range(M)]
        return Case(name, accept, r.units if accept else None, ins)

    big13 = full(700000001, eth=b"2.50000000", tickets=2)
    assert len(big13.records) == 2 + 4 and big13.uid_offset() > 32768
    cases.append(mcase("honest_multi_record_tls13", True, big13))
    cases.append(mcase("honest_multi_record_tls12", True, full(700000002, tls12=True, key_bits=256)))
    cases.append(mcase("honest_multi_record_zero_eth", True, full(700000003, eth=b"0.00000000")))
    r = full(700000004, tickets=1)
    (n, a, c, t) = r.records[3]  # a body record that holds no checked byte
    cases.append(mcase("multi_record_tampered_unchecked_record", False, r,
                       more_records=tuple(RecordPart(_flip(c, 100), t, n, a) if i == 2 else rec_
                                          for i, rec_ in enumerate(response_input(r, [0] * 16).more_records))))
    r = full(700000005, tickets=2)
    cases.append(mcase("multi_record_ticket_claimed_as_data", False, r,
                       inner_types=(0x17,) * len(r.records)))
    r = full(700000007, tickets=1)  # the response's head record passed off as a ticket
    skip = response_input(r, [0] * 16)
    cases.append(mcase("multi_record_response_record_claimed_as_ticket", False, r,
                       inner_types=(0x16, 0x16) + (0x17,) * (len(r.records) - 2),
                       templates=tuple((o - (len(r.stream) - len(r.stream.split(b"\r\n\r\n", 1)[1])), d)
                                       if o else (o, d) for o, d in skip.templates)))
    r = full(700000006)
    cases.append(mcase("multi_record_tag_of_other_record", False, r,
                       more_records=tuple(RecordPart(x.ciphertext, r.records[0][3], x.nonce, x.aad)
                                          if i == 0 else x
                                          for i, x in enumerate(response_input(r, [0] * 16).more_records))))

    # The request, bound inside MPC (client-write key shared too): every byte known but the
    # API key, which may hold no CR or LF.
    def rcase(name: str, accept: bool, r: SyntheticResponse, q: SyntheticRequest,
              expected: bytes | None = None, client_key: bytes | None = None, **changes: object) -> Case:
        rs, cs = rows(r.key), rows(client_key if client_key is not None else q.key)
        ins = [response_input(r, rs[i], request=request_input(q, cs[i], expected), **changes)
               for i in range(M)]
        return Case(name, accept, r.units if accept else None, ins)

    def account_request(tls12: bool = False, **kw: object) -> SyntheticRequest:
        return make_request(rng, tls12=tls12, **kw)  # type: ignore[arg-type]

    r = full(710000001, tickets=2)
    cases.append(rcase("request_bound_honest", True, r, account_request()))
    r = full(710000002, tls12=True)
    cases.append(rcase("request_bound_honest_tls12", True, r, account_request(tls12=True)))
    r = full(710000003)
    echo = account_request(target=b"/api/v3/echo?data=" + b"x" * (len(ACCOUNT_TARGET) - 18))
    cases.append(rcase("request_to_another_endpoint", False, r, echo,
                       expected=request_bytes(ACCOUNT_TARGET, api_key=b"A" * 64)))
    r = full(710000004)
    other_params = ACCOUNT_TARGET.replace(b"omitZeroBalances=false", b"omitZeroBalances=true&")
    cases.append(rcase("request_with_other_query_parameters", False, r, account_request(target=other_params),
                       expected=request_bytes(ACCOUNT_TARGET, api_key=b"A" * 64)))
    r = full(710000005)
    cases.append(rcase("request_for_another_host", False, r, account_request(host=b"api.binance.evil"),
                       expected=request_bytes(ACCOUNT_TARGET, host=b"api.binance.com", api_key=b"A" * 64)))
    r = full(710000006)
    smuggled = b"A" * 20 + b"\r\n\r\nGET /api/v3/echo?d=" + b"B" * 19
    cases.append(rcase("request_smuggled_in_the_api_key", False, r, account_request(api_key=smuggled)))
    r = full(710000007)
    cases.append(rcase("request_under_a_wrong_client_key", False, r, account_request(),
                       client_key=rng.randbytes(16)))
    return cases


def aes_vectors(seed: int = SEED) -> list[tuple[bytes, list[bytes], list[list[int]]]]:
    """(key, blocks, share rows) for the raw AES check: AES-128 and AES-256 random keys,
    plus the FIPS-197 Appendix A.1 key."""
    rng = random.Random(seed + 1)
    share_rng = np.random.default_rng(seed + 1)
    keys = [bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")]
    keys += [rng.randbytes(16) for _ in range(2)] + [rng.randbytes(32) for _ in range(2)]
    out = []
    for k in keys:
        blocks = [rng.randbytes(16) for _ in range(3)] + [bytes(16)]
        out.append((k, blocks, share_key_bytes(k, m=M, t=1, rng=share_rng)))
    return out
