"""MPyC party program for tests/test_key_bits.py (run as 3 processes).

Every party holds its share of a seeded sharing of the bits of ``KEYS`` (the last key's first
"bit" is 2: a provider that dealt a non-bit), turns them into GF(2^8) shares of the key bytes
(``key_bits.bytes_from_bits``), then opens the bytes (after ``gf256_check``) and prints one JSON
line: the keys in hex and which bytes came from bits.

Test-only deviations of party ``DEVIANT`` (``--attack``):

* ``wrong-product``: add 1 to its share of the first product k·r (an additive error);
* ``inconsistent-dabit``: deal its first daBit as b in GF(2^8) and 1 − b in GF(p).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mpc_programs.runtime import fast_mpc, product_check  # noqa: E402
from mpc_programs.runtime.hardened_runtime import mpc  # noqa: E402
from mpc_programs.runtime.secure_types import secint  # noqa: E402
from mpc_programs.shares import f192  # noqa: E402
from mpc_programs.shares.dealing import key_bits as bits_of  # noqa: E402
from mpc_programs.verification import gf256_check, key_bits  # noqa: E402
from mpc_programs.verification.gf256_mpc import Gf256Engine  # noqa: E402
from deviation import deal  # noqa: E402

DEVIANT = 1
SEED = 7
KEYS = [bytes(range(16)), bytes(random.Random(SEED).randbytes(32)), b"\xff" * 16]


def _bits() -> list[int]:
    bits = [b for key in KEYS for b in bits_of(key)]
    bits[-8 * len(KEYS[-1])] = 2  # the last key's first bit: no bit
    return bits


def _arm(attack: str) -> None:
    if attack == "wrong-product":
        original = fast_mpc.multiply_limbs

        async def wrong(left, right):  # type: ignore[no-untyped-def]
            out = await original(left, right)
            out = out.copy()
            out[0] = f192.from_ints([f192.to_ints(out[:1])[0] + 1])[0]
            print("deviating: a wrong product share", file=sys.stderr, flush=True)
            return out
        fast_mpc.multiply_limbs = wrong  # type: ignore[assignment]
    elif attack == "inconsistent-dabit":
        from aes_gcm_party import arm_inconsistent_dabit
        arm_inconsistent_dabit()


async def main() -> None:
    product_check.configure(sys.argv[sys.argv.index("--security") + 1]
                            if "--security" in sys.argv else "malicious")
    await mpc.start()
    if "--attack" in sys.argv and mpc.pid == DEVIANT:
        _arm(sys.argv[sys.argv.index("--attack") + 1])
    engine = Gf256Engine(mpc)
    mine = f192.from_ints(deal(_bits(), random.Random(SEED)))
    shares, are_bits = await key_bits.bytes_from_bits(engine, mpc, secint, mine)
    if product_check.active():
        await gf256_check.verify(engine, "test: the daBits' GF(2^8) halves")
    opened, _ = await engine.open(shares)
    out, start = [], 0
    for key in KEYS:
        out.append(bytes(opened[start:start + len(key)]).hex())
        start += len(key)
    print(json.dumps({"keys": out, "are_bits": np.asarray(are_bits).tolist()}), flush=True)
    await mpc.shutdown()


if __name__ == "__main__":
    mpc.run(main())
