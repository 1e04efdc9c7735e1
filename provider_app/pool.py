"""Read the pool's published statistics from the results API (no Qt; the app and scripts use it).

``GET {results_url}/stats`` returns the latest result all three parties agreed on; reading never
starts an MPC run. Failures become :class:`ResultsUnavailable` with a sentence for people.
"""

from __future__ import annotations

from typing import Any


class ResultsUnavailable(Exception):
    def __init__(self, code: str, sentence: str) -> None:
        super().__init__(sentence)
        self.code = code
        self.sentence = sentence


def fetch_stats(results_url: str, timeout: float = 10.0) -> dict[str, Any]:
    import requests
    if not results_url:
        raise ResultsUnavailable("not_configured",
                                 "No results service is configured. Set one in Settings.")
    try:
        response = requests.get(results_url.rstrip("/") + "/stats", timeout=timeout)
    except requests.RequestException:
        raise ResultsUnavailable("network", "The results service is not reachable. Check your "
                                 "internet connection and press Refresh.") from None
    if response.status_code == 404:
        raise ResultsUnavailable("no_result_yet", "No statistics have been published yet. The pool "
                                 "needs its first computation — check back later.")
    if response.status_code == 429:
        raise ResultsUnavailable("rate_limited", "The results service is busy. Wait a moment and "
                                 "press Refresh.")
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict) or "statistics" not in body:
        raise ResultsUnavailable("bad_answer", "The results service gave an answer the app does not "
                                 "understand. Try again later.")
    return body


def statistic_rows(statistics: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value with unit) for each published scalar statistic, in the results page's order."""
    from servers.results.statistics_view import rows
    out = []
    for row in rows(statistics):
        out.append((row.label, f"{row.display} {row.unit}".strip()))
    return out
