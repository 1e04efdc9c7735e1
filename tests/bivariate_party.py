"""MPyC party program for tests/test_bivariate.py (run as 3 processes).

Every party rebuilds the same cases from a seed, deals all Shamir shares with a seeded
generator (so the three processes agree), keeps its own row, runs
``secure_bivariate.open_bivariate`` on every case and prints one JSON line with what was
opened and the MPC seconds per case. ``--deviate K`` (test-only): party 1 shifts its K-th
message consistently (``deviation.arm_shift``) in the first case; the honest parties must abort.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import numpy as np
from mpc_programs.runtime.hardened_runtime import mpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deviation import arm_shift  # noqa: E402
from mpc_programs.shares.encoding import MAX_UNITS
from mpc_programs.shares.field import PARTIES, PRIME
from mpc_programs.statistics.secure_bivariate import STATISTICS, open_bivariate

SEED = 20261125
ALL = set(STATISTICS)


def cases() -> list[tuple[str, list[int], list[int], list[int] | None, set[str]]]:
    """(name, x, y, mask or None, wanted) in units; deterministic."""
    rng = random.Random(SEED)
    big = MAX_UNITS
    out: list[tuple[str, list[int], list[int], list[int] | None, set[str]]] = []
    xs = [rng.randrange(10**10) for _ in range(40)]
    ys = [x // 3 + rng.randrange(10**9) for x in xs]
    out.append(("random", xs, ys, None, ALL))
    out.append(("random_unrelated", [rng.randrange(10**12) for _ in range(30)],
                [rng.randrange(10**6) for _ in range(30)], None, ALL))
    out.append(("ties_zeros", [0, 0, 5, 5, 5, 0, 7, 7], [3, 0, 0, 3, 3, 9, 0, 0], None, ALL))
    out.append(("constant_x", [42] * 6, [1, 2, 3, 4, 5, 6], None, ALL))
    out.append(("constant_y", [1, 2, 3, 4, 5, 6], [7] * 6, None, ALL))
    out.append(("all_zero", [0] * 5, [0] * 5, None, ALL))
    out.append(("n1", [5], [9], None, ALL))
    out.append(("n2", [1, 4], [10, 3], None, ALL))
    out.append(("perfect", [v * 1000 for v in range(1, 12)], [2 * v * 1000 for v in range(1, 12)],
                None, ALL))
    out.append(("anti", [v * 10**8 for v in range(10)], [10**12 - 3 * v * 10**8 for v in range(10)],
                None, ALL))
    out.append(("large", [big - rng.randrange(10**15) for _ in range(20)],
                [big - rng.randrange(10**9) for _ in range(20)], None, ALL))
    out.append(("large_tiny_slope", [rng.randrange(big) for _ in range(12)],
                [big - rng.randrange(2) for _ in range(12)], None, ALL))
    out.append(("steep", [5, 5, 6, 5, 6], [0, 0, big, 1, big - 1], None, ALL))
    mask_x = [rng.randrange(10**9) for _ in range(25)]
    mask_y = [2 * v + rng.randrange(10**7) for v in mask_x]
    mask = [rng.randrange(2) for _ in range(25)]
    out.append(("masked", mask_x, mask_y, mask, ALL))
    out.append(("masked_one", [3, 4, 5], [1, 2, 3], [0, 1, 0], ALL))
    out.append(("only_covariance", xs[:10], ys[:10], None, {"covariance"}))
    out.append(("only_regression", xs[:10], ys[:10], None, {"linear_regression"}))
    out.append(("only_correlation_constant", xs[:10], [4] * 10, None, {"correlation"}))
    return out


def deal(values: list[int], rng: random.Random) -> list[list[int]]:
    """Seeded Shamir shares (degree 1, party i at i + 1), one row per party."""
    rows: list[list[int]] = [[] for _ in range(PARTIES)]
    for v in values:
        a = rng.randrange(PRIME)
        for i in range(PARTIES):
            rows[i].append((v + a * (i + 1)) % PRIME)
    return rows


def encode(opened) -> dict:
    return {"covariance_numerator": opened.covariance_numerator,
            "correlation": opened.correlation,
            "slope": None if opened.slope is None else [opened.slope.numerator,
                                                         opened.slope.denominator],
            "intercept_numerator": opened.intercept_numerator,
            "intercept_shift": opened.intercept_shift}


async def main() -> None:
    await mpc.start()
    pid = mpc.pid
    rng = random.Random(SEED + 1)
    report: dict[str, object] = {"party": pid}
    results: dict[str, object] = {}
    chosen = cases()
    if "--deviate" in sys.argv:  # test-only: party 1 shifts its k-th message in the first case
        chosen = chosen[:1]
        if pid == 1:
            arm_shift(int(sys.argv[sys.argv.index("--deviate") + 1]))
    for name, xs, ys, mask, wanted in chosen:
        x = np.array(deal(xs, rng)[pid], dtype=object)
        y = np.array(deal(ys, rng)[pid], dtype=object)
        m = None if mask is None else np.array(deal(mask, rng)[pid], dtype=object)
        n = len(xs) if mask is None else sum(mask)
        start = time.perf_counter()
        opened = await open_bivariate(x, y, m, n, wanted)
        results[name] = {"opened": encode(opened), "seconds": time.perf_counter() - start}
    report["cases"] = results
    if "--bench" in sys.argv:
        size = 10_000
        xs = [rng.randrange(MAX_UNITS) for _ in range(size)]
        ys = [rng.randrange(MAX_UNITS) for _ in range(size)]
        x = np.array(deal(xs, rng)[pid], dtype=object)
        y = np.array(deal(ys, rng)[pid], dtype=object)
        bench: dict[str, list[float]] = {}
        for stat in (*STATISTICS, "all"):
            wanted = ALL if stat == "all" else {stat}
            for masked in (False, True):
                m = np.array(deal([1] * size, rng)[pid], dtype=object) if masked else None
                times = []
                for _ in range(3):
                    await mpc.barrier()
                    start = time.perf_counter()
                    await open_bivariate(x, y, m, size, wanted)
                    times.append(time.perf_counter() - start)
                bench[f"{stat}{'+mask' if masked else ''}"] = times
        report["bench"] = bench
    print(json.dumps(report), flush=True)
    await mpc.shutdown()


if __name__ == "__main__":
    mpc.run(main())
