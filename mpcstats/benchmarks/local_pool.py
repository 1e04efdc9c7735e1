"""A pool of simulated providers and three local parties, for tests, bench and demo.

It does what a real deployment does across hosts — providers share client-side,
each party ingests (checks) and stores its own shares, the statistics program runs
over the stored shares — but with the three party processes on loopback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mpc_programs.shares.field import PARTIES
from mpc_programs.statistics.query import Query
from mpc_programs.runtime.runner import MPCRunError, run_local
from mpc_programs.shares.sharing import share_units
from mpc_programs.shares.store import encode_row

#: Every job built here names its security level (``party_main.configure_security``):
#: active security with abort unless a caller asks for ``semi-honest`` (benchmarks).
DEFAULT_SECURITY = "malicious"


def store_paths(directory: str | Path) -> list[Path]:
    return [Path(directory) / f"party{i}" / "shares.json" for i in range(PARTIES)]


def share_pool(units_by_id: Mapping[str, int]) -> list[dict[str, str]]:
    """Each provider shares its value; returns what each party receives: {id: row}."""
    per_party: list[dict[str, str]] = [{} for _ in range(PARTIES)]
    for input_id, units in units_by_id.items():
        for pid, row in enumerate(share_units(units)):
            per_party[pid][input_id] = encode_row(row)
    return per_party


def share_columns(values_by_id: Mapping[str, Mapping[str, int]]
                  ) -> list[dict[str, dict[str, str]]]:
    """Each provider shares its extra columns' values ({id: {column: units}}, a missing
    value left out); returns what each party receives: {id: {column: row}}."""
    per_party: list[dict[str, dict[str, str]]] = [{} for _ in range(PARTIES)]
    for input_id, values in values_by_id.items():
        for column, units in values.items():
            for pid, row in enumerate(share_units(units)):
                per_party[pid].setdefault(input_id, {})[column] = encode_row(row)
    return per_party


def ingest(stores: Sequence[Path], pending: Sequence[Mapping[str, str]], workdir: str | Path,
           timeout: float = 300.0,
           pending_columns: Sequence[Mapping[str, Mapping[str, str]]] | None = None,
           security: str = DEFAULT_SECURITY) -> dict[str, Any]:
    """Run the ingestion check; returns party 0's outcome after checking all agree."""
    jobs = [{"task": "ingest", "store": str(stores[i]), "pending": dict(pending[i]),
             "pending_columns": dict(pending_columns[i]) if pending_columns else {},
             "security": security}
            for i in range(PARTIES)]
    outcomes = run_local(jobs, workdir, timeout=timeout)
    _check_agreement(outcomes, ("accepted", "rejected", "stored"))
    return outcomes[0]


def statistics(stores: Sequence[Path], query: Query, workdir: str | Path, *,
               input_ids: Sequence[str] | None = None, timeout: float = 300.0,
               columns: Sequence[str] | None = None,
               min_inputs: int | None = None,
               gini_max_inputs: int | None = None,
               security: str = DEFAULT_SECURITY) -> list[dict[str, Any]]:
    """Run a query over the stored shares; returns every party's outcome (all equal).

    ``columns``: the pool's columns, the primary first (default: the primary alone).
    ``security``: the job's level (``malicious``, the default, or ``semi-honest``)."""
    jobs = []
    for i in range(PARTIES):
        job: dict[str, Any] = {"task": "stats", "store": str(stores[i]), "query": query.to_json(),
                               "security": security}
        if columns is not None:
            job["columns"] = list(columns)
        if min_inputs is not None:
            job["min_inputs"] = min_inputs
        if gini_max_inputs is not None:
            job["gini_max_inputs"] = gini_max_inputs
        if input_ids is not None:
            job["input_ids"] = list(input_ids)
        jobs.append(job)
    outcomes = run_local(jobs, workdir, timeout=timeout)
    _check_agreement(outcomes, ("n", "input_digest", "statistics"))
    return outcomes


def _check_agreement(outcomes: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> None:
    for key in keys:
        values = [o.get(key) for o in outcomes]
        if any(v != values[0] for v in values):
            raise MPCRunError(f"parties disagree on {key!r}")


def verify(stores: Sequence[Path], submissions: Sequence[Sequence[Mapping[str, Any]]],
           workdir: str | Path, timeout: float = 300.0,
           security: str = DEFAULT_SECURITY) -> dict[str, Any]:
    """Run the verification program on per-party submission lists; returns party 0's outcome."""
    jobs = [{"task": "verify", "store": str(stores[i]), "submissions": list(submissions[i]),
             "security": security}
            for i in range(PARTIES)]
    outcomes = run_local(jobs, workdir, timeout=timeout)
    _check_agreement(outcomes, ("accepted", "rejected", "stored"))
    return outcomes[0]
