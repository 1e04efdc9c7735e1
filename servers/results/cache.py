"""The accepted results, newest last, in a TinyDB file in the data dir: survives restarts, bounded in size.

Why persist: consumers should see the last agreed statistics right after a restart, without waiting for
the next poll, and the history is the public record of what was published. TinyDB is not thread-safe and
the poller thread writes while request handlers read, so one lock guards every access.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.table import Document

HISTORY_FILE = "results_history.json"


def _doc_id(doc: Document) -> int:
    """TinyDB ids grow with every insert: the largest id is the newest entry."""
    return doc.doc_id


class ResultCache:
    def __init__(self, data_dir: str | Path, history_limit: int = 1000) -> None:
        self.path = Path(data_dir) / HISTORY_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.history_limit = history_limit
        self._lock = threading.Lock()
        self._db = TinyDB(self.path, sort_keys=True)
        self._table = self._db.table("accepted")

    def add(self, result: dict[str, Any], key_ids: dict[int, str], accepted_at: float | None = None) -> bool:
        """Record an agreed ``result``; False (and nothing written) if its ``run_id`` is already known.

        The parties keep serving the same latest result between runs; polling it again is not news.
        """
        run_id = result.get("run_id")
        entry = {
            "result": result,
            "key_ids": {str(pid): kid for pid, kid in sorted(key_ids.items())},
            "accepted_at": time.time() if accepted_at is None else accepted_at,
        }
        with self._lock:
            if any(doc["result"].get("run_id") == run_id for doc in self._table.all()):
                return False
            self._table.insert(entry)
            docs = self._table.all()
            if len(docs) > self.history_limit:
                oldest = sorted(docs, key=_doc_id)[: len(docs) - self.history_limit]
                self._table.remove(doc_ids=[d.doc_id for d in oldest])
        return True

    def latest(self) -> dict[str, Any] | None:
        with self._lock:
            docs: list[Document] = self._table.all()
        if not docs:
            return None
        newest: Document = max(docs, key=_doc_id)
        return dict(newest)

    def history(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` accepted entries, newest first."""
        with self._lock:
            docs = self._table.all()
        return [dict(d) for d in sorted(docs, key=_doc_id, reverse=True)[:limit]]

    def __len__(self) -> int:
        with self._lock:
            return len(self._table)

    def close(self) -> None:
        with self._lock:
            self._db.close()
