"""MPyC party program for tests/test_dealing_mpc.py (run as 3 processes).

Reads its part of the job ($MPCSTATS_TEST_JOB: per party, per provider, the public dealing, this
party's part and its rows' upload texts), runs ``verify_inputs.dealing_verdicts`` and then
``ingest.check_rows`` over the layouts of the providers that passed (with ``dealt`` set, or
not with ``--undealt``), and prints one JSON line: both verdict lists.

Test-only deviations of party ``DEVIANT`` (``--attack``):

* ``false-complaint``: complain about provider 0 with its true share and the dealer's signature;
* ``forged-complaint``: complain about provider 0 with a share it changed, under the dealer's
  signature;
* ``lie-consistency``: add 1 to its first value of ``ingest``'s consistency test (check 1),
  which makes row 0 fail that test at every party.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mpc_programs.runtime import product_check  # noqa: E402
from mpc_programs.runtime.hardened_runtime import mpc  # noqa: E402
from mpc_programs.shares import dealing  # noqa: E402
from mpc_programs.shares.field import PRIME  # noqa: E402
from mpc_programs.shares.store import decode_row, encode_row  # noqa: E402
from mpc_programs.verification import ingest, verify_inputs  # noqa: E402

DEVIANT = 1


def _arg(name: str, default: str) -> str:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def _items(job: list[dict]) -> list[verify_inputs.DealtRows]:
    items = []
    for k, doc in enumerate(job):
        names = list(doc["texts"])
        items.append(verify_inputs.DealtRows(
            f"provider-{k}", dealing.PublicDealing.from_json(doc["public"], names),
            dealing.PartyDealing.from_json(doc["part"], names),
            {n: decode_row(t) for n, t in doc["texts"].items()}, doc["texts"]))
    return items


def _arm(attack: str, items: list[verify_inputs.DealtRows]) -> None:
    if attack == "false-complaint":
        honest = dealing.own_shares_hold

        def says_no(point, publics, rows, parts):  # type: ignore[no-untyped-def]
            return [False] + honest(point, publics[1:], rows[1:], parts[1:])
        dealing.own_shares_hold = says_no  # type: ignore[assignment]
    elif attack == "forged-complaint":
        first = items[0]
        changed = [(v + 1) % PRIME for v in first.rows[dealing.LAYOUT]]
        items[0] = verify_inputs.DealtRows(
            first.input_id, first.public, first.part, {**first.rows, dealing.LAYOUT: changed},
            {**first.texts, dealing.LAYOUT: encode_row(changed)})
    elif attack == "lie-consistency":
        transfer = mpc.transfer
        armed = [True]

        def lying(obj, *args, **kwargs):  # type: ignore[no-untyped-def]
            if armed[0] and isinstance(obj, list) and obj and all(type(v) is int for v in obj):
                armed[0] = False
                obj = [(obj[0] + 1) % PRIME, *obj[1:]]
                print("deviating in check 1", file=sys.stderr, flush=True)
            return transfer(obj, *args, **kwargs)
        mpc.transfer = lying  # type: ignore[method-assign]
    print(f"deviating: {attack}", file=sys.stderr, flush=True)


async def main() -> None:
    product_check.configure("malicious")
    await mpc.start()
    items = _items(json.loads(Path(os.environ["MPCSTATS_TEST_JOB"]).read_text())[mpc.pid])
    attack = _arg("--attack", "")
    if attack and mpc.pid == DEVIANT:
        _arm(attack, items)
    passed = await verify_inputs.dealing_verdicts(items)
    kept = [i for i, ok in enumerate(passed) if ok]
    rows = np.array([items[i].rows[dealing.LAYOUT] for i in kept], dtype=object)
    dealt = None if "--undealt" in sys.argv else np.ones(len(kept), dtype=bool)
    verdicts = await ingest.check_rows(rows, dealt=dealt)
    print(json.dumps({"dealing": passed, "kept": kept, "check": verdicts}), flush=True)
    await mpc.shutdown()


if __name__ == "__main__":
    mpc.run(main())
