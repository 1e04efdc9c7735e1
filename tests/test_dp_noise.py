"""DP noise sampled jointly inside MPC (``dp.plan``, ``dp_noise``): the plan's law against the
exact discrete Laplace, and three real parties drawing coins and noises — right frequencies,
the planned distribution, bounded — while a party that shifts a message makes both honest
parties abort before any noise is opened (it can no longer choose or bias the noise)."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from itertools import product

import pytest

from deviation import assert_honest_parties_aborted, json_lines
from dp_noise_party import (COIN_PRECISION, COIN_THRESHOLDS, COINS_EACH, DEFAULT_SCALES,
                            DEVIANT, LOW_COUNT, LOW_PRECISION, LOW_SCALE)
from mpc_programs.runtime.local_parties import run_parties
from mpc_programs.statistics import dp


def geometric_law(thresholds: tuple[int, ...], precision: int) -> dict[int, Fraction]:
    """The exact law of Σ_j 2^j·digit_j with digit j ~ Bernoulli(c_j / 2^precision)."""
    qs = [Fraction(c, 1 << precision) for c in thresholds]
    law: dict[int, Fraction] = {}
    for digits in product((0, 1), repeat=len(qs)):
        p = Fraction(1)
        for d, q in zip(digits, qs):
            p *= q if d else 1 - q
        law[sum(d << j for j, d in enumerate(digits))] = p
    return law


def noise_law(plan: dp.NoisePlan) -> dict[int, Fraction]:
    """The exact law of η = G₁ − G₂ the plan samples."""
    g = geometric_law(plan.thresholds, plan.precision)
    law: dict[int, Fraction] = {}
    for a, pa in g.items():
        for b, pb in g.items():
            law[a - b] = law.get(a - b, 0) + pa * pb
    return law


def discrete_laplace(scale: Fraction, k: int) -> float:
    p = math.exp(-1 / float(scale))
    return (1 - p) / (1 + p) * p ** abs(k)


@pytest.mark.parametrize("scale", [Fraction(1, 2), Fraction(1), Fraction(3, 2), Fraction(6)])
def test_the_plan_samples_the_discrete_laplace_law_within_its_bound(scale: Fraction) -> None:
    plan = dp.plan(scale)
    law = noise_law(plan)
    assert sum(law.values()) == 1
    assert max(abs(k) for k in law) == plan.magnitude_bound
    # total variation to DLap(scale) over the support, plus DLap's mass outside it
    inside = sum(abs(float(law.get(k, 0)) - discrete_laplace(scale, k))
                 for k in range(-plan.magnitude_bound, plan.magnitude_bound + 1))
    outside = 1 - sum(discrete_laplace(scale, k)
                      for k in range(-plan.magnitude_bound, plan.magnitude_bound + 1))
    assert (inside + max(outside, 0)) / 2 <= float(plan.total_variation) + 1e-15  # float noise
    assert plan.total_variation <= dp.TOTAL_VARIATION_PER_NOISE


def test_coarse_plans_are_charged_their_real_distance() -> None:
    """At precision 6 the rounding is visible; the bound must still cover the true distance."""
    scale = Fraction(5, 2)
    plan = dp.plan(scale, precision=6)
    law = noise_law(plan)
    ideal = {k: discrete_laplace(scale, k) for k in range(-400, 401)}
    distance = sum(abs(float(law.get(k, 0)) - ideal.get(k, 0)) for k in set(law) | set(ideal)) / 2
    assert 1e-4 < distance <= float(plan.total_variation)


def test_plans_grow_with_the_scale_and_stay_in_the_field() -> None:
    digits = [len(dp.plan(Fraction(10) ** e).thresholds) for e in range(0, 40, 3)]
    assert digits == sorted(digits) and digits[0] >= 6
    assert all(c <= 1 << 63 for c in dp.plan(Fraction(10**30)).thresholds)  # q_j ≤ 1/2
    with pytest.raises(ValueError):
        dp.plan(Fraction(0))
    with pytest.raises(ValueError):
        dp.plan(Fraction(2) ** 190)


def test_delta_bound_is_rounded_up_and_grows_with_epsilon() -> None:
    per = dp.TOTAL_VARIATION_PER_NOISE
    assert dp.delta_bound(1, "1") >= (1 + Decimal(1).exp()) * per
    assert dp.delta_bound(102, "1") < Decimal("1e-14")
    assert dp.delta_bound(510, "10") < Decimal("2e-10")
    assert dp.delta_bound(10, "10") > dp.delta_bound(10, "1") > 0
    assert dp.delta_bound(0, "1") == 0


def test_three_parties_draw_right_coins_and_the_planned_noise() -> None:
    results = run_parties(["tests/dp_noise_party.py", "--no-log"], timeout=240)
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
    lines = [json_lines(r.stdout) for r in results]
    assert lines[0] == lines[1] == lines[2]  # the same opened values at every party
    coins, noise, low = lines[0]
    assert coins["bits"] == [0, 1]
    for c in COIN_THRESHOLDS:  # Bernoulli(c/256), 400 draws: within 5 standard deviations
        p = c / (1 << COIN_PRECISION)
        ones = coins["coins"][str(c)]
        assert abs(ones - COINS_EACH * p) <= 5 * math.sqrt(COINS_EACH * p * (1 - p)) + 1e-9, c
    small = noise["noise"][:40]
    large = noise["noise"][40:]
    assert len(noise["noise"]) == len(DEFAULT_SCALES)
    assert all(abs(v) <= dp.plan(Fraction(1)).magnitude_bound for v in small)
    assert len(set(small)) > 2 and abs(sum(small)) < 5 * math.sqrt(40 * dp.variance(Fraction(1)))
    assert all(0 < abs(v) < 40 * 10**9 for v in large)  # DLap(1e9): |η| > 0 w.p. ≈ 1
    # the low-precision noises follow the plan's exact law (chi-square over its support)
    law = noise_law(dp.plan(LOW_SCALE, LOW_PRECISION))
    drawn = low["low_precision"]
    assert len(drawn) == LOW_COUNT and set(drawn) <= set(law)
    cells = [k for k in law if law[k] * LOW_COUNT >= 5]
    chi2 = sum((drawn.count(k) - float(law[k]) * LOW_COUNT) ** 2 / (float(law[k]) * LOW_COUNT)
               for k in cells)
    assert chi2 < 50, (chi2, len(cells))  # df ≈ 10: P[χ² ≥ 50] < 1e-6


#: Messages party 1 sends each peer in ``joint_noise``: 0 the resharing of the squares r²,
#: 1 their opening, 2–6 the random bits' product check, 7–12 the six levels of the coins'
#: bitwise comparison (κ = 64). ``wrong_prss``: the index is that of the wrong PRSS share.
@pytest.mark.parametrize("index, mode", [(0, "consistent"), (9, "consistent"), (12, "plusone"),
                                         (5, "wrong_prss")])
def test_a_party_shifting_a_noise_message_makes_both_honest_parties_abort(index: int,
                                                                          mode: str) -> None:
    results = run_parties(["tests/dp_noise_party.py", "--no-log", "--deviate", str(index),
                           mode], timeout=180)
    assert_honest_parties_aborted(results, DEVIANT, "product check failed",
                                  "is not a square", "checked opening")
