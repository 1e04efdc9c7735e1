"""Exact decimal encoding of input values.

Balances are exact decimals with 8 decimal places (Binance reports e.g. ``"1.23450000"``).
They are encoded as integers in units of 1e-8 so that nothing is ever rounded: a
balance of up to 10^9 with 8 decimals is below 10^17 < 2^57.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction

from mpc_programs.shares.field import DIGIT_BASE, DIGITS, VALUE_BITS

DECIMALS = 8
SCALE = 10**DECIMALS
#: Largest encodable value in units (2^57 - 1, about 1.44e9 whole units).
MAX_UNITS = (1 << VALUE_BITS) - 1


class EncodingError(ValueError):
    """A value that cannot be encoded exactly (negative, too large, too many decimals)."""


def to_units(value: str | int | Decimal) -> int:
    """Exact integer number of 1e-8 units in ``value`` (a decimal string such as ``"1.2345"``)."""
    if isinstance(value, float):
        raise EncodingError("floats are not exact; pass the decimal string")
    try:
        d = Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise EncodingError(f"not a decimal number: {value!r}") from exc
    if not d.is_finite():
        raise EncodingError(f"not a finite number: {value!r}")
    scaled = d * SCALE
    if scaled != scaled.to_integral_value():
        raise EncodingError(f"more than {DECIMALS} decimal places: {value!r}")
    units = int(scaled)
    if units < 0:
        raise EncodingError(f"negative value: {value!r}")
    if units > MAX_UNITS:
        raise EncodingError(f"value too large (max {from_units(MAX_UNITS)}): {value!r}")
    return units


def from_units(units: int | Fraction) -> Decimal:
    """Decimal value of ``units`` (exact for integers; rationals to 30 significant digits)."""
    if isinstance(units, Fraction):
        return Decimal(units.numerator) / Decimal(units.denominator) / SCALE
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), SCALE)
    return Decimal(f"{sign}{whole}.{frac:0{DECIMALS}d}")


def to_digits(units: int) -> list[int]:
    """Base-16 digits of ``units``, least significant first, exactly ``DIGITS`` of them."""
    if not 0 <= units <= MAX_UNITS:
        raise EncodingError(f"units out of range: {units}")
    return [(units >> (4 * t)) % DIGIT_BASE for t in range(DIGITS)]


def one_hot(units: int) -> list[int]:
    """The stored layout of one input: ``DIGITS`` one-hot vectors of length 16, flattened,
    followed by the value itself."""
    flat = [0] * (DIGITS * DIGIT_BASE)
    for t, d in enumerate(to_digits(units)):
        flat[t * DIGIT_BASE + d] = 1
    return flat + [units]


def from_one_hot(flat: list[int]) -> int:
    """Inverse of :func:`one_hot`; raises if ``flat`` is not a valid layout."""
    if len(flat) != DIGITS * DIGIT_BASE + 1:
        raise EncodingError("wrong layout length")
    units = 0
    for t in range(DIGITS):
        row = flat[t * DIGIT_BASE:(t + 1) * DIGIT_BASE]
        if sorted(row) != [0] * (DIGIT_BASE - 1) + [1]:
            raise EncodingError(f"digit {t} is not one-hot")
        units += row.index(1) << (4 * t)
    if flat[-1] != units:
        raise EncodingError("value does not match its digits")
    return units
