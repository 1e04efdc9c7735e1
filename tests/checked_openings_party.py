"""MPyC party program for tests/test_checked_openings.py (run as 3 processes).

Honest run: opens secure integers (``mpc.output`` of a list), secure arrays and
``fast_mpc.open_limbs`` and prints one JSON line with what it opened.

``--deviate output`` / ``--deviate limbs`` (test-only): party 1 adds 1 to the first
element of the share it sends in one opening — ``mpc.output`` of a secint array, or
``fast_mpc.open_limbs`` — to both other parties (its send is monkeypatched in this one
process). The honest parties must abort before outputting anything.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mpc_programs.runtime import fast_mpc, peer_codec  # noqa: E402
from mpc_programs.runtime.hardened_runtime import HardenedExchanger, mpc  # noqa: E402
from mpc_programs.runtime.secure_types import local_array, secint  # noqa: E402
from mpc_programs.shares import f192  # noqa: E402
from mpc_programs.shares.field import PARTIES, PRIME  # noqa: E402

WIDTH = 24
VALUES = [0, 1, 2, 12345, PRIME - 1, PRIME // 2, 2**64, 7]
DEVIANT = 1


def deal(values: list[int]) -> list[list[int]]:
    """Fixed degree-1 Shamir shares (party i at i + 1), one row per party."""
    return [[(v + (17 * k + 3) * (i + 1)) % PRIME for k, v in enumerate(values)]
            for i in range(PARTIES)]


def _plus_one(payload: bytes) -> bytes:
    """The same share message with 1 added (mod p) to its first element."""
    try:
        value = peer_codec.decode(payload)
    except peer_codec.PeerMessageError:
        value = None
    if isinstance(value, np.ndarray):  # a field array, in the strict codec
        flat = value.reshape(-1).copy()
        flat[0] = (int(flat[0]) + 1) % PRIME
        return peer_codec.encode(flat.reshape(value.shape))
    first = (int.from_bytes(payload[:WIDTH], "little") + 1) % PRIME  # raw field elements
    return first.to_bytes(WIDTH, "little") + payload[WIDTH:]


def arm_deviation() -> None:
    """Shift the share in every message of the next label this party sends."""
    original = HardenedExchanger.send
    target: dict[str, int] = {}

    def send(self: HardenedExchanger, pc: int, payload: bytes) -> None:
        target.setdefault("pc", pc)
        if pc == target["pc"]:
            payload = _plus_one(payload)
            print(f"deviating at label {pc} to party {self.peer_pid}", file=sys.stderr,
                  flush=True)
        original(self, pc, payload)
    HardenedExchanger.send = send  # type: ignore[method-assign]


async def main() -> None:
    await mpc.start()
    pid = mpc.pid
    share = np.array(deal(VALUES)[pid], dtype=object)
    limbs = fast_mpc.to_limbs(share)
    if "--deviate" in sys.argv:
        mode = sys.argv[sys.argv.index("--deviate") + 1]
        # one honest opening first: the parties are in step when the deviation comes
        warm = await mpc.output(local_array(share, True))
        print(json.dumps({"warm": [int(v) % PRIME for v in warm]}), flush=True)
        if pid == DEVIANT:
            arm_deviation()
        if mode == "output":
            opened = await mpc.output(local_array(share, True))
        else:
            opened = f192.to_ints(await fast_mpc.open_limbs(limbs))
        print(json.dumps({"opened": [int(v) % PRIME for v in opened]}), flush=True)
        await mpc.shutdown()
        return
    report: dict[str, object] = {"party": pid}
    ints = [secint(v) for v in (3, -5, 1000)]
    report["secints"] = await mpc.output(ints)
    report["secint"] = await mpc.output(ints[0] * ints[1])
    report["array"] = [int(v) % PRIME for v in await mpc.output(local_array(share, True))]
    report["array_2d"] = (np.asarray(await mpc.output(local_array(share.reshape(2, -1), True)),
                                     dtype=object) % PRIME).tolist()
    report["limbs"] = f192.to_ints(await fast_mpc.open_limbs(limbs.reshape(2, -1, 3)))
    report["limbs_shape"] = list((await fast_mpc.open_limbs(limbs.reshape(2, -1, 3))).shape)
    print(json.dumps(report), flush=True)
    await mpc.shutdown()


if __name__ == "__main__":
    mpc.run(main())
