"""Covariance, correlation and linear regression inside MPC (``secure_bivariate``).

One 3-party run of ``tests/bivariate_party.py`` (module fixture) computes every case; the
published values are checked against exact rational references and Python's ``statistics``.
"""

from __future__ import annotations

import json
import math
import statistics as pystats
from decimal import Decimal
from fractions import Fraction

import pytest
from bivariate_party import cases

from mpc_programs.shares.encoding import SCALE
from deviation import assert_honest_parties_aborted
from mpc_programs.runtime.local_parties import run_parties
from mpc_programs.statistics.secure_bivariate import STATISTICS, BivariateOpened, publish_bivariate

CASES = {c[0]: c for c in cases()}


def selected(name: str) -> tuple[list[Fraction], list[Fraction]]:
    _, xs, ys, mask, _ = CASES[name]
    keep = [i for i in range(len(xs)) if mask is None or mask[i]]
    return [Fraction(xs[i], SCALE) for i in keep], [Fraction(ys[i], SCALE) for i in keep]


def exact(xs: list[Fraction], ys: list[Fraction]) -> dict:
    """Exact covariance, correlation² sign, slope and intercept (None where Python raises)."""
    n = len(xs)
    if n < 2:
        return {"covariance": None, "correlation": None, "linear_regression": None}
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(xs, ys))
    sxx = sum((a - mx) ** 2 for a in xs)
    syy = sum((b - my) ** 2 for b in ys)
    corr = None if sxx * syy == 0 else float(sxy) / math.sqrt(float(sxx) * float(syy))
    reg = None if sxx == 0 else (sxy / sxx, my - sxy / sxx * mx, abs(my) + abs(sxy / sxx * mx))
    return {"covariance": sxy / (n - 1), "correlation": corr, "linear_regression": reg}


def python_raises(func, xs, ys) -> bool:
    try:
        func(xs, ys)
    except pystats.StatisticsError:
        return True
    return False


@pytest.fixture(scope="module")
def reports() -> list[dict]:
    results = run_parties(["tests/bivariate_party.py", "--no-log"], timeout=120)
    out = []
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
        out.append(json.loads([ln for ln in r.stdout.splitlines() if ln.startswith("{")][-1]))
    return out


def opened_of(entry: dict) -> BivariateOpened:
    o = entry["opened"]
    return BivariateOpened(o["covariance_numerator"], o["correlation"],
                           None if o["slope"] is None else Fraction(*o["slope"]),
                           o["intercept_numerator"], o["intercept_shift"])


def test_parties_agree(reports: list[dict]) -> None:
    strip = [{k: v["opened"] for k, v in rep["cases"].items()} for rep in reports]
    assert strip[0] == strip[1] == strip[2]


@pytest.mark.parametrize("name", sorted(CASES))
def test_against_python(reports: list[dict], name: str) -> None:
    _, xs_u, _, mask, wanted = CASES[name]
    n = len(xs_u) if mask is None else sum(mask)
    published = publish_bivariate(opened_of(reports[0]["cases"][name]), n, sorted(wanted))
    assert set(published) == wanted
    xs, ys = selected(name)
    want = exact(xs, ys)
    # Python 3.11's statistics works in floats: near 2^57 units (17 digits) it is itself
    # inexact, so there only the exact reference is used.
    floats_ok = max(CASES[name][1] + CASES[name][2]) < 1 << 50
    if "covariance" in wanted:
        if n < 2:
            assert published["covariance"] is None
            assert python_raises(pystats.covariance, xs, ys)
        else:
            assert abs(Fraction(Decimal(published["covariance"])) - want["covariance"]) \
                < Fraction(1, 10**30) * max(1, abs(want["covariance"]))
            if floats_ok:
                assert float(want["covariance"]) == pytest.approx(pystats.covariance(xs, ys),
                                                                   rel=1e-9, abs=1e-12)
    if "correlation" in wanted:
        got = published["correlation"]
        assert (got is None) == (want["correlation"] is None) == python_raises(
            pystats.correlation, xs, ys)
        if got is not None:
            assert abs(float(Decimal(got)) - want["correlation"]) < 1e-9
            if floats_ok:
                assert abs(float(Decimal(got)) - pystats.correlation(xs, ys)) < 1e-9
    if "linear_regression" in wanted:
        got = published["linear_regression"]
        assert (got is None) == (want["linear_regression"] is None) == python_raises(
            pystats.linear_regression, xs, ys)
        if got is not None:
            slope, intercept, scale = want["linear_regression"]
            got_slope = Fraction(Decimal(got["slope"]))
            assert abs(got_slope - slope) <= Fraction(1, 10**9) * abs(slope)
            got_intercept = Fraction(Decimal(got["intercept"]))
            assert abs(got_intercept - intercept) <= Fraction(1, 10**9) * scale + Fraction(1, 10**12)
            py = pystats.linear_regression(xs, ys)
            assert not floats_ok or float(got_slope) == pytest.approx(py.slope, rel=1e-8)
            assert not floats_ok or float(got_intercept) == pytest.approx(py.intercept, rel=1e-6,
                                                         abs=1e-8 * float(scale) + 1e-12)


