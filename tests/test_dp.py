"""The exact discrete Laplace sampler behind the DP noise."""

import math
import statistics
from fractions import Fraction

import pytest

from mpc_programs.dp import discrete_laplace, noise_scale


@pytest.mark.parametrize("scale", [Fraction(1, 2), Fraction(3), Fraction(25, 2)])
def test_discrete_laplace_has_the_right_moments(scale):
    samples = [discrete_laplace(scale) for _ in range(6000)]
    a = math.exp(-1 / float(scale))
    variance = 2 * a / (1 - a) ** 2
    # the sample variance of 6000 draws is within ~10% of the truth with overwhelming probability
    assert abs(statistics.pvariance(samples) / variance - 1) < 0.15
    assert abs(statistics.mean(samples)) < 5 * math.sqrt(variance / len(samples))
    assert all(isinstance(x, int) for x in samples)


def test_probability_mass_decays_exponentially():
    samples = [discrete_laplace(Fraction(1)) for _ in range(20000)]
    p0 = samples.count(0) / len(samples)
    p1 = samples.count(1) / len(samples)
    assert abs(p1 / p0 - math.exp(-1)) < 0.05
    assert abs(samples.count(-1) - samples.count(1)) < 0.1 * samples.count(1) + 50


def test_scale_validation():
    assert noise_scale("0.5", 1) == 2
    with pytest.raises(ValueError):
        noise_scale("0", 1)
    with pytest.raises(ValueError):
        discrete_laplace(Fraction(0))
