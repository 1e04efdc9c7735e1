"""The party share store: restart-safe, atomic, columnar, and loud about corruption."""

import base64
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from mpc_programs.shares import field_bytes
from mpc_programs.shares import store as store_module
from mpc_programs.shares.field import ELEMENT_BYTES, PRIME, SHARES_PER_INPUT
from mpc_programs.shares.sharing import share_units
from mpc_programs.shares.store import LAYOUT, ShareStore, StoreError, encode_row


def rows_for(party, values, prefix="id"):
    return {f"{prefix}{i}": share_units(v)[party] for i, v in enumerate(values)}


def random_rows(n, seed=0, prefix="r"):
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=(n, SHARES_PER_INPUT, ELEMENT_BYTES), dtype=np.uint8)
    raw[..., 0] &= 0x7F  # below PRIME
    values = field_bytes.ints_from_bytes(raw)
    return {f"{prefix}{i:06d}": values[i].tolist() for i in range(n)}


def segment_files(path):
    return sorted(p for p in Path(str(path) + ".segments").rglob("*") if p.is_file())


# -- field_bytes ------------------------------------------------------------------------------

def test_field_bytes_round_trip_and_range_check():
    values = np.array([0, 1, PRIME - 1, (1 << 64) - 1, 1 << 64, 1 << 128, 12345 << 100],
                      dtype=object)
    raw = field_bytes.bytes_from_ints(values)
    assert raw.shape == (7, 24)
    assert [bytes(r) for r in raw] == [int(v).to_bytes(24, "big") for v in values]
    assert field_bytes.ints_from_bytes(raw).tolist() == values.tolist()
    assert field_bytes.check_below_prime(raw)
    for bad in (PRIME, (1 << 192) - 1):
        assert not field_bytes.check_below_prime(field_bytes.bytes_from_ints(np.array([bad], dtype=object)))
    for bad in (-1, 1 << 192, 1.5):
        with pytest.raises(ValueError):
            field_bytes.bytes_from_ints(np.array([bad], dtype=object))
    assert field_bytes.ints_from_bytes(raw.reshape(1, 7, 24)).shape == (1, 7)


# -- the basics ---------------------------------------------------------------------------------

def test_reload_after_restart(tmp_path):
    path = tmp_path / "p0.json"
    rows = rows_for(0, [1, 2, 3])
    with ShareStore(path, 0) as store:
        store.add_many(rows)
    with ShareStore(path, 0, create=False) as store:
        assert store.count() == 3
        ids, loaded = store.load()
    assert ids == ["id0", "id1", "id2"]
    assert loaded.tolist() == [rows[i] for i in ids]
    assert json.loads(path.read_text())["meta"]["1"]["layout"] == LAYOUT


def test_round_trip_over_several_segments_in_sorted_order(tmp_path):
    path = tmp_path / "p0.json"
    batches = [random_rows(5, seed=k, prefix=f"{'bca'[k]}") for k in range(3)]
    with ShareStore(path, 2) as store:
        for batch in batches:
            store.add_many(batch)
        everything = {k: v for b in batches for k, v in b.items()}
        ids, rows = store.load()
        assert ids == sorted(everything) and store.ids() == ids and store.count() == 15
        assert rows.tolist() == [everything[i] for i in ids]
        assert "a000003" in store and "a3" not in store
        some = ["c000001", "a000000", "b000004"]
        got_ids, got = store.load(some)
        assert got_ids == sorted(some) and got.tolist() == [everything[i] for i in sorted(some)]


def test_duplicate_id_changes_nothing(tmp_path):
    path = tmp_path / "p0.json"
    with ShareStore(path, 0) as store:
        store.add_many(rows_for(0, [1]))
        before = path.read_bytes()
        files = segment_files(path)
        with pytest.raises(StoreError, match="already stored"):
            store.add_many({"new": share_units(5)[0], "id0": share_units(6)[0]})
        assert path.read_bytes() == before and segment_files(path) == files
        assert store.count() == 1


