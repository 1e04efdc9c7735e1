"""MPyC party program for tests/test_sort_check.py (run as 3 processes).

Every party deals the same seeded Shamir shares of N small values as one-hot base-4
digits (least significant first) and runs ``secure_sort.ranks_and_carry`` with the values
as the carried column, then ``product_check.verify`` (as the Gini numerator must before
its opening) and opens the ranks and the carried values, printing one JSON line. Each
opening of the sort's shuffled positions is logged to stderr ("opened shuffled
positions").

``--security LEVEL``: ``product_check.configure(LEVEL)`` (default malicious).

``--attack KIND K`` (test-only): party 1 shifts one field element of its messages in the
K-th (from 0) protocol step of KIND, to both other parties:

* ``shuffle``: the K-th shuffle pair step in which party 1 is a sender
  (``fast_mpc.share_sum_limbs``; forward and backward steps alike);
* ``positions``: the resharing of the K-th call of ``secure_sort._stable_positions`` (a
  product: the degree-2 row sums of the counting sort);
* ``tags``: the resharing of the K-th call of ``secure_sort._authenticate`` (the products
  that tag the rows of a shuffle);
* ``tagshift``: every tag of the K-th permutation shifted by the same c in that resharing
  and by −c in party 1's last pair step of the permutation (tag column only): the permuted
  tags come out right, so the rows pass the check after the permutation; only the check
  of the tags' creation sees the deviation. (With ε_i not all equal, passing would depend
  on the secret permutation: the creation check is what makes an abort independent of it.)

``--mode consistent`` (default): peer j gets δ·(x_j − x_1) more, the points of
f(X) + δ·(X − x_1): the honest parties then hold a valid degree-1 sharing of a wrong value,
which no opening check can see. ``--mode plus1``: the first element of the message to
one peer only (party 0) is raised by 1 (an inconsistent sharing). Raw messages are 24-byte
little-endian field elements.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mpc_programs.runtime import fast_mpc, product_check  # noqa: E402
from deviation import deal  # noqa: E402
from mpc_programs.runtime.hardened_runtime import HardenedExchanger, mpc  # noqa: E402
from mpc_programs.shares import f192  # noqa: E402
from mpc_programs.shares.field import PRIME  # noqa: E402
from mpc_programs.statistics import secure_sort  # noqa: E402

SEED = 1515
N = 24
DIGITS = 3  # base-4 digits: values in [0, 64)
DEVIANT = 1
WIDTH = 24


def values() -> list[int]:
    rng = random.Random(SEED)
    return [rng.randrange(4 ** DIGITS) for _ in range(N - 4)] + [7, 7, 0, 63]


def expected() -> tuple[list[int], dict[int, int]]:
    """Stable ascending ranks of the values, and value -> multiset count (for the carry)."""
    vals = values()
    order = sorted(range(N), key=lambda i: (vals[i], i))
    rank = [0] * N
    for position, i in enumerate(order):
        rank[i] = position
    return rank, vals


_state = {"armed": set(), "label": None}


def _patch_send(mode: str) -> None:
    original = HardenedExchanger.send

    def send(self: HardenedExchanger, pc: int, payload: bytes) -> None:
        peer = self.peer_pid
        if peer in _state["armed"] and _state["label"] is not None and pc >= _state["label"]:
            _state["armed"].discard(peer)
            delta = (peer + 1) - (mpc.pid + 1) if mode == "consistent" else 1
            elements = [0]
            if _state.get("columns"):  # tagshift: every element, or every tag
                count = len(payload) // WIDTH
                width = count // N
                elements = range(count) if _state["columns"] == "all" else \
                    range(width - 1, count, width)
                delta *= _state.get("sign", 1)
            data = bytearray(payload)
            for e in elements:
                v = (int.from_bytes(data[e * WIDTH:(e + 1) * WIDTH], "little") + delta) % PRIME
                data[e * WIDTH:(e + 1) * WIDTH] = v.to_bytes(WIDTH, "little")
            payload = bytes(data)
            print(f"deviating in message label {pc} to party {peer}", file=sys.stderr,
                  flush=True)
        original(self, pc, payload)
    HardenedExchanger.send = send  # type: ignore[method-assign]


def _arm(mode: str) -> None:
    _state["label"] = mpc._program_counter[0] + 1
    _state["armed"] = {0, 2} if mode == "consistent" else {0}


def attack(kind: str, index: int, mode: str) -> None:
    _patch_send(mode)
    count = {"n": 0}

    def hit() -> bool:
        k = count["n"]
        count["n"] += 1
        return k == index

    if kind == "shuffle":
        original = fast_mpc.share_sum_limbs

        async def share_sum_limbs(values, senders):
            if mpc.pid in senders and hit():
                _arm(mode)
            return await original(values, senders)
        fast_mpc.share_sum_limbs = share_sum_limbs
    elif kind in ("positions", "tags"):
        name = "_stable_positions" if kind == "positions" else "_authenticate"
        original_step = getattr(secure_sort, name)

        async def step(*args, **kwargs):
            if hit():
                _arm(mode)
            return await original_step(*args, **kwargs)
        setattr(secure_sort, name, step)
    elif kind == "tagshift":
        # the tags of the K-th permutation all shifted by the same c at their creation and
        # by −c after the permutation (party 1's last pair step): the permuted tags come out
        # right whatever the permutation, so only the check of the tags' creation sees it
        original_auth = secure_sort._authenticate
        original_sum = fast_mpc.share_sum_limbs
        steps = {"left": -1}

        async def authenticate(*args, **kwargs):
            if hit():
                _arm(mode)
                _state.update(columns="all", sign=1)
                steps["left"] = 2  # party 1 sends in two of the three pair steps
            return await original_auth(*args, **kwargs)

        async def share_sum_limbs(values, senders):
            if mpc.pid in senders and steps["left"] > 0:
                steps["left"] -= 1
                if steps["left"] == 0:
                    _arm(mode)
                    _state.update(columns="tags", sign=-1)
            return await original_sum(values, senders)
        secure_sort._authenticate = authenticate
        fast_mpc.share_sum_limbs = share_sum_limbs
    else:
        raise SystemExit(f"unknown attack {kind}")


def _log_openings() -> None:
    original = secure_sort._open_permutation

    async def open_permutation(shares):
        out = await original(shares)
        print("opened shuffled positions", file=sys.stderr, flush=True)
        return out
    secure_sort._open_permutation = open_permutation


def onehot_digits(vals: list[int]) -> list[list[list[int]]]:
    return [[[1 if (v >> (2 * t)) & 3 == d else 0 for d in range(4)] for v in vals]
            for t in range(DIGITS)]


async def main() -> None:
    argv = sys.argv
    security = argv[argv.index("--security") + 1] if "--security" in argv else "malicious"
    product_check.configure(security)
    await mpc.start()
    rng = random.Random(SEED + 1)
    vals = values()
    digits = []
    for column in onehot_digits(vals):
        flat = [x for row in column for x in row]
        digits.append(f192.from_ints(deal(flat, rng)).reshape(N, 4, 3))
    carry = f192.from_ints(deal(vals, rng)).reshape(N, 1, 3)
    _log_openings()
    if "--attack" in argv and mpc.pid == DEVIANT:
        i = argv.index("--attack")
        mode = argv[argv.index("--mode") + 1] if "--mode" in argv else "consistent"
        attack(argv[i + 1], int(argv[i + 2]), mode)
    ranks, carried = await secure_sort.ranks_and_carry(digits, carry)
    pending = product_check.pending()
    await product_check.verify("sort test end")
    opened_ranks = f192.to_ints(await fast_mpc.open_limbs(fast_mpc.to_limbs(ranks)))
    opened_carry = f192.to_ints(await fast_mpc.open_limbs(fast_mpc.to_limbs(carried[:, 0])))
    print(json.dumps({"pending": pending, "ranks": [int(v) for v in opened_ranks],
                      "carry": [int(v) for v in opened_carry]}), flush=True)
    await mpc.shutdown()


if __name__ == "__main__":
    mpc.run(main())
