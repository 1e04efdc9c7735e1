"""MPyC party program for tests/test_ingest_active.py (run as 3 processes).

Every party derives the same seeded Shamir shares of ``--inputs`` valid layouts followed by the
invalid ones of ``BAD`` (a value ≥ 2^57, a two-hot digit, and last a row whose party-2
share is off the line), runs ``ingest.check_rows`` on its own share rows and prints one
JSON line: the verdicts, the seconds check_rows took and what product_check has left
pending.

Test-only deviations of party ``DEVIANT`` (it plays a malicious party colluding with the
providers, so it knows every plaintext layout and, once the joint seed is open, the public
coefficients of check 2):

* ``--accept-big``: shift the resharing of the degree-2 part q = Σ_t ρ_t·u_t² of the
  ">= 2^57" row so that the opened check value becomes exactly 0 — consistently (peer j gets
  δ·(x_j − x_self) more, as ``product_check_party.arm``), so the honest parties hold a valid
  degree-1 sharing of q − E (E: the value the row should open to) and no opening
  check can see it. Under ``--security semi-honest`` it instead shifts its share of the degree-2 opening
  (today's protocol: no redundancy, so the "≥ 2^57" row is accepted — the attack the
  active mode closes);
* ``--accept-two-hot``: the same for the two-hot row;
* ``--reject-good``: the same shift by 1 on the first (valid) row: an honest provider
  would be rejected;
* ``--lie-open``: shift its share in the final (checked) opening of the check values;
* ``--skip-verify`` (all parties; the defence removed, to show the attacks are aimed right):
  ``product_check.verify`` does nothing.

``--expected``: check against expected values (as ``verify_inputs`` does): each row's own
value, except row 1's plus one. ``--security semi-honest|malicious`` sets
``product_check``; ``--memory`` adds the peak of Python/NumPy allocations during
check_rows (tracemalloc: slower) to the JSON line; ``--profile`` prints party 0's profile
of check_rows; ``--trace`` prints every message the deviant sends (index, label, bytes)
to stderr.
"""

from __future__ import annotations

import json
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mpc_programs.runtime import product_check  # noqa: E402
from mpc_programs.runtime.hardened_runtime import HardenedExchanger, mpc  # noqa: E402
from mpc_programs.shares import f192  # noqa: E402
from mpc_programs.shares.field import (DIGIT_BASE, DIGITS, PARTIES, PRIME,  # noqa: E402
                                       SHARES_PER_INPUT)
from mpc_programs.verification import ingest  # noqa: E402
from mpcstats.benchmarks.pool_sharing import one_hot_many  # noqa: E402

SEED = 15
DEVIANT = 1
WIDTH = 24
BAD = ("big", "two-hot", "inconsistent")
ACCEPT = ("accept-big", "accept-two-hot")


def _arg(name: str, default: str) -> str:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def layouts(n: int) -> np.ndarray:
    """The plaintext layouts: n valid ones, then BAD (object array (n + 3, 241))."""
    rng = np.random.default_rng(SEED)
    units = [int(u) for u in rng.integers(0, 1 << 57, size=n + 3, dtype=np.int64)]
    units[n:] = [5, 3, 7]
    rows = one_hot_many(units)
    # big: 2^57 + 5 — the top digit (0..1 allowed) becomes 2, the value matches the digits
    top = (DIGITS - 1) * DIGIT_BASE
    rows[n, top + 0] = 0
    rows[n, top + 2] = 1
    rows[n, -1] = (1 << 57) + 5
    rows[n + 1, 16 * 3 + 7] = 1  # two-hot: digit 3 is now 3 and 7
    return rows


def shares(rows: np.ndarray) -> np.ndarray:
    """This party's seeded degree-1 shares of ``rows`` as (N, 241, 3) limbs; party 2's share
    of entry 5 of the last row is moved off the line."""
    count = rows.size
    secret = f192.from_ints([int(v) % PRIME for v in rows.reshape(-1)])
    rng = np.random.default_rng(SEED + 1)
    coefficients = rng.integers(0, 1 << 63, size=(1, count, 3), dtype=np.uint64)
    points = f192.shamir_points(secret, coefficients, np.arange(1, PARTIES + 1, dtype=np.int64),
                                np.empty((PARTIES, count, 3), np.uint64))
    mine = points[mpc.pid].reshape(rows.shape[0], SHARES_PER_INPUT, 3).copy()
    if mpc.pid == 2:
        mine[-1, 5] = f192.from_ints([(f192.to_ints(mine[-1, 5:6])[0] + 1) % PRIME])[0]
    return mine


def check_value(row: np.ndarray, seed: int) -> int:
    """The value check 2 opens for the plaintext ``row`` (0 iff valid, w.h.p.)."""
    return ingest.opened_value(list(row), seed, product_check.active())


