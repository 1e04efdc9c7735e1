"""Statistics computed by three real MPyC party processes over stored shares."""

import random
import shutil
import statistics as pystats
from decimal import Decimal
from fractions import Fraction

import pytest

from mpcstats.benchmarks import local_pool
from mpc_programs.statistics import plaintext
from mpc_programs.shares.encoding import MAX_UNITS, SCALE
from mpc_programs.shares.field import PRIME
from mpc_programs.statistics.query import parse_query
from mpc_programs.runtime.runner import MPCRunError
from mpc_programs.shares.store import ShareStore, decode_row, encode_row


def copy_store(src, dst):
    """A share store is its metadata file and the segment directory beside it."""
    dst.write_bytes(src.read_bytes())
    shutil.copytree(f"{src}.segments", f"{dst}.segments")

QUERY = parse_query({"quantiles": ["0", "0.1", "0.25", "0.75", "0.9", "1"],
                     "histogram_edges": ["0", "0.001", "0.5", "1", "1000", "100000"]})


def random_pool(seed: int, n: int) -> dict[str, int]:
    rng = random.Random(seed)
    values = [0, 0, MAX_UNITS, 1, 10**8, 10**8]  # zeros, the maximum, ties
    while len(values) < n:
        values.append(rng.choice([rng.randrange(10**6), rng.randrange(10**10),
                                  rng.randrange(10**14), rng.randrange(MAX_UNITS)]))
    rng.shuffle(values)
    return {f"provider-{i:04d}": v for i, v in enumerate(values[:n])}


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("pool")
    units = random_pool(1, 61)
    stores = local_pool.store_paths(workdir)
    outcome = local_pool.ingest(stores, local_pool.share_pool(units), workdir)
    assert outcome["accepted"] == sorted(units) and outcome["rejected"] == {}
    return workdir, stores, units


def test_every_statistic_equals_plaintext(pool):
    workdir, stores, units = pool
    outcomes = local_pool.statistics(stores, QUERY, workdir)
    truth = plaintext.statistics(QUERY, list(units.values()))
    assert outcomes[0]["statistics"] == truth  # exact, as decimal strings
    assert all(o["statistics"] == truth for o in outcomes)


def test_plaintext_reference_agrees_with_python_statistics(pool):
    _, _, units = pool
    xs = [Fraction(v, SCALE) for v in units.values()]
    truth = plaintext.statistics(QUERY, list(units.values()))
    # 50 significant digits: the rational mean is rounded only there
    assert abs(Fraction(Decimal(truth["mean"])) - pystats.mean(xs)) <= pystats.mean(xs) / 10**45
    assert Fraction(Decimal(truth["median"])) == pystats.median(xs)
    rel = abs(float(Decimal(truth["variance"])) / float(pystats.variance(xs)) - 1)
    assert rel < 1e-12
    q = pystats.quantiles(xs, n=4, method="inclusive")
    assert Fraction(Decimal(truth["quantiles"]["0.25"])) == q[0]
    assert Fraction(Decimal(truth["quantiles"]["0.75"])) == q[2]


def test_restarted_parties_reload_their_shares_and_add_more(pool, tmp_path):
    workdir, stores, units = pool
    for pid, path in enumerate(stores):
        with ShareStore(path, pid, create=False) as store:
            assert store.count() == len(units)
    # a subset query by input id: every party uses exactly these ids
    subset = sorted(units)[:7]
    outcomes = local_pool.statistics(stores, parse_query({"statistics": ["count", "sum", "min"]}),
                                     workdir, input_ids=subset)
    values = [units[i] for i in subset]
    assert outcomes[0]["statistics"]["count"] == 7
    assert Fraction(Decimal(outcomes[0]["statistics"]["sum"])) == Fraction(sum(values), SCALE)
    assert Fraction(Decimal(outcomes[0]["statistics"]["min"])) == Fraction(min(values), SCALE)


def test_one_and_two_inputs(tmp_path):
    stores = local_pool.store_paths(tmp_path)
    local_pool.ingest(stores, local_pool.share_pool({"a": 250000000}), tmp_path)
    one = local_pool.statistics(stores, QUERY, tmp_path)[0]["statistics"]
    assert one == plaintext.statistics(QUERY, [250000000])
    assert one["variance"] is None and one["median"] == "2.50000000"
    local_pool.ingest(stores, local_pool.share_pool({"b": 1}), tmp_path)
    two = local_pool.statistics(stores, QUERY, tmp_path)[0]["statistics"]
    assert two == plaintext.statistics(QUERY, [250000000, 1])


def test_bad_encodings_are_rejected_and_not_stored(tmp_path):
    stores = local_pool.store_paths(tmp_path)
    good = {"good-1": 5 * SCALE, "good-2": 7}
    pending = local_pool.share_pool({**good, "inconsistent": 3, "two-hot": 3, "not-a-bit": 3,
                                     "wrong-value": 3})
    # one party's share moved off the line
    row = decode_row(pending[2]["inconsistent"])
    row[5] = (row[5] + 1) % PRIME
    pending[2]["inconsistent"] = encode_row(row)

    def tamper(input_id, index, delta):
        # add the same constant to every party's share: a consistent sharing of x + delta
        for pid in range(3):
            r = decode_row(pending[pid][input_id])
            r[index] = (r[index] + delta) % PRIME
            pending[pid][input_id] = encode_row(r)

    tamper("two-hot", 16 * 3 + 7, 1)  # digit 3 now has two ones
    tamper("not-a-bit", 0, -1)  # 3 = digit 3: entry 0 becomes -1 ... and digit sum 0
    tamper("not-a-bit", 1, 1)   # ... rebalanced so that the digit still sums to 1
    tamper("wrong-value", 240, 1)  # the value no longer matches its digits
    outcome = local_pool.ingest(stores, pending, tmp_path)
    assert outcome["accepted"] == sorted(good)
    assert outcome["rejected"] == {
        "inconsistent": "inconsistent shares",
        "two-hot": "shares do not encode a valid input",
        "not-a-bit": "shares do not encode a valid input",
        "wrong-value": "shares do not encode a valid input",
    }
    for pid, path in enumerate(stores):
        with ShareStore(path, pid, create=False) as store:
            assert store.ids() == sorted(good)


def test_corrupted_share_file_gives_an_error_and_no_result(pool, tmp_path):
    workdir, stores, units = pool
    broken = [tmp_path / f"p{i}.json" for i in range(3)]
    for src, dst in zip(stores, broken):
        copy_store(src, dst)
    text = broken[1].read_text()
    broken[1].write_text(text[:len(text) // 2])
    with pytest.raises(MPCRunError, match="corrupted"):
        local_pool.statistics(broken, QUERY, tmp_path, timeout=60)
    assert not list(tmp_path.glob("*.result.json"))


def test_missing_share_file_gives_an_error(pool, tmp_path):
    workdir, stores, units = pool
    paths = [stores[0], stores[1], tmp_path / "missing.json"]
    with pytest.raises(MPCRunError, match="does not exist"):
        local_pool.statistics(paths, QUERY, tmp_path, timeout=60)


def test_parties_with_different_input_sets_refuse(pool, tmp_path):
    workdir, stores, units = pool
    copies = [tmp_path / f"p{i}.json" for i in range(3)]
    for src, dst in zip(stores, copies):
        copy_store(src, dst)
    with ShareStore(copies[2], 2, create=False) as store:
        store.remove_many([sorted(units)[0]])
    with pytest.raises(MPCRunError, match="disagree on the input set"):
        local_pool.statistics(copies, QUERY, tmp_path, timeout=60)
