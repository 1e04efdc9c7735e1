"""Notarized submissions verified by 3 real MPyC parties and stored as statistics inputs."""

import random

import pytest

from mpcstats.benchmarks import local_pool
from mpc_programs.statistics import plaintext
from mpc_programs.verification import verify_inputs
from mpc_programs.verification.aes_gcm_mpc import share_key_bytes
from mpc_programs.shares.field import PRIME
from mpc_programs.statistics.query import parse_query
from mpc_programs.shares.sharing import share_units
from mpc_programs.shares.store import ShareStore, encode_row
from mpcstats.benchmarks.synthetic_records import make_record, provider_input


def submissions_for(input_id, record, *, layout_units=None, key=None, tamper_layout=False,
                    **changes):
    """Per-party submission documents for one provider."""
    key_rows = share_key_bytes(key or record.key)
    layout_rows = share_units(record.units if layout_units is None else layout_units)
    if tamper_layout:
        layout_rows[1][3] = (layout_rows[1][3] + 1) % PRIME
    return [verify_inputs.submission_to_json(input_id, provider_input(record, key_rows[i], **changes),
                                             encode_row(layout_rows[i]))
            for i in range(3)]


def test_mixed_batch_accepts_exactly_the_honest_ones(tmp_path):
    rng = random.Random(7)
    honest = {
        "alice": make_record(rng, uid=1001, balances={b"BTC": b"0.5", b"ETH": b"1.23450000"}),
        "bob": make_record(rng, uid=1002, balances={b"ETH": b"0.00000001"}, key_bits=256),
        "carol": make_record(rng, uid=1003, balances={b"ETH": b"420.00000000"}, tls12=True),
    }
    bad_record = make_record(rng, uid=2001, balances={b"ETH": b"3.00000000"})
    lying = make_record(rng, uid=2002, balances={b"ETH": b"3.00000000"})
    sloppy = make_record(rng, uid=2003, balances={b"ETH": b"3.00000000"})
    other_uid = make_record(rng, uid=2004, balances={b"ETH": b"1.00000000"})
    per_party = [[], [], []]
    cases = [(i, r, {}) for i, r in honest.items()] + [
        ("wrong-key", bad_record, {"key": bytes(16)}),
        ("lies-about-balance", lying, {"layout_units": 300000001}),
        ("inconsistent-layout", sloppy, {"tamper_layout": True}),
        ("claims-other-uid", other_uid, {"uid": (other_uid.uid_offset(), b"2005")}),
    ]
    for input_id, record, options in cases:
        for pid, doc in enumerate(submissions_for(input_id, record, **options)):
            per_party[pid].append(doc)
    stores = local_pool.store_paths(tmp_path)
    outcome = local_pool.verify(stores, per_party, tmp_path)
    assert outcome["accepted"] == sorted(honest)
    assert outcome["rejected"] == {
        "wrong-key": verify_inputs.REJECT_RECORD,
        "lies-about-balance": verify_inputs.REJECT_ENCODING,
        "inconsistent-layout": verify_inputs.REJECT_SHARES,
        "claims-other-uid": verify_inputs.REJECT_RECORD,
    }
    for pid, path in enumerate(stores):
        with ShareStore(path, pid, create=False) as store:
            assert store.ids() == sorted(honest)
    # the stored inputs are exactly the notarized balances
    query = parse_query({"statistics": ["count", "sum", "min", "max"]})
    stats = local_pool.statistics(stores, query, tmp_path)[0]["statistics"]
    assert stats == plaintext.statistics(query, [r.units for r in honest.values()])


def test_parties_refuse_different_public_material(tmp_path):
    rng = random.Random(8)
    record = make_record(rng, uid=3001, balances={b"ETH": b"1.00000000"})
    docs = submissions_for("dave", record)
    docs[2] = {**docs[2], "tag": bytes(16).hex()}
    stores = local_pool.store_paths(tmp_path)
    with pytest.raises(local_pool.MPCRunError, match="disagree on the public record material"):
        local_pool.verify(stores, [[d] for d in docs], tmp_path, timeout=60)


def test_malformed_submission_fails_before_any_mpc(tmp_path):
    rng = random.Random(9)
    record = make_record(rng, uid=3002, balances={b"ETH": b"1.00000000"})
    docs = submissions_for("erin", record)
    docs = [{**d, "key_share": [300] * 16} for d in docs]
    stores = local_pool.store_paths(tmp_path)
    with pytest.raises(local_pool.MPCRunError, match="key_share"):
        local_pool.verify(stores, [[d] for d in docs], tmp_path, timeout=60)
    assert not any(p.exists() for p in stores)