def arm(target: str | None, rows: np.ndarray, n_valid: int, trace: bool) -> None:
    """Hook the deviant's sends (see the module doc)."""
    original = HardenedExchanger.send
    counts: dict[int, int] = {}
    seed: list[int] = []
    kept = rows.shape[0] - 1  # the inconsistent row never reaches check 2's resharing
    original_seed = ingest._joint_seed

    async def joint_seed() -> int:
        seed.append(await original_seed())
        return seed[-1]
    ingest._joint_seed = joint_seed  # type: ignore[assignment]

    def send(self: HardenedExchanger, pc: int, payload: bytes) -> None:
        k = counts.get(self.peer_pid, 0)
        counts[self.peer_pid] = k + 1
        if trace:
            print(f"send {k} label {pc} to {self.peer_pid}: {len(payload)} bytes",
                  file=sys.stderr, flush=True)
        x_self, x_peer = mpc.pid + 1, self.peer_pid + 1
        victim = n_valid + (1 if target == "accept-two-hot" else 0)
        if target in ACCEPT and not product_check.active() and seed \
                and payload[:1] == b"A" and len(payload) == 12 + rows.shape[0] * WIDTH \
                and payload[11] == WIDTH:
            # semi-honest: the degree-2 opening itself (peer_codec array: 12-byte header,
            # then 24 bytes per value); opened = Σ λ_i·s_i with λ = (3, −3, 1): moving this
            # party's share by −E/λ_self opens E − E = 0
            lam = (3, -3, 1)[mpc.pid]
            shift = -check_value(rows[victim], seed[0]) * pow(lam, -1, PRIME) % PRIME
            payload = payload[:12] + _shift(payload[12:], victim, shift)
            print(f"deviating: shifted the degree-2 opening of row {victim} (label {pc}) "
                  f"to party {self.peer_pid}", file=sys.stderr, flush=True)
        elif target in (*ACCEPT, "reject-good") and seed and len(payload) == kept * WIDTH \
                and not getattr(send, "done", set()) >= {self.peer_pid}:
            # the first message of one value per kept row after the seed: q's resharing
            if target in ACCEPT:
                # the opened value is q + (linear terms): q − E opens E − E = 0
                element, shift = victim, -check_value(rows[victim], seed[0]) % PRIME
            else:
                element, shift = 0, 1
            # g(X) = f(X) + δ·(X − x_self) with δ = −shift/x_self: q grows by ``shift``
            delta = -shift * pow(x_self, -1, PRIME) % PRIME
            payload = _shift(payload, element, delta * (x_peer - x_self))
            send.done = getattr(send, "done", set()) | {self.peer_pid}  # type: ignore[attr-defined]
            print(f"deviating: shifted q of row {element} (label {pc}) to party {self.peer_pid}",
                  file=sys.stderr, flush=True)
        elif target == "lie-open" and seed and getattr(send, "final", None) == pc:
            payload = _shift(payload, 0, 1)
            print(f"deviating: lied in the opening (label {pc}) to party {self.peer_pid}",
                  file=sys.stderr, flush=True)
        original(self, pc, payload)
    HardenedExchanger.send = send  # type: ignore[method-assign]

    if target == "lie-open":
        from mpc_programs.runtime import fast_mpc
        opener = fast_mpc.open_limbs

        async def open_limbs(values: np.ndarray) -> np.ndarray:
            if np.shape(values)[0] == kept:  # the check values (after the product check)
                send.final = mpc._program_counter[0] + 1  # type: ignore[attr-defined]
            return await opener(values)
        fast_mpc.open_limbs = open_limbs  # type: ignore[assignment]


def _shift(payload: bytes, element: int, amount: int) -> bytes:
    a, b = element * WIDTH, (element + 1) * WIDTH
    value = (int.from_bytes(payload[a:b], "little") + amount) % PRIME
    return payload[:a] + value.to_bytes(WIDTH, "little") + payload[b:]


async def main() -> None:
    product_check.configure(_arg("--security", "malicious"))
    n = int(_arg("--inputs", "4"))
    await mpc.start()
    rows = layouts(n)
    mine = shares(rows)
    target = next((a[2:] for a in ("--accept-big", "--accept-two-hot", "--reject-good",
                                   "--lie-open")
                   if a in sys.argv), None)
    if mpc.pid == DEVIANT and (target or "--trace" in sys.argv):
        arm(target, rows, n, "--trace" in sys.argv)
    if "--skip-verify" in sys.argv:
        async def skip(step: str) -> None:
            product_check._pending.clear()
        product_check.verify = skip  # type: ignore[assignment]
    expected = None
    if "--expected" in sys.argv:  # the layouts' own values, row 1's plus one (a mismatch)
        expected = np.array(f192.to_ints(np.ascontiguousarray(mine[:, -1])), dtype=object)
        expected[1] = (expected[1] + 1) % PRIME
    if "--memory" in sys.argv:
        tracemalloc.start()
    started = time.perf_counter()
    if "--profile" in sys.argv and mpc.pid == 0:  # where the time goes (stderr)
        import cProfile
        import pstats
        profile = cProfile.Profile()
        profile.enable()
        verdicts = await ingest.check_rows(mine, expected_values=expected)
        profile.disable()
        pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(14)
    else:
        verdicts = await ingest.check_rows(mine, expected_values=expected)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if tracemalloc.is_tracing() else 0
    tracemalloc.stop()
    print(json.dumps({"verdicts": verdicts, "seconds": round(seconds, 3),
                      "peak_mib": round(peak / 2**20, 1),
                      "pending": product_check.pending(),
                      "security": product_check.security()}), flush=True)
    await mpc.shutdown()


if __name__ == "__main__":
    mpc.run(main())
