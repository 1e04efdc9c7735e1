"""MPyC party program for tests/test_key_bits.py (run as 3 processes): a verification batch of
synthetic providers (``mpcstats.benchmarks.verify_demo``) whose keys are dealt as bits
(``--keys bits``, as providers upload them) or as GF(2^8) shares (``--keys gf256``). Prints the
verdicts as one JSON line.

``--lie-key-check``: party ``DEVIANT`` sends a wrong share of provider 0's first key byte in the
key-share consistency check (``aes_gcm_mpc.check_key_shares``), and only there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mpc_programs.runtime import product_check  # noqa: E402
from mpc_programs.runtime.hardened_runtime import mpc  # noqa: E402
from mpc_programs.shares.field import PRIME, WIDE_SECINT_BITS  # noqa: E402
from mpc_programs.verification import aes_gcm_mpc  # noqa: E402
from mpc_programs.verification.verify_inputs import dealt_keys  # noqa: E402
from mpcstats.benchmarks.verify_demo import dealt_key_rows, synthetic_batch  # noqa: E402

DEVIANT = 1
BATCH = 3


def _arm_lie() -> None:
    honest = aes_gcm_mpc.check_key_shares

    async def lying(engine, keys):  # type: ignore[no-untyped-def]
        keys = np.array(keys, copy=True)
        keys[0, 0] ^= 1
        print("deviating: a wrong key share in the consistency check", file=sys.stderr, flush=True)
        return await honest(engine, keys)
    aes_gcm_mpc.check_key_shares = lying  # type: ignore[assignment]


async def main() -> None:
    product_check.configure("malicious")
    await mpc.start()
    if "--lie-key-check" in sys.argv and mpc.pid == DEVIANT:
        _arm_lie()
    records, inputs, client_keys = synthetic_batch(BATCH, 5, 128, mpc.pid, len(mpc.parties))
    secint = mpc.SecInt(WIDE_SECINT_BITS, p=PRIME)
    if sys.argv[sys.argv.index("--keys") + 1] == "bits":
        rows = dealt_key_rows(records, client_keys, 5, mpc.pid, len(mpc.parties))
        inputs, dealt, _ = await dealt_keys(inputs, rows)
        verdicts, _ = await aes_gcm_mpc.verify_batch_values(inputs, secint, keys_dealt=dealt)
    else:
        verdicts, _ = await aes_gcm_mpc.verify_batch_values(inputs, secint)
    print(json.dumps({"verdicts": [bool(v) for v in verdicts]}), flush=True)
    await mpc.shutdown()


if __name__ == "__main__":
    mpc.run(main())
