"""Verified GF(2^8) products (issue 15): ``gf256_check``, Chida et al.'s check in K = GF(2^48).

Local: the extension field against a slow reference, the irreducibility of its modulus, the
PRSS bits (a bit whatever one party does), the coefficients. With 3 real party processes (TLS,
the hardened runtime; ``tests/gf256_check_party.py``): honest products and linear relations
pass the check and open right; a consistently shifted product resharing (the honest parties
hold a valid sharing of a wrong product, invisible to any opening check), a shifted Frobenius
output of ``mul_frob`` and a shifted message inside the check itself make both honest parties
abort; a shifted dealing of the check's own randomness changes nothing (consistent) or is caught
by the checked opening of r (inconsistent). The check's cost at 10,000 products is measured.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from deviation import assert_honest_parties_aborted, json_lines
from gf256_check_party import DEVIANT, N, values

from mpc_programs.runtime.local_parties import run_parties
from mpc_programs.verification import gf256
from mpc_programs.verification import gf256_check as kf

PARTY = "tests/gf256_check_party.py"
PRODUCT = "product check failed at test"
OPENING = "opening check failed at test"


def _run(*args: str) -> list:
    return run_parties([PARTY, "--no-log", *args], timeout=120)


def _rand(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, (n, kf.DEGREE), dtype=np.uint8)


# -- the extension field ---------------------------------------------------------------------
def test_modulus_is_irreducible_and_the_test_rejects_reducible_polynomials() -> None:
    assert kf.is_irreducible(kf.MODULUS_POLY)
    assert kf.ORDER == 2 ** 48
    cubic = [0x20, 0, 0, 1]  # any product of two cubics is reducible
    other = [7, 1, 0, 1]
    assert not kf.is_irreducible(kf._pmul(cubic, other))
    assert not kf.is_irreducible([0x20, 1, 0, 0, 0, 0, 1])  # Y^6 + Y + c never is
    # a root in GF(2^8): (Y + 5)·(monic quintic)
    assert not kf.is_irreducible(kf._pmul([5, 1], [1, 2, 3, 4, 5, 1]))


def test_k_multiplication_matches_the_slow_reference() -> None:
    rng = np.random.default_rng(1)
    a, b = _rand(rng, 300), _rand(rng, 300)
    fast = kf.k_mul(a, b)
    for i in range(300):
        assert fast[i].tolist() == kf.reference_mul(a[i].tolist(), b[i].tolist())
    # broadcasting a public constant over a vector
    assert np.array_equal(kf.k_mul(a[0], b), kf.k_mul(np.broadcast_to(a[0], b.shape), b))


def test_k_is_a_field_and_gf256_embeds() -> None:
    rng = np.random.default_rng(2)
    a, b, c = _rand(rng, 500), _rand(rng, 500), _rand(rng, 500)
    assert np.array_equal(kf.k_mul(kf.k_mul(a, b), c), kf.k_mul(a, kf.k_mul(b, c)))
    assert np.array_equal(kf.k_mul(a, b), kf.k_mul(b, a))
    assert np.array_equal(kf.k_mul(a, b ^ c), kf.k_mul(a, b) ^ kf.k_mul(a, c))
    assert np.array_equal(kf.k_mul(a, kf.k_one((500,))), a)
    nonzero = a[a.any(axis=1)]
    assert np.array_equal(kf.k_mul(nonzero, kf.k_inv(nonzero)), kf.k_one((len(nonzero),)))
    assert np.array_equal(kf.k_inv(np.zeros((1, 6), np.uint8)), np.zeros((1, 6), np.uint8))
    x = np.arange(256, dtype=np.uint8)
    y = np.roll(x, 17)
    assert np.array_equal(kf.k_mul(kf.embed(x), kf.embed(y)), kf.embed(gf256.mul(x, y)))
    assert np.array_equal(kf.k_scale(a[:256], x), kf.k_mul(a[:256], kf.embed(x)))
    # the order of the multiplicative group: a^(|K|-1) = 1
    assert np.array_equal(kf.k_pow(nonzero[:20], kf.ORDER - 1), kf.k_one((20,)))


def test_shared_k_arithmetic_is_linear_in_the_coefficients() -> None:
    """K products are GF(2^8)-bilinear in the coefficients, so they commute with Shamir
    interpolation: the local product of degree-1 shares is a degree-2 sharing of the product."""
    rng = np.random.default_rng(3)
    a, b = _rand(rng, 50), _rand(rng, 50)
    sa = gf256.shamir_share(a, 3, 1, rng=rng)
    sb = gf256.shamir_share(b, 3, 1, rng=rng)
    local = [kf.k_mul(sa[i], sb[i]) for i in range(3)]
    assert np.array_equal(gf256.shamir_recombine([1, 2, 3], local), kf.k_mul(a, b))


def test_coefficients_are_public_uniform_bytes_bound_to_the_seed() -> None:
    a = kf.coefficients(b"seed", 1000)
    assert a.shape == (1000, 6) and a.dtype == np.uint8
    assert np.array_equal(a, kf.coefficients(b"seed", 1000))
    assert not np.array_equal(a, kf.coefficients(b"seeD", 1000))
    assert len(np.unique(a)) == 256


def test_prss_bits_are_bits_whatever_one_party_does() -> None:
    """Each 2-set S shares a key; party i's share is Σ_{S∋i} b_S f_S(i+1). Any two parties'
    shares interpolate to b_01 ⊕ b_02 ⊕ b_12 — a bit — so a third party's share, right or
    wrong, cannot make the honest-defined value a non-bit."""
    rnd = random.Random(4)
    keys = {s: rnd.randbytes(16) for s in itertools.combinations(range(3), 2)}
    shape = (2000,)
    shares = [kf.prss_bit_shares({s: k for s, k in keys.items() if i in s}, 3, i, b"uci", shape)
              for i in range(3)]
    values = [gf256.shamir_recombine([i + 1, j + 1], [shares[i], shares[j]])
              for i, j in itertools.combinations(range(3), 2)]
    assert all(np.array_equal(v, values[0]) for v in values)
    assert set(np.unique(values[0])) == {0, 1}
    assert 800 < int(values[0].sum()) < 1200
    wrong = shares[1] ^ np.uint8(0x77)  # a dishonest party 1: the honest pair still defines bits
    assert np.array_equal(gf256.shamir_recombine([1, 3], [shares[0], shares[2]]), values[0])
    assert not np.array_equal(gf256.shamir_recombine([1, 2], [shares[0], wrong]), values[0])


def test_linearized_table_is_the_sbox_affine_map() -> None:
    table = kf.linearized_table(gf256.SBOX_LINEAR)
    assert table.tolist() == [gf256._affine(v) for v in range(256)]


# -- three parties ---------------------------------------------------------------------------
def _expected() -> tuple[list[int], list[int]]:
    v = values()
    return gf256.mul(v["x"], v["y"]).tolist(), gf256.mul(v["x"], v["y2"]).tolist()


def test_honest_products_pass_the_check_and_open_right() -> None:
    z, z2 = _expected()
    for r in _run():
        assert r.returncode == 0, r.stderr[-3000:]
        report = json_lines(r.stdout)[-1]
        assert report == {"pending": 2 * N, "z": z, "z2": z2}


def _assert_both_honest_abort(results: list, expected: str) -> None:
    assert_honest_parties_aborted(results, DEVIANT, expected)


#: Messages party 1 sends each peer: 0 the products' resharing, 1 its dealing of r, s and the
#: coin, 2 and 3 the shadows' resharings, 4 the opening of (c, r), 5 the resharing of s·T, 6
#: its opening.
@pytest.mark.parametrize("index, byte, expected", [
    (0, 0, PRODUCT),       # consistent shift of z_0: a valid sharing of a wrong product
    (0, N + 7, PRODUCT),   # ... of z2_7 (the second record on the same left operand)
    (2, 0, PRODUCT),       # a shadow [r·x]
    (3, 5 * 6 + 2, PRODUCT),  # a shadow [r·x·y]
    (4, 0, OPENING),       # a lie in the opening of the coin
    (4, 17, OPENING),      # ... of r
    (5, 3, PRODUCT),       # the resharing of s·T
    (6, 0, OPENING),       # the opening of s·T
])
def test_a_shifted_message_makes_both_honest_parties_abort(index: int, byte: int,
                                                           expected: str) -> None:
    _assert_both_honest_abort(_run("--deviate", str(index), "--byte", str(byte)), expected)


def test_a_consistently_shifted_dealing_of_the_checks_randomness_changes_nothing() -> None:
    """r, s and the coin stay uniform and hidden when one dealer shifts its dealing: an honest
    computation still passes and opens right."""
    z, z2 = _expected()
    results = _run("--deviate", "1", "--byte", "3")
    assert "deviating in message 1" in results[DEVIANT].stderr
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
        assert json_lines(r.stdout)[-1] == {"pending": 2 * N, "z": z, "z2": z2}


def test_an_inconsistent_dealing_is_caught_by_the_checked_opening_of_r() -> None:
    results = _run("--deviate", "1", "--byte", "0", "--only-peer", "0")
    _assert_both_honest_abort(results, OPENING)


def test_mul_frob_outputs_are_verified_through_the_plain_product_and_a_masked_opening() -> None:
    v = values()
    expected = [gf256._affine(int(p)) for p in gf256.mul(v["x"], v["y"])]
    for r in _run("--linear"):
        assert r.returncode == 0, r.stderr[-3000:]
        assert json_lines(r.stdout)[-1] == {"o": expected, "lp": expected}


#: --linear: message 0 is mul_frob's resharing (p at bytes 0..N-1, o = L(p) at N..2N-1),
#: message 1 the masked opening of p + R.
@pytest.mark.parametrize("index, byte, expected", [
    (0, 0, PRODUCT),      # the plain product p: its triple (and L(p) ≠ o)
    (0, N + 3, PRODUCT),  # a Frobenius output o: the zero-record o − L(p)
    (1, 5, "opening check failed at linear map"),
])
def test_a_shifted_frobenius_output_or_masked_opening_aborts(index: int, byte: int,
                                                             expected: str) -> None:
    _assert_both_honest_abort(_run("--linear", "--deviate", str(index), "--byte", str(byte)),
                              expected)


def test_shared_k_products_open_right() -> None:
    rng = np.random.default_rng(15 + 2)
    a, b = (rng.integers(0, 256, (N, kf.DEGREE), dtype=np.uint8) for _ in range(2))
    x = values()["x"]
    for r in _run("--kk"):
        assert r.returncode == 0, r.stderr[-3000:]
        report = json_lines(r.stdout)[-1]
        assert report["ab"] == kf.k_mul(a, b).tolist()
        assert report["ax"] == kf.k_scale(a, x).tolist()


def test_semi_honest_records_nothing() -> None:
    from mpc_programs.runtime import product_check
    one = np.ones(4, np.uint8)
    try:
        product_check.configure("semi-honest")
        kf.record(one, one, one)
        kf.record_zero(one)
        assert kf.pending() == 0
        product_check.configure("malicious")
        kf.record(one, one, one)
        kf.record_zero(one)
        assert kf.pending() == 8
    finally:
        kf._default.clear()
        product_check.configure("malicious")


def test_recording_copies_and_rejects_mismatched_shapes() -> None:
    rec = kf.TripleRecorder()
    x = np.arange(6, dtype=np.uint8)
    rec.record(x, x, x)
    x[0] = 99  # a later in-place change must not alter the record
    assert rec._triples[0][1][0] == 0
    with pytest.raises(ValueError, match="same shape"):
        rec.record(x, x[:3], x)


def test_verify_cost() -> None:
    """verify() for 10,000 recorded products, median of 3 (printed; run with -s to see)."""
    results = _run("--bench", "10000")
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
    report = json_lines(results[0].stdout)[-1]
    print(f"\ngf256_check.verify, 10,000 products: median {report['verify_s'] * 1e3:.1f} ms "
          f"(runs {[round(t * 1e3, 1) for t in report['verify_all_s']]} ms); the products' "
          f"own resharing {report['mul_s'] * 1e3:.1f} ms")
    assert report["verify_s"] < 10
