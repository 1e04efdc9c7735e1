"""The party share store: restart-safe, atomic, and loud about corruption."""

import json

import pytest

from mpc_programs.shares.sharing import share_units
from mpc_programs.shares.store import ShareStore, StoreError


def rows_for(party, values):
    return {f"id{i}": share_units(v)[party] for i, v in enumerate(values)}


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


def test_duplicate_id_changes_nothing(tmp_path):
    path = tmp_path / "p0.json"
    with ShareStore(path, 0) as store:
        store.add_many(rows_for(0, [1]))
        before = path.read_bytes()
        with pytest.raises(StoreError, match="already stored"):
            store.add_many({"new": share_units(5)[0], "id0": share_units(6)[0]})
        assert path.read_bytes() == before
        assert store.count() == 1


def test_no_plaintext_in_the_file(tmp_path):
    path = tmp_path / "p1.json"
    with ShareStore(path, 1) as store:
        store.add_many({"x": share_units(123456789)[1]})
    assert "123456789" not in path.read_text()


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        ShareStore(tmp_path / "nope.json", 0, create=False)


def test_corrupted_file_is_a_clear_error(tmp_path):
    path = tmp_path / "p0.json"
    with ShareStore(path, 0) as store:
        store.add_many(rows_for(0, [1, 2]))
    path.write_text(path.read_text()[:-20])
    with pytest.raises(StoreError, match="corrupted"):
        ShareStore(path, 0, create=False).load()


def test_tampered_row_is_detected(tmp_path):
    path = tmp_path / "p0.json"
    with ShareStore(path, 0) as store:
        store.add_many(rows_for(0, [1, 2]))
    data = json.loads(path.read_text())
    doc = next(iter(data["inputs"].values()))
    doc["shares"] = ("B" if doc["shares"][0] != "B" else "C") + doc["shares"][1:]
    path.write_text(json.dumps(data))
    with pytest.raises(StoreError, match="corrupted"):
        ShareStore(path, 0, create=False).load()


def test_store_of_another_party_is_refused(tmp_path):
    path = tmp_path / "p0.json"
    ShareStore(path, 0).close()
    with pytest.raises(StoreError, match="another party"):
        ShareStore(path, 1)


def test_requested_ids_must_exist(tmp_path):
    with ShareStore(tmp_path / "p.json", 0) as store:
        store.add_many(rows_for(0, [1]))
        with pytest.raises(StoreError, match="not in the store"):
            store.load(["id0", "other"])
