"""Input verification inside MPC (issue 4): AES-GCM records checked by 3 real MPyC processes.

The MPC tests share one 3-party run of ``tests/aes_gcm_party.py`` (module fixture) that opens,
for the test only, AES outputs, round keys and balances.
"""

from __future__ import annotations

import json
import os
import random

import numpy as np
import pytest
from aes_gcm_cases import aes_vectors, build_cases
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mpc_programs.verification import gcm, gf256
from mpc_programs.verification.aes_gcm_mpc import share_key_bytes
from mpc_programs.runtime.local_parties import run_parties

CASES = build_cases()
HONEST = [c.name for c in CASES if c.accept]
DISHONEST = [c.name for c in CASES if not c.accept]


# -- plain (no MPC) ------------------------------------------------------------------------

def test_sbox_table_and_its_linearized_polynomial() -> None:
    assert [int(gf256.SBOX[x]) for x in (0x00, 0x01, 0x53, 0xFF)] == [0x63, 0x7C, 0xED, 0x16]
    y = np.array([gf256.pow_(x, 254) for x in range(256)], dtype=np.uint8)
    s = np.full(256, 0x63, dtype=np.uint8)
    for k, c in enumerate(gf256.SBOX_LINEAR):
        s ^= gf256.mul(c, gf256.frob(y, k))
    assert (s == gf256.SBOX).all()


def test_shamir_shares_reconstruct_from_any_two() -> None:
    secret = gf256.random_bytes(64)
    shares = gf256.shamir_share(secret, 3, 1)
    for pair in ((0, 1), (0, 2), (1, 2)):
        got = gf256.shamir_recombine([i + 1 for i in pair], [shares[i] for i in pair])
        assert (got == secret).all()
    assert not (shares[0] == secret).all()


@pytest.mark.parametrize("key_len", [16, 32])
def test_share_key_bytes_rows(key_len: int) -> None:
    key = os.urandom(key_len)
    rows = share_key_bytes(key)
    assert len(rows) == 3 and all(len(r) == key_len for r in rows)
    got = gf256.shamir_recombine([2, 3], [np.array(rows[1], np.uint8), np.array(rows[2], np.uint8)])
    assert got.tobytes() == key
    with pytest.raises(ValueError):
        share_key_bytes(b"short")


@pytest.mark.parametrize("key_len", [16, 32])
@pytest.mark.parametrize("pt_len", [0, 15, 16, 228])
def test_gcm_tag_check_matches_cryptography(key_len: int, pt_len: int) -> None:
    rng = random.Random(key_len * 1000 + pt_len)
    key, nonce, aad, pt = (rng.randbytes(key_len), rng.randbytes(12), rng.randbytes(5),
                           rng.randbytes(pt_len))
    sealed = AESGCM(key).encrypt(nonce, pt, aad)
    ct, tag = sealed[:-16], sealed[-16:]
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    h, mask = enc.update(bytes(16)), enc.update(gcm.counter_block(nonce, 1))
    assert gcm.tag_ok(h, mask, aad, ct, tag)
    assert not gcm.tag_ok(h, mask, aad + b"x", ct, tag)
    assert not gcm.tag_ok(h, mask, aad, ct, bytes([tag[0] ^ 1]) + tag[1:])


# -- 3 MPyC party processes ----------------------------------------------------------------

@pytest.fixture(scope="module")
def reports() -> list[dict]:
    results = run_parties(["tests/aes_gcm_party.py"], timeout=120)
    out = []
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
        out.append(json.loads([ln for ln in r.stdout.splitlines() if ln.startswith("{")][-1]))
    return out


@pytest.fixture(scope="module")
def report(reports: list[dict]) -> dict:
    return reports[0]


def test_parties_open_the_same_values(reports: list[dict]) -> None:
    strip = [{k: v for k, v in rep.items() if k != "party"} for rep in reports]
    assert strip[0] == strip[1] == strip[2]


def test_mpyc_secfld_is_the_aes_field_and_reads_our_shares(report: dict) -> None:
    assert report["secfld_modulus"] == gf256.MODULUS == 0x11B
    assert report["secfld_key"] == aes_vectors()[0][0].hex()


