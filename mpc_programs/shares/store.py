"""A computation party's share store: shares only, binary, columnar, append-only.

What it holds: per input id, this party's share row of the input's one-hot layout
(``SHARES_PER_INPUT`` = 241 field elements, never a plaintext value) — the primary
column — and, for a source with several columns, a row per further column the provider
has (a column it lacks is absent: a *missing* value, never a number).

Why binary, columnar and append-only (issue 18): the old single JSON file of base64
rows had to be parsed whole for every query (seconds and ~1 GB of RAM at 30,000
inputs). Now share data lives in immutable *segments* under ``<path>.segments/``: each
``add_many`` or ``stage`` writes one segment — its input ids (``ids.json``, sorted) and,
per column, a ``.npy`` array of uint8 of shape (SHARES_PER_INPUT, k, ELEMENT_BYTES),
position-major, so that layout position j of all of a segment's inputs is contiguous:
a query reading only the value position, or one digit's 16 positions, reads (through
``np.load(mmap_mode="r")``) only those bytes, and a pool of any size is read in bounded
pieces (:meth:`ShareStore.view`). An extra column's segment also holds the int32
indices (into the segment's ids) of the inputs that have a value in it. A stored input
costs 241 × 24 = 5,784 bytes per column plus its id; removal only tombstones ids in the
metadata.

Atomicity: the file at ``path`` is a small TinyDB document (metadata: party, prime,
layout, the manifest of committed segments, staged runs, committed run ids,
tombstones), replaced atomically on every change (temporary file, fsync, rename:
:class:`AtomicJSONStorage`). A segment is written into a temporary directory, every
file fsynced, and the directory renamed to its final name and its parent fsynced
*before* the metadata names it. The metadata replacement is the single commit point: a
crash or a full disk before it leaves the old state (an unnamed segment is invisible and
collected later), after it the new one — never half a batch. Segments are never
modified; a commit whose run overlaps stored ids writes a new segment.

Binding and integrity: per segment, column and group of layout positions (each digit's
16 positions, then the value position) the segment's ``digests.json`` keeps
sha256(layout | party | sha256 of the segment's ids file | column | sha256 of the
column's indices | positions | bytes); the metadata keeps the sha256 of the ids file
and of ``digests.json`` (so it stays ~200 bytes per segment). A read verifies the digests of exactly the
groups it touches and that every element read is below PRIME, so a corrupted or
misplaced byte is a clear :class:`StoreError`, never a silently wrong statistic, and a
segment cannot be moved to another party's store or another column. (The digests
detect corruption; like before they are not a MAC.)

The upload format (``encode_row``/``decode_row``: base64 of the same 24-byte big-endian
elements) is unchanged; a store in the old JSON layout ("onehot-hex-v1") is converted
on first open after verifying every old digest.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import operator
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tinydb import TinyDB
from tinydb.storages import Storage

from mpc_programs.shares.field import ELEMENT_BYTES, PRIME, SHARES_PER_INPUT
from mpc_programs.shares.field_bytes import (
    bytes_from_ints,
    check_below_prime,
    ints_from_bytes,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - not on the parties' platform
    fcntl = None  # type: ignore[assignment]

LAYOUT = "onehot-hex-v2-columnar"
OLD_LAYOUT = "onehot-hex-v1"
MAX_INPUT_ID_LENGTH = 128
#: Committed segments above which the smallest are merged (:meth:`ShareStore.maybe_compact`):
#: a read opens every segment, so their number is kept small whatever the batch sizes.
MAX_SEGMENTS = 64
MAX_COLUMN_NAME_LENGTH = 32
#: Groups of layout positions with one digest each: every digit's 16 one-hot positions,
#: then the value position.
DIGEST_GROUPS: tuple[tuple[int, int], ...] = tuple(
    (g, min(g + 16, SHARES_PER_INPUT - 1)) for g in range(0, SHARES_PER_INPUT - 1, 16)
) + ((SHARES_PER_INPUT - 1, SHARES_PER_INPUT),)
#: An unreferenced segment directory older than this is a crashed write's leftover or a
#: segment merged by compaction that no statistics run can still be reading.
ORPHAN_SECONDS = 3600.0


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


def _old_digest(party: int, input_id: str, encoded: str,
                columns: Mapping[str, str] | None = None) -> str:
    """The per-input digest of the old JSON layout (checked when migrating it)."""
    h = hashlib.sha256()
    h.update(f"{OLD_LAYOUT}|{party}|{input_id}|".encode())
    h.update(encoded.encode("ascii"))
    for name in sorted(columns or {}):
        h.update(f"|{name}=".encode())
        h.update(columns[name].encode("ascii"))  # type: ignore[index]
    return h.hexdigest()


#: Extra columns of one input: {column name: share row}.
ColumnRows = Mapping[str, Sequence[int]]
#: A segment's data for one column: (indices into the segment's sorted ids of the inputs
#: that have a value — None for the primary column, which every input has —, uint8 rows
#: of shape (k, SHARES_PER_INPUT, ELEMENT_BYTES)).
_ColumnData = tuple["np.ndarray | None", np.ndarray]


def validate_input_id(input_id: object) -> str:
    if (not isinstance(input_id, str) or not 0 < len(input_id) <= MAX_INPUT_ID_LENGTH
            or not input_id.isprintable()):
        raise StoreError(f"invalid input id {input_id!r}")
    return input_id


def _check_column_name(name: object) -> str:
    if not isinstance(name, str) or not 0 < len(name) <= MAX_COLUMN_NAME_LENGTH:
        raise StoreError(f"invalid column name {name!r}")
    return name


def encode_rows_bytes(rows: Sequence[Sequence[int]]) -> np.ndarray:
    """Share rows (ints) -> uint8 array (k, SHARES_PER_INPUT, ELEMENT_BYTES), every element
    checked to be a field element (vectorised)."""
    k = len(rows)
    for row in rows:
        if len(row) != SHARES_PER_INPUT:
            raise StoreError(f"a share row has {SHARES_PER_INPUT} elements, got {len(row)}")
    if k == 0:
        return np.zeros((0, SHARES_PER_INPUT, ELEMENT_BYTES), dtype=np.uint8)
    values = np.empty((k, SHARES_PER_INPUT), dtype=object)
    for n, row in enumerate(rows):
        values[n] = row
    try:
        raw = bytes_from_ints(values)
    except ValueError as exc:
        raise StoreError("a share is not an element of the statistics field") from exc
    if not check_below_prime(raw):
        raise StoreError("a share is not an element of the statistics field")
    return raw


def _sha256(data: Any) -> str:
    return hashlib.sha256(data).hexdigest()


def _group_digest(party: int, ids_sha: str, column: str | None, index_sha: str | None,
                  g0: int, g1: int, data: Any) -> str:
    h = hashlib.sha256()
    h.update(f"{LAYOUT}|{party}|{ids_sha}|{json.dumps(column)}|{index_sha or ''}|"
             f"{g0}-{g1}|".encode())
    h.update(data)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_durably(path: Path, write: Any) -> None:
    with open(path, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def _table(data: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """A TinyDB table of the metadata document, in insertion order."""
    table = data.get(name) or {}
    if not isinstance(table, dict):
        raise StoreError(f"share store metadata is corrupted (table {name})")
    return [table[k] for k in sorted(table, key=int)]


def _set_table(data: dict[str, Any], name: str, docs: Sequence[dict[str, Any]]) -> None:
    data[name] = {str(k + 1): doc for k, doc in enumerate(docs)}


def _valid_segment_name(name: object) -> bool:
    return (isinstance(name, str) and 0 < len(name) <= 64
            and all(c in "0123456789abcdef-" for c in name))


def _valid_file_name(name: object) -> bool:
    return (isinstance(name, str) and name.startswith("c") and name.endswith(".npy")
            and name[1:-4].replace(".idx", "", 1).isdigit())


class _Changed(Exception):
    """The store changed while a compaction was written."""


class _Segment:
    """A committed or staged segment's verified ids (segments are immutable: cached)."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        self.indices: dict[str, np.ndarray] = {}
        self.digests: dict[str, Any] | None = None


