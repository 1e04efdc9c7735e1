"""MPyC party program for tests/test_product_check.py (run as 3 processes).

Every party deals the same seeded Shamir shares of two vectors and of a matrix, computes
elementwise products (``fast_mpc.multiply_limbs``, recorded) and a recorded matrix–vector
product, runs ``product_check.verify`` and opens the results, printing one JSON line.

``--deviate K`` (test-only): party 1 shifts one field element of the K-th message it
sends after the inputs are dealt (counted per peer: the products' resharings, then the
check's own resharings and openings), to both other parties, consistently
(``deviation.arm_shift``). Honest parties must abort
before printing the results.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mpc_programs.runtime import fast_mpc, product_check  # noqa: E402
from deviation import arm_shift, deal  # noqa: E402
from mpc_programs.runtime.hardened_runtime import mpc  # noqa: E402
from mpc_programs.shares import f192  # noqa: E402
from mpc_programs.shares.field import PRIME  # noqa: E402

SEED = 15
N = 40
D = 5
DEVIANT = 1


def values() -> tuple[list[int], list[int], list[int]]:
    rng = random.Random(SEED)
    x = [rng.randrange(PRIME) for _ in range(N)]
    y = [rng.randrange(PRIME) for _ in range(N)]
    m = [rng.randrange(2) for _ in range(N * D)]
    return x, y, m


async def main() -> None:
    await mpc.start()
    rng = random.Random(SEED + 1)
    x, y, m = values()
    xs = f192.from_ints(deal(x, rng))
    ys = f192.from_ints(deal(y, rng))
    ms = f192.from_ints(deal(m, rng)).reshape(N, D, 3)
    if "--deviate" in sys.argv and mpc.pid == DEVIANT:
        arm_shift(int(sys.argv[sys.argv.index("--deviate") + 1]))
    z = await fast_mpc.multiply_limbs(xs, ys)
    local = f192.matvec_t(ms, fast_mpc.mul_const(xs, fast_mpc.constant_limbs(1),
                                                 np.empty_like(xs)))
    counts = await fast_mpc.reshare_limbs(local)
    product_check.record_matvec(xs, ms, counts)
    pending = product_check.pending()
    await product_check.verify("test")
    opened_z = f192.to_ints(await fast_mpc.open_limbs(z))
    opened_c = f192.to_ints(await fast_mpc.open_limbs(counts))
    print(json.dumps({"pending": pending, "z": [int(v) for v in opened_z],
                      "counts": [int(v) for v in opened_c]}), flush=True)
    await mpc.shutdown()


if __name__ == "__main__":
    mpc.run(main())
