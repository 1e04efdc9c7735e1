"""The accepted results, newest last, in a TinyDB file in the data dir: survives restarts, bounded in size.

Why persist: consumers should see the last agreed statistics right after a restart, without waiting for
the next poll, and the history is the public record of what was published. TinyDB is not thread-safe and
the poller thread writes while request handlers read, so one lock guards every access.

The newest entry is the served result and the watermark (``watermark.py``): an entry is added only when
it is newer than that one, so the newest entry is also the most recent run. Keeping the watermark *in*
the history (not beside it) means one write records both, and a restart cannot forget what was served
unless the data dir itself is lost.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.table import Document

from servers.results.watermark import (DEFAULT_FUTURE_TOLERANCE_SECONDS, Judgement, MarkError, RunMark,
                                       Verdict, judge)

log = logging.getLogger("mpcstats.results.cache")

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

    def add(self, result: dict[str, Any], key_ids: dict[int, str], accepted_at: float | None = None, *,
            future_tolerance: float = DEFAULT_FUTURE_TOLERANCE_SECONDS) -> Judgement:
        """Record an agreed ``result`` if it is newer than the served one (see ``watermark.judge``).

        ``SAME``: the served run again (the parties keep serving their latest between runs: not news).
        ``REFUSED``: older, over fewer or other inputs, or a tie; nothing is written. Raises
        :class:`MarkError` if ``result`` cannot be ordered at all.
        """
        incoming = RunMark.of(result)
        now = time.time()
        entry = {
            "result": result,
            "key_ids": {str(pid): kid for pid, kid in sorted(key_ids.items())},
            "accepted_at": now if accepted_at is None else accepted_at,
        }
        with self._lock:
            docs = self._table.all()
            served = max(docs, key=_doc_id) if docs else None
            judgement = judge(self._mark(served), incoming, now=now, future_tolerance=future_tolerance,
                              same_result=served is not None and served["result"] == result)
            if judgement.verdict is not Verdict.NEWER:
                return judgement
            if any(doc["result"].get("run_id") == incoming.run_id for doc in docs):
                # a newer run under an id already published would make the history ambiguous
                return Judgement(Verdict.REFUSED, f"run id {incoming.run_id} was already published "
                                                  "with other contents")
            self._table.insert(entry)
            docs = self._table.all()
            if len(docs) > self.history_limit:  # the newest (served) entry is never among these
                oldest = sorted(docs, key=_doc_id)[: len(docs) - self.history_limit]
                self._table.remove(doc_ids=[d.doc_id for d in oldest])
        return judgement

    @staticmethod
    def _mark(served: Document | None) -> RunMark | None:
        if served is None:
            return None
        try:
            return RunMark.of(served["result"])
        except MarkError as exc:  # written before results were ordered: let the next valid run replace it
            log.warning("the served result cannot be ordered (%s); the next valid result replaces it", exc)
            return None

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