def _expand_key(key: bytes) -> list[bytes]:
    """Reference FIPS-197 key expansion in the clear."""
    nk = len(key) // 4
    nr = nk + 6
    w = [list(key[4 * i:4 * i + 4]) for i in range(nk)]
    rcon = 1
    for i in range(nk, 4 * (nr + 1)):
        t = list(w[-1])
        if i % nk == 0:
            t = [int(gf256.SBOX[b]) for b in t[1:] + t[:1]]
            t[0] ^= rcon
            rcon = int(gf256.MUL[rcon, 2])
        elif nk > 6 and i % nk == 4:
            t = [int(gf256.SBOX[b]) for b in t]
        w.append([a ^ b for a, b in zip(w[i - nk], t, strict=True)])
    return [bytes(sum(w[4 * r:4 * r + 4], [])) for r in range(nr + 1)]


def test_aes_blocks_inside_mpc_equal_cryptography(report: dict) -> None:
    vectors = {k.hex(): blocks for k, blocks, _ in aes_vectors()}
    assert {len(bytes.fromhex(a["key"])) for a in report["aes"]} == {16, 32}
    for a in report["aes"]:
        key = bytes.fromhex(a["key"])
        enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        assert a["ct"] == [enc.update(b).hex() for b in vectors[a["key"]]]
        assert a["consistent"]


def test_key_schedule_inside_mpc(report: dict) -> None:
    for a in report["aes"]:
        assert a["round_keys"] == [k.hex() for k in _expand_key(bytes.fromhex(a["key"]))]
    fips = next(a for a in report["aes"] if a["key"] == "2b7e151628aed2a6abf7158809cf4f3c")
    assert fips["round_keys"][10] == "d014f9a8c9ee2589e13f0cc8b6630ca6"  # FIPS-197 A.1


@pytest.mark.parametrize("name", HONEST)
def test_honest_provider_accepted_with_its_balance(report: dict, name: str) -> None:
    case = next(c for c in CASES if c.name == name)
    assert report["verdicts"][name] is True
    assert report["balances"][name] == case.units


@pytest.mark.parametrize("name", DISHONEST)
def test_dishonest_provider_rejected(report: dict, name: str) -> None:
    assert report["verdicts"][name] is False


def test_key_share_consistency_check(report: dict) -> None:
    assert report["key_check"] == {"honest": [True] * 3, "tampered": [False] * 3}


def test_mixed_batch_accepts_exactly_the_honest(report: dict) -> None:
    assert len(CASES) >= 15
    assert sorted(n for n, v in report["verdicts"].items() if v) == sorted(HONEST)


def test_batch_of_one(report: dict) -> None:
    assert report["single"] == {"verdict": True, "balance": CASES[0].units}


def test_balances_live_in_the_statistics_field(report: dict) -> None:
    assert report["balance_field"] is True


def test_balance_type_is_a_parameter(report: dict) -> None:
    assert report["secint64"] == {"verdicts": [True, False], "balance": CASES[0].units,
                                  "same_field": True, "bit_length": 64}


@pytest.mark.parametrize("pt_len", [0, 1, 17, 511, 512, 513, 16385, 40000])
def test_vectorised_ghash_matches_the_reference_and_cryptography(pt_len: int) -> None:
    """The GF(2)-matrix GHASH (no per-block Python loop) equals the bitwise reference and
    checks the tags ``cryptography`` made, for several records under one key at once."""
    key, nonce = os.urandom(16), os.urandom(12)
    aad, pt = os.urandom(13), os.urandom(pt_len)
    sealed = AESGCM(key).encrypt(nonce, pt, aad)
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    h, mask = enc.update(bytes(16)), enc.update(nonce + b"\0\0\0\1")
    ct, tag = sealed[:-16], sealed[-16:]
    assert gcm.ghash_many(h, [(aad, ct)]) == [gcm.ghash(h, aad, ct)]
    other = AESGCM(key).encrypt(nonce[::-1], b"x" * 40, b"")
    mask2 = enc.update(nonce[::-1] + b"\0\0\0\1")
    assert gcm.tags_ok(h, [mask, mask2], [(aad, ct, tag), (b"", other[:-16], other[-16:])])
    assert not gcm.tags_ok(h, [mask2, mask], [(aad, ct, tag), (b"", other[:-16], other[-16:])])