def test_rows_that_are_not_field_elements_are_refused(tmp_path):
    with ShareStore(tmp_path / "p.json", 0) as store:
        for bad in ([PRIME] * SHARES_PER_INPUT, [-1] * SHARES_PER_INPUT, [1] * 3,
                    [1.5] * SHARES_PER_INPUT):
            with pytest.raises(StoreError):
                store.add_many({"x": bad})
        with pytest.raises(StoreError, match="invalid input id"):
            store.add_many({"bad\n": [1] * SHARES_PER_INPUT})
        assert store.count() == 0


def test_no_plaintext_in_the_files(tmp_path):
    path = tmp_path / "p1.json"
    with ShareStore(path, 1) as store:
        store.add_many({"x": share_units(123456789)[1]})
    assert "123456789" not in path.read_text()
    needle = (123456789).to_bytes(ELEMENT_BYTES, "big")
    assert all(needle not in f.read_bytes() for f in segment_files(path))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        ShareStore(tmp_path / "nope.json", 0, create=False)


def test_corrupted_metadata_is_a_clear_error(tmp_path):
    path = tmp_path / "p0.json"
    with ShareStore(path, 0) as store:
        store.add_many(rows_for(0, [1, 2]))
    path.write_text(path.read_text()[:-20])
    with pytest.raises(StoreError, match="corrupted"):
        ShareStore(path, 0, create=False).load()


def test_store_of_another_party_is_refused(tmp_path):
    path = tmp_path / "p0.json"
    ShareStore(path, 0).close()
    with pytest.raises(StoreError, match="another party"):
        ShareStore(path, 1)


def test_a_segment_moved_to_another_party_is_refused(tmp_path):
    """The digests bind the party: another party's segment (metadata entry included) in
    this store is corruption."""
    a, b = tmp_path / "p0.json", tmp_path / "p1.json"
    with ShareStore(a, 0) as store:
        store.add_many(rows_for(0, [1, 2]))
    ShareStore(b, 1).close()
    data_a, data_b = json.loads(a.read_text()), json.loads(b.read_text())
    data_b["segments"] = data_a["segments"]
    b.write_text(json.dumps(data_b))
    os.rename(str(a) + ".segments", str(b) + ".segments")
    with ShareStore(b, 1) as store, pytest.raises(StoreError, match="corrupted"):
        store.load()


def test_requested_ids_must_exist(tmp_path):
    with ShareStore(tmp_path / "p.json", 0) as store:
        store.add_many(rows_for(0, [1]))
        with pytest.raises(StoreError, match="not in the store"):
            store.load(["id0", "other"])


def test_remove_many_tombstones_and_an_id_can_come_back(tmp_path):
    path = tmp_path / "p.json"
    rows = rows_for(0, [1, 2, 3])
    with ShareStore(path, 0) as store:
        store.add_many(rows)
        store.remove_many(["id1", "unknown"])
        assert store.ids() == ["id0", "id2"]
        assert store.load()[1].tolist() == [rows["id0"], rows["id2"]]
        with pytest.raises(StoreError, match="not in the store"):
            store.load(["id1"])
        again = share_units(9)[0]
        store.add_many({"id1": again})
    with ShareStore(path, 0) as store:
        assert store.ids() == ["id0", "id1", "id2"]
        assert store.load(["id1"])[1].tolist() == [again]


# -- columns ------------------------------------------------------------------------------------

def test_columns_with_missing_values(tmp_path):
    path = tmp_path / "p.json"
    rows = random_rows(6, seed=1)
    btc = {i: {"btc": row} for i, row in random_rows(6, seed=2).items() if i[-1] in "024"}
    sol = {"r000005": {"sol": random_rows(1, seed=3)["r000000"]}}
    columns = {i: {**btc.get(i, {}), **sol.get(i, {})} for i in set(btc) | set(sol)}
    with ShareStore(path, 0) as store:
        store.add_many(rows, columns)
        store.add_many(random_rows(2, seed=4, prefix="s"))  # a segment without extra columns
        ids, loaded = store.load_columns(None, [None, "btc", "sol", "eth"])
        assert ids == sorted(rows) + ["s000000", "s000001"]
        assert loaded["btc"][0] == ["r000000", "r000002", "r000004"]
        assert loaded["btc"][1].tolist() == [btc[i]["btc"] for i in loaded["btc"][0]]
        assert loaded["sol"][0] == ["r000005"]
        assert loaded["eth"][0] == [] and loaded["eth"][1].shape == (0, SHARES_PER_INPUT)
        assert store.load(["r000001", "r000002"], column="btc")[0] == ["r000002"]
        assert store.load(["r000001"], column="btc")[0] == []


