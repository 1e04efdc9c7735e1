"""Read the pool's latest statistics, or run a query of your own.

From a results API (trusting it to have checked the parties' signatures):

    mpcstats query --results-url https://stats.example.org

Or straight from the three computation parties, checking every signature and that all three signed the
same result — nothing is printed unless they do:

    mpcstats query --verify --party https://p0.example.org --party-key <hex> \\
                            --party https://p1.example.org --party-key <hex> \\
                            --party https://p2.example.org --party-key <hex>
    mpcstats query --verify --deployment deployment.json

Or run a query spec (``docs/statistics.md``) on the coordinator — the three parties compute it in MPC
and sign the result; with their public keys known (``--deployment`` or ``--party-key`` three times) all
three signatures on the answer are checked here before anything is printed:

    mpcstats query --spec query.toml --deployment deployment.json
    mpcstats query --spec query.json --coordinator-url https://coordinator.example.org \\
                   --party-key <hex0> --party-key <hex1> --party-key <hex2>

The spec is JSON (``.json``) or TOML (``.toml``), with the JSON spec's fields at the top level
(a JSON file may also hold the request body ``{"query": spec}``)::

    # query.toml: the correlation of ETH and BTC balances over accounts holding more than 1 BTC
    statistics = ["count", "mean", "correlation", "linear_regression"]
    columns = ["balance", "btc"]          # [x, y] of the two-column statistics
    column = "balance"                    # what the one-column statistics describe (the default)
    filter = [["btc", ">", "1"]]

    {"statistics": ["median", "quantiles"], "column": "btc", "quantiles": ["0.1", "0.9"]}

The spec is validated here before anything is sent: a bad one is a usage error (exit 2) naming the
field to fix. The coordinator then checks the column names against its pool.

Exit codes: 0 statistics printed; 1 a party or server failed a check or could not be reached (nothing
printed as a result); 2 bad usage or an invalid query spec; 3 not enough providers yet (nothing
published, or too few to run the query).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

from mpc_programs.statistics.query import QueryError, parse_query
from servers.results.client import (
    ConsumerError,
    Deployment,
    FetchError,
    NoResultYet,
    PartySource,
    fetch_latest,
    fetch_verified,
    load_deployment,
    request_json,
    verify_query_answer,
)
from servers.results.histogram_svg import HistogramError, parse_histogram
from servers.results.statistics_view import (
    column_unit,
    format_time,
    notice,
    own_column,
    rows,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_RESULT = 0, 1, 2, 3
BAR_WIDTH = 40
QUERIES_PATH = "/v1/queries"
#: Seconds to wait for reads, and for a query (an MPC run over the whole pool), unless --timeout says.
READ_TIMEOUT, QUERY_TIMEOUT = 10.0, 600.0
MAX_SPEC_BYTES = 64 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results-url", metavar="URL", help="the results API (prints its cached statistics)")
    parser.add_argument("--verify", action="store_true",
                        help="fetch each party's signed result and check signatures and agreement yourself")
    parser.add_argument("--party", metavar="URL", action="append", default=[],
                        help="a computation party's URL (three times, in party order 0, 1, 2)")
    parser.add_argument("--party-key", metavar="HEX", action="append", default=[],
                        help="that party's Ed25519 public key, 64 hex digits (three times, same order)")
    parser.add_argument("--deployment", metavar="FILE",
                        help="JSON file with the results URL, coordinator URL, party URLs and public keys "
                             "(e.g. the deployment.json written by `mpcstats up`)")
    parser.add_argument("--spec", metavar="FILE",
                        help="run this query spec (.json or .toml) on the coordinator instead of reading "
                             "the latest statistics")
    parser.add_argument("--coordinator-url", metavar="URL",
                        help="the coordinator that runs --spec (default: the --deployment file's)")
    parser.add_argument("--api-key", metavar="KEY", default=os.environ.get("MPCSTATS_API_KEY"),
                        help="the deployment's API key, needed for a --spec with 'privacy' (it spends "
                             "the pool's privacy budget); default: $MPCSTATS_API_KEY")
    parser.add_argument("--ca-file", metavar="PEM", help="CA bundle for servers with a private CA")
    parser.add_argument("--timeout", type=float, default=None,
                        help=f"seconds per request (default {READ_TIMEOUT:.0f}; {QUERY_TIMEOUT:.0f} for --spec)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def run(args: argparse.Namespace) -> int:
    if args.spec is not None:
        return run_spec(args)
    if args.coordinator_url:
        return _usage("--coordinator-url is only used with --spec FILE")
    if args.timeout is None:
        args.timeout = READ_TIMEOUT
    try:
        deployment = _deployment(args)
        verify: str | bool = args.ca_file or deployment.ca_file or True
        if args.verify:
            entry = fetch_verified(deployment.parties, timeout=args.timeout, verify=verify)
            source = "parties"
        else:
            if not deployment.results_url:
                return _usage("give --results-url, a --deployment file with a results_url, or --verify")
            entry = fetch_latest(deployment.results_url, timeout=args.timeout, verify=verify)
            entry = {**entry, "verified": False}
            source = deployment.results_url
    except _UsageError as exc:
        return _usage(str(exc))
    except NoResultYet as exc:
        return _fail(args, exc, EXIT_NO_RESULT, "Not enough providers yet")
    except ConsumerError as exc:
        return _fail(args, exc, EXIT_FAILED, "Refusing to show statistics" if args.verify else "Error")
    budget = _read_budget(deployment, args.timeout, verify)
    if budget is not None:
        entry["budget"] = budget
    if args.json:
        print(json.dumps({**entry, "source": source}, sort_keys=True))
    else:
        print(format_table(entry, source))
    return EXIT_OK


def _read_budget(deployment: Deployment, timeout: float, verify: str | bool) -> dict[str, Any] | None:
    """The remaining privacy budget, shown beside the figures: from the results API's ``GET /budget``,
    else the least of the parties' ``GET /v1/budget``. Informational (not signed); None if unknown."""
    answers = []
    urls = ([deployment.results_url.rstrip("/") + "/budget"] if deployment.results_url else
            [p.url.rstrip("/") + "/v1/budget" for p in deployment.parties])
    for url in urls:
        try:
            status, body = request_json("GET", url, timeout=timeout, verify=verify)
        except FetchError:
            continue
        if status == 200 and isinstance(body, dict) and "epsilon_remaining" in body:
            answers.append({"epsilon_remaining": str(body["epsilon_remaining"]),
                            "epsilon_budget": body.get("epsilon_budget")})
    if not answers:
        return None
    try:
        return min(answers, key=lambda b: Fraction(b["epsilon_remaining"]))
    except (ValueError, ZeroDivisionError):
        return None


