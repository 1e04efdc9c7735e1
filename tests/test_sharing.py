"""Client-side encoding and sharing: exact decimals, Shamir rows, MPyC's own field."""

import itertools
import subprocess
import sys

import pytest

from mpc_programs.shares.encoding import EncodingError, MAX_UNITS, from_units, one_hot, to_units
from mpc_programs.shares.field import PRIME, SHARES_PER_INPUT
from mpc_programs.shares.sharing import (SharingError, reconstruct, reconstruct_value, share_value,
                                         split)


def test_prime_is_mpycs_own_field():
    out = subprocess.run(
        [sys.executable, "-c",
         "from mpyc.runtime import mpc; print(mpc.SecInt(160).field.modulus)"],
        capture_output=True, text=True, check=True)
    assert int(out.stdout.strip().splitlines()[-1]) == PRIME


@pytest.mark.parametrize("text,units", [
    ("0", 0), ("0.00000001", 1), ("1.2345", 123450000), ("1.23450000", 123450000),
    ("1000000000.00000000", 10**17), ("1000000000", 10**17),
])
def test_exact_decimal_encoding(text, units):
    assert to_units(text) == units
    assert from_units(units) == from_units(to_units(str(from_units(units))))


@pytest.mark.parametrize("bad", ["-1", "0.000000001", "1e40", "abc", "NaN", "Infinity", 1.5])
def test_encoding_refuses_inexact_or_out_of_range(bad):
    with pytest.raises(EncodingError):
        to_units(bad)


@pytest.mark.parametrize("value", ["0", "0.00000001", "1000000000.00000000", "12.34567891",
                                   str(from_units(MAX_UNITS))])
def test_share_round_trip_from_any_two_parties(value):
    rows = share_value(value)
    assert len(rows) == 3 and all(len(r) == SHARES_PER_INPUT for r in rows)
    for pair in itertools.combinations(range(3), 2):
        assert reconstruct_value({i: rows[i] for i in pair}) == to_units(value)
    assert reconstruct_value(dict(enumerate(rows))) == to_units(value)


def test_single_row_does_not_determine_the_value():
    # The same party's row for two different values is uniformly random: with fresh
    # randomness two sharings of the same value almost never agree.
    a, b = share_value("5")[0], share_value("5")[0]
    assert a != b


def test_inconsistent_rows_are_detected():
    rows = split([42, 7])
    rows[2][1] = (rows[2][1] + 1) % PRIME
    with pytest.raises(SharingError):
        reconstruct(dict(enumerate(rows)))


def test_layout_is_one_hot_digits_plus_value():
    flat = one_hot(0x1F)
    assert flat[-1] == 0x1F
    assert flat[0 * 16 + 0xF] == 1 and flat[1 * 16 + 0x1] == 1 and sum(flat[:-1]) == 15


def test_pools_shared_in_compiled_code_reconstruct_to_their_layouts():
    """The bench's vectorised sharing (``mpcstats.benchmarks.pool_sharing``) is the same scheme."""
    import base64
    import random

    from mpc_programs.shares.store import decode_row
    from mpcstats.benchmarks.pool_sharing import one_hot_many, share_layouts_bytes, split_many

    rng = random.Random(7)
    units = [rng.randrange(MAX_UNITS + 1) for _ in range(200)] + [0, MAX_UNITS]
    rows = share_layouts_bytes(units)
    for k, u in enumerate(units):
        shares = {i: decode_row(base64.b64encode(rows[i][k].tobytes()).decode()) for i in range(3)}
        assert reconstruct_value(shares) == u
    split = split_many(one_hot_many(units[:20]))
    for k, u in enumerate(units[:20]):
        assert reconstruct({i: list(split[i][k]) for i in range(3)}) == one_hot(u)