def test_view_positions_equal_load_slices(tmp_path):
    path = tmp_path / "p.json"
    with ShareStore(path, 0) as store:
        for k in range(3):
            rows = random_rows(7, seed=10 + k, prefix=f"{'zam'[k]}")
            store.add_many(rows, {i: {"btc": r} for i, r in
                                  random_rows(7, seed=20 + k, prefix=f"{'zam'[k]}").items()
                                  if int(i[1:]) % 2})
        store.remove_many(["a000003"])
        for wanted in (None, ["z000001", "a000000", "m000005", "m000006"]):
            for column in (None, "btc"):
                ids, full = store.load(wanted, column)
                view = store.view(wanted, column)
                assert view.ids == ids and view.n == len(ids)
                for start, stop in ((240, 241), (0, 16), (5, 37), (0, 241), (7, 7)):
                    got = view.positions(start, stop)
                    assert got.shape == (len(ids), stop - start)
                    assert got.tolist() == full[:, start:stop].tolist()
                    raw = view.raw_positions(start, stop)
                    assert raw.dtype == np.uint8 and raw.shape == (len(ids), stop - start, 24)
                    assert field_bytes.ints_from_bytes(raw).tolist() == got.tolist()


# -- staging ------------------------------------------------------------------------------------

def test_stage_commit_abort_and_idempotent_commit(tmp_path):
    path = tmp_path / "p.json"
    with ShareStore(path, 0) as store:
        store.add_many(rows_for(0, [1]))
        store.stage("run-1", rows_for(0, [5, 6], prefix="s"), {"s0": {"btc": share_units(7)[0]}})
        store.stage("run-2", rows_for(0, [8], prefix="t"))
        store.stage("run-3", {})
        assert store.staged_runs() == ["run-1", "run-2", "run-3"]
        assert store.count() == 1 and "s0" not in store
    with ShareStore(path, 0) as store:  # staged rows are durable
        assert store.commit("run-1") == 2
        assert store.commit("run-1") == 0  # repeated: a no-op
        assert store.ids() == ["id0", "s0", "s1"]
        assert store.load(column="btc")[0] == ["s0"]
        store.abort("run-2")
        assert store.commit("run-3") == 0
        assert store.staged_runs() == []
        with pytest.raises(StoreError, match="no staged run"):
            store.commit("run-2")
        store.abort("run-2")  # repeated: a no-op
    names = {p.parent.name for p in segment_files(path)}
    assert len(names) == 2  # the aborted run's segment is gone


def test_commit_skips_ids_already_stored(tmp_path):
    path = tmp_path / "p.json"
    staged = rows_for(0, [5, 6, 7], prefix="s")
    btc, nine = share_units(1)[0], share_units(9)[0]
    with ShareStore(path, 0) as store:
        store.stage("run", staged, {"s0": {"btc": btc}, "s2": {"btc": share_units(2)[0]}})
        store.add_many({"s1": nine, "s2": nine})
        assert store.commit("run") == 1
        assert store.ids() == ["s0", "s1", "s2"]
        assert store.load()[1].tolist() == [staged["s0"], nine, nine]
        assert store.load(column="btc")[0] == ["s0"]
        assert store.load(column="btc")[1].tolist() == [btc]


def test_restaging_a_run_replaces_it(tmp_path):
    path = tmp_path / "p.json"
    with ShareStore(path, 0) as store:
        store.stage("run", rows_for(0, [5], prefix="a"))
        store.stage("run", rows_for(0, [6], prefix="b"))
        assert store.staged_runs() == ["run"]
        assert store.commit("run") == 1 and store.ids() == ["b0"]
    assert len({p.parent.name for p in segment_files(path)}) == 1


# -- crash safety and corruption --------------------------------------------------------------

