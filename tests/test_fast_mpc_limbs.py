"""The resharing of ``fast_mpc`` with its local work in f192 limbs: 3 real party processes
reshare seeded shares (limb-native and object API) and open the results, and shuffle and
unshuffle rows with ``secure_sort``'s limb-native pair steps; a party that sends
a value ≥ p in place of its points makes the others abort naming it. Conversions and the
coefficients' randomness are checked locally."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from fast_mpc_party import N, digest, inputs
from mpc_programs.runtime import fast_mpc
from mpc_programs.runtime.local_parties import run_parties
from mpc_programs.shares import f192
from mpc_programs.shares.field import PRIME


@pytest.fixture(scope="module")
def reports() -> list[dict]:
    results = run_parties(["tests/fast_mpc_party.py", "--no-log"], timeout=120)
    out = []
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
        out.append(json.loads([ln for ln in r.stdout.splitlines() if ln.startswith("{")][-1]))
    return out


def test_resharings_reconstruct_exactly(reports: list[dict]) -> None:
    a, b = inputs()
    product = [x * y % PRIME for x, y in zip(a, b)]
    for report in reports:
        assert report["reshare_limbs_shape"] == [N // 2, 2, 3]
        assert report["reshare_limbs"] == digest(product)
        assert report["multiply_limbs"] == digest(product)
        assert report["multiply"] == digest(product)
        assert report["start_reshare_negative"] == digest([-v for v in product])
        assert report["reshare_unreduced"] == digest(product)
        assert report["share_sum_limbs"] == digest(a)
        assert report["share_sum"] == digest(a)
        assert report["empty"] == [0, 3]
        assert report["open_limbs"] == digest(a)
        assert report["shuffled_pairs"] == digest(sorted(x * PRIME + y for x, y in zip(a, b)))
        assert report["shuffle_moved"]
        assert report["unshuffled"] == [digest(a), digest(b)]


def test_a_value_outside_the_field_aborts_naming_the_sender() -> None:
    results = run_parties(["tests/fast_mpc_party.py", "--no-log", "--rogue"], timeout=120)
    for r in results:
        if r.pid == 1:
            continue
        assert r.returncode != 0
        assert "party 1 sent a malformed message" in r.stderr, r.stderr[-2000:]
        assert "outside the field" in r.stderr
        assert "finished" not in r.stdout


def test_conversions_match_python_ints() -> None:
    rng = random.Random(3)
    ints = [0, 1, PRIME - 1, PRIME, PRIME + 1, 2**192 - 1, 2**64, -1, -PRIME, PRIME**2 + 7] + \
        [rng.randrange(-PRIME**2, PRIME**2) for _ in range(500)]
    values = np.array(ints, dtype=object)
    limbs = fast_mpc.to_limbs(values)
    assert f192.to_ints(limbs) == [v % PRIME for v in ints]
    reduced = np.array([v % PRIME for v in ints], dtype=object).reshape(-1, 10)
    back = fast_mpc.from_limbs(fast_mpc.to_limbs(reduced).reshape(-1, 10, 3))
    assert back.shape == (len(ints) // 10, 10) and back.dtype == object
    assert back.tolist() == reduced.tolist()
    assert fast_mpc.to_limbs(np.array([np.int64(-3), 5], dtype=object)).tolist() == \
        f192.from_ints([PRIME - 3, 5]).tolist()
    c = 123456789 * 2**100 + 17
    out = fast_mpc.mul_const(limbs, fast_mpc.constant_limbs(c), np.empty_like(limbs))
    assert f192.to_ints(out) == [v * c % PRIME for v in ints]
    out = fast_mpc.add_const(limbs, fast_mpc.constant_limbs(-1), np.empty_like(limbs))
    assert f192.to_ints(out) == [(v - 1) % PRIME for v in ints]


def test_random_coefficients_are_reduced_fresh_and_balanced() -> None:
    x = fast_mpc.random_limbs(20000)
    assert x.shape == (20000, 3) and x.dtype == np.uint64
    assert f192._ge_p_any(x) < 0
    assert not np.array_equal(x, fast_mpc.random_limbs(20000))  # a fresh key per call
    bits = np.unpackbits(x.view(np.uint8))
    assert abs(bits.mean() - 0.5) < 0.005


def test_permutation_keys_are_mpycs_prf_values() -> None:
    from mpyc.thresha import PRF

    from mpc_programs.statistics import secure_sort

    prf = PRF(b"k" * 16, secure_sort._PERMUTATION_BOUND)
    words = secure_sort._prf_words(prf, b"uci-7", 1000)
    assert words.tolist() == prf(b"uci-7", 1000)
    order = np.argsort(words, kind="stable")
    assert order.tolist() == sorted(range(1000), key=prf(b"uci-7", 1000).__getitem__)


@pytest.mark.parametrize("pid", [0, 1, 2])
def test_prss_in_limbs_gives_mpycs_values_exactly(pid: int) -> None:
    """``pseudorandom_share_limbs`` (the randoms behind every verified random bit) must equal
    MPyC's ``np_pseudorandom_share``: honest parties on either path must agree."""
    import os

    from mpyc import thresha
    from mpyc.finfields import GF

    field = GF(PRIME)
    prfs = {subset: thresha.PRF(os.urandom(16), PRIME)
            for subset in ((0, 1), (0, 2), (1, 2)) if pid in subset}
    for uci, n in ((b"\x01" * 8, 1), (b"uci-9", 257), ((2**40).to_bytes(8, "little"), 3000)):
        want = [int(v) for v in thresha.np_pseudorandom_share(field, 3, pid, prfs, uci, n).value]
        got = fast_mpc.from_limbs(fast_mpc.pseudorandom_share_limbs(field, 3, pid, prfs, uci, n))
        assert [int(v) for v in got] == want


