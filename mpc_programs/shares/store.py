"""A computation party's share store: one TinyDB file per party, shares only.

The file holds, per input id, this party's share row of the input's one-hot layout
(never a plaintext value) — the primary column — and, for a source with several
columns, a row per further column the provider has (a column it lacks is absent:
a *missing* value, never a number), and a digest over all of them that makes a
corrupted row a clear error instead of a silently wrong statistic. Every change is one atomic file replacement
(write to a temporary file, fsync, rename), so a crash or a full disk leaves either
the old or the new state, never half of a batch.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tinydb import Query, TinyDB
from tinydb.storages import Storage

from mpc_programs.shares.field import ELEMENT_BYTES, PRIME, SHARES_PER_INPUT

LAYOUT = "onehot-hex-v1"
MAX_INPUT_ID_LENGTH = 128


class StoreError(Exception):
    """The store is missing, unreadable, corrupted or does not match this party."""


class AtomicJSONStorage(Storage):
    """TinyDB storage that replaces the file atomically on every write."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, Any] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        if not text.strip():
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StoreError(f"share store {self.path} is corrupted (not JSON: {exc})") from exc
        if not isinstance(data, dict):
            raise StoreError(f"share store {self.path} is corrupted (not a JSON object)")
        return data

    def write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, separators=(",", ":"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def close(self) -> None:
        pass


def encode_row(row: Sequence[int]) -> str:
    """Fixed-width base64 of one share row (compact and checkable)."""
    if len(row) != SHARES_PER_INPUT:
        raise StoreError(f"a share row has {SHARES_PER_INPUT} elements, got {len(row)}")
    raw = bytearray()
    for v in row:
        if not isinstance(v, int) or not 0 <= v < PRIME:
            raise StoreError("a share is not an element of the statistics field")
        raw += v.to_bytes(ELEMENT_BYTES, "big")
    return base64.b64encode(bytes(raw)).decode("ascii")


def decode_row(text: str) -> list[int]:
    return decode_rows([text])[0].tolist()


def decode_rows(texts: Sequence[str]) -> np.ndarray:
    """Share rows as an (N, SHARES_PER_INPUT) object array of field elements.

    All rows are decoded in one pass over one buffer: loading is what dominates a
    query's wall time at 10^4 inputs, so the loop is kept to one ``int.from_bytes``
    per element.
    """
    try:
        raw = b"".join(base64.b64decode(t.encode("ascii"), validate=True) for t in texts)
    except (ValueError, UnicodeEncodeError, AttributeError) as exc:
        raise StoreError("a stored share row is not base64") from exc
    width = SHARES_PER_INPUT * ELEMENT_BYTES
    if len(raw) != width * len(texts):
        raise StoreError("a stored share row has the wrong length")
    if not texts:
        return np.zeros((0, SHARES_PER_INPUT), dtype=object)
    from_bytes = int.from_bytes
    size = ELEMENT_BYTES
    values = [from_bytes(raw[k:k + size], "big") for k in range(0, len(raw), size)]
    if max(values) >= PRIME:
        raise StoreError("a stored share is not a field element")
    return np.array(values, dtype=object).reshape(len(texts), SHARES_PER_INPUT)


def _digest(party: int, input_id: str, encoded: str,
            columns: Mapping[str, str] | None = None) -> str:
    h = hashlib.sha256()
    h.update(f"{LAYOUT}|{party}|{input_id}|".encode())
    h.update(encoded.encode("ascii"))
    for name in sorted(columns or {}):
        h.update(f"|{name}=".encode())
        h.update(columns[name].encode("ascii"))  # type: ignore[index]
    return h.hexdigest()


#: Extra columns of one input: {column name: share row}.
ColumnRows = Mapping[str, Sequence[int]]


def _document(party: int, input_id: str, row: Sequence[int],
              columns: ColumnRows | None) -> dict[str, Any]:
    """The stored form of one input: encoded rows and their digest."""
    validate_input_id(input_id)
    encoded = encode_row(row)
    doc: dict[str, Any] = {"shares": encoded}
    if columns:
        extra = {}
        for name, extra_row in columns.items():
            if not isinstance(name, str) or not 0 < len(name) <= 32:
                raise StoreError(f"invalid column name {name!r}")
            extra[name] = encode_row(extra_row)
        doc["columns"] = extra
    doc["digest"] = _digest(party, input_id, encoded, doc.get("columns"))
    return doc


def validate_input_id(input_id: object) -> str:
    if (not isinstance(input_id, str) or not 0 < len(input_id) <= MAX_INPUT_ID_LENGTH
            or not input_id.isprintable()):
        raise StoreError(f"invalid input id {input_id!r}")
    return input_id


class ShareStore:
    """This party's stored shares. Thread-safe within one process."""

    def __init__(self, path: str | os.PathLike[str], party: int, *, create: bool = True) -> None:
        self.path = Path(path)
        self.party = party
        if not create and not self.path.exists():
            raise StoreError(f"share store {self.path} does not exist")
        self._lock = threading.RLock()
        self._reopen(first=True)
        meta = self._db.table("meta", cache_size=0)
        expected = {"party": party, "prime": str(PRIME), "layout": LAYOUT}
        rows = meta.all()
        if not rows:
            if not create:
                raise StoreError(f"share store {self.path} has no metadata")
            meta.insert(expected)
        elif dict(rows[0]) != expected:
            raise StoreError(
                f"share store {self.path} belongs to another party or layout: {dict(rows[0])}")

    _db: TinyDB

    def _reopen(self, first: bool = False) -> None:
        if not first:
            self._db.close()
        self._db = TinyDB(self.path, storage=AtomicJSONStorage)
        self._inputs = self._db.table("inputs", cache_size=0)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "ShareStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def count(self) -> int:
        with self._lock:
            return len(self._inputs)

    def ids(self) -> list[str]:
        """Stored input ids, sorted (the order every party uses)."""
        with self._lock:
            return sorted(doc["id"] for doc in self._inputs.all())

    def __contains__(self, input_id: str) -> bool:
        with self._lock:
            return self._inputs.contains(Query().id == input_id)

    def add_many(self, rows: Mapping[str, Sequence[int]],
                 columns: Mapping[str, ColumnRows] | None = None) -> None:
        """Store share rows for new input ids, all or nothing (one atomic write).

        ``columns`` (optional): per input id, its extra columns' share rows by name.
        """
        columns = columns or {}
        docs = [{"id": input_id, **_document(self.party, input_id, row, columns.get(input_id))}
                for input_id, row in rows.items()]
        with self._lock:
            existing = {doc["id"] for doc in self._inputs.all()}
            clash = sorted(existing.intersection(rows))
            if clash:
                raise StoreError(f"input id already stored: {clash[0]}")
            if docs:
                self._inputs.insert_multiple(docs)

    # -- two-phase commit: a verification run stages, the coordinator commits -------------
    #
    # A run's accepted inputs are first *staged* (durable, but not yet inputs). Only when
    # all three parties report a successful run does the coordinator tell each to commit;
    # a failure anywhere aborts everywhere. So an input is in all three stores or in none
    # (a commit that fails, e.g. on a full disk, is retried: the staged rows stay).

    def stage(self, run_id: str, rows: Mapping[str, Sequence[int]],
              columns: Mapping[str, ColumnRows] | None = None) -> None:
        """Durably set aside a run's accepted rows (one atomic write); ``columns`` as in
        :meth:`add_many`."""
        columns = columns or {}
        docs = {input_id: _document(self.party, input_id, row, columns.get(input_id))
                for input_id, row in rows.items()}
        with self._lock:
            staged = self._db.table("staged", cache_size=0)
            staged.remove(Query().run_id == run_id)
            staged.insert({"run_id": run_id, "rows": docs})

    def staged_runs(self) -> list[str]:
        with self._lock:
            return [doc["run_id"] for doc in self._db.table("staged", cache_size=0).all()]

    def commit(self, run_id: str) -> int:
        """Move a staged run into the inputs in one atomic write; idempotent. Returns the count."""
        with self._lock:
            data = self._db.storage.read() or {}
            staged = data.get("staged", {})
            key = next((k for k, doc in staged.items() if doc.get("run_id") == run_id), None)
            if key is None:
                committed = data.get("committed_runs", {})
                if any(doc.get("run_id") == run_id for doc in committed.values()):
                    return 0  # already committed: a repeated commit is a no-op
                raise StoreError(f"no staged run {run_id}")
            rows = staged.pop(key)["rows"]
            inputs = data.setdefault("inputs", {})
            present = {doc["id"] for doc in inputs.values()}
            next_id = max((int(k) for k in inputs), default=0) + 1
            added = 0
            for input_id, doc in sorted(rows.items()):
                if input_id in present:
                    continue  # already counted (cannot happen through the coordinator)
                inputs[str(next_id)] = {"id": input_id, **doc}
                next_id += 1
                added += 1
            runs = data.setdefault("committed_runs", {})
            runs[str(max((int(k) for k in runs), default=0) + 1)] = {"run_id": run_id,
                                                                     "count": added}
            self._db.storage.write(data)
            self._reopen()  # TinyDB tables cache their next document id: start afresh
            return added

    def abort(self, run_id: str) -> None:
        with self._lock:
            self._db.table("staged", cache_size=0).remove(Query().run_id == run_id)

    def remove_many(self, input_ids: Iterable[str]) -> None:
        ids = set(input_ids)
        with self._lock:
            self._inputs.remove(Query().id.one_of(sorted(ids)))

    def load(self, input_ids: Sequence[str] | None = None,
             column: str | None = None) -> tuple[list[str], np.ndarray]:
        """Share rows in sorted id order, as an (N, SHARES_PER_INPUT) object array;
        ``input_ids`` (if given) must all be present.

        ``column``: an extra column's name — then only the inputs that have a value in it
        are returned (the others' value is missing); ``None`` is the primary column.
        """
        _, loaded = self.load_columns(input_ids, [column])
        return loaded[column]

    def load_columns(self, input_ids: Sequence[str] | None, columns: Sequence[str | None]
                     ) -> tuple[list[str], dict[str | None, tuple[list[str], np.ndarray]]]:
        """(the input ids, sorted; per requested column — None: the primary — the ids that
        have a value in it and their share rows). One read of the file, every requested
        input's digest checked, only the requested columns decoded."""
        with self._lock:
            docs = {doc["id"]: doc for doc in self._inputs.all()}
        ids = sorted(docs) if input_ids is None else sorted(input_ids)
        missing = [i for i in ids if i not in docs]
        if missing:
            raise StoreError(f"{len(missing)} requested input(s) not in the store, e.g. {missing[0]}")
        texts: dict[str | None, list[str]] = {c: [] for c in columns}
        present: dict[str | None, list[str]] = {c: [] for c in columns}
        for input_id in ids:
            doc = docs.pop(input_id)
            encoded = doc.get("shares")
            extra = doc.get("columns")
            if (not isinstance(encoded, str)
                    or not isinstance(extra, (dict, type(None)))
                    or not all(isinstance(v, str) for v in (extra or {}).values())
                    or doc.get("digest") != _digest(self.party, input_id, encoded, extra)):
                raise StoreError(f"stored shares of input {input_id} are corrupted")
            for column in columns:
                text = encoded if column is None else (extra or {}).get(column)
                if text is not None:
                    texts[column].append(text)
                    present[column].append(input_id)
        del docs
        out = {}
        try:
            for column in columns:
                out[column] = (present[column], decode_rows(texts.pop(column)))
        except StoreError as exc:
            raise StoreError(f"stored shares are corrupted: {exc}") from exc
        return ids, out