def test_a_segment_without_a_manifest_entry_is_invisible(tmp_path, monkeypatch):
    path = tmp_path / "p.json"
    first = rows_for(0, [1])
    with ShareStore(path, 0) as store:
        store.add_many(first)
        before = path.read_bytes()

        def crash(data):
            raise OSError("disk full")
        monkeypatch.setattr(store._db.storage, "write", crash)
        with pytest.raises(OSError):
            store.add_many(rows_for(0, [2], prefix="new"))
    assert path.read_bytes() == before
    # a crash after the segment's rename, before the metadata: simulate the leftover
    with ShareStore(path, 0) as store:
        segment = store._write_segment(*store._build(rows_for(0, [3], prefix="lost"), None))
        assert (Path(str(path) + ".segments") / segment["name"]).is_dir()
    with ShareStore(path, 0) as store:
        assert store.ids() == ["id0"]
        assert store.load()[1].tolist() == [first["id0"]]


def test_a_corrupted_byte_in_a_read_position_is_detected(tmp_path):
    path = tmp_path / "p0.json"
    with ShareStore(path, 0) as store:
        store.add_many(rows_for(0, [1, 2]))
    (data_file,) = [f for f in segment_files(path) if f.name == "c0.npy"]
    raw = bytearray(data_file.read_bytes())
    header = len(raw) - SHARES_PER_INPUT * 2 * ELEMENT_BYTES
    position = 3  # digit 0's group; the value group stays intact
    raw[header + position * 2 * ELEMENT_BYTES + 30] ^= 1
    data_file.write_bytes(bytes(raw))
    with ShareStore(path, 0, create=False) as store:
        view = store.view()
        assert len(view.positions(240, 241)) == 2  # untouched positions still read
        with pytest.raises(StoreError, match="corrupted"):
            view.positions(0, 16)
        with pytest.raises(StoreError, match="corrupted"):
            store.load()


def test_a_missing_or_truncated_segment_file_is_a_clear_error(tmp_path):
    path = tmp_path / "p0.json"
    with ShareStore(path, 0) as store:
        store.add_many(rows_for(0, [1, 2]))
    (data_file,) = [f for f in segment_files(path) if f.name == "c0.npy"]
    (digests_file,) = [f for f in segment_files(path) if f.name == "digests.json"]
    digests_file.write_text(digests_file.read_text().replace("a", "b", 1))
    with ShareStore(path, 0) as store, pytest.raises(StoreError, match="corrupted"):
        store.load()
    data_file.write_bytes(data_file.read_bytes()[:-5])
    with ShareStore(path, 0) as store, pytest.raises(StoreError, match="corrupted"):
        store.load()
    data_file.unlink()
    with ShareStore(path, 0) as store, pytest.raises(StoreError, match="corrupted"):
        store.load()
    (ids_file,) = [f for f in segment_files(path) if f.name == "ids.json"]
    ids_file.write_text('["id0","idX"]')
    with pytest.raises(StoreError, match="corrupted"):
        ShareStore(path, 0).count()


def test_store_bytes_per_input_per_column(tmp_path):
    path = tmp_path / "p.json"
    n = 1000
    with ShareStore(path, 0) as store:
        store.add_many(random_rows(n, seed=5))
    total = path.stat().st_size + sum(f.stat().st_size for f in segment_files(path))
    assert total / n <= SHARES_PER_INPUT * ELEMENT_BYTES + 200, total / n


# -- migration from the JSON layout -----------------------------------------------------------
# The old code's writer, as it was (store layout "onehot-hex-v1").

def _old_digest(party, input_id, encoded, columns=None):
    h = hashlib.sha256()
    h.update(f"onehot-hex-v1|{party}|{input_id}|".encode())
    h.update(encoded.encode("ascii"))
    for name in sorted(columns or {}):
        h.update(f"|{name}=".encode())
        h.update(columns[name].encode("ascii"))
    return h.hexdigest()


def _old_document(party, input_id, row, columns):
    encoded = encode_row(row)
    doc = {"shares": encoded}
    if columns:
        doc["columns"] = {name: encode_row(r) for name, r in columns.items()}
    doc["digest"] = _old_digest(party, input_id, encoded, doc.get("columns"))
    return doc


