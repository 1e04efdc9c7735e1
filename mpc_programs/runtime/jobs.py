"""Job files: what one party's MPC process is asked to do, and what it answers.

A job is a JSON file written by whoever launches the party process (the local
runner, or a party server). Keeping it a file — not command-line arguments —
means MPyC's own argument parser never sees our options, and no share or query
detail shows up in a process listing.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

TASKS = ("stats", "ingest", "verify")


class JobError(ValueError):
    """A job file that cannot be run."""


def write_json_atomic(path: str | os.PathLike[str], data: Any, mode: int = 0o600) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_job(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The job from a file, or from standard input when ``path`` is ``-`` (so that key
    shares in a verify job never touch the disk)."""
    try:
        if str(path) == "-":
            import sys
            text = sys.stdin.read()
        else:
            text = Path(path).read_text(encoding="utf-8")
        job = json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise JobError(f"cannot read job {path}: {exc}") from exc
    if not isinstance(job, dict) or job.get("task") not in TASKS:
        raise JobError(f"job must be an object with task in {TASKS}")
    for key in ("store", "result"):
        if not isinstance(job.get(key), str):
            raise JobError(f"job is missing {key!r}")
    return job
