"""Read the pool's latest statistics.

From a results API (trusting it to have checked the parties' signatures):

    mpcstats query --results-url https://stats.example.org

Or straight from the three computation parties, checking every signature and that all three signed the
same result — nothing is printed unless they do:

    mpcstats query --verify --party https://p0.example.org --party-key <hex> \\
                            --party https://p1.example.org --party-key <hex> \\
                            --party https://p2.example.org --party-key <hex>
    mpcstats query --verify --deployment deployment.json

Exit codes: 0 statistics printed; 1 a party or server failed a check or could not be reached (nothing
printed as a result); 2 bad usage; 3 not enough providers yet (nothing published).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from servers.results.client import (ConsumerError, Deployment, NoResultYet, PartySource, fetch_latest,
                                    fetch_verified, load_deployment)
from servers.results.histogram_svg import HistogramError, parse_histogram
from servers.results.statistics_view import format_time, rows

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_RESULT = 0, 1, 2, 3
BAR_WIDTH = 40


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results-url", metavar="URL", help="the results API (prints its cached statistics)")
    parser.add_argument("--verify", action="store_true",
                        help="fetch each party's signed result and check signatures and agreement yourself")
    parser.add_argument("--party", metavar="URL", action="append", default=[],
                        help="a computation party's URL (three times, in party order 0, 1, 2)")
    parser.add_argument("--party-key", metavar="HEX", action="append", default=[],
                        help="that party's Ed25519 public key, 64 hex digits (three times, same order)")
    parser.add_argument("--deployment", metavar="FILE",
                        help="JSON file with the results URL, party URLs and public keys "
                             "(e.g. the deployment.json written by `mpcstats up`)")
    parser.add_argument("--ca-file", metavar="PEM", help="CA bundle for servers with a private CA")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def run(args: argparse.Namespace) -> int:
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
    if args.json:
        print(json.dumps({**entry, "source": source}, sort_keys=True))
    else:
        print(format_table(entry, source))
    return EXIT_OK


class _UsageError(Exception):
    pass


def _deployment(args: argparse.Namespace) -> Deployment:
    if args.deployment:
        if args.party or args.party_key:
            raise _UsageError("give either --deployment or --party/--party-key, not both")
        try:
            loaded = load_deployment(args.deployment)
        except ConsumerError as exc:
            raise _UsageError(exc.message) from None
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


def format_table(entry: dict[str, Any], source: str) -> str:
    """The statistics as aligned text: a header, one row per statistic, a text histogram, who signed.

    Every published string goes through :func:`printable`.
    """
    statistics = entry.get("statistics") or {}
    _, computed = format_time(entry.get("computed_at"))
    lines = [f"MPCStats — pool statistics ({printable(entry.get('n'))} providers)",
             printable(f"computed {computed} · run {entry.get('run_id')}")]
    table = [(printable(r.label), printable(r.display), r.unit) for r in rows(statistics)]
    if table:
        w0 = max(len(t[0]) for t in table)
        w1 = max(len(t[1]) for t in table)
        lines.append("")
        lines += [f"  {label:<{w0}}  {value:>{w1}}  {unit}".rstrip() for label, value, unit in table]
    if "histogram" in statistics:
        lines += ["", "  Distribution (ETH):"]
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
    else:
        lines.append(f"From {printable(source)}; signed by {signers} (checked by the results API; "
                     "use --verify to check the signatures yourself).")
    return "\n".join(lines)