def run_spec(args: argparse.Namespace) -> int:
    """``--spec FILE``: validate the spec here, run it on the coordinator, check the signatures if we can."""
    try:
        spec = load_spec(args.spec)
        query = parse_query(spec)
    except _UsageError as exc:
        return _usage(str(exc))
    except QueryError as exc:
        return _usage(f"invalid query spec {args.spec}: {_one_line(exc)}")
    try:
        coordinator_url, parties, ca_file = _spec_target(args)
    except _UsageError as exc:
        return _usage(str(exc))
    verify: str | bool = args.ca_file or ca_file or True
    timeout = args.timeout if args.timeout is not None else QUERY_TIMEOUT
    try:
        answer = post_query(coordinator_url, query.to_json(), timeout=timeout, verify=verify,
                            api_key=args.api_key)
        if parties:
            entry = verify_query_answer(answer, parties)
        else:
            entry = _unverified_entry(answer)
    except NoResultYet as exc:
        return _fail(args, exc, EXIT_NO_RESULT, "Not enough providers yet")
    except ConsumerError as exc:
        headline = "Refusing to show statistics" if exc.reason not in _HTTP_REASONS else "Query failed"
        return _fail(args, exc, EXIT_FAILED, headline)
    entry["signatures"] = answer.get("signatures")
    budget = fetch_budget(coordinator_url, timeout=timeout, verify=verify)
    if budget is not None:
        entry["budget"] = budget
    if args.json:
        print(json.dumps({**entry, "source": coordinator_url}, sort_keys=True))
    else:
        print(format_table(entry, coordinator_url, unverified_note=(
            "signatures not checked here: give --deployment FILE or --party-key HEX three times")))
    return EXIT_OK


