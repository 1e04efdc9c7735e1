"""The prime field every statistic is computed in, and the input layout over it.

Why this field: all statistics are computed exactly over the integers (balances in
units of 1e-8), so the field must hold the largest opened intermediate without
wrapping. The largest is the variance numerator ``n*Σx² - (Σx)²`` which, for
n <= 10^6 inputs below 2^57, stays below 2^153. We use the 192-bit Blum prime
that MPyC itself picks for ``mpc.SecInt(160)`` (``find_prime_root(192, n=2)``),
pinned here so that a provider — who never runs MPyC — shares into exactly the
field the parties compute in. ``tests/test_sharing.py`` checks the pin.

Why one-hot hexadecimal digits: order statistics (min, max, median, quantiles)
are found by a radix search that reads the inputs one digit at a time (see
``secure_stats``). Each input is stored as 15 base-16 digits, every digit as a
one-hot vector of 16 field elements (240 shares per input). With one-hot digits
the per-digit counts are inner products (one reshare per count, not per input),
and the provider's encoding is checked at ingestion with local arithmetic plus
openings only (see ``ingest``), no secure multiplication at all.
"""

from __future__ import annotations

#: The statistics field's modulus (192 bits, p % 4 == 3). Equal to
#: ``mpyc.runtime.mpc.SecInt(160).field.modulus`` with MPyC 0.11 defaults (30-bit
#: statistical security); the hardened runtime raises that parameter to 40 bits, which would
#: change MPyC's default field, so every secure type names this prime explicitly.
PRIME = 6277101735386680763835789423207666416102355444464034512659

#: The widest secure integer MPyC allows over PRIME at 40-bit statistical security
#: (it requires l + κ + 2 <= 192 bits): the type of verified balances.
WIDE_SECINT_BITS = 150

#: Number of parties and Shamir threshold: 3 parties, any 2 reconstruct.
PARTIES = 3
THRESHOLD = 1

#: Inputs are integers 0 <= x < 2**VALUE_BITS (balances in units of 1e-8).
VALUE_BITS = 57
DIGIT_BITS = 4
DIGIT_BASE = 1 << DIGIT_BITS
DIGITS = -(-VALUE_BITS // DIGIT_BITS)  # 15 hexadecimal digits
#: The top digit only ranges over 0 .. TOP_DIGIT_MAX so that x < 2**VALUE_BITS.
TOP_DIGIT_MAX = (1 << (VALUE_BITS - (DIGITS - 1) * DIGIT_BITS)) - 1
#: Field elements per stored input: one one-hot vector per digit, then the value itself
#: (redundant, checked at ingestion; it saves the 240-term combination per query).
ONE_HOT_LENGTH = DIGITS * DIGIT_BASE
VALUE_INDEX = ONE_HOT_LENGTH
SHARES_PER_INPUT = ONE_HOT_LENGTH + 1
#: Bytes of one field element in the store's fixed-width encoding.
ELEMENT_BYTES = (PRIME.bit_length() + 7) // 8
