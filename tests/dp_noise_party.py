"""MPyC party program for tests/test_dp_noise.py (run as 3 processes).

Honest run, three JSON lines (every opening after ``product_check.verify``):
1. ``coins``: for each threshold of ``COIN_THRESHOLDS`` (precision ``COIN_PRECISION``),
   ``COINS_EACH`` coins from ``dp_noise.coins_limbs``, opened: how many came out 1;
2. ``noise``: ``joint_noise`` at the default precision for ``DEFAULT_SCALES``, opened (signed);
3. ``low_precision``: ``LOW_COUNT`` noises of scale ``LOW_SCALE`` at precision
   ``LOW_PRECISION`` (cheap enough for a distribution test), opened (signed).

``--deviate K MODE`` (test-only): party 1 changes the first field element of the K-th
message it sends each peer from the start of ``joint_noise(ATTACK_SCALES)`` (``deviation.
arm_shift``); MODE ``wrong_prss`` instead adds 1 to the first of its PRSS shares of the random
values behind the coins (the K-th element of its first ``prss_random_limbs`` draw). The honest
parties must abort before opening anything.
"""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deviation import arm_shift  # noqa: E402
from mpc_programs.runtime import fast_mpc, product_check  # noqa: E402
from mpc_programs.runtime.hardened_runtime import mpc  # noqa: E402
from mpc_programs.shares import f192  # noqa: E402
from mpc_programs.shares.field import PRIME  # noqa: E402
from mpc_programs.statistics import dp_noise, secure_compare  # noqa: E402

COIN_PRECISION = 8
COIN_THRESHOLDS = (1, 64, 128, 255, 256)
COINS_EACH = 400
DEFAULT_SCALES = (Fraction(1),) * 40 + (Fraction(10**9),) * 4
LOW_PRECISION = 10
LOW_SCALE = Fraction(3, 2)
LOW_COUNT = 1000
ATTACK_SCALES = (Fraction(2),) * 3
DEVIANT = 1


def _signed(values) -> list[int]:
    return [v - PRIME if v > PRIME // 2 else v for v in (int(x) for x in values)]


async def _open_checked(shares, step: str) -> list[int]:
    await product_check.verify(step)
    return [int(v) for v in f192.to_ints(await fast_mpc.open_limbs(shares))]


async def honest() -> None:
    thresholds = [c for c in COIN_THRESHOLDS for _ in range(COINS_EACH)]
    coins = await _open_checked(await dp_noise.coins_limbs(thresholds, COIN_PRECISION), "coins")
    ones = {str(c): sum(coins[i * COINS_EACH:(i + 1) * COINS_EACH])
            for i, c in enumerate(COIN_THRESHOLDS)}
    print(json.dumps({"coins": ones, "bits": sorted(set(coins))}), flush=True)
    for name, scales, precision in (("noise", DEFAULT_SCALES, None),
                                    ("low_precision", (LOW_SCALE,) * LOW_COUNT, LOW_PRECISION)):
        extra = {} if precision is None else {"precision": precision}
        shares = await dp_noise.joint_noise(list(scales), **extra)
        opened = await _open_checked(fast_mpc.to_limbs(shares), name)
        print(json.dumps({name: _signed(opened)}), flush=True)


def _arm_wrong_prss(index: int) -> None:
    original = fast_mpc.prss_random_limbs
    calls = []

    def draw(count: int):
        r = original(count)
        if not calls:
            r[index] = f192.from_ints([(f192.to_ints(r[index:index + 1])[0] + 1) % PRIME])[0]
            print(f"deviating in message {index}: a wrong PRSS share", file=sys.stderr, flush=True)
        calls.append(count)
        return r
    fast_mpc.prss_random_limbs = draw


async def attacked(index: int, mode: str) -> None:
    if mpc.pid == DEVIANT and mode == "wrong_prss":
        _arm_wrong_prss(index)
    elif mpc.pid == DEVIANT:
        arm_shift(index, consistent=mode == "consistent")
    shares = await dp_noise.joint_noise(list(ATTACK_SCALES))
    print(json.dumps({"noise": _signed(await _open_checked(fast_mpc.to_limbs(shares),
                                                           "dp noise"))}), flush=True)


async def main() -> None:
    await mpc.start()
    f192.warm_up()
    secure_compare.warm_up()
    if "--deviate" in sys.argv:
        at = sys.argv.index("--deviate")
        await attacked(int(sys.argv[at + 1]), sys.argv[at + 2])
    else:
        await honest()
    await mpc.shutdown()


if __name__ == "__main__":
    mpc.run(main())
