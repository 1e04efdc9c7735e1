"""The results page (``GET /``): what it shows, that it escapes what parties publish, and — in a real headless
Chromium (marker ``browser``) — that a browser shows the same numbers as the JSON API.

Browser tests need Chromium (``scripts/install-browser``). Without it they are skipped with a reason, except
when ``CI`` is set: there a missing browser is a failure, never a silent skip.
"""

from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import requests
from results_fixtures import (FakeParty, api, fake_parties, parties, party_keys, poll,  # noqa: F401
                              publish, results_config)

from servers.common.serve import BackgroundServer, serve_in_thread
from servers.common.signing import key_id
from servers.results import browser
from servers.results.app import create_app
from servers.results.histogram_svg import HistogramError, parse_histogram
from servers.results.page import render_page
from servers.results.poller import Outcome
from servers.results.sample import sample_result
from servers.results.statistics_view import KNOWN, display_number, quantile_label, rows


class StatsParser(HTMLParser):
    """Collects ``data-stat`` elements (key -> (data-value, text)) and histogram buckets from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.stats: dict[str, tuple[str, str]] = {}
        self.buckets: dict[int, int] = {}
        self.text: list[str] = []
        self._open: tuple[str, str] | None = None
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-stat" in a:
            self._open = (a["data-stat"] or "", a.get("data-value") or "")
            self._buffer = []
        if "data-bucket" in a:
            self.buckets[int(a["data-bucket"] or -1)] = int(a.get("data-count") or -1)

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag == "span":
            key, value = self._open
            self.stats[key] = (value, "".join(self._buffer))
            self._open = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._open:
            self._buffer.append(data)


def parse(html: str) -> StatsParser:
    parser = StatsParser()
    parser.feed(html)
    return parser


def page(api: BackgroundServer) -> requests.Response:
    r = requests.get(f"{api.url}/", timeout=5)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    return r


# --- the page over HTTP -------------------------------------------------------------------------------


def test_before_any_result_the_page_says_not_enough_providers(api: BackgroundServer,
                                                              parties: list[FakeParty]) -> None:
    assert poll(api) is Outcome.NO_RESULT
    assert "Not enough providers yet" in page(api).text
    r = requests.get(f"{api.url}/stats", timeout=5)
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_result_yet"


def test_pool_below_the_minimum_says_not_enough_providers(tmp_path: Path, parties: list[FakeParty],
                                                          party_keys: list[Any]) -> None:
    config = results_config(tmp_path, parties, party_keys, min_providers=10)
    with serve_in_thread(create_app(config, poll=False)) as api:
        publish(parties, party_keys, sample_result("run-small", n=4))
        assert poll(api) is Outcome.ACCEPTED
        html = page(api).text
        assert "Not enough providers yet" in html and "covers 4 providers" in html and "reaches 10" in html
        assert "Mean" not in html


def test_page_shows_every_statistic_the_api_serves(api: BackgroundServer, parties: list[FakeParty],
                                                   party_keys: list[Any]) -> None:
    publish(parties, party_keys, sample_result("run-page", n=50))
    assert poll(api) is Outcome.ACCEPTED
    r = page(api)
    assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none': no scripts at all
    assert r.headers["x-content-type-options"] == "nosniff"
    check_page_matches_api(r.text, requests.get(f"{api.url}/stats", timeout=5).json(), party_keys)


def test_everything_a_party_publishes_is_escaped(api: BackgroundServer, parties: list[FakeParty],
                                                 party_keys: list[Any]) -> None:
    evil = '<script>alert("x")</script>'
    result = sample_result("run-<b>evil</b>", n=5)
    result["statistics"] = {**result["statistics"], evil: evil, "mean": evil,
                            "quantiles": {evil: "1"}, "histogram": {"edges": [evil], "counts": [1, 2]}}
    # computed_at cannot carry markup: a result whose computed_at is not Unix seconds is refused (malformed)
    result["input_digest"] = '"><img src=x onerror=alert(1)>'
    publish(parties, party_keys, result)
    assert poll(api) is Outcome.ACCEPTED
    html = page(api).text
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;evil&lt;/b&gt;" in html
    assert "histogram cannot be shown" in html


def test_unknown_statistics_are_rendered_generically() -> None:
    entry = {"n": 3, "statistics": {"count": 3, "mean": "2", "geometric_mean": "1.81712059283",
                                    "gini": "0.2222222222", "brand_new": "42", "per_bucket": {"a": "1"},
                                    "variance": None},
             "computed_at": 1795618800, "run_id": "r", "accepted_at": 1795618801.5,
             "parties": [{"party": i, "key_id": f"{i:016x}"} for i in range(3)]}
    stats = parse(render_page(entry)).stats
    assert stats["geometric_mean"] == ("1.81712059283", "1.81712059")
    assert stats["gini"] == ("0.2222222222", "0.22222222")
    assert stats["brand_new"] == ("42", "42")
    assert stats["per_bucket.a"] == ("1", "1")
    assert stats["variance"] == ("null", "—")
    html = render_page(entry)
    assert "Brand new" in html and "2026-11-25 15:00:00 UTC" in html


def test_two_column_statistics_rows() -> None:
    statistics = {"count": 4, "covariance": "1.23456789012", "correlation": "-0.5",
                  "linear_regression": {"slope": "2.000000001", "intercept": "-0.25"}}
    got = {r.key: (r.label, r.display, r.unit) for r in rows(statistics)}
    assert list(got) == ["count", "covariance", "correlation", "linear_regression.slope",
                         "linear_regression.intercept"]
    assert got["covariance"] == ("Sample covariance", "1.23456789", "ETH²")
    assert got["correlation"] == ("Pearson correlation", "-0.5", "")
    assert got["linear_regression.slope"] == ("Regression slope", "2", "")  # ETH per ETH
    assert got["linear_regression.intercept"] == ("Regression intercept", "-0.25", "ETH")
    query = {"statistics": ["covariance", "linear_regression"], "columns": ["balance", "btc"]}
    named = {r.key: (r.label, r.unit) for r in rows(statistics, query)}
    assert named["covariance"] == ("Sample covariance (balance, btc)", "ETH·BTC")
    assert named["linear_regression.slope"] == ("Regression slope (btc on balance)", "BTC/ETH")
    assert named["linear_regression.intercept"] == ("Regression intercept (btc on balance)", "BTC")
    # undefined (fewer than two inputs, a constant column): "—", and a null regression is still two rows
    undefined = {r.key: (r.value, r.display) for r in rows(
        {"covariance": None, "correlation": None, "linear_regression": None})}
    assert undefined == {"covariance": (None, "—"), "correlation": (None, "—"),
                         "linear_regression.slope": (None, "—"), "linear_regression.intercept": (None, "—")}
    partial = {r.key: r.display for r in rows({"linear_regression": {"slope": "1", "intercept": None}})}
    assert partial == {"linear_regression.slope": "1", "linear_regression.intercept": "—"}


def test_every_statistic_of_a_query_has_a_row() -> None:
    from mpc_programs.statistics.query import STATISTICS
    shown = {"count": 3, "mean": "1", "median": "1", "stdev": "0.5", "pstdev": "0.4", "variance": "0.25",
             "pvariance": "0.16", "min": "0", "max": "2", "sum": "3", "quantiles": {"0.5": "1"},
             "histogram": {"edges": ["1"], "counts": [1, 2]}, "geometric_mean": "0.9", "harmonic_mean": "0.8",
             "mode": {"bucket": ["1", None], "count": 2}, "gini": "0.3", "covariance": "0.1",
             "correlation": "0.2", "linear_regression": {"slope": "0.3", "intercept": "0.4"}}
    assert set(shown) == set(STATISTICS)
    listed = list(rows(shown))
    keys = {r.key.split(".")[0] for r in listed}
    assert keys == set(STATISTICS) - {"histogram"}  # drawn as a chart
    by_key = {r.key: r for r in listed}
    assert set(STATISTICS) - {"histogram"} <= set(KNOWN)  # a label and unit of its own, none derived
    assert (by_key["mode"].display, by_key["mode"].unit) == ("≥ 1", "ETH")
    assert by_key["mode.count"].display == "2"
    assert [by_key[k].unit for k in ("pstdev", "pvariance", "geometric_mean", "harmonic_mean", "gini")] == [
        "ETH", "ETH²", "ETH", "ETH", ""]
    btc = {r.key: r.unit for r in rows(shown, {"column": "btc", "columns": ["balance", "btc"]})}
    assert btc["mean"] == btc["quantiles.0.5"] == btc["mode"] == "BTC" and btc["variance"] == "BTC²"


def test_page_shows_two_column_statistics_and_no_inputs() -> None:
    query = {"statistics": ["count", "mean", "covariance", "correlation", "linear_regression"],
             "columns": ["balance", "btc"], "column": "btc"}
    entry = {"n": 5, "query": query, "computed_at": 1795618800, "run_id": "r", "accepted_at": 1795618801,
             "parties": [{"party": i, "key_id": f"{i:016x}"} for i in range(3)],
             "statistics": {"count": 4, "mean": "0.5", "covariance": "0.125", "correlation": None,
                            "linear_regression": {"slope": "0.5", "intercept": "0.01"}}}
    html = render_page(entry)
    stats = parse(html).stats
    assert stats["covariance"] == ("0.125", "0.125")
    assert stats["correlation"] == ("null", "—")
    assert stats["linear_regression.slope"] == ("0.5", "0.5")
    assert stats["linear_regression.intercept"] == ("0.01", "0.01")
    assert "Pearson correlation (balance, btc)" in html and "Regression slope (btc on balance)" in html
    assert "ETH·BTC" in html and "BTC/ETH" in html
    assert stats["headline.mean"] == ("0.5", "0.5")
    assert 'id="no-inputs"' not in html
    empty = {**entry, "statistics": {"count": 0, "mean": None, "covariance": None, "correlation": None,
                                     "linear_regression": None, "no_inputs": "no input matches the filter"}}
    html = render_page(empty)
    stats = parse(html).stats
    assert 'id="no-inputs"' in html and "no input matches the filter" in html
    assert stats["linear_regression.slope"] == ("null", "—") and stats["covariance"] == ("null", "—")


def test_query_table_shows_new_rows_and_the_no_inputs_notice() -> None:
    from mpcstats.commands.query import format_table
    entry = {"n": 5, "run_id": "r", "computed_at": 1795618800, "verified": True,
             "query": {"statistics": ["count", "correlation"], "columns": ["balance", "btc"],
                       "filter": [["btc", ">", "1"]]},
             "parties": [{"party": i, "key_id": f"{i:016x}"} for i in range(3)],
             "statistics": {"count": 0, "correlation": None, "no_inputs": "no input matches the filter"}}
    text = format_table(entry, "parties")
    assert "No statistics: no input matches the filter." in text
    assert "query: columns balance × btc · filter btc > 1" in text
    assert any(line.startswith("  Pearson correlation (balance, btc)") and line.rstrip().endswith("—")
               for line in text.splitlines())


def test_display_rounding_and_labels() -> None:
    assert display_number("123.45000000") == "123.45"
    assert display_number("6.1725") == "6.1725"
    assert display_number("1234567.123456789") == "1,234,567.12345679"
    assert display_number("0.000000005") == "0" and display_number("-0.000000001") == "0"
    assert display_number(20) == "20" and display_number(None) == "—"
    assert display_number("9.29587238", 4) == "9.2959"
    assert display_number("not a number") == "not a number"
    assert quantile_label("0.25") == "25th percentile" and quantile_label("0.9") == "90th percentile"
    assert quantile_label("0.01") == "1st percentile" and quantile_label("0.995") == "99.5th percentile"
    keys = [r.key for r in rows({"max": "1", "count": 2, "quantiles": {"0.9": "1", "0.25": "0"}, "zeta": 1})]
    assert keys == ["count", "max", "quantiles.0.25", "quantiles.0.9", "zeta"]


def test_histogram_shape_is_checked() -> None:
    assert parse_histogram({"edges": ["1", "10"], "counts": [0, 3, 1]}).labels() == ["< 1", "1 – 10", "≥ 10"]
    for bad in ({"edges": ["1"], "counts": [1]}, {"edges": ["1"], "counts": [1, -1]},
                {"edges": ["x"], "counts": [1, 1]}, {"edges": [], "counts": [1]},
                {"edges": ["1"], "counts": [1, True]}, [1, 2], {"edges": ["NaN"], "counts": [1, 1]}):
        with pytest.raises(HistogramError):
            parse_histogram(bad)


def check_page_matches_api(html: str, body: dict[str, Any], keys: list[Any]) -> None:
    """Every statistic of ``/stats`` appears on the page with its exact value and its rounded display."""
    found = parse(html)
    statistics = body["statistics"]
    expected = list(rows(statistics))
    assert len(expected) >= 13
    for row in expected:
        assert row.key in found.stats, f"{row.key} missing from the page"
        value, shown = found.stats[row.key]
        assert value == (row.value if isinstance(row.value, str) else str(row.value)), row.key
        assert shown == display_number(row.value), row.key
    assert found.stats["n"][0] == str(body["n"])
    assert found.stats["headline.mean"][0] == statistics["mean"]
    assert found.buckets == dict(enumerate(statistics["histogram"]["counts"]))
    text = " ".join(found.text)
    assert "All three computation parties signed this same result." in text
    for i in range(3):
        assert key_id(keys[i]) in text
    assert "Not enough providers yet" not in text


# --- in a real browser --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    path = browser.find_chromium()
    if path is None:
        message = "Chromium not installed (run scripts/install-browser)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; browser tests must run in CI")
        pytest.skip(message)
    return path


@pytest.mark.browser
def test_browser_shows_the_same_numbers_as_the_json_api(chromium: str, api: BackgroundServer,
                                                        parties: list[FakeParty], party_keys: list[Any],
                                                        tmp_path: Path) -> None:
    publish(parties, party_keys, sample_result("run-browser", n=240))
    assert poll(api) is Outcome.ACCEPTED
    body = requests.get(f"{api.url}/stats", timeout=5).json()
    dom = browser.dump_dom(f"{api.url}/")
    check_page_matches_api(dom, body, party_keys)
    assert "<svg" in dom and 'class="histogram"' in dom
    shot = browser.screenshot(f"{api.url}/", tmp_path / "results-page.png", width=1100, height=1900)
    assert browser.png_size(shot) == (1100, 1900)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank image


@pytest.mark.browser
def test_browser_before_any_result(chromium: str, api: BackgroundServer, parties: list[FakeParty]) -> None:
    assert poll(api) is Outcome.NO_RESULT
    dom = browser.dump_dom(f"{api.url}/")
    assert "Not enough providers yet" in dom


@pytest.mark.browser
def test_screenshot_script(chromium: str, tmp_path: Path) -> None:
    from servers.results.screenshot import main

    out = tmp_path / "shot.png"
    assert main([str(out), "--n", "30", "--width", "900", "--height", "1200"]) == 0
    assert browser.png_size(out) == (900, 1200)