def test_exact_special_values(reports: list[dict]) -> None:
    def pub(name: str) -> dict:
        _, xs, _, mask, wanted = CASES[name]
        n = len(xs) if mask is None else sum(mask)
        return publish_bivariate(opened_of(reports[0]["cases"][name]), n, sorted(wanted))
    assert pub("perfect")["correlation"] == "1.0000000000"
    assert pub("anti")["correlation"] == "-1.0000000000"
    assert pub("n2")["correlation"] == "-1.0000000000"
    assert pub("constant_y")["linear_regression"] == {"slope": "0", "intercept": "0.00000007"}
    assert pub("constant_x")["covariance"] == "0E-16" or Decimal(pub("constant_x")["covariance"]) == 0
    assert pub("n1") == {"covariance": None, "correlation": None, "linear_regression": None}
    assert pub("masked_one") == {"covariance": None, "correlation": None, "linear_regression": None}


def test_only_requested_values_are_opened(reports: list[dict]) -> None:
    cases_ = reports[0]["cases"]
    cov = cases_["only_covariance"]["opened"]
    assert cov["correlation"] is None and cov["slope"] is None and cov["intercept_numerator"] is None
    reg = cases_["only_regression"]["opened"]
    assert reg["covariance_numerator"] is None and reg["correlation"] is None
    assert cases_["only_correlation_constant"]["opened"] == {
        "covariance_numerator": None, "correlation": None, "slope": None,
        "intercept_numerator": None, "intercept_shift": None}


# -- publish_bivariate in the clear --------------------------------------------------------

def test_publish_formats_and_undefined() -> None:
    opened = BivariateOpened(covariance_numerator=-3 * SCALE * SCALE * 12, correlation=-(1 << 39),
                             slope=Fraction(3, 2), intercept_numerator=5 * SCALE * 4 << 7,
                             intercept_shift=7)
    out = publish_bivariate(opened, 4, list(STATISTICS))
    assert Decimal(out["covariance"]) == Decimal(-3)
    assert out["correlation"] == "-0.5000000000"
    assert out["linear_regression"] == {"slope": "1.5", "intercept": "5"}
    assert publish_bivariate(opened, 1, list(STATISTICS)) == dict.fromkeys(STATISTICS)
    assert publish_bivariate(BivariateOpened(covariance_numerator=0), 3, list(STATISTICS)) == {
        "covariance": publish_bivariate(BivariateOpened(covariance_numerator=0), 3,
                                        ["covariance"])["covariance"],
        "correlation": None, "linear_regression": None}


def test_publish_clamps_correlation() -> None:
    out = publish_bivariate(BivariateOpened(correlation=(1 << 40) + 3), 5, ["correlation"])
    assert out == {"correlation": "1.0000000000"}


@pytest.mark.parametrize("index", [0, 3, 12, 40])
def test_a_party_that_shifts_a_message_makes_both_honest_parties_abort(index: int) -> None:
    """Active security (issue 15): a consistent shift of one of party 1's messages anywhere in
    covariance, correlation and regression — the moments' resharing, the bit decompositions,
    the inverse square roots, the openings — and both honest parties abort before opening a
    result (the product check, or the checked opening for a lie in an opening)."""
    results = run_parties(["tests/bivariate_party.py", "--no-log", "--deviate", str(index)],
                          timeout=120)
    assert_honest_parties_aborted(results, 1, "product check failed", "opening check failed",
                                  "r² is not a square")
