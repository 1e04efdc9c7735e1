"""One computation party's MPC process: ``python -m mpc_programs.runtime.party_main``.

Usage (MPyC options first, then ours)::

    python -m mpc_programs.runtime.party_main -P host0:port0 -P host1:port1 -P host2:port2 \
        -I <party index> --ssl --job job.json

``--ssl`` is required (MPC links run over TLS with certificates bound to party numbers;
``mpc_programs.runtime.hardened_runtime``); ``--insecure-local`` turns that off for development on one
machine only, and says so loudly.

Tasks (see ``jobs.py``):

* ``stats`` — load the shares of the agreed input ids from this party's store, check
  that all three parties hold the same input set (digest exchange: a mismatch aborts
  the run, it never yields a silently wrong answer), run the query, write the
  opened statistics.
* ``verify`` — verify notarized submissions inside MPC (``verify_inputs``) and store
  exactly the accepted balance layouts; key shares live only in the job file.
* ``ingest`` — check the pending share rows (``ingest.check_rows``) and store exactly
  the accepted ones, in one atomic write.

Every job may name its ``security``: ``malicious`` (the default: active security with abort,
``product_check``) or ``semi-honest``; any other value is a job error before any connection.

The result file is written only on success; the exit status is non-zero on any error.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from mpc_programs.statistics import dp, dp_stats, results, secure_means, secure_stats
from mpc_programs.runtime import fast_mpc, hardened_runtime, product_check
from mpc_programs.verification import ingest, verify_inputs
from mpc_programs.shares.encoding import to_units
from mpc_programs.shares import f192
from mpc_programs.shares.field import ELEMENT_BYTES, SHARES_PER_INPUT
from mpc_programs.runtime.jobs import JobError, read_job, write_json_atomic
from mpc_programs.statistics.query import PRIMARY_COLUMN, QueryError, parse_query
from mpc_programs.shares.store import ShareStore, StoreError, validate_input_id
from mpc_programs.runtime.hardened_runtime import mpc

log = logging.getLogger("mpcstats.party")


class InputSetMismatch(RuntimeError):
    """The parties do not hold (or were not given) the same input ids."""


def _digest(ids: list[str]) -> str:
    return hashlib.sha256(json.dumps(ids).encode()).hexdigest()


async def _agree(label: str, value: str | Exception) -> None:
    """Exchange a digest (or a local failure) so that every party fails together.

    MPyC has no timeouts: a party that quits alone leaves the others waiting, so a
    local error is announced to the peers before it is raised.
    """
    mine = f"error: {value}"[:1000] if isinstance(value, Exception) else value
    seen = hardened_runtime.expect_from_peers(await mpc.transfer(mine),
                                              lambda v: isinstance(v, str) and len(v) <= 1000,
                                              f"a {label} digest")
    if isinstance(value, Exception):
        raise value
    for pid, other in enumerate(seen):
        if other.startswith("error: "):
            raise StoreError(f"party {pid} failed: {other[7:]}")
    if len(set(seen)) != 1:
        raise InputSetMismatch(f"parties disagree on the {label}")


def _load_columns(job: dict[str, Any], query: Any
                  ) -> tuple[list[str], list[str], dict[str, secure_stats.SharedInputs]]:
    """(agreed input ids, the ids with a value in every column the query uses, those
    inputs' shares per used column). Raises StoreError/QueryError.

    Nothing is decoded here: each column is a lazy view of the store that the statistics
    read digit by digit, so a party's memory does not grow with the whole layout of the
    pool (issue 18); the digests of the positions read are checked as they are read."""
    pool_columns = job.get("columns") or [PRIMARY_COLUMN]
    if not isinstance(pool_columns, list) or not all(isinstance(c, str) for c in pool_columns):
        raise JobError("'columns' must list the pool's column names")
    query.check_columns(pool_columns)
    primary = pool_columns[0]
    used = query.used_columns(primary)
    store = ShareStore(job["store"], mpc.pid, create=False)
    requested = job.get("input_ids")
    ids = store.ids() if requested is None else sorted(requested)
    views = {c: store.view(ids, None if c == primary else c) for c in used}
    complete = set(ids).intersection(*(set(view.ids) for view in views.values()))
    shares = {}
    for name, view in views.items():
        if len(view.ids) != len(complete):  # some inputs lack another used column
            view = store.view(sorted(complete), None if name == primary else name)
        shares[name] = secure_stats.SharedInputs(view)
    return ids, sorted(complete), shares


async def run_stats(job: dict[str, Any]) -> dict[str, Any]:
    """The ``stats`` task: every statistic of the query over the agreed input set.

    The statistics are over the inputs that have a value in every column the query
    uses (``query.used_columns``; which inputs lack a column is public at the parties,
    like every field position). With a filter, the filter indicator is computed first
    (secret) and its sum — the number of matching inputs — opened; fewer than
    ``min_inputs`` (default 1) inputs publish no statistic (and a filtered count below it
    is withheld too). Each aggregate's MPC time is reported under ``seconds``
    (``filter``, ``sum``, ``moments``, ``order_statistics``, ``histogram``, ``mode``,
    ``means``, ``gini``, ``bivariate``).
    """
    query = parse_query(job.get("query"))
    started = time.perf_counter()
    ids: list[str] = []
    complete: list[str] = []
    rows: dict[str, secure_stats.SharedInputs] = {}
    try:
        ids, complete, rows = _load_columns(job, query)
        status: str | Exception = _digest(ids) + "|" + _digest(complete)
    except (StoreError, QueryError, JobError) as exc:
        status = exc
    load_seconds = time.perf_counter() - started
    await _agree("input set", status)
    n = len(ids)
    min_inputs = int(job.get("min_inputs", 1))
    if n < min_inputs:
        raise results.NotEnoughInputs(f"not enough inputs ({n})")
    primary = (job.get("columns") or [PRIMARY_COLUMN])[0]
    own = query.own_column(primary)
    m = len(complete)
    gini_limit = int(job.get("gini_max_inputs", results.GINI_MAX_INPUTS))
    if "gini" in query.statistics and m > gini_limit:  # same m at every party
        raise results.TooManyInputs(f"gini sorts the inputs inside MPC and is limited to "
                                    f"{gini_limit} inputs (the pool has {m})")
    timings: dict[str, float] = {"load": load_seconds}
    outcome: dict[str, Any] = {"task": "stats", "party": mpc.pid, "n": n,
                               "input_digest": _digest(ids), "query": query.to_json()}
    if m < n:
        outcome["with_values"] = m  # inputs with a value in every column the query uses
    if m < max(min_inputs, 1):
        message = (results.NO_INPUTS if m == 0 else
                   f"fewer than {min_inputs} inputs have a value in "
                   f"{', '.join(query.used_columns(primary))}")
        outcome.update(statistics=results.no_inputs(query, message, None if m else 0),
                       seconds=timings)
        return outcome
    inputs = rows.get(own)
    if query.privacy is not None:
        outcome["statistics"] = await _private_statistics(query, inputs, timings, rows, primary, m)
        outcome["seconds"] = timings
        return outcome
    mask = None
    filters = query.filters(primary)
    if filters:
        t = time.perf_counter()
        for column, predicate in filters:
            column_mask = await secure_stats.filter_mask(rows[column], predicate)
            mask = column_mask if mask is None else await secure_stats._multiply(mask, column_mask)
        assert mask is not None
        m = await secure_stats.open_count(mask)
        timings["filter"] = time.perf_counter() - t
        outcome["matched"] = m
        # The complement too: with n public, a filter matching all but k inputs gives the
        # count and sums of those k (k = 1: one balance) — issue 16, test_privacy_attacks.
        # (k = 0 is the whole pool, whose statistics are published anyway.)
        if m < max(min_inputs, 1) or 0 < len(complete) - m < min_inputs:
            # Below the minimum pool size even the count is withheld: counts over
            # thresholds a consumer picks would otherwise locate every balance.
            if m == 0 and min_inputs <= 1:
                statistics = results.no_inputs(query, results.NO_INPUTS, 0)
            else:
                statistics = results.no_inputs(
                    query, f"fewer than {min_inputs} inputs match the filter or its "
                           "complement", None)
            outcome.pop("matched", None)
            outcome.update(statistics=statistics, seconds=timings)
            return outcome
    statistics: dict[str, Any] = {}
    if any(s not in query.bivariate and s != "count" for s in query.statistics) \
            or not query.bivariate:
        statistics = await _one_column_statistics(query, _need_inputs(inputs), mask, m, timings)
    if query.bivariate:
        from mpc_programs.statistics import secure_bivariate

        t = time.perf_counter()
        x_name, y_name = query.columns  # type: ignore[misc]
        x = rows[x_name].values()
        y = rows[y_name].values()
        opened = await secure_bivariate.open_bivariate(x, y, mask, m, set(query.bivariate))
        timings["bivariate"] = time.perf_counter() - t
        statistics.update(secure_bivariate.publish_bivariate(opened, m, query.bivariate))
        if "count" in query.statistics:
            statistics["count"] = m
    outcome["statistics"] = {name: statistics[name] for name in query.statistics}
    outcome["seconds"] = timings
    return outcome


def _need_inputs(inputs: secure_stats.SharedInputs | None) -> secure_stats.SharedInputs:
    if inputs is None:
        raise JobError("the query's own column was not loaded")
    return inputs


async def _one_column_statistics(query: Any, inputs: secure_stats.SharedInputs,
                                 mask: np.ndarray | None, m: int,
                                 timings: dict[str, float]) -> dict[str, Any]:
    """Every statistic of one column (``query.column``) over the (masked) inputs."""
    stats = set(query.statistics)
    total = numerator = None
    moments = {"variance", "stdev", "pvariance", "pstdev"}
    if stats & {"sum", "mean"} and not stats & moments:
        t = time.perf_counter()
        total = await secure_stats.open_sum(inputs, mask)
        timings["sum"] = time.perf_counter() - t
    elif stats & moments:
        t = time.perf_counter()
        total, numerator = await secure_stats.open_variance_numerator(inputs, mask, m)
        timings["moments"] = time.perf_counter() - t
    ranks = results.ranks_needed(query, m)
    order: dict[int, int] = {}
    if ranks:
        t = time.perf_counter()
        order = await secure_stats.open_order_statistics(inputs, ranks, mask, m)
        timings["order_statistics"] = time.perf_counter() - t
    below = None
    if "histogram" in stats:
        t = time.perf_counter()
        below = await secure_stats.open_counts_below(inputs, query.edge_units(), mask)
        timings["histogram"] = time.perf_counter() - t
    mode = None
    if "mode" in stats:
        t = time.perf_counter()
        mode = await secure_stats.open_mode_bucket(inputs, query.edge_units(), mask, m)
        timings["mode"] = time.perf_counter() - t
    means = None
    if stats & {"geometric_mean", "harmonic_mean"}:
        t = time.perf_counter()
        means = await secure_means.open_log_reciprocal_sums(
            inputs, mask, "geometric_mean" in stats, "harmonic_mean" in stats)
        timings["means"] = time.perf_counter() - t
    gini = None
    if "gini" in stats:
        t = time.perf_counter()
        gini = await secure_stats.open_gini_numerator(inputs, mask, m)
        timings["gini"] = time.perf_counter() - t
    return results.finish(
        query, m, total, numerator, order, below, mode=mode,
        any_zero=means.any_zero if means else None,
        log_sum=means.log_sum if means else None,
        reciprocal_sum=means.reciprocal_sum if means else None, gini=gini)


async def _private_statistics(query: Any, own_inputs: secure_stats.SharedInputs | None,
                              timings: dict[str, float],
                              rows: dict[str, secure_stats.SharedInputs],
                              primary: str, m: int) -> dict[str, Any]:
    """A differentially private query: noise is generated jointly and added before opening."""
    privacy = query.privacy
    stats = set(query.statistics)
    bivariate = None
    if query.bivariate:
        t = time.perf_counter()
        x_name, y_name = query.columns
        own = query.own_column(primary)
        clips = [privacy.clip_of(c, own) for c in (x_name, y_name)]
        missing = [c for c, b in zip((x_name, y_name), clips) if b is None]
        if missing:  # the same at every party: the query and the pool's columns are agreed
            raise QueryError(f"'privacy.clip_columns' needs a bound for column {missing[0]!r} "
                             f"('clip' bounds only the query's own column, {own!r})")
        sums = await dp_stats.open_noisy_bivariate_sums(
            rows[x_name], rows[y_name],
            to_units(clips[0]), to_units(clips[1]), privacy.epsilon_of("bivariate"),
            query.bivariate)
        bivariate = dp_stats.publish_dp_bivariate(sums, m, query.bivariate)
        timings["dp_bivariate"] = time.perf_counter() - t
        if not stats - set(query.bivariate) - {"count"}:
            return results.finish_private(query, m, None, None, bivariate=bivariate)
    inputs = _need_inputs(own_inputs)
    noisy_sum = buckets = None
    if stats & {"sum", "mean"}:
        t = time.perf_counter()
        clip = to_units(privacy.clip)
        noisy_sum = await dp_stats.open_noisy_clipped_sum(
            inputs, clip, dp.noise_scale(privacy.epsilon_of("sum"), clip))
        timings["dp_sum"] = time.perf_counter() - t
    if "histogram" in stats:
        t = time.perf_counter()
        buckets = await dp_stats.open_noisy_histogram(
            inputs, query.edge_units(), dp.noise_scale(privacy.epsilon_of("histogram"), 1))
        timings["dp_histogram"] = time.perf_counter() - t
    moments = None
    if stats & {"variance", "stdev", "pvariance", "pstdev"}:
        t = time.perf_counter()
        clip = to_units(privacy.clip)
        half = privacy.epsilon_of("variance") / 2
        moments = await dp_stats.open_noisy_clipped_moments(
            inputs, clip, dp.noise_scale(half, clip), dp.noise_scale(half, clip * clip))
        timings["dp_variance"] = time.perf_counter() - t
    order = None
    if stats & {"median", "quantiles"}:
        from mpc_programs.statistics import dp_order

        t = time.perf_counter()
        ranks = results.dp_ranks(query, inputs.n)
        order = await dp_order.open_dp_order_statistics(
            inputs, sorted(set(ranks.values())), to_units(privacy.clip),
            privacy.epsilon_of("quantiles") / len(set(ranks.values())))
        order = {level: order[rank] for level, rank in ranks.items()}
        timings["dp_order_statistics"] = time.perf_counter() - t
    return results.finish_private(query, inputs.n, noisy_sum, buckets, order, moments,
                                  bivariate=bivariate)


def _row_limbs(encoded: object) -> np.ndarray:
    """One uploaded share row (``store.encode_row``'s base64) as (SHARES_PER_INPUT, 3) limbs;
    ValueError unless it is exactly SHARES_PER_INPUT field elements."""
    if not isinstance(encoded, str):
        raise ValueError("a share row is base64 text")
    raw = base64.b64decode(encoded.encode("ascii"), validate=True)
    if len(raw) != SHARES_PER_INPUT * ELEMENT_BYTES:
        raise ValueError("a share row has the wrong length")
    return f192.from_bytes_be(raw)


async def run_ingest(job: dict[str, Any]) -> dict[str, Any]:
    """Check and store client-shared rows (no notarization: local pools, bench, tests).

    ``pending``: {input id: encoded row}; optional ``pending_columns``: {input id:
    {column: encoded row}} for the extra columns an input has.
    """
    started = time.perf_counter()
    pending = job.get("pending")
    extra = job.get("pending_columns", {})
    if not isinstance(pending, dict) or not isinstance(extra, dict):
        raise JobError("ingest job needs 'pending': {input id: encoded share row}")
    ids = sorted(pending)
    for input_id in ids:
        validate_input_id(input_id)
    owners = [(i, None) for i in ids] + [(i, c) for i in ids for c in sorted(extra.get(i) or {})]
    await _agree("pending input ids", _digest([f"{i}|{c}" for i, c in owners]))
    rows = np.zeros((len(owners), SHARES_PER_INPUT, 3), dtype=np.uint64)  # f192 limbs
    malformed: dict[str, str] = {}
    for k, (input_id, column) in enumerate(owners):
        try:
            rows[k] = _row_limbs(pending[input_id] if column is None else extra[input_id][column])
        except (StoreError, ValueError, TypeError, KeyError):
            malformed[input_id] = "shares are not field elements"
    # a malformed row at any party must reject that input at every party
    bad_anywhere = hardened_runtime.expect_from_peers(
        await mpc.transfer(sorted(malformed)),
        lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v) and len(v) <= len(owners),
        "a list of input ids")
    rejected_everywhere = set().union(*map(set, bad_anywhere))
    decoded = time.perf_counter()
    verdicts = await ingest.check_rows(rows)
    checked = time.perf_counter()
    rejected: dict[str, str] = {}
    for (input_id, _), reason in zip(owners, verdicts):
        if input_id in rejected_everywhere:
            rejected[input_id] = "shares are not field elements"
        elif reason is not None and input_id not in rejected:
            rejected[input_id] = reason
    keep = [k for k, (input_id, _) in enumerate(owners) if input_id not in rejected]
    primary = [k for k in keep if owners[k][1] is None]
    extra_names = sorted({owners[k][1] for k in keep if owners[k][1] is not None})

    def as_bytes(ks: list[int]) -> np.ndarray:
        return np.frombuffer(f192.to_bytes_be(rows[ks].reshape(-1, 3)), dtype=np.uint8)

    columns = {name: ([owners[k][0] for k in keep if owners[k][1] == name],
                      as_bytes([k for k in keep if owners[k][1] == name]))
               for name in extra_names}
    accepted = [owners[k][0] for k in primary]
    with ShareStore(job["store"], mpc.pid) as store:
        if accepted:
            store.add_raw(accepted, as_bytes(primary), columns)
        count = store.count()
    del rows
    seconds = {"decode": decoded - started, "check": checked - decoded,
               "store": time.perf_counter() - checked}
    return {"task": "ingest", "party": mpc.pid, "accepted": sorted(accepted),
            "rejected": rejected, "stored": count, "seconds": seconds}


async def run_verify(job: dict[str, Any]) -> dict[str, Any]:
    """Verify notarized submissions; store the accepted layouts, drop every key share."""
    raw = job.get("submissions")
    if not isinstance(raw, list):
        raise JobError("verify job needs 'submissions': a list")
    submissions: list[verify_inputs.Submission] = []
    status: str | Exception
    try:
        submissions = [verify_inputs.submission_from_json(doc) for doc in raw]
        ids = [s.input_id for s in submissions]
        if len(set(ids)) != len(ids):
            raise JobError("duplicate input id in one batch")
        status = _digest([s.public_digest() for s in submissions])
    except (verify_inputs.SubmissionError, JobError) as exc:
        status = exc
    await _agree("public record material", status)
    verdicts = await verify_inputs.verify_submissions(submissions)
    accepted = {s.input_id: s.layout_row for s, v in zip(submissions, verdicts) if v is None}
    columns = {s.input_id: s.column_rows() for s, v in zip(submissions, verdicts)
               if v is None and s.extra_rows}
    rejected = {s.input_id: v for s, v in zip(submissions, verdicts) if v is not None}
    with ShareStore(job["store"], mpc.pid) as store:
        clash = [i for i in accepted if i in store]
        for input_id in clash:  # already counted: never twice
            rejected[input_id] = "input id already stored"
            del accepted[input_id]
            columns.pop(input_id, None)
        if job.get("stage_only"):  # the coordinator commits later
            store.stage(str(job.get("run_id")), accepted, columns)
        else:
            store.add_many(accepted, columns)
        count = store.count()
    return {"task": "verify", "party": mpc.pid, "accepted": sorted(accepted),
            "rejected": rejected, "stored": count}


def load_compiled_kernels() -> None:
    """Load (or, after a code change, compile) every numba kernel before the peers are
    connected, not inside a protocol round, and one process at a time on this machine.

    The kernels are cached on disk (``cache=True``); when three local parties start at once
    with a stale cache, all three would compile and write the same cache files together,
    and a process can then load a half-written entry. A machine-wide lock makes the first
    compile and write, the others load what it wrote."""
    import fcntl
    import tempfile

    from mpc_programs.statistics import secure_compare, secure_sort

    directory = os.environ.get("NUMBA_CACHE_DIR") or tempfile.gettempdir()
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, f"mpcstats-numba-{os.getuid()}.lock"), "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            f192.warm_up()
            secure_sort.warm_up()
            secure_compare.warm_up()
            one = np.zeros(3, dtype=np.uint64)
            limbs = np.zeros((2, 3), dtype=np.uint64)
            fast_mpc.mul_const(limbs, one, np.empty_like(limbs))
            fast_mpc.add_const(limbs, one, np.empty_like(limbs))
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _needs_kernels(job: dict[str, Any]) -> bool:
    """Whether the job computes with the compiled kernels: everything but a query for
    sums alone (count, sum, mean without filter or noise: local sums and one opening), whose
    wall time would otherwise be mostly the ~0.5 s of loading them."""
    if job.get("task") != "stats":
        return True
    try:
        query = parse_query(job.get("query"))
    except QueryError:
        return False  # refused before any computation
    return not (set(query.statistics) <= {"count", "sum", "mean"} and not query.filters()
                and query.privacy is None and not query.bivariate)


async def main_async(job: dict[str, Any]) -> int:
    # kernels load in a thread while MPyC connects to the peers (mostly waiting on them)
    kernels = (asyncio.get_running_loop().run_in_executor(None, load_compiled_kernels)
               if _needs_kernels(job) else None)
    await mpc.start()
    if kernels is not None:
        await kernels
    try:
        if job["task"] == "stats":
            outcome = await run_stats(job)
        elif job["task"] == "verify":
            outcome = await run_verify(job)
        else:
            outcome = await run_ingest(job)
    except Exception as exc:
        # Failures the parties reach together (too few inputs, a disagreement they all saw)
        # end in an orderly shutdown; a failure only this party saw must not leave it waiting
        # for peers that went on with the protocol.
        await hardened_runtime.shutdown_after_failure(f"{type(exc).__name__}: {exc}")
        raise
    outcome["peak_rss_mib"] = peak_rss_mib()
    write_json_atomic(job["result"], outcome)
    await mpc.shutdown()
    return 0


def peak_rss_mib() -> float:
    """This process's own peak resident memory.

    Linux's ``ru_maxrss`` survives ``exec``: a child spawned by a big parent reports the
    parent's size. ``VmHWM`` in /proc/self/status belongs to this program's memory map only.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _die_with_parent() -> None:
    """Be killed when the process that started us dies (Linux ``PR_SET_PDEATHSIG``).

    A party server that crashes must not leave its MPC child running alone: the peers
    should see a dead connection, and the supervisor of a restarted server must not
    find a stray child writing the same store. Set here, in the child, because
    ``preexec_fn`` is unsafe in a threaded parent.
    """
    parent = os.environ.get("MPCSTATS_PARENT_PID")
    if not parent or not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except OSError:
        return
    if os.getppid() != int(parent):  # the parent died before prctl took effect
        os._exit(3)


def main() -> int:
    _die_with_parent()
    parser = argparse.ArgumentParser(prog="mpc_programs.runtime.party_main")
    parser.add_argument("--job", required=True, help="job file (JSON), or - for standard input")
    parser.add_argument("--insecure-local", action="store_true",
                        help="DEVELOPMENT ONLY: run the MPC links without TLS")
    args = parser.parse_args()  # MPyC removed its own options from sys.argv already
    if args.insecure_local:
        hardened_runtime.allow_insecure_local()
    job: dict[str, Any] = {}
    try:
        job = read_job(args.job)
        configure_security(job)
        hardened_runtime.on_abort(lambda message: _write_error(job, "PeerAbort", message))
        profile_dir = os.environ.get("MPCSTATS_PROFILE_DIR")
        if not profile_dir:
            return mpc.run(main_async(job))
        import cProfile  # development: where a party's time goes (one file per party)

        with cProfile.Profile() as profile:
            code = mpc.run(main_async(job))
        profile.dump_stats(os.path.join(profile_dir, f"party{mpc.pid}.prof"))
        return code
    except Exception as exc:  # report every failure in one line for the supervisor
        expected = isinstance(exc, (JobError, StoreError, InputSetMismatch, QueryError,
                                    results.NotEnoughInputs, results.TooManyInputs))
        if not expected:
            log.exception("party %s crashed", mpc.pid)
        message = str(exc)[:500]
        if isinstance(exc, RuntimeError) and hardened_runtime.loop_error():
            message = f"{hardened_runtime.loop_error()}"[:500]  # the cause, not "loop stopped"
        print(f"party {mpc.pid}: error: {type(exc).__name__}: {message}", file=sys.stderr)
        _write_error(job, type(exc).__name__, message)
        return 2


def configure_security(job: dict[str, Any]) -> str:
    """Set the run's security level from the job's ``security`` (default ``malicious``:
    active security with abort, ``product_check``; ``semi-honest``: MPyC's model). All three
    parties must get the same level (their servers' ``mpc_security``). Raises JobError for any
    other value, before any connection is made."""
    level = job.get("security", "malicious")
    if level not in product_check.SECURITY_LEVELS:
        raise JobError(f"job 'security' must be one of "
                       f"{', '.join(map(repr, product_check.SECURITY_LEVELS))}, not {level!r}")
    product_check.configure(level)
    return level


def _write_error(job: dict[str, Any], kind: str, message: str) -> None:
    """Leave the supervisor this run's failure (``<result>.error``), if the job names a result."""
    if isinstance(job.get("result"), str):
        try:
            error_path = Path(job["result"]).with_suffix(".error")
            write_json_atomic(error_path, {"error": kind, "message": message[:500]})
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