class _Part:
    """One segment's share of a view: rows ``src`` of the segment's column go to rows
    ``dest`` of the view."""

    def __init__(self, doc: dict[str, Any], entry: dict[str, Any],
                 dest: np.ndarray, src: np.ndarray) -> None:
        self.doc, self.entry = doc, entry
        self.dest: np.ndarray | slice = dest
        if len(dest) and int(dest[-1]) - int(dest[0]) + 1 == len(dest):
            self.dest = slice(int(dest[0]), int(dest[-1]) + 1)
        self.src: np.ndarray | None = src
        if len(src) == int(entry["count"]):  # src is increasing: every row, in order
            self.src = None


class ColumnView:
    """A lazy view of one column of some stored inputs: reads layout positions on demand.

    ``ids``: the sorted ids that have a value in the column; ``n`` = len(ids). Nothing is
    read until :meth:`positions`/:meth:`raw_positions`; each read verifies the digests of
    the position groups it touches in every segment and that every element is < PRIME.
    Segments are immutable, so a view stays valid while the store changes: a compaction
    leaves the segments it merged on disk for ORPHAN_SECONDS (only ``abort`` of a staged run
    and a ``commit`` rewrite delete at once, and no view reads a staged segment).
    """

    #: Positions converted to Python ints per step (bounds the transient byte buffer).
    CHUNK_POSITIONS = 16
    #: Elements converted to Python ints per step.
    CHUNK_ELEMENTS = 1 << 18

    def __init__(self, store: ShareStore, column: str | None, ids: list[str],
                 parts: list[_Part]) -> None:
        self._store = store
        self.column = column
        self.ids = ids
        self._parts = parts

    @property
    def n(self) -> int:
        return len(self.ids)

    def raw_positions(self, start: int, stop: int) -> np.ndarray:
        """uint8 array (n, stop − start, ELEMENT_BYTES): big-endian elements of layout
        positions [start, stop) of every input, in sorted id order (verified)."""
        if not 0 <= start <= stop <= SHARES_PER_INPUT:
            raise ValueError(f"positions [{start}, {stop}) outside the layout")
        out = np.empty((self.n, stop - start, ELEMENT_BYTES), dtype=np.uint8)
        if start == stop:
            return out
        for part in self._parts:
            data = self._store._open_column(part.doc, part.entry)
            self._store._verify_groups(part.doc, part.entry, data, start, stop)
            block = data[start:stop]
            if part.src is not None:
                block = block[:, part.src, :]
            out[part.dest] = block.transpose(1, 0, 2)
        if not check_below_prime(out):
            raise StoreError("stored shares are corrupted: a stored share is not a field element")
        return out

    def positions(self, start: int, stop: int) -> np.ndarray:
        """Object array (n, stop − start) of Python ints: this party's shares of layout
        positions [start, stop) of every input, in sorted id order (verified)."""
        if not 0 <= start <= stop <= SHARES_PER_INPUT:
            raise ValueError(f"positions [{start}, {stop}) outside the layout")
        out = np.empty((self.n, stop - start), dtype=object)
        step = self.CHUNK_POSITIONS
        for a in range(start, stop, step):
            b = min(a + step, stop)
            raw = self.raw_positions(a, b)
            rows = max(1, self.CHUNK_ELEMENTS // (b - a))
            for r in range(0, self.n, rows):  # a cache-sized working set of new ints
                out[r:r + rows, a - start:b - start] = ints_from_bytes(raw[r:r + rows])
        return out


class ShareStore:
    """This party's stored shares. Thread-safe within one process; writers in several
    processes are serialised by an advisory lock on ``<path>.lock``."""

    def __init__(self, path: str | os.PathLike[str], party: int, *, create: bool = True) -> None:
        self.path = Path(path)
        self.party = party
        self.segments_dir = Path(str(self.path) + ".segments")
        if not create and not self.path.exists():
            raise StoreError(f"share store {self.path} does not exist")
        self._lock = threading.RLock()
        self._segments: dict[str, _Segment] = {}
        self._live_cache: tuple[Any, list[str], frozenset[str]] | None = None
        self._meta_cache: tuple[Any, dict[str, Any]] | None = None
        self._db = TinyDB(self.path, storage=AtomicJSONStorage)
        expected = {"party": party, "prime": str(PRIME), "layout": LAYOUT}
        with self._mutating():
            data = self._read()
            rows = _table(data, "meta")
            if not rows:
                if not create:
                    raise StoreError(f"share store {self.path} has no metadata")
                data["meta"] = {"1": expected}
                self._write(data)
            elif dict(rows[0]) == {**expected, "layout": OLD_LAYOUT}:
                self._migrate(data)
            elif dict(rows[0]) != expected:
                raise StoreError(
                    f"share store {self.path} belongs to another party or layout: {dict(rows[0])}")
            self._collect_garbage()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ShareStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- metadata ----------------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        """The metadata document, freshly read (for changing it)."""
        return self._db.storage.read() or {}

    def _snapshot(self) -> dict[str, Any]:
        """The metadata document for reading only: parsed again only when the file was
        replaced (every write replaces it: new inode, time and usually size)."""
        try:
            st = os.stat(self.path)
            stamp: Any = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        with self._lock:
            if stamp is not None and self._meta_cache is not None and self._meta_cache[0] == stamp:
                return self._meta_cache[1]
            data = self._read()
            self._meta_cache = (stamp, data) if stamp is not None else None
            return data

    def _write(self, data: dict[str, Any]) -> None:
        with self._lock:
            self._meta_cache = None
            self._db.storage.write(data)

    @contextlib.contextmanager
    def _mutating(self) -> Any:
        """This thread, and no other process, changes the store meanwhile."""
        with self._lock:
            if fcntl is None:
                yield
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(str(self.path) + ".lock", "a+b") as lock:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _segment(self, doc: Mapping[str, Any]) -> _Segment:
        """A segment's ids, read and checked against the metadata once."""
        name = doc.get("name")
        with self._lock:
            cached = self._segments.get(name)  # type: ignore[arg-type]
            if cached is not None:
                return cached
            if not _valid_segment_name(name):
                raise StoreError(f"share store metadata is corrupted (segment {name!r})")
            try:
                raw = (self.segments_dir / name / "ids.json").read_bytes()  # type: ignore[operator]
            except OSError as exc:
                raise StoreError(f"stored shares of segment {name} are corrupted: {exc}") from exc
            ids = None
            if _sha256(raw) == doc.get("ids_sha"):
                with contextlib.suppress(ValueError):
                    ids = json.loads(raw)
            if (not isinstance(ids, list) or len(ids) != doc.get("count")
                    or not set(map(type, ids)) <= {str}
                    or not all(map(operator.lt, ids, itertools.islice(ids, 1, None)))):
                raise StoreError(f"stored shares of segment {name} are corrupted (ids)")
            segment = self._segments[name] = _Segment(ids)  # type: ignore[index]
            return segment

    def _index(self, doc: Mapping[str, Any], entry: Mapping[str, Any]) -> np.ndarray:
        """An extra column's row indices into its segment's ids (checked)."""
        segment = self._segment(doc)
        file = entry.get("index")
        with self._lock:
            cached = segment.indices.get(file)  # type: ignore[arg-type]
            if cached is not None:
                return cached
            bad = StoreError(f"stored shares of segment {doc['name']} are corrupted (index)")
            if not _valid_file_name(file):
                raise bad
            try:
                idx = np.load(self.segments_dir / doc["name"] / file, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise bad from exc
            if (idx.dtype != np.dtype("<i4") or idx.ndim != 1 or len(idx) != entry.get("count")
                    or _sha256(idx.tobytes()) != entry.get("index_sha")
                    or (len(idx) and (idx[0] < 0 or idx[-1] >= len(segment.ids)))
                    or bool((np.diff(idx) <= 0).any())):
                raise bad
            segment.indices[file] = idx  # type: ignore[index]
            return idx

    def _digests(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """A segment's position-group digests per column file (checked against the
        metadata's sha256 of them once)."""
        segment = self._segment(doc)
        with self._lock:
            if segment.digests is not None:
                return segment.digests
            bad = StoreError(f"stored shares of segment {doc['name']} are corrupted (digests)")
            try:
                raw = (self.segments_dir / doc["name"] / "digests.json").read_bytes()
            except OSError as exc:
                raise bad from exc
            if _sha256(raw) != doc.get("digests_sha"):
                raise bad
            try:
                digests = json.loads(raw)
            except ValueError as exc:
                raise bad from exc
            if not isinstance(digests, dict):
                raise bad
            segment.digests = digests
            return digests

    def _open_column(self, doc: Mapping[str, Any], entry: Mapping[str, Any]) -> np.ndarray:
        """A segment's column data, memory-mapped: (SHARES_PER_INPUT, k, ELEMENT_BYTES)."""
        file = entry.get("file")
        bad = f"stored shares of segment {doc.get('name')} are corrupted"
        if not _valid_segment_name(doc.get("name")) or not _valid_file_name(file):
            raise StoreError(f"{bad} (file name)")
        try:
            data = np.load(self.segments_dir / doc["name"] / file, mmap_mode="r",
                           allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise StoreError(f"{bad}: {exc}") from exc
        if (data.dtype != np.uint8
                or data.shape != (SHARES_PER_INPUT, entry.get("count"), ELEMENT_BYTES)):
            raise StoreError(f"{bad} (shape)")
        return data

    def _verify_groups(self, doc: Mapping[str, Any], entry: Mapping[str, Any],
                       data: np.ndarray, start: int, stop: int) -> None:
        """Check the digests of the position groups that [start, stop) touches."""
        digests = self._digests(doc).get(entry.get("file"))  # type: ignore[arg-type]
        if not isinstance(digests, list) or len(digests) != len(DIGEST_GROUPS):
            raise StoreError(f"stored shares of segment {doc.get('name')} are corrupted (digests)")
        for (g0, g1), digest in zip(DIGEST_GROUPS, digests):
            if g0 < stop and start < g1:
                actual = _group_digest(self.party, doc["ids_sha"], entry["name"],
                                       entry.get("index_sha"), g0, g1,
                                       memoryview(np.ascontiguousarray(data[g0:g1])).cast("B"))
                if actual != digest:
                    raise StoreError(f"stored shares of segment {doc.get('name')} "
                                     f"(column {entry['name']!r}, positions {g0}-{g1}) "
                                     "are corrupted")

    def _live(self, data: Mapping[str, Any]) -> tuple[list[str], frozenset[str]]:
        """(the stored input ids, sorted; the same as a set)."""
        segments = _table(data, "segments")
        key = tuple((doc.get("name"), len(doc.get("removed") or ())) for doc in segments)
        with self._lock:
            if self._live_cache is not None and self._live_cache[0] == key:
                return self._live_cache[1], self._live_cache[2]
            ids: list[str] = []
            for doc in segments:
                segment_ids = self._segment(doc).ids
                removed = set(doc.get("removed") or ())
                ids.extend(segment_ids if not removed
                           else [i for i in segment_ids if i not in removed])
            ids.sort()  # sorted runs: about linear
            live = frozenset(ids)
            if len(live) != len(ids):
                raise StoreError(f"share store {self.path} is corrupted (an id stored twice)")
            self._live_cache = (key, ids, live)
            return ids, live

    # -- segments ----------------------------------------------------------------------------

    def _write_segment(self, ids: list[str], columns: Mapping[str | None, _ColumnData]
                       ) -> dict[str, Any]:
        """Write an immutable segment (ids sorted, ``columns[None]`` the primary) and
        return its manifest entry; nothing refers to it yet."""
        self.segments_dir.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():x}-{uuid.uuid4().hex[:12]}"
        tmp = self.segments_dir / f".tmp-{name}"
        tmp.mkdir()
        try:
            ids_bytes = json.dumps(ids, separators=(",", ":")).encode()
            _write_durably(tmp / "ids.json", lambda f: f.write(ids_bytes))
            ids_sha = _sha256(ids_bytes)
            entries = []
            for n, (column, (idx, raw)) in enumerate(columns.items()):
                entry: dict[str, Any] = {"name": column, "file": f"c{n}.npy", "index_sha": None}
                if idx is not None:
                    idx = np.ascontiguousarray(idx, dtype="<i4")
                    entry["index"] = f"c{n}.idx.npy"
                    entry["index_sha"] = _sha256(idx.tobytes())
                    _write_durably(tmp / entry["index"],
                                   lambda f, i=idx: np.save(f, i, allow_pickle=False))

                def digest(block: np.ndarray, g0: int, g1: int, column: str | None = column,
                           entry: dict[str, Any] = entry) -> str:
                    return _group_digest(self.party, ids_sha, column, entry["index_sha"], g0, g1,
                                         memoryview(np.ascontiguousarray(block)).cast("B"))

                if isinstance(raw, ColumnView):  # streamed, one position group at a time
                    entry["count"] = raw.n
                    out = np.lib.format.open_memmap(tmp / entry["file"], mode="w+", dtype=np.uint8,
                                                    shape=(SHARES_PER_INPUT, raw.n, ELEMENT_BYTES))
                    entry["digests"] = []
                    for g0, g1 in DIGEST_GROUPS:
                        out[g0:g1] = raw.raw_positions(g0, g1).transpose(1, 0, 2)
                        entry["digests"].append(digest(out[g0:g1], g0, g1))
                    out.flush()
                    del out
                    with open(tmp / entry["file"], "rb+") as f:
                        os.fsync(f.fileno())
                else:
                    data = np.ascontiguousarray(raw.transpose(1, 0, 2))  # position-major
                    entry["count"] = int(data.shape[1])
                    _write_durably(tmp / entry["file"],
                                   lambda f, d=data: np.save(f, d, allow_pickle=False))
                    entry["digests"] = [digest(data[g0:g1], g0, g1) for g0, g1 in DIGEST_GROUPS]
                entries.append(entry)
            digests = json.dumps({e["file"]: e.pop("digests") for e in entries},
                                 separators=(",", ":"), sort_keys=True).encode()
            _write_durably(tmp / "digests.json", lambda f: f.write(digests))
            _fsync_dir(tmp)
            os.rename(tmp, self.segments_dir / name)
            _fsync_dir(self.segments_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return {"name": name, "count": len(ids), "ids_sha": ids_sha,
                "digests_sha": _sha256(digests), "columns": entries, "removed": []}

    def _delete_segments(self, names: Iterable[str]) -> None:
        for name in names:
            if _valid_segment_name(name):
                shutil.rmtree(self.segments_dir / name, ignore_errors=True)
                with self._lock:
                    self._segments.pop(name, None)

    def _retire_segments(self, names: Iterable[str]) -> None:
        """Leave merged segments on disk for ORPHAN_SECONDS: a statistics run started before
        the merge reads its view lazily from them. Their directories' times are reset, so
        the orphan collection (:meth:`_collect_garbage`) removes them only after that."""
        for name in names:
            if _valid_segment_name(name):
                with contextlib.suppress(OSError):
                    os.utime(self.segments_dir / name)
                with self._lock:
                    self._segments.pop(name, None)

    def _collect_garbage(self) -> None:
        """Remove segment directories no metadata names that a crash left behind."""
        if not self.segments_dir.is_dir():
            return
        data = self._read()
        used = {doc.get("name") for doc in _table(data, "segments")}
        used.update((doc.get("segment") or {}).get("name") for doc in _table(data, "staged"))
        now = time.time()
        for entry in self.segments_dir.iterdir():
            with contextlib.suppress(OSError):
                if entry.name not in used and now - entry.stat().st_mtime > ORPHAN_SECONDS:
                    shutil.rmtree(entry, ignore_errors=True)

    def _read_segment(self, doc: Mapping[str, Any], exclude: frozenset[str] | set[str] = frozenset()
                      ) -> tuple[list[str], dict[str | None, _ColumnData]]:
        """A whole segment's verified data, without the inputs in ``exclude``."""
        ids = self._segment(doc).ids
        keep = np.array([i not in exclude for i in ids], dtype=bool)
        new_pos = np.cumsum(keep) - 1
        columns: dict[str | None, _ColumnData] = {}
        for entry in doc["columns"]:
            data = self._open_column(doc, entry)
            self._verify_groups(doc, entry, data, 0, SHARES_PER_INPUT)
            if entry["name"] is None:
                columns[None] = (None, np.asarray(data[:, keep, :]).transpose(1, 0, 2))
            else:
                idx = self._index(doc, entry)
                mask = keep[idx]
                if mask.any():
                    columns[entry["name"]] = (new_pos[idx[mask]].astype(np.int32),
                                              np.asarray(data[:, mask, :]).transpose(1, 0, 2))
        return [i for i, k in zip(ids, keep) if k], columns

    def _build(self, rows: Mapping[str, Sequence[int]],
               columns: Mapping[str, ColumnRows] | None
               ) -> tuple[list[str], dict[str | None, _ColumnData]]:
        """Check and encode rows for a new segment (ids sorted)."""
        columns = columns or {}
        ids = sorted(rows)
        for input_id in ids:
            validate_input_id(input_id)
        data: dict[str | None, _ColumnData] = {None: (None, encode_rows_bytes([rows[i] for i in ids]))}
        extra: dict[str, tuple[list[int], list[Sequence[int]]]] = {}
        for k, input_id in enumerate(ids):
            for name, row in (columns.get(input_id) or {}).items():
                idx, values = extra.setdefault(_check_column_name(name), ([], []))
                idx.append(k)
                values.append(row)
        for name in sorted(extra):
            idx, values = extra[name]
            data[name] = (np.array(idx, dtype=np.int32), encode_rows_bytes(values))
        return ids, data

    def _migrate(self, old: dict[str, Any]) -> None:
        """Convert a store in the old JSON layout; every old digest is checked first and
        nothing changes unless all are good."""

        def convert(pairs: list[tuple[Any, Any]]) -> tuple[list[str], dict[str | None, _ColumnData]]:
            width = SHARES_PER_INPUT * ELEMENT_BYTES
            primary: list[bytes] = []
            extra: dict[str, tuple[list[int], list[bytes]]] = {}
            ids: list[str] = []
            for k, (input_id, doc) in enumerate(sorted(pairs, key=lambda p: str(p[0]))):
                bad = StoreError(f"stored shares of input {input_id} are corrupted "
                                 f"(store {self.path} not converted)")
                try:
                    validate_input_id(input_id)
                    encoded, cols = doc.get("shares"), doc.get("columns")
                    if (not isinstance(encoded, str) or not isinstance(cols, (dict, type(None)))
                            or not all(isinstance(v, str) for v in (cols or {}).values())
                            or doc.get("digest") != _old_digest(self.party, input_id, encoded, cols)
                            or (ids and ids[-1] == input_id)):
                        raise bad
                    raw = base64.b64decode(encoded.encode("ascii"), validate=True)
                    extra_raw = {_check_column_name(c): base64.b64decode(v.encode("ascii"),
                                                                          validate=True)
                                 for c, v in (cols or {}).items()}
                except (StoreError, ValueError, AttributeError, UnicodeEncodeError) as exc:
                    raise bad from exc
                if len(raw) != width or any(len(v) != width for v in extra_raw.values()):
                    raise bad
                ids.append(input_id)
                primary.append(raw)
                for c, v in extra_raw.items():
                    extra.setdefault(c, ([], []))[0].append(k)
                    extra[c][1].append(v)

            def rows(chunks: list[bytes]) -> np.ndarray:
                a = np.frombuffer(b"".join(chunks), dtype=np.uint8).reshape(
                    len(chunks), SHARES_PER_INPUT, ELEMENT_BYTES)
                if not check_below_prime(a):
                    raise StoreError(f"stored shares of {self.path} are corrupted "
                                     "(not field elements; not converted)")
                return a

            data: dict[str | None, _ColumnData] = {None: (None, rows(primary))}
            for c in sorted(extra):
                data[c] = (np.array(extra[c][0], dtype=np.int32), rows(extra[c][1]))
            return ids, data

        inputs = [(doc.get("id"), doc) for doc in _table(old, "inputs")]
        converted = convert(inputs)
        staged = []
        for doc in _table(old, "staged"):
            run_rows = doc.get("rows")
            if not isinstance(run_rows, dict):
                raise StoreError(f"staged run {doc.get('run_id')} is corrupted (not converted)")
            staged.append((doc.get("run_id"), convert(list(run_rows.items()))))
        written: list[str] = []
        try:
            new: dict[str, Any] = {"meta": {"1": {"party": self.party, "prime": str(PRIME),
                                                  "layout": LAYOUT}}}
            segments = []
            if converted[0]:
                segments.append(self._write_segment(*converted))
                written.append(segments[-1]["name"])
            _set_table(new, "segments", segments)
            runs = []
            for run_id, (ids, data) in staged:
                seg = self._write_segment(ids, data) if ids else None
                if seg:
                    written.append(seg["name"])
                runs.append({"run_id": run_id, "segment": seg})
            _set_table(new, "staged", runs)
            _set_table(new, "committed_runs", _table(old, "committed_runs"))
            self._write(new)
        except BaseException:
            self._delete_segments(written)
            raise

    # -- the public interface ----------------------------------------------------------------

    def count(self) -> int:
        return len(self._live(self._snapshot())[0])

    def ids(self) -> list[str]:
        """Stored input ids, sorted (the order every party uses)."""
        return list(self._live(self._snapshot())[0])

    def __contains__(self, input_id: str) -> bool:
        return input_id in self._live(self._snapshot())[1]

    def _append(self, ids: list[str], data: Mapping[str | None, _ColumnData],
                run_id: str | None) -> None:
        with self._mutating():
            meta = self._read()
            if run_id is None:
                clash = sorted(self._live(meta)[1].intersection(ids))
                if clash:
                    raise StoreError(f"input id already stored: {clash[0]}")
                if not ids:
                    return
            segment = self._write_segment(ids, data) if ids else None
            old: list[str] = []
            try:
                if run_id is None:
                    _set_table(meta, "segments", _table(meta, "segments") + [segment])  # type: ignore[list-item]
                else:
                    staged = _table(meta, "staged")
                    old = [(d.get("segment") or {}).get("name") for d in staged
                           if d.get("run_id") == run_id]
                    _set_table(meta, "staged", [d for d in staged if d.get("run_id") != run_id]
                               + [{"run_id": run_id, "segment": segment}])
                self._write(meta)
            except BaseException:
                if segment:
                    self._delete_segments([segment["name"]])
                raise
            self._delete_segments(n for n in old if n)

    def add_many(self, rows: Mapping[str, Sequence[int]],
                 columns: Mapping[str, ColumnRows] | None = None) -> None:
        """Store share rows for new input ids, all or nothing (one new segment, made
        visible by one atomic metadata write). An id already stored refuses the batch.

        ``columns`` (optional): per input id, its extra columns' share rows by name.
        """
        self._append(*self._build(rows, columns), None)
        self._compact_quietly()

    def add_raw(self, ids: Sequence[str], rows: np.ndarray,
                columns: Mapping[str, tuple[Sequence[str], np.ndarray]] | None = None) -> None:
        """:meth:`add_many` for rows already in the store's byte form (e.g. from
        ``mpcstats.benchmarks.pool_sharing``): ``rows`` uint8 of shape (N, SHARES_PER_INPUT ·
        ELEMENT_BYTES) or (N, SHARES_PER_INPUT, ELEMENT_BYTES), row k for ``ids[k]``;
        ``columns``: {name: (ids that have a value, their rows in the same form)}.
        Every element is checked to be below PRIME; no Python ints are made."""

        def shaped(a: np.ndarray, n: int) -> np.ndarray:
            a = np.asarray(a)
            if a.dtype != np.uint8 or a.size != n * SHARES_PER_INPUT * ELEMENT_BYTES:
                raise StoreError(f"expected {n} uint8 share rows of {SHARES_PER_INPUT} elements")
            a = a.reshape(n, SHARES_PER_INPUT, ELEMENT_BYTES)
            if not check_below_prime(a):
                raise StoreError("a share is not an element of the statistics field")
            return a

        ids = [validate_input_id(i) for i in ids]
        if len(set(ids)) != len(ids):
            raise StoreError("an input id appears twice in one batch")
        order = sorted(range(len(ids)), key=ids.__getitem__)
        sorted_ids = [ids[k] for k in order]
        data: dict[str | None, _ColumnData] = {None: (None, shaped(rows, len(ids))[order])}
        position = {input_id: k for k, input_id in enumerate(sorted_ids)}
        for name in sorted(columns or {}):
            column_ids, column_rows = (columns or {})[name]
            _check_column_name(name)
            if any(i not in position for i in column_ids) or len(set(column_ids)) != len(column_ids):
                raise StoreError(f"column {name!r} names inputs outside the batch")
            idx = np.array([position[i] for i in column_ids], dtype=np.int64)
            by_idx = np.argsort(idx)
            data[name] = (idx[by_idx].astype(np.int32),
                          shaped(column_rows, len(column_ids))[by_idx])
        self._append(sorted_ids, data, None)
        self._compact_quietly()

    # -- two-phase commit: a verification run stages, the coordinator commits -------------
    #
    # A run's accepted inputs are first *staged* (durable, but not yet inputs). Only when
    # all three parties report a successful run does the coordinator tell each to commit;
    # a failure anywhere aborts everywhere. So an input is in all three stores or in none
    # (a commit that fails, e.g. on a full disk, is retried: the staged rows stay).

    def stage(self, run_id: str, rows: Mapping[str, Sequence[int]],
              columns: Mapping[str, ColumnRows] | None = None) -> None:
        """Durably set aside a run's accepted rows (one segment, one atomic metadata
        write; staging a run again replaces it); ``columns`` as in :meth:`add_many`."""
        self._append(*self._build(rows, columns), str(run_id))

    def staged_runs(self) -> list[str]:
        return [doc["run_id"] for doc in _table(self._snapshot(), "staged")]

    def commit(self, run_id: str) -> int:
        """Make a staged run's segment part of the inputs (one atomic metadata write, no
        copy); idempotent. Returns the number of inputs added."""
        added = self._commit(run_id)
        self._compact_quietly()
        return added

    def _compact_quietly(self) -> None:
        """:meth:`maybe_compact` after a change that is already durable: a compaction that
        cannot run now (a full disk) leaves the store as it is and is retried next time."""
        with contextlib.suppress(OSError):
            self.maybe_compact()

    def _commit(self, run_id: str) -> int:
        with self._mutating():
            meta = self._read()
            staged = _table(meta, "staged")
            entry = next((d for d in staged if d.get("run_id") == run_id), None)
            if entry is None:
                if any(d.get("run_id") == run_id for d in _table(meta, "committed_runs")):
                    return 0  # already committed: a repeated commit is a no-op
                raise StoreError(f"no staged run {run_id}")
            segment = entry.get("segment")
            segments = _table(meta, "segments")
            obsolete: list[str] = []
            written: list[str] = []
            if segment is not None:
                present = self._live(meta)[1].intersection(self._segment(segment).ids)
                if present:  # already counted (cannot happen through the coordinator)
                    obsolete.append(segment["name"])
                    ids, data = self._read_segment(segment, present)
                    segment = self._write_segment(ids, data) if ids else None
                    if segment:
                        written.append(segment["name"])
            added = segment["count"] if segment else 0
            if segment:
                segments.append(segment)
            _set_table(meta, "segments", segments)
            _set_table(meta, "staged", [d for d in staged if d is not entry])
            _set_table(meta, "committed_runs", _table(meta, "committed_runs")
                       + [{"run_id": run_id, "count": added}])
            try:
                self._write(meta)
            except BaseException:
                self._delete_segments(written)
                raise
            self._delete_segments(obsolete)
            return added

    def abort(self, run_id: str) -> None:
        with self._mutating():
            meta = self._read()
            staged = _table(meta, "staged")
            dropped = [d for d in staged if d.get("run_id") == run_id]
            if not dropped:
                return
            _set_table(meta, "staged", [d for d in staged if d.get("run_id") != run_id])
            self._write(meta)
            self._delete_segments((d.get("segment") or {}).get("name") for d in dropped)

    def remove_many(self, input_ids: Iterable[str]) -> None:
        """Remove inputs (tombstones in the metadata; the segments stay as written)."""
        ids = set(input_ids)
        with self._mutating():
            meta = self._read()
            segments = _table(meta, "segments")
            changed = False
            for doc in segments:
                removed = set(doc.get("removed") or ())
                hit = ids.intersection(self._segment(doc).ids) - removed
                if hit:
                    doc["removed"] = sorted(removed | hit)
                    changed = True
            if changed:
                _set_table(meta, "segments", segments)
                self._write(meta)

    def compact(self, only: Iterable[str] | None = None) -> int:
        """Merge committed segments into one, dropping removed inputs; returns the number
        of segments merged (0: nothing to do). ``only``: the names of the segments to merge
        (default: all of them).

        Each add_many or verification run adds a segment; many small segments cost a
        file open and a digest per read and metadata per segment. Compaction reads the
        live inputs column by column and position group by position group (verified,
        memory bounded by one group of every input) into a new segment, then swaps it in
        with one atomic metadata write; if the store changed meanwhile nothing is swapped
        (returns 0). Writers are held up only for the final swap. Every append runs
        :meth:`maybe_compact`, which merges only the smallest segments.
        """
        meta = self._read()
        segments = _table(meta, "segments")
        chosen = {d.get("name") for d in segments} if only is None else set(only)
        merged = [d for d in segments if d.get("name") in chosen]
        if len(merged) < 2 and not any(d.get("removed") for d in merged):
            return 0
        key = [(d.get("name"), d.get("removed")) for d in merged]
        wanted: list[str] | None = None
        if only is not None:
            wanted = sorted(i for d in merged for i in self._segment(d).ids
                            if i not in set(d.get("removed") or ()))
        names = sorted({e.get("name") for d in merged for e in d.get("columns") or ()
                        if e.get("name") is not None})
        primary = self.view(wanted, None)
        position = {input_id: k for k, input_id in enumerate(primary.ids)}
        data: dict[str | None, Any] = {None: (None, primary)}
        for name in names:
            view = self.view(wanted, name)
            if view.n:
                data[name] = (np.array([position[i] for i in view.ids], dtype=np.int32), view)
        del position
        segment = self._write_segment(primary.ids, data) if primary.n else None
        with self._mutating():  # written without the lock: writers wait only for the swap
            current = self._read()
            try:
                now = [d for d in _table(current, "segments") if d.get("name") in chosen]
                if [(d.get("name"), d.get("removed")) for d in now] != key:
                    raise _Changed
                kept = [d for d in _table(current, "segments") if d.get("name") not in chosen]
                _set_table(current, "segments", kept + ([segment] if segment else []))
                self._write(current)
            except BaseException as exc:
                if segment:
                    self._delete_segments([segment["name"]])
                if isinstance(exc, _Changed):
                    return 0
                raise
            self._retire_segments(d["name"] for d in merged)
            return len(merged)

    def maybe_compact(self, max_segments: int | None = None) -> int:
        """Above ``max_segments`` (default :data:`MAX_SEGMENTS`) committed segments, merge the
        smallest ones so that half that many remain (a size-tiered policy, as in log-structured
        stores: big segments are rarely rewritten, so each input is copied about log(N) times
        over the life of a pool). Returns the number merged."""
        limit = MAX_SEGMENTS if max_segments is None else max_segments
        segments = _table(self._read(), "segments")
        if len(segments) <= limit:
            return 0
        smallest = sorted(segments, key=lambda d: int(d.get("count") or 0))
        return self.compact(d.get("name") for d in smallest[:len(segments) - limit // 2 + 1])

    def view(self, input_ids: Sequence[str] | None = None,
             column: str | None = None) -> ColumnView:
        """A lazy :class:`ColumnView` of ``column`` (None: the primary) over the stored
        inputs (or ``input_ids``, which must all be stored): only the inputs that have a
        value in the column, in sorted id order."""
        meta = self._snapshot()
        _, live = self._live(meta)
        wanted: set[str] | None = None
        if input_ids is not None:
            wanted = set(input_ids)
            missing = sorted(i for i in wanted if i not in live)
            if missing:
                raise StoreError(f"{len(missing)} requested input(s) not in the store, "
                                 f"e.g. {missing[0]}")
        ids: list[str] = []
        which: list[np.ndarray] = []
        local: list[np.ndarray] = []
        docs: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for doc in _table(meta, "segments"):
            entry = next((e for e in doc.get("columns") or () if e.get("name") == column), None)
            if entry is None:
                continue
            segment_ids = self._segment(doc).ids
            # rows of the column's data, and the ids they belong to
            if column is None:
                names = segment_ids
            else:
                names = [segment_ids[k] for k in self._index(doc, entry).tolist()]
            rows = np.arange(len(names), dtype=np.int64)
            removed = set(doc.get("removed") or ())
            if removed or wanted is not None:
                keep = np.array([i not in removed and (wanted is None or i in wanted)
                                 for i in names], dtype=bool)
                rows = rows[keep]
                names = [i for i, k in zip(names, keep.tolist()) if k]
            if not len(rows):
                continue
            which.append(np.full(len(rows), len(docs), dtype=np.int64))
            local.append(rows)
            ids.extend(names)
            docs.append((doc, entry))
        order = sorted(range(len(ids)), key=ids.__getitem__)  # sorted runs: about linear
        ids = [ids[k] for k in order]
        order_arr = np.array(order, dtype=np.int64)
        all_which = np.concatenate(which)[order_arr] if which else np.zeros(0, np.int64)
        all_local = np.concatenate(local)[order_arr] if local else np.zeros(0, np.int64)
        by_segment = np.argsort(all_which, kind="stable")
        splits = np.cumsum(np.bincount(all_which, minlength=len(docs)))[:-1]
        parts = [_Part(doc, entry, dest, all_local[dest])
                 for (doc, entry), dest in zip(docs, np.split(by_segment, splits))]
        return ColumnView(self, column, ids, parts)

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
        have a value in it and their share rows), every position read verified. Whole rows
        of every input in memory: prefer :meth:`view` for large pools."""
        primary = self.view(input_ids, None)
        out: dict[str | None, tuple[list[str], np.ndarray]] = {}
        for column in columns:
            if column in out:
                continue
            view = primary if column is None else self.view(
                None if input_ids is None else primary.ids, column)
            out[column] = (view.ids, view.positions(0, SHARES_PER_INPUT))
        return primary.ids, out