def fetch_budget(coordinator_url: str, *, timeout: float, verify: str | bool) -> dict[str, Any] | None:
    """The coordinator's ``GET /v1/budget`` (the least ε any party has left), or None if unavailable."""
    try:
        status, body = request_json("GET", coordinator_url.rstrip("/") + "/v1/budget",
                                    timeout=timeout, verify=verify)
    except FetchError:
        return None
    if status != 200 or not isinstance(body, dict) or "epsilon_remaining" not in body:
        return None
    parties = [p for p in body.get("parties") or [] if isinstance(p, dict)]
    total = next((p.get("epsilon_budget") for p in parties if "epsilon_budget" in p), None)
    return {"epsilon_remaining": body["epsilon_remaining"], "epsilon_budget": total}


#: ConsumerError reasons of a query that did not run (rather than one whose answer failed a check).
_HTTP_REASONS = ("unreachable", "too_large", "bad_response", "invalid_query", "rate_limited",
                 "query_failed")


def load_spec(path: str) -> Any:
    """A query spec from a ``.toml`` file (top-level keys) or a JSON file (``{"query": spec}`` unwrapped)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise _UsageError(f"cannot read query spec {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise _UsageError(f"query spec {path} is larger than {MAX_SPEC_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _UsageError(f"query spec {path} is not UTF-8 text") from None
    if path.lower().endswith(".toml"):
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise _UsageError(f"query spec {path} is not valid TOML: {_one_line(exc)}") from None
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _UsageError(f"query spec {path} is not valid JSON: {_one_line(exc)}") from None
    if isinstance(spec, dict) and set(spec) == {"query"}:
        spec = spec["query"]
    return spec


def _spec_target(args: argparse.Namespace) -> tuple[str, tuple[PartySource, ...], str | None]:
    """(coordinator URL, the parties whose keys check the answer — or none, CA file) for ``--spec``."""
    if args.results_url:
        raise _UsageError("--results-url is not used with --spec (the coordinator answers the query)")
    parties: tuple[PartySource, ...] = ()
    coordinator_url, ca_file = args.coordinator_url, None
    if args.deployment:
        loaded = _read_deployment(args)
        parties, ca_file = loaded.parties, loaded.ca_file
        coordinator_url = coordinator_url or loaded.coordinator_url
    elif args.party_key:
        if len(args.party_key) != 3 or len(args.party) not in (0, 3):
            raise _UsageError("checking the answer needs --party-key HEX three times, in party order 0, 1, 2 "
                              f"(got {len(args.party_key)})")
        urls = args.party or [""] * 3
        parties = tuple(PartySource(i, url, key) for i, (url, key) in enumerate(zip(urls, args.party_key)))
    elif args.party:
        raise _UsageError("with --spec, give the parties' --party-key (their URLs are not needed)")
    if args.verify and not parties:
        raise _UsageError("--verify needs the parties' public keys: --deployment FILE or --party-key HEX "
                          "three times")
    if not coordinator_url:
        raise _UsageError("--spec needs --coordinator-url URL or a --deployment file with a coordinator_url")
    return coordinator_url, parties, ca_file


def post_query(coordinator_url: str, query: dict[str, Any], *, timeout: float,
               verify: str | bool, api_key: str | None = None) -> dict[str, Any]:
    """``POST /v1/queries``: the coordinator's answer, or a :class:`ConsumerError` saying why not."""
    url = coordinator_url.rstrip("/") + QUERIES_PATH
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    status, body = request_json("POST", url, timeout=timeout, verify=verify, body={"query": query},
                                headers=headers)
    error = body.get("error") if isinstance(body, Mapping) else None
    code = error.get("code") if isinstance(error, Mapping) else None
    message = error.get("message") if isinstance(error, Mapping) else None
    detail = f"{code}: {message}" if code and message else (code or message or "no reason given")
    if status == 200 and isinstance(body, dict):
        return body
    if status == 409 and code == "not_enough_inputs":
        raise NoResultYet(str(message or "not enough providers yet"))
    if status == 422:
        raise ConsumerError("invalid_query", f"the coordinator refused the query: {detail}")
    if status == 401:
        raise ConsumerError("query_failed", f"this query spends privacy budget and needs the "
                                            f"deployment's API key (--api-key): {detail}")
    if status == 429:
        raise ConsumerError("rate_limited", "the coordinator is rate limiting queries; try again later")
    raise ConsumerError("query_failed", f"the coordinator answered HTTP {status} ({detail})")