def _old_store(path, party, rows, columns=None, staged=None, committed=()):
    columns = columns or {}
    data = {"meta": {"1": {"party": party, "prime": str(PRIME), "layout": "onehot-hex-v1"}},
            "inputs": {str(k + 1): {"id": i, **_old_document(party, i, r, columns.get(i))}
                       for k, (i, r) in enumerate(rows.items())}}
    if staged:
        data["staged"] = {str(k + 1): {"run_id": run_id, "rows": {
            i: _old_document(party, i, r, None) for i, r in run_rows.items()}}
            for k, (run_id, run_rows) in enumerate(staged.items())}
    if committed:
        data["committed_runs"] = {str(k + 1): {"run_id": r, "count": 1}
                                  for k, r in enumerate(committed)}
    path.write_text(json.dumps(data, separators=(",", ":")))


def test_an_old_json_store_is_migrated(tmp_path):
    path = tmp_path / "p1.json"
    rows = rows_for(1, [3, 1, 4, 1, 5], prefix="x")
    btc = {"x1": {"btc": share_units(9)[1]}, "x3": {"btc": share_units(2)[1]}}
    staged = rows_for(1, [6], prefix="st")
    _old_store(path, 1, rows, btc, staged={"run-9": staged}, committed=["run-8"])
    with ShareStore(path, 1, create=False) as store:
        assert store.ids() == sorted(rows)
        assert store.load()[1].tolist() == [rows[i] for i in sorted(rows)]
        assert store.load(column="btc")[0] == ["x1", "x3"]
        assert store.load(column="btc")[1].tolist() == [btc["x1"]["btc"], btc["x3"]["btc"]]
        assert store.staged_runs() == ["run-9"]
        assert store.commit("run-8") == 0  # committed before the migration
        assert store.commit("run-9") == 1 and "st0" in store
    data = json.loads(path.read_text())
    assert data["meta"]["1"]["layout"] == LAYOUT and "inputs" not in data
    with ShareStore(path, 1) as store:  # opening again changes nothing
        assert store.count() == 6


def test_a_corrupted_old_row_refuses_the_migration_and_changes_nothing(tmp_path):
    path = tmp_path / "p0.json"
    rows = rows_for(0, [1, 2])
    _old_store(path, 0, rows)
    data = json.loads(path.read_text())
    doc = data["inputs"]["2"]
    raw = bytearray(base64.b64decode(doc["shares"]))
    raw[100] ^= 1
    doc["shares"] = base64.b64encode(bytes(raw)).decode()
    path.write_text(json.dumps(data))
    before = path.read_bytes()
    with pytest.raises(StoreError, match="input id1 are corrupted"):
        ShareStore(path, 0)
    assert path.read_bytes() == before
    assert segment_files(path) == []


def test_an_old_store_of_another_party_is_refused(tmp_path):
    path = tmp_path / "p0.json"
    _old_store(path, 0, rows_for(0, [1]))
    with pytest.raises(StoreError, match="another party"):
        ShareStore(path, 2)


def test_compact_merges_segments_and_drops_removed_inputs(tmp_path):
    path = tmp_path / "p.json"
    with ShareStore(path, 1) as store:
        everything, btc = {}, {}
        for k in range(4):
            rows = random_rows(6, seed=30 + k, prefix="abcd"[k])
            extra = {i: {"btc": r} for i, r in random_rows(6, seed=40 + k, prefix="abcd"[k]).items()
                     if k % 2 and int(i[1:]) % 3}
            store.add_many(rows, extra)
            everything.update(rows)
            btc.update({i: c["btc"] for i, c in extra.items()})
        store.remove_many(["a000001", "b000001", "d000004"])
        for i in ("a000001", "b000001", "d000004"):
            everything.pop(i)
            btc.pop(i, None)
        store.stage("run", random_rows(2, seed=50, prefix="s"))
        assert store.compact() == 4
        assert store.compact() == 0
        ids, loaded = store.load_columns(None, [None, "btc"])
        assert ids == sorted(everything)
        assert loaded[None][1].tolist() == [everything[i] for i in ids]
        assert loaded["btc"][0] == sorted(btc)
        assert loaded["btc"][1].tolist() == [btc[i] for i in sorted(btc)]
        assert store.commit("run") == 2  # staged runs are untouched
    with ShareStore(path, 1) as store:
        assert store.count() == len(everything) + 2
        live = {d["name"] for d in store_module._table(store._read(), "segments")}
    assert len(live) == 2
    # the merged segments stay on disk for a run still reading them, then go
    names = {p.parent.name for p in segment_files(path)}
    assert live < names
    old = time.time() - store_module.ORPHAN_SECONDS - 1
    for name in names - live:
        os.utime(Path(f"{path}.segments") / name, (old, old))
    with ShareStore(path, 1):
        pass
    assert {p.parent.name for p in segment_files(path)} == live


