"""The compiled field arithmetic against Python ints, edge values included."""

import random

import numpy as np
import pytest

from mpc_programs.shares import f192
from mpc_programs.shares.field import PRIME as P

EDGES = [0, 1, 2, P - 1, P - 2, P - 237, 2**64 - 1, 2**64, 2**128 - 1, 2**128,
         2**192 - 2**64 - 1 - 237, P // 2, (P + 1) // 2]


@pytest.fixture(scope="module")
def operands() -> tuple[list[int], list[int]]:
    rng = random.Random(1)
    n = 3000
    a = [x for x in EDGES for _ in EDGES] + [rng.randrange(P) for _ in range(n)]
    b = [y for _ in EDGES for y in EDGES] + [rng.randrange(P) for _ in range(n)]
    return a, b


def test_elementwise_operations_match_python_ints(operands) -> None:
    a_int, b_int = operands
    a, b = f192.from_ints(a_int), f192.from_ints(b_int)
    assert f192.to_ints(a) == a_int
    out = np.empty_like(a)
    assert f192.to_ints(f192.modmul(a, b, out)) == [x * y % P for x, y in zip(a_int, b_int)]
    assert f192.to_ints(f192.modadd(a, b, out)) == [(x + y) % P for x, y in zip(a_int, b_int)]
    assert f192.to_ints(f192.modsub(a, b, out)) == [(x - y) % P for x, y in zip(a_int, b_int)]
    for m in (0, 1, 3, -1, -3, 237, 2**31 - 1, -(2**31), 2**32 - 1):
        assert f192.to_ints(f192.scale(a, m, out)) == [x * m % P for x in a_int]


def test_sums_of_products_match_python_ints(operands) -> None:
    a_int, b_int = operands
    a, b = f192.from_ints(a_int), f192.from_ints(b_int)
    assert f192.limbs_to_int(f192.inner(a, b)) == sum(x * y for x, y in zip(a_int, b_int)) % P
    worst = f192.from_ints([P - 1] * len(a_int))  # the accumulators' worst case
    assert f192.limbs_to_int(f192.inner(worst, worst)) == len(a_int) * (P - 1) ** 2 % P
    n = len(a_int)
    matrix = np.stack([f192.from_ints([a_int[(i * 7 + j) % n] for i in range(n)])
                       for j in range(16)], axis=1)
    got = f192.matvec_t(matrix, b)
    for j in range(16):
        want = sum(a_int[(i * 7 + j) % n] * b_int[i] for i in range(n)) % P
        assert f192.limbs_to_int(got[j]) == want


def test_row_sums_match_python_ints(operands) -> None:
    a_int, b_int = operands
    k = 7
    rows = len(a_int) // k
    m = f192.from_ints(a_int[:rows * k]).reshape(rows, k, 3)
    v = f192.from_ints(b_int[:k])
    got, squares = f192.to_ints(f192.rows_dot(m, v)), f192.to_ints(f192.rows_dot(m, v, True))
    for i in range(rows):
        row = a_int[i * k:(i + 1) * k]
        assert got[i] == sum(x * y for x, y in zip(row, b_int[:k])) % P
        assert squares[i] == sum(x * x * y for x, y in zip(row, b_int[:k])) % P


@pytest.mark.parametrize("degree", [1, 2])
def test_shamir_points_lie_on_the_polynomial(operands, degree: int) -> None:
    a_int, b_int = operands
    coefficients = [b_int, a_int[::-1]][:degree]
    xs = np.array([1, 2, 3], dtype=np.int64)
    points = f192.shamir_points(f192.from_ints(a_int),
                                np.stack([f192.from_ints(c) for c in coefficients]), xs,
                                np.empty((3, len(a_int), 3), np.uint64))
    for j, x in enumerate((1, 2, 3)):
        want = [(s + sum(c[i] * x ** (d + 1) for d, c in enumerate(coefficients))) % P
                for i, s in enumerate(a_int)]
        assert f192.to_ints(points[j]) == want


def test_bytes_round_trip_and_values_outside_the_field_are_refused(operands) -> None:
    a_int, _ = operands
    a = f192.from_ints(a_int)
    big = b"".join(x.to_bytes(24, "big") for x in a_int)
    little = b"".join(x.to_bytes(24, "little") for x in a_int)
    assert f192.to_ints(f192.from_bytes_be(np.frombuffer(big, np.uint8).reshape(-1, 24))) == a_int
    assert f192.to_bytes_be(a) == big
    assert f192.to_ints(f192.from_bytes_le(little)) == a_int and f192.to_bytes_le(a) == little
    for bad in (P, 2**192 - 1):
        with pytest.raises(ValueError):
            f192.from_bytes_be(bad.to_bytes(24, "big"))
        with pytest.raises(ValueError):
            f192.from_bytes_le(bad.to_bytes(24, "little"))


def test_random_elements_are_below_p_and_distinct() -> None:
    values = f192.to_ints(f192.random(50_000))
    assert max(values) < P and len(set(values)) == 50_000