def _unverified_entry(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The answer in ``/stats`` shape, taken on the coordinator's word."""
    if not isinstance(answer.get("statistics"), Mapping) or "n" not in answer:
        raise FetchError("bad_response", "the coordinator's answer has no statistics")
    listed = answer.get("signatures")
    signatures: list[Any] = listed if isinstance(listed, list) else []
    return {"statistics": answer["statistics"], "n": answer["n"], "computed_at": answer.get("computed_at"),
            "run_id": answer.get("run_id"), "query": answer.get("query"),
            "input_digest": answer.get("input_digest"),
            "parties": [{"party": s.get("party"), "key_id": s.get("key_id")} for s in signatures
                        if isinstance(s, Mapping)],
            "verified": False}


def _one_line(value: Any) -> str:
    return " ".join(str(value).split())


class _UsageError(Exception):
    pass


def _read_deployment(args: argparse.Namespace) -> Deployment:
    """The ``--deployment`` file (which excludes naming the parties one by one)."""
    if args.party or args.party_key:
        raise _UsageError("give either --deployment or --party/--party-key, not both")
    try:
        return load_deployment(args.deployment)
    except ConsumerError as exc:
        raise _UsageError(exc.message) from None


def _deployment(args: argparse.Namespace) -> Deployment:
    if args.deployment:
        loaded = _read_deployment(args)
        return Deployment(args.results_url or loaded.results_url, loaded.parties, loaded.ca_file)
    if args.verify:
        if len(args.party) != 3 or len(args.party_key) != 3:
            raise _UsageError("--verify needs --party URL and --party-key HEX three times each "
                              f"(got {len(args.party)} and {len(args.party_key)}), or --deployment FILE")
        parties = tuple(PartySource(i, url, key) for i, (url, key) in enumerate(zip(args.party, args.party_key)))
        return Deployment(args.results_url, parties)
    if args.party or args.party_key:
        raise _UsageError("--party and --party-key are only used with --verify")
    return Deployment(args.results_url, ())


def _usage(message: str) -> int:
    print(f"mpcstats query: {message}", file=sys.stderr)
    return EXIT_USAGE


def _fail(args: argparse.Namespace, exc: ConsumerError, code: int, headline: str) -> int:
    if args.json:
        print(json.dumps({"error": {"code": exc.reason, "message": exc.message}}, sort_keys=True))
    else:
        print(f"{headline}: {printable(exc.message)}", file=sys.stderr if code != EXIT_NO_RESULT else sys.stdout)
    return code


def printable(value: Any) -> str:
    """Text safe for a terminal: what parties publish must not smuggle in escape sequences."""
    return "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in str(value))


def describe_query(query: Any) -> str | None:
    """One line on what a result's query looked at, when it is more than the primary column unfiltered."""
    if not isinstance(query, Mapping):
        return None
    parts = []
    if query.get("column") is not None:
        parts.append(f"column {query['column']}")
    if query.get("columns") is not None:
        columns = query["columns"]
        parts.append("columns " + (" × ".join(map(str, columns)) if isinstance(columns, list) else str(columns)))
    clauses = query.get("filter")
    if isinstance(clauses, list) and clauses:
        parts.append("filter " + " and ".join(" ".join(map(str, c)) if isinstance(c, list) else str(c)
                                              for c in clauses))
    if isinstance(query.get("privacy"), Mapping):
        parts.append("differentially private")
    return "query: " + " · ".join(parts) if parts else None


def privacy_line(statistics: Mapping[str, Any], budget: Any = None) -> str:
    """Whether the figures are differentially private (ε per statistic) or an exact release."""
    privacy = statistics.get("privacy") if isinstance(statistics, Mapping) else None
    if isinstance(privacy, Mapping) and isinstance(privacy.get("epsilon"), Mapping):
        per = ", ".join(f"{k} ε={v}" for k, v in privacy["epsilon"].items())
        delta = f", δ={privacy['delta']}" if privacy.get("delta") else ""
        text = f"Differentially private: {per} (total ε={privacy.get('epsilon_total')}{delta})"
    else:
        text = "Exact release (no noise): the operator's fixed statistics"
    if isinstance(budget, Mapping) and budget.get("epsilon_remaining") is not None:
        text += f" · privacy budget left: ε={budget['epsilon_remaining']}"
        if budget.get("epsilon_budget") is not None:
            text += f" of {budget['epsilon_budget']}"
    return text


def format_table(entry: dict[str, Any], source: str, *, unverified_note: str | None = None) -> str:
    """The statistics as aligned text: a header, one row per statistic, a text histogram, who signed.

    Every published string goes through :func:`printable`. ``unverified_note``: what to say about the
    signatures when they were not checked here (default: the results API checked them).
    """
    statistics = entry.get("statistics") or {}
    query = entry.get("query")
    _, computed = format_time(entry.get("computed_at"))
    lines = [f"MPCStats — pool statistics ({printable(entry.get('n'))} providers)",
             printable(f"computed {computed} · run {entry.get('run_id')}")]
    described = describe_query(query)
    if described:
        lines.append(printable(described))
    lines.append(printable(privacy_line(statistics, entry.get("budget"))))
    message = notice(statistics)
    if message is not None:
        lines += ["", printable(f"  No statistics: {message}.")]
    table = [(printable(r.label), printable(r.display), printable(r.unit)) for r in rows(statistics, query)]
    if table:
        w0 = max(len(t[0]) for t in table)
        w1 = max(len(t[1]) for t in table)
        lines.append("")
        lines += [f"  {label:<{w0}}  {value:>{w1}}  {unit}".rstrip() for label, value, unit in table]
    if "histogram" in statistics:
        unit = column_unit(own_column(query))
        lines += ["", f"  Distribution ({printable(unit)}):" if unit else "  Distribution:"]
        try:
            histogram = parse_histogram(statistics["histogram"])
        except HistogramError as exc:
            lines.append(f"    cannot be shown: {exc}")
        else:
            labels = [printable(label) for label in histogram.labels()]
            top = max(histogram.counts) or 1
            wl = max(len(label) for label in labels)
            wc = max(len(str(c)) for c in histogram.counts)
            for label, count in zip(labels, histogram.counts):
                bar = "█" * round(BAR_WIDTH * count / top)
                lines.append(f"    {label:<{wl}}  {count:>{wc}}  {bar}".rstrip())
    signers = printable(", ".join(f"party {p.get('party')} (key {p.get('key_id')})"
                                  for p in entry.get("parties") or [] if isinstance(p, dict)))
    lines.append("")
    if entry.get("verified"):
        lines.append(f"Verified here: all three parties signed this same result — {signers}.")
    elif unverified_note is not None:
        lines.append(f"From {printable(source)}; signed by {signers} ({unverified_note}).")
    else:
        lines.append(f"From {printable(source)}; signed by {signers} (checked by the results API; "
                     "use --verify to check the signatures yourself).")
    return "\n".join(lines)
