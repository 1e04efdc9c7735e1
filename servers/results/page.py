"""The results page (``GET /``): the pool's statistics as plain HTML + CSS, with the histogram as inline SVG.

No JavaScript and no external resources: the page is one self-contained document, served with a
Content-Security-Policy that forbids scripts, so even a hostile string published by a party could do no
more than show up as text. Every value is escaped with :func:`html.escape` regardless of its type.

The page shows exactly what ``GET /stats`` returns (:func:`servers.results.app.public_entry`), rounded for
reading; each value element carries ``data-stat`` (its key) and ``data-value`` (the exact published text)
so that tests and scrapers can read the numbers without parsing prose.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from typing import Any

from servers.results.histogram_svg import HistogramError, parse_histogram, render_svg
from servers.results.statistics_view import (HEADLINE, HEADLINE_DECIMALS, display_number, format_time,
                                             label_for, notice, rows)

CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

_CSS = """
:root { --ink:#1d2433; --muted:#5b6475; --line:#e3e6ee; --accent:#3a5bd9; --bg:#f6f7fb; --ok:#1f7a4d; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); background: var(--bg); }
header { background: #fff; border-bottom: 1px solid var(--line); }
header .wrap { display: flex; align-items: baseline; gap: 1rem; }
h1 { font-size: 1.4rem; margin: 0; padding: 1rem 0; }
header p { margin: 0; color: var(--muted); }
.wrap { max-width: 1000px; margin: 0 auto; padding: 0 1.25rem; }
main.wrap { padding-top: 1.5rem; padding-bottom: 2rem; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 1.25rem 1.5rem;
          margin-bottom: 1.25rem; }
h2 { font-size: 1.1rem; margin: 0 0 .75rem; }
.cards { display: grid; grid-template-columns: repeat(3, 1fr); gap: .75rem; }
@media (max-width: 640px) { .cards { grid-template-columns: repeat(2, 1fr); } }
.card { border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; }
.card .label { color: var(--muted); font-size: .85rem; }
.card .value { font-size: 1.5rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.unit { color: var(--muted); font-size: .85rem; margin-left: .25rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--line); }
td.num { text-align: right; font-variant-numeric: tabular-nums;
         font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.meta { color: var(--muted); font-size: .95rem; }
.meta dt { float: left; clear: left; width: 9rem; }
.meta dd { margin: 0 0 .3rem 9.5rem; word-break: break-all; }
.signed { color: var(--ok); font-weight: 600; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .9em; }
.empty { text-align: center; padding: 3rem 1.5rem; }
.empty h2 { font-size: 1.5rem; }
svg.histogram .bar { fill: var(--accent); }
svg.histogram .axis { stroke: var(--muted); stroke-width: 1; }
svg.histogram text { font-size: 13px; fill: var(--ink); }
svg.histogram text.range, svg.histogram text.unit { fill: var(--muted); }
footer { color: var(--muted); font-size: .85rem; text-align: center; padding-bottom: 2rem; }
"""


def _e(value: Any) -> str:
    return escape(value if isinstance(value, str) else str(value), quote=True)


def _value_span(key: str, value: Any, display: str) -> str:
    exact = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return (f'<span class="stat" data-stat="{_e(key)}" data-value="{_e(exact)}" '
            f'title="{_e(exact)}">{_e(display)}</span>')


def _unit(unit: str) -> str:
    return f'<span class="unit">{_e(unit)}</span>' if unit else ""


def _document(body: str, title: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        '<header><div class="wrap"><h1>MPCStats</h1>'
        "<p>Statistics over a pool of private ETH balances, computed by three independent parties in MPC"
        "</p></div></header>"
        f'<main class="wrap">{body}</main>'
        '<footer>No one — not the parties, not this server — has seen any single balance. '
        'JSON: <a href="/stats">/stats</a> · <a href="/stats/history">history</a> · '
        '<a href="/openapi.json">API schema</a></footer>'
        "</body></html>\n")


def render_not_enough(n: Any = None, min_providers: int | None = None) -> str:
    detail = "No statistics have been published yet."
    if isinstance(n, int) and not isinstance(n, bool) and min_providers:
        detail = (f"The latest result covers {n} provider{'s' if n != 1 else ''}; statistics are shown "
                  f"once the pool reaches {min_providers}.")
    body = (f'<section class="empty" id="not-enough"><h2>Not enough providers yet</h2>'
            f"<p>{_e(detail)}</p><p class=\"meta\">Come back later, or contribute your own balance with "
            "the MPCStats app.</p></section>")
    return _document(body, "MPCStats — not enough providers yet")


def render_page(entry: Mapping[str, Any] | None, *, min_providers: int = 1,
                budget: Mapping[str, Any] | None = None,
                release: Mapping[str, Any] | None = None) -> str:
    """The whole page for ``entry`` (the public form of the latest result), or the waiting page.

    ``budget``: the parties' remaining privacy budget (``Poller.budget``), shown when known;
    ``release``: the coordinator's release schedule (``Poller.release``): when this page's
    figures are recomputed next."""
    if entry is None:
        return render_not_enough()
    n = entry.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or n < min_providers:
        return render_not_enough(n, min_providers)
    statistics = entry.get("statistics")
    if not isinstance(statistics, Mapping):
        statistics = {}
    query = entry.get("query")
    sections = [_notice(statistics), _headline(n, statistics, query), _privacy(statistics, budget),
                _histogram(statistics), _table(statistics, query), _provenance(entry, release)]
    return _document("".join(s for s in sections if s), "MPCStats — pool statistics")


def _notice(statistics: Mapping[str, Any]) -> str:
    """Why the statistics are empty or withheld (e.g. a filter that matches no input), if they are."""
    message = notice(statistics)
    if message is None:
        return ""
    return (f'<section id="no-inputs"><h2>No statistics for this query</h2><p>{_e(message)}; the '
            "statistics below are undefined (—).</p></section>")


def _headline(n: int, statistics: Mapping[str, Any], query: Any = None) -> str:
    cards = []
    for name in HEADLINE:
        if name == "count":
            value: Any = statistics.get("count", n)
        elif name in statistics:
            value = statistics[name]
        else:
            continue
        label, unit = label_for(name, query)
        cards.append(f'<div class="card"><div class="label">{_e(label)}</div><div class="value">'
                     f'{_value_span("headline." + name, value, display_number(value, HEADLINE_DECIMALS))}{_unit(unit)}'
                     "</div></div>")
    return f'<section id="summary"><h2>The pool at a glance</h2><div class="cards">{"".join(cards)}</div></section>'


def _budget(budget: Mapping[str, Any] | None) -> str:
    if not isinstance(budget, Mapping) or budget.get("epsilon_remaining") is None:
        return ""
    total = budget.get("epsilon_budget")
    of = f" of {_e(total)}" if total not in (None, "None") else ""
    return ('<p class="meta">Privacy budget left for new differentially private questions on this '
            f'pool: ε = <span id="budget-remaining">{_e(budget["epsilon_remaining"])}</span>{of} '
            "(the least any computation party reports; each enforces it itself).</p>")


def _privacy(statistics: Mapping[str, Any], budget: Mapping[str, Any] | None = None) -> str:
    """Say plainly whether the numbers carry differential-privacy noise (ε) or are an exact release."""
    privacy = statistics.get("privacy")
    if not isinstance(privacy, Mapping):
        return ('<section id="privacy"><h2>Exact release</h2><p id="exact-release">These figures are '
                "the operator's exact release: a fixed list of statistics over every counted provider, "
                "without noise. Each is an aggregate of at least the minimum pool; differentially "
                "private questions are answered separately, with noise.</p>"
                f"{_budget(budget)}</section>")
    epsilon = privacy.get("epsilon")
    items = "".join(f'<li>{_e(name)}: ε = <span data-epsilon="{_e(name)}">{_e(value)}</span></li>'
                    for name, value in (epsilon.items() if isinstance(epsilon, Mapping) else []))
    clip = privacy.get("clip")
    clip_text = (f" Sums count each balance up to {_e(clip)} ETH (larger ones count as {_e(clip)})."
                 if clip is not None else "")
    columns = privacy.get("clip_columns")
    for column, bound in (columns.items() if isinstance(columns, Mapping) else []):
        clip_text += (f' Column {_e(column)} is clipped at <span data-clip="{_e(column)}">'
                      f"{_e(bound)}</span>.")
    delta = (f', δ = <span id="delta">{_e(privacy["delta"])}</span> (the noise is sampled inside '
             "MPC to within that of its exact law)" if privacy.get("delta") else "")
    return ('<section id="privacy"><h2>Differential privacy</h2>'
            f'<p>These statistics include random noise ({_e(privacy.get("mechanism", ""))}), so that '
            "no single provider's balance can be inferred from them, not even by comparing results "
            f"over time.{clip_text}</p><ul>{items}</ul>"
            f'<p class="meta">Total privacy budget of this result: ε = '
            f'<span id="epsilon-total">{_e(privacy.get("epsilon_total", ""))}</span>{delta}. '
            f"Smaller ε means more noise and more privacy.</p>{_budget(budget)}</section>")


def _histogram(statistics: Mapping[str, Any]) -> str:
    if "histogram" not in statistics:
        return ""
    try:
        chart = render_svg(parse_histogram(statistics["histogram"]))
    except HistogramError as exc:
        chart = f'<p class="meta">The published histogram cannot be shown: {_e(exc)}.</p>'
    return (f'<section id="distribution"><h2>Distribution of balances</h2>{chart}'
            '<p class="meta">Each range includes its lower bound and excludes its upper one: '
            '“0.1 – 1” counts balances of at least 0.1 and less than 1 ETH.</p></section>')


def _table(statistics: Mapping[str, Any], query: Any = None) -> str:
    body = "".join(
        f'<tr><th scope="row">{_e(r.label)}</th><td class="num">{_value_span(r.key, r.value, r.display)}</td>'
        f"<td>{_unit(r.unit)}</td></tr>" for r in rows(statistics, query))
    return (f'<section id="statistics"><h2>All statistics</h2><table><thead><tr><th>Statistic</th>'
            f'<th style="text-align:right">Value</th><th>Unit</th></tr></thead><tbody>{body}</tbody>'
            "</table><p class=\"meta\">Rounded to 8 decimals; hover a value for the exact published "
            "figure.</p></section>")


def _next_update(entry: Mapping[str, Any], release: Mapping[str, Any] | None) -> str:
    """When the published release is recomputed next, from the coordinator's schedule."""
    if not isinstance(release, Mapping):
        return ""
    due, counted = release.get("next_release_due"), release.get("counted_inputs")
    if isinstance(due, (int, float)):
        machine, human = format_time(int(due))
        waiting = (counted - entry["n"]) if isinstance(counted, int) and isinstance(entry.get("n"), int) else None
        more = f" ({waiting} new provider{'s' if waiting != 1 else ''} waiting)" if waiting else ""
        text = f'<time id="next-update" datetime="{_e(machine)}">{_e(human)}</time>{_e(more)}'
    else:
        text = '<span id="next-update">when new providers are counted</span>'
    return f"<dt>Next update</dt><dd>{text}</dd>"


def _provenance(entry: Mapping[str, Any], release: Mapping[str, Any] | None = None) -> str:
    computed_machine, computed_human = format_time(entry.get("computed_at"))
    accepted_machine, accepted_human = format_time(entry.get("accepted_at"))
    listed = entry.get("parties")
    parties = [p for p in listed if isinstance(p, Mapping)] if isinstance(listed, list) else []
    signers = "".join(
        f'<li data-party="{_e(p.get("party"))}">Party {_e(p.get("party"))}: '
        f'key <code>{_e(p.get("key_id"))}</code></li>' for p in parties)
    count = len(parties)
    claim = ('<p class="signed" id="signed">All three computation parties signed this same result.</p>'
             if count == 3 else f'<p id="signed">Signed by {count} computation parties.</p>')
    return (
        '<section id="provenance"><h2>Where these numbers come from</h2>'
        f"{claim}<ul class=\"meta\">{signers}</ul><dl class=\"meta\">"
        f'<dt>Computed</dt><dd><time id="computed-at" datetime="{_e(computed_machine)}">'
        f"{_e(computed_human)}</time></dd>"
        f'<dt>Published here</dt><dd><time datetime="{_e(accepted_machine)}">{_e(accepted_human)}</time></dd>'
        f'<dt>Providers</dt><dd><span data-stat="n" data-value="{_e(entry.get("n"))}">'
        f'{_e(entry.get("n"))}</span></dd>'
        f'<dt>Run</dt><dd><code>{_e(entry.get("run_id"))}</code></dd>'
        f"{_next_update(entry, release)}"
        f'<dt>Input digest</dt><dd><code>{_e(entry.get("input_digest"))}</code></dd>'
        "</dl></section>")