def test_add_raw_equals_add_many(tmp_path):
    rows = random_rows(5, seed=60)
    btc = random_rows(2, seed=61)
    ids = list(reversed(list(rows)))  # any order
    raw = field_bytes.bytes_from_ints(np.array([rows[i] for i in ids], dtype=object))
    btc_ids = ["r000003", "r000001"]
    btc_raw = field_bytes.bytes_from_ints(np.array([btc["r000000"], btc["r000001"]], dtype=object))
    with ShareStore(tmp_path / "a.json", 0) as a, ShareStore(tmp_path / "b.json", 0) as b:
        a.add_many(rows, {"r000003": {"btc": btc["r000000"]}, "r000001": {"btc": btc["r000001"]}})
        b.add_raw(ids, raw.reshape(5, -1), {"btc": (btc_ids, btc_raw)})
        for column in (None, "btc"):
            assert a.load(column=column)[0] == b.load(column=column)[0]
            assert a.load(column=column)[1].tolist() == b.load(column=column)[1].tolist()
        with pytest.raises(StoreError, match="already stored"):
            b.add_raw(["r000000"], raw[:1])
        bad = raw[:1].copy()
        bad[0, 0, :] = 255
        with pytest.raises(StoreError, match="not an element"):
            b.add_raw(["new"], bad)
        assert b.count() == 5


def test_positions_in_small_chunks(tmp_path, monkeypatch):
    from mpc_programs.shares.store import ColumnView
    monkeypatch.setattr(ColumnView, "CHUNK_ELEMENTS", 7)
    monkeypatch.setattr(ColumnView, "CHUNK_POSITIONS", 5)
    with ShareStore(tmp_path / "p.json", 0) as store:
        store.add_many(random_rows(9, seed=70))
        store.add_many(random_rows(4, seed=71, prefix="a"))
        ids, full = store.load()
        assert store.view().positions(3, 40).tolist() == full[:, 3:40].tolist()


def test_many_small_appends_are_merged_smallest_first(tmp_path) -> None:
    """Each append adds a segment; above MAX_SEGMENTS the smallest are merged (size-tiered),
    so a pool built from many small batches stays a few segments, with every input intact."""
    from mpc_programs.shares import store as store_module
    from mpc_programs.shares.sharing import share_units

    path = tmp_path / "shares.json"
    rows = {}
    with ShareStore(path, 0) as store:
        big = {f"big-{k:03d}": share_units(k)[0] for k in range(40)}
        store.add_many(big)
        rows.update(big)
        for batch in range(store_module.MAX_SEGMENTS + 5):
            small = {f"small-{batch:03d}": share_units(batch + 7)[0]}
            store.add_many(small)
            rows.update(small)
        segments = store_module._table(store._read(), "segments")
        assert len(segments) <= store_module.MAX_SEGMENTS
        assert max(d["count"] for d in segments) == 40  # the big segment was never rewritten
        ids, loaded = store.load()
        assert ids == sorted(rows)
        assert [list(r) for r in loaded] == [rows[i] for i in ids]


def test_a_view_taken_before_a_compaction_still_reads(tmp_path) -> None:
    """A statistics run reads its view lazily; a compaction meanwhile (after a commit) must
    not pull the merged segments from under it."""
    from mpc_programs.shares.sharing import share_units

    with ShareStore(tmp_path / "shares.json", 0) as store:
        rows = {}
        for k in range(3):
            batch = {f"id-{k}": share_units(k)[0]}
            store.add_many(batch)
            rows.update(batch)
        view = store.view()
        assert store.compact() == 3
        assert view.positions(0, 241).tolist() == [rows[i] for i in sorted(rows)]
