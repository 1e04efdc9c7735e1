"""MPyC party program for tests/test_fast_mpc_limbs.py (run as 3 processes).

Every party deals the same seeded Shamir shares, keeps its own, runs the resharing
protocols of ``fast_mpc`` (limb-native and object API) and prints one JSON line with
what it opened. ``--rogue`` makes party 1 send a value ≥ p in place of its points of a
resharing: the others must abort naming it.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mpc_programs.runtime import fast_mpc  # noqa: E402
from mpc_programs.runtime.hardened_runtime import mpc  # noqa: E402
from mpc_programs.runtime.secure_types import local_array  # noqa: E402
from mpc_programs.shares import f192  # noqa: E402
from mpc_programs.statistics import secure_sort  # noqa: E402
from mpc_programs.shares.field import PARTIES, PRIME  # noqa: E402

SEED = 20261205
N = 1000


def inputs() -> tuple[list[int], list[int]]:
    rng = random.Random(SEED)
    edges = [0, 1, 2, PRIME - 1, PRIME - 2, PRIME - 237, 2**64, 2**128 - 1, PRIME // 2]
    a = edges + [rng.randrange(PRIME) for _ in range(N - len(edges))]
    b = edges[::-1] + [rng.randrange(PRIME) for _ in range(N - len(edges))]
    return a, b


def deal(values: list[int], rng: random.Random) -> list[list[int]]:
    """Seeded Shamir shares (degree 1, party i at i + 1), one row per party."""
    rows: list[list[int]] = [[] for _ in range(PARTIES)]
    for v in values:
        c = rng.randrange(PRIME)
        for i in range(PARTIES):
            rows[i].append((v + c * (i + 1)) % PRIME)
    return rows


def digest(values: list[int]) -> str:
    """A short fingerprint of field elements (the report stays small: the parties' pipes
    are read one after the other)."""
    return hashlib.sha256(repr([v % PRIME for v in values]).encode()).hexdigest()


async def opened(values) -> str:
    values = np.asarray(values, dtype=object).reshape(-1)
    return digest([int(v) for v in await mpc.output(local_array(values, True))])


async def main() -> None:
    await mpc.start()
    pid = mpc.pid
    rng = random.Random(SEED + 1)
    a_int, b_int = inputs()
    a = np.array(deal(a_int, rng)[pid], dtype=object)
    b = np.array(deal(b_int, rng)[pid], dtype=object)
    a_l, b_l = fast_mpc.to_limbs(a), fast_mpc.to_limbs(b)
    report: dict[str, object] = {"party": pid}
    if "--rogue" in sys.argv:
        product = f192.modmul(a_l, b_l, np.empty_like(a_l))
        if pid == 1:  # a value >= p where its points should be
            pc = fast_mpc._next_label()
            bad = bytearray(f192.to_bytes_le(product))
            bad[24 * 7:24 * 8] = (PRIME + 5).to_bytes(24, "little")
            for j in (0, 2):
                mpc.parties[j].protocol.send(pc, bytes(bad))
            await mpc.shutdown()
            return
        await fast_mpc.reshare_limbs(product)
        report["finished"] = True
        print(json.dumps(report), flush=True)
        await mpc.shutdown()
        return
    # limb-native: product of two shared arrays, in a (N/2, 2, 3) shape
    product = f192.modmul(a_l, b_l, np.empty_like(a_l)).reshape(N // 2, 2, 3)
    shared = await fast_mpc.reshare_limbs(product)
    report["reshare_limbs_shape"] = list(shared.shape)
    report["reshare_limbs"] = await opened(fast_mpc.from_limbs(shared))
    report["multiply_limbs"] = await opened(fast_mpc.from_limbs(
        await fast_mpc.multiply_limbs(a_l, b_l)))
    # object API: products, unreduced and negative degree-2 values, any shape
    report["multiply"] = await opened(await fast_mpc.multiply(a, b))
    pending = fast_mpc.start_reshare((-(a * b)).reshape(10, N // 10))
    report["start_reshare_negative"] = await opened(await pending)
    report["reshare_unreduced"] = await opened(await fast_mpc.reshare(a * b + 5 * PRIME))
    # share_sum: parties 0 and 2 hold additive pieces of a (their 2-point Lagrange
    # coefficients over {1, 3} are 3/2 and -1/2)
    coefficient = {0: 3 * pow(2, -1, PRIME), 2: -pow(2, -1, PRIME)}.get(pid, 0)
    piece = f192.modmul(a_l, np.tile(fast_mpc.constant_limbs(coefficient), (N, 1)),
                        np.empty_like(a_l))
    summed = await fast_mpc.share_sum_limbs(piece, (0, 2))
    report["share_sum_limbs"] = await opened(fast_mpc.from_limbs(summed))
    summed = await fast_mpc.share_sum(fast_mpc.from_limbs(piece), (0, 2))
    report["share_sum"] = await opened(summed)
    # the oblivious sort's limb-native shuffles: a permutation of the rows, undone exactly
    perms = secure_sort._pair_permutations(N)
    rows = np.stack([a_l, b_l], axis=1)
    shuffled = await secure_sort.shuffle_limbs(rows, perms)
    first = await mpc.output(local_array(fast_mpc.from_limbs(shuffled[:, 0]), True))
    second = await mpc.output(local_array(fast_mpc.from_limbs(shuffled[:, 1]), True))
    report["shuffled_pairs"] = digest(sorted(
        (int(x) % PRIME) * PRIME + int(y) % PRIME for x, y in zip(first, second)))
    report["shuffle_moved"] = [int(x) % PRIME for x in first] != a_int
    back = await secure_sort.unshuffle_limbs(shuffled, perms)
    report["unshuffled"] = [await opened(fast_mpc.from_limbs(back[:, 0])),
                            await opened(fast_mpc.from_limbs(back[:, 1]))]
    report["open_limbs"] = digest(f192.to_ints(await fast_mpc.open_limbs(a_l.reshape(10, -1, 3))))
    report["empty"] = list((await fast_mpc.reshare_limbs(np.zeros((0, 3), np.uint64))).shape)
    print(json.dumps(report), flush=True)
    await mpc.shutdown()


if __name__ == "__main__":
    mpc.run(main())
