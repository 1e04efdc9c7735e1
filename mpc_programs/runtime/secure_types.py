"""The secure type every statistics and ingestion program computes with, and the bridge
from raw local shares to it.

Kept apart from the programs so that each of them (statistics, the oblivious sort,
ingestion) can depend on it without depending on one another.
"""

from __future__ import annotations

import numpy as np

from mpc_programs.runtime import fast_random
from mpc_programs.runtime.hardened_runtime import mpc
from mpc_programs.shares.field import DIGIT_BASE, DIGITS, PRIME

fast_random.install()

#: Secure integers over the statistics field. The declared bit length (32) is the range
#: of the numbers we *compare* (counts and ranks); sums are only added and multiplied.
secint = mpc.SecInt(32, p=PRIME)
FIELD = secint.field
#: The value as a public linear function of its one-hot digits (checked at ingestion).
DIGIT_WEIGHTS = np.array([d << (4 * t) for t in range(DIGITS) for d in range(DIGIT_BASE)],
                         dtype=object)


def local_array(values: np.ndarray, reduced: bool = False) -> secint.array:
    """A secure array whose local share is ``values`` (field elements as Python ints).

    ``reduced=True`` promises 0 <= values < p and skips a modular reduction pass.
    """
    values = np.asarray(values, dtype=object)
    if not reduced:
        values = values % PRIME
    return secint.array(FIELD.array(values, check=False))
