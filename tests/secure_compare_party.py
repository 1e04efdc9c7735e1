"""MPyC party program for tests/test_secure_compare.py (run as 3 processes).

Honest run: every party deals the same seeded Shamir shares of signed test values for a
few bit sizes, computes [d < 0] with ``secure_compare.less_than_zero_limbs`` (one call per
bit size), runs ``product_check.verify("compare")``, opens the results and prints one JSON
line; then it draws random bits (``random_bits_limbs``), opens them and prints a second.

``--deviate K MODE`` (test-only): party 1 changes the first field element of the K-th
message it sends each peer (counted per peer from the start of the comparison, bits = 16)
— MODE ``consistent``: to both peers, so that the resharing stays a valid degree-1 sharing
of a wrong value (see ``arm``); MODE ``plusone``: +1 to the message to one peer only.
Honest parties must abort before printing anything.

``--bench``: wall time (and party 0's CPU time) of ``less_than_zero_limbs`` plus
``product_check.verify`` for N = 60 and N = 1000, bits = 16, median of 3, and of the random
bits alone (party 0 prints the JSON line).
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mpc_programs.runtime import fast_mpc, product_check  # noqa: E402
from deviation import arm_shift  # noqa: E402
from mpc_programs.runtime.hardened_runtime import mpc  # noqa: E402
from mpc_programs.shares import f192  # noqa: E402
from mpc_programs.shares.field import PRIME  # noqa: E402
from mpc_programs.statistics import secure_compare  # noqa: E402

SEED = 21
BIT_SIZES = (1, 4, 16, 31)
RANDOM_PER_SIZE = 40
RANDOM_BITS = 4000
REDRAW_ROWS = (0, 7)
DEVIANT = 1
ATTACK_BITS = 16


def cases(bits: int) -> list[int]:
    """Edge values and seeded random ones in (−2^bits, 2^bits)."""
    top = (1 << bits) - 1
    edges = [0, -1, 1, top, -top, top - 1, -(top - 1) if top > 1 else 0, 2, -2]
    edges = [v for v in edges if -top <= v <= top]
    rng = random.Random(SEED * 1000 + bits)
    return edges + [rng.randint(-top, top) for _ in range(RANDOM_PER_SIZE)]


def deal(values: list[int], rng: random.Random):
    """This party's seeded degree-1 shares (limbs) of the values (negative as p − |v|)."""
    return f192.from_ints([(v + rng.randrange(PRIME) * (mpc.pid + 1)) % PRIME for v in values])


async def honest() -> None:
    rng = random.Random(SEED)
    report: dict[str, object] = {}
    for bits in BIT_SIZES:
        d = deal(cases(bits), rng)
        flags = await secure_compare.less_than_zero_limbs(d, bits)
        await product_check.verify("compare")
        report[str(bits)] = [int(v) for v in f192.to_ints(await fast_mpc.open_limbs(flags))]
    report["pending"] = product_check.pending()
    print(json.dumps(report), flush=True)
    bits = await secure_compare.random_bits_limbs(RANDOM_BITS)
    opened = f192.to_ints(await fast_mpc.open_limbs(bits))
    redrawn = f192.to_ints(await fast_mpc.open_limbs(await zero_first_draw(REDRAW_ROWS)))
    print(json.dumps({"random_bits": [int(v) for v in opened],
                      "redrawn": [int(v) for v in redrawn]}), flush=True)


async def zero_first_draw(rows: tuple[int, ...]):
    """``random_bits_limbs(20)`` with r = 0 (every party's share 0) at ``rows`` of its first
    PRSS draw: u = 0 there, which must be redrawn."""
    original = fast_mpc.prss_random_limbs
    calls = []

    def draw(count: int):
        r = original(count)
        if not calls:
            r[list(rows)] = 0
        calls.append(count)
        return r
    fast_mpc.prss_random_limbs = draw
    try:
        bits = await secure_compare.random_bits_limbs(20)
    finally:
        fast_mpc.prss_random_limbs = original
    assert calls[:2] == [20, len(rows)], calls
    return bits


async def attacked(index: int, mode: str) -> None:
    d = deal(cases(ATTACK_BITS), random.Random(SEED))
    if mpc.pid == DEVIANT:
        arm_shift(index, consistent=mode == "consistent")
    flags = await secure_compare.less_than_zero_limbs(d, ATTACK_BITS)
    await product_check.verify("compare")
    opened = f192.to_ints(await fast_mpc.open_limbs(flags))
    print(json.dumps({"opened": [int(v) for v in opened]}), flush=True)


async def bench() -> None:
    rng = random.Random(SEED)
    report: dict[str, object] = {}
    for n in (60, 1000):
        values = [rng.randint(-(1 << 16) + 1, (1 << 16) - 1) for _ in range(n)]
        times, cpu = [], []
        for _ in range(3):
            d = deal(values, rng)
            await fast_mpc.open_limbs(d[:1])  # in step before timing
            start, start_cpu = time.perf_counter(), time.process_time()
            flags = await secure_compare.less_than_zero_limbs(d, 16)
            await product_check.verify("compare")
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            opened = f192.to_ints(await fast_mpc.open_limbs(flags))
            assert opened == [int(v < 0) for v in values]
        bit_times = []
        for _ in range(3):  # the random bits alone (with their check): 16 + 1 + k per value
            start = time.perf_counter()
            await secure_compare.random_bits_limbs(n * (16 + 1 + 40))
            bit_times.append(time.perf_counter() - start)
        report[str(n)] = {"median_s": statistics.median(times), "runs_s": times,
                          "cpu_median_s": statistics.median(cpu),
                          "random_bits_median_s": statistics.median(bit_times)}
    if mpc.pid == 0:
        print(json.dumps(report), flush=True)


async def main() -> None:
    await mpc.start()
    f192.warm_up()
    secure_compare.warm_up()
    if "--deviate" in sys.argv:
        at = sys.argv.index("--deviate")
        await attacked(int(sys.argv[at + 1]), sys.argv[at + 2])
    elif "--bench" in sys.argv:
        await bench()
    else:
        await honest()
    await mpc.shutdown()


if __name__ == "__main__":
    mpc.run(main())
