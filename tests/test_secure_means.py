"""The fixed-point pieces of the geometric and harmonic means, checked in the clear.

The local steps are polynomials in the shares, so feeding them the values themselves (the
trivial sharing) must give the exact intermediate values the MPC works with.
"""

import math
from fractions import Fraction

import numpy as np
import pytest

from mpc_programs.statistics import results, secure_means
from mpc_programs.shares.encoding import MAX_UNITS, one_hot
from mpc_programs.shares.field import DIGITS
from mpc_programs.statistics.secure_stats import SharedInputs


def evaluate(coeffs, r: Fraction) -> Fraction:
    return sum(Fraction(a, 1 << secure_means.COEFFICIENT_BITS) * r**k for k, a in enumerate(coeffs))


def test_interpolants_are_accurate_on_the_whole_range():
    ln_coeffs, rec_coeffs = secure_means.coefficients()
    worst_ln = worst_rec = 0.0
    for i in range(4097):
        r = Fraction(i, 4096)
        worst_ln = max(worst_ln, abs(float(evaluate(ln_coeffs, r)) - math.log1p(float(r))))
        worst_rec = max(worst_rec, float(abs(evaluate(rec_coeffs, r) - 1 / (1 + r))))
    assert worst_ln < 2e-10 and worst_rec < 2e-9


def test_published_scales_match_the_mpc():
    assert results.LOG_BITS == secure_means.LOG_BITS
    assert results.RECIPROCAL_BITS == secure_means.RECIPROCAL_BITS


@pytest.mark.parametrize("x", [0, 1, 2, 3, 15, 16, 17, 255, 256, 10**8, 7 * 16**9, MAX_UNITS])
def test_normalizers_give_the_power_of_two_below_x(x):
    inputs = SharedInputs(np.array([one_hot(x)], dtype=object))
    z = {DIGITS - 1: np.ones(1, dtype=object)}
    for t in range(DIGITS - 1, -1, -1):
        z[t - 1] = z[t] * inputs.digit(t)[:, 0]
    ln_c, inv_c = secure_means._normalizers(inputs, z)
    if x == 0:
        assert ln_c[0] == 0 and inv_c[0] == 0 and z[-1][0] == 1
        return
    k = x.bit_length() - 1  # c = 2^k <= x < 2^(k+1)
    assert ln_c[0] == k * secure_means.LN2
    assert inv_c[0] == 1 << (secure_means.RECIPROCAL_TABLE_BITS - k)
    assert 1 <= Fraction(x * int(inv_c[0]), 1 << secure_means.RECIPROCAL_TABLE_BITS) < 2
