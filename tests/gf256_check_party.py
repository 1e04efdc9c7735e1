"""MPyC party program for tests/test_gf256_check.py (run as 3 processes).

Every party takes its seeded Shamir shares of GF(2^8) vectors and runs the engine on them:

* default: two products sharing a left operand, ``z = x·y`` and ``z2 = x·y2`` (one
  resharing round), recorded on a ``gf256_check.TripleRecorder``, verified, then opened;
* ``--linear``: ``mul_frob`` outputs the plain product p = a·b and o = L(p) for the S-box's
  linear map in one round; (a, b, p) is recorded as a triple, [L(p)] computed by the masked
  opening with PRSS bits (``gf256_check.linear_map``) and o − [L(p)] recorded as zero;
* ``--kk``: K·K and K·GF(2^8) products of shared values (``mul_kk``, ``mul_k_gf``), opened;
* ``--bench N``: verify N recorded products three times and print the median wall time.

``--deviate K`` (test-only): party 1 changes byte ``--byte B`` (default 0) of the K-th message
it sends to each peer after the inputs are dealt. The shift is *consistent*: peer j gets
δ·(α_j + α_self) more (GF(2^8); α = pid+1), so a resharing stays a valid degree-1 sharing of a
value shifted by δ·α_self — invisible to any opening check. ``--only-peer J`` shifts the
message to party J only (an inconsistent sharing).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mpc_programs.runtime.hardened_runtime import HardenedExchanger, mpc  # noqa: E402
from mpc_programs.verification import gf256, gf256_check  # noqa: E402
from mpc_programs.verification.gf256_mpc import Gf256Engine  # noqa: E402

SEED = 15
N = 40
DEVIANT = 1
DELTA = 0x5A


def values(n: int = N) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    return {name: rng.integers(0, 256, n, dtype=np.uint8) for name in ("x", "y", "y2")}


def shares(n: int = N) -> dict[str, np.ndarray]:
    """This party's seeded degree-1 shares of every vector (the same dealing at all parties)."""
    rng = np.random.default_rng(SEED + 1)
    return {name: gf256.shamir_share(v, 3, 1, rng=rng)[mpc.pid] for name, v in values(n).items()}


def arm(index: int, byte: int, only_peer: int | None) -> None:
    """Shift byte ``byte`` of the ``index``-th message to each peer (see the module doc)."""
    original = HardenedExchanger.send
    counts: dict[int, int] = {}

    def send(self: HardenedExchanger, pc: int, payload: bytes) -> None:
        k = counts.get(self.peer_pid, 0)
        counts[self.peer_pid] = k + 1
        if k == index and only_peer in (None, self.peer_pid):
            shift = int(gf256.MUL[DELTA, (self.peer_pid + 1) ^ (mpc.pid + 1)])
            data = bytearray(payload)
            data[byte] ^= shift
            payload = bytes(data)
            print(f"deviating in message {k} byte {byte} (label {pc}) to party "
                  f"{self.peer_pid}", file=sys.stderr, flush=True)
        original(self, pc, payload)
    HardenedExchanger.send = send  # type: ignore[method-assign]


def _arg(name: str, default: int | None = None) -> int | None:
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


async def triples(engine: Gf256Engine) -> dict:
    sh = shares()
    z, z2 = await engine.mul_frob([(sh["x"], sh["y"], [[(0, 1)]]),
                                   (sh["x"], sh["y2"], [[(0, 1)]])])
    recorder = gf256_check.TripleRecorder()
    recorder.record(sh["x"], sh["y"], z)
    recorder.record(sh["x"], sh["y2"], z2)
    pending = recorder.pending()
    await recorder.verify(engine, "test")
    opened = await gf256_check.open_checked(engine, np.concatenate([z, z2]), "output")
    return {"pending": pending, "z": opened[:N].tolist(), "z2": opened[N:].tolist()}


async def linear(engine: Gf256Engine) -> dict:
    sh = shares()
    a, b = sh["x"], sh["y"]
    terms = list(enumerate(gf256.SBOX_LINEAR))
    p, o = await engine.mul_frob([(a, b, [[(0, 1)], terms])])
    recorder = gf256_check.TripleRecorder()
    recorder.record(a, b, p)
    lp = await gf256_check.linear_map(engine, p, gf256.SBOX_LINEAR)
    recorder.record_zero(o ^ lp)
    await recorder.verify(engine, "test")
    opened = await gf256_check.open_checked(engine, np.concatenate([o, lp]), "output")
    return {"o": opened[:N].tolist(), "lp": opened[N:].tolist()}


async def kk(engine: Gf256Engine) -> dict:
    rng = np.random.default_rng(SEED + 2)
    a, b = (rng.integers(0, 256, (N, gf256_check.DEGREE), dtype=np.uint8) for _ in range(2))
    sa, sb = (gf256.shamir_share(v, 3, 1, rng=rng)[mpc.pid] for v in (a, b))
    ab = await gf256_check.mul_kk(engine, sa, sb)
    ax = await gf256_check.mul_k_gf(engine, sa, shares()["x"])
    opened = await gf256_check.open_checked(engine, np.stack([ab, ax]), "output")
    return {"ab": opened[0].tolist(), "ax": opened[1].tolist()}


async def bench(engine: Gf256Engine, n: int) -> dict:
    sh = shares(n)
    times, mul_times = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        z = await engine.mul(sh["x"], sh["y"])
        t1 = time.perf_counter()
        recorder = gf256_check.TripleRecorder()
        recorder.record(sh["x"], sh["y"], z)
        await recorder.verify(engine, "bench")
        t2 = time.perf_counter()
        mul_times.append(t1 - t0)
        times.append(t2 - t1)
    return {"n": n, "verify_s": statistics.median(times), "verify_all_s": times,
            "mul_s": statistics.median(mul_times)}


async def main() -> None:
    await mpc.start()
    engine = Gf256Engine(mpc)
    if "--deviate" in sys.argv and mpc.pid == DEVIANT:
        arm(_arg("--deviate"), _arg("--byte", 0), _arg("--only-peer"))
    if "--bench" in sys.argv:
        report = await bench(engine, _arg("--bench"))
    elif "--kk" in sys.argv:
        report = await kk(engine)
    elif "--linear" in sys.argv:
        report = await linear(engine)
    else:
        report = await triples(engine)
    print(json.dumps(report), flush=True)
    await mpc.shutdown()


if __name__ == "__main__":
    mpc.run(main())