def test_wide_reduction_matches_python_ints() -> None:
    rng = random.Random(8)
    values = [0, 1, PRIME - 1, PRIME, PRIME + 5, 2**192, 2**384 - 1, 2**320 - 1] + \
        [rng.getrandbits(384) for _ in range(200)]
    words = np.array([[(v >> (64 * k)) & (2**64 - 1) for k in range(6)] for v in values],
                     dtype=np.uint64)
    out = f192.reduce_wide(words, np.empty((len(values), 3), dtype=np.uint64))
    assert [int(v) for v in f192.to_ints(out)] == [v % PRIME for v in values]


def test_base4_digits_in_limbs_equal_the_python_int_ones() -> None:
    from mpc_programs.statistics.secure_sort import quaternary_digits, quaternary_digits_limbs

    rng = random.Random(4)
    hex_digits = [np.array([rng.randrange(PRIME) for _ in range(16 * 50)],
                           dtype=object).reshape(50, 16) for _ in range(3)]
    hex_digits.append(np.eye(16, dtype=object)[[0, 1, 1, 0]])
    want = quaternary_digits(hex_digits, top_max=1)
    got = quaternary_digits_limbs(hex_digits, top_max=1)
    assert [g.shape[:2] for g in got] == [w.shape for w in want]
    for g, w in zip(got, want):
        assert fast_mpc.from_limbs(g).tolist() == w.tolist()


def test_mpyc_random_split_in_limbs_gives_shamir_shares() -> None:
    from mpyc import thresha

    from mpc_programs.runtime import fast_random
    from mpc_programs.runtime.secure_types import FIELD

    rng = random.Random(6)
    secrets_ = [0, 1, PRIME - 1, 2**100] + [rng.randrange(PRIME) for _ in range(300)]
    for t, m in ((1, 3), (2, 5), (0, 3)):
        rows = fast_random.np_random_split(FIELD, FIELD.array(np.array(secrets_, dtype=object)),
                                           t, m)
        assert rows.shape == (m, len(secrets_)) and rows.dtype == object
        assert all(type(v) is int and 0 <= v < PRIME for v in rows.reshape(-1).tolist())
        points = [(i + 1, rows[i]) for i in range(t + 1)]
        assert [int(v) % PRIME for v in thresha.np_recombine(FIELD, points)] == secrets_
        if t:  # fresh coefficients: any t shares of a secret are uniformly random
            again = fast_random.np_random_split(FIELD, np.array(secrets_, dtype=object), t, m)
            assert (rows[0] != again[0]).sum() > len(secrets_) - 3
