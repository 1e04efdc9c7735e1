"""MPyC party program for tests/test_aes_gcm_mpc.py (run as 3 processes).

Rebuilds the deterministic cases, runs the MPC pieces on this party's shares and prints one JSON
line with what was opened. Opening AES outputs, round keys and balances happens here only, so the
test can compare them with ``cryptography`` and the plaintexts.

``--security LEVEL``: ``product_check.configure(LEVEL)`` (default malicious).
``--attack K``: only the mixed batch's ``verify_batch`` runs, and party 1 shifts its message to
each peer in the K-th resharing of ``Gf256Engine.mul_frob`` (counted from 0; the S-box's rounds
come first), byte ``--byte B`` (default 0), *consistently*: peer j gets δ·(α_j + α_1) more
(GF(2^8), α = pid+1), so the honest parties hold a valid degree-1 sharing of a wrong product.
``--bad-dabit gf256|prime``: only the mixed batch runs, and party 1 (a daBit dealer) deals a
non-bit as its first daBit, in one field only: in GF(2^8) 2 + its random bit b (bit 0 still
agrees with the GF(p) half, so only the bit check can catch it), in GF(p) the value 2.
``--inconsistent-dabit``: only the mixed batch runs, and the daBit dealer ``--deviant P``
(0 or 1, default 1) deals its first daBit as b in GF(2^8) and 1 − b in GF(p) (two valid bits).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from mpc_programs.runtime import product_check
from mpc_programs.runtime.hardened_runtime import mpc

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aes_gcm_cases import aes_vectors, build_cases  # noqa: E402

from mpc_programs.verification.aes_gcm_mpc import (  # noqa: E402
    check_key_shares,
    key_share_as_secfld,
    load_key_share,
    verify_batch,
)
from mpc_programs.verification.aes_mpc import encrypt  # noqa: E402
from mpc_programs.shares.field import PRIME, WIDE_SECINT_BITS  # noqa: E402
from mpc_programs.verification.gf256_mpc import Gf256Engine  # noqa: E402


DEVIANT = 1
DELTA = 0x5A


def _arg(name: str, default: str | None = None) -> str | None:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def arm(call: int, byte: int) -> None:
    """Shift byte ``byte`` of this party's messages in the ``call``-th mul_frob resharing."""
    from mpc_programs.runtime.hardened_runtime import HardenedExchanger
    from mpc_programs.verification import gf256

    armed: set[int] = set()
    calls = [0]
    original_mul_frob = Gf256Engine.mul_frob
    original_send = HardenedExchanger.send

    async def mul_frob(self, items):  # type: ignore[no-untyped-def]
        if calls[0] == call:
            armed.update(j for j in range(self.m) if j != self.pid)
        calls[0] += 1
        try:
            return await original_mul_frob(self, items)
        finally:
            armed.clear()

    def send(self: HardenedExchanger, pc: int, payload: bytes) -> None:
        if self.peer_pid in armed:
            armed.discard(self.peer_pid)
            data = bytearray(payload)
            data[byte] ^= int(gf256.MUL[DELTA, (self.peer_pid + 1) ^ (mpc.pid + 1)])
            payload = bytes(data)
            print(f"deviating in mul_frob call {call} byte {byte} to party {self.peer_pid}",
                  file=sys.stderr, flush=True)
        original_send(self, pc, payload)

    Gf256Engine.mul_frob = mul_frob  # type: ignore[method-assign]
    HardenedExchanger.send = send  # type: ignore[method-assign]


def arm_bad_dabit(field: str) -> None:
    """Party 1 deals a non-bit (2) as its first daBit, in one field (see the module doc)."""
    if field == "gf256":
        original_deal = Gf256Engine.deal

        async def deal(self, values, dealers, shape):  # type: ignore[no-untyped-def]
            if values is not None and len(shape) == 2 and shape[1] == 8:
                values = values.copy()
                values[0, 0] |= 2
                print("dealing a non-bit in GF(2^8)", file=sys.stderr, flush=True)
            return await original_deal(self, values, dealers, shape)
        Gf256Engine.deal = deal  # type: ignore[method-assign]
    else:
        def bad(mine):  # type: ignore[no-untyped-def]
            if mine is not None:
                mine = mine.copy()
                mine[0, 0] = 2
                print("dealing a non-bit in GF(p)", file=sys.stderr, flush=True)
            return mine
        _change_prime_dabits(bad)


def _change_prime_dabits(change) -> None:  # type: ignore[no-untyped-def]
    """This dealer's GF(p) bits pass through ``change`` before they are input (in both the
    checked and the plain dealing); its GF(2^8) bits are dealt unchanged."""
    from mpc_programs.verification import dabits

    original = dabits._dabits_prime_checked
    original_plain = dabits._dabits_prime

    async def checked(runtime, sectype, mine, dealers, shape):  # type: ignore[no-untyped-def]
        return await original(runtime, sectype, change(mine), dealers, shape)

    def plain(runtime, sectype, mine, dealers, shape):  # type: ignore[no-untyped-def]
        return original_plain(runtime, sectype, change(mine), dealers, shape)
    dabits._dabits_prime_checked = checked
    dabits._dabits_prime = plain


def arm_inconsistent_dabit() -> None:
    """This dealer's first daBit: b in GF(2^8) (dealt unchanged), 1 − b in GF(p)."""
    def flip(mine):  # type: ignore[no-untyped-def]
        if mine is not None:
            mine = mine.copy()
            mine[0, 0] ^= 1
            print("dealing an inconsistent daBit", file=sys.stderr, flush=True)
        return mine
    _change_prime_dabits(flip)


async def attack() -> None:
    cases = build_cases()
    secint = mpc.SecInt(WIDE_SECINT_BITS, p=PRIME)
    verdicts, balances = await verify_batch([c.inputs[mpc.pid] for c in cases], secint)
    opened = await mpc.output(balances)
    print(json.dumps({"verdicts": {c.name: v for c, v in zip(cases, verdicts, strict=True)},
                      "balances": {c.name: int(b) for c, b in zip(cases, opened, strict=True)}}),
          flush=True)


async def main() -> None:
    product_check.configure(_arg("--security", "malicious"))
    await mpc.start()
    pid = mpc.pid
    if any(flag in sys.argv for flag in ("--attack", "--bad-dabit", "--inconsistent-dabit")):
        if pid == DEVIANT and "--attack" in sys.argv:
            arm(int(_arg("--attack")), int(_arg("--byte", "0")))
        if pid == DEVIANT and "--bad-dabit" in sys.argv:
            arm_bad_dabit(_arg("--bad-dabit"))
        if pid == int(_arg("--deviant", str(DEVIANT))) and "--inconsistent-dabit" in sys.argv:
            arm_inconsistent_dabit()
        await attack()
        await mpc.shutdown()
        return
    report: dict[str, object] = {"party": pid}

    # Raw AES: one batched call per key size, blocks and round keys opened.
    engine = Gf256Engine(mpc)
    aes: list[dict[str, object]] = []
    vectors = aes_vectors()
    for klen in (16, 32):
        group = [v for v in vectors if len(v[0]) == klen]
        keys = np.stack([load_key_share(rows[pid]) for _, _, rows in group])
        blocks = np.array([[list(b) for b in bl] for _, bl, _ in group], dtype=np.uint8)
        ct, rk = await encrypt(engine, keys, blocks)
        ct_open, ct_ok = await engine.open(ct, check=True)
        rk_open, _ = await engine.open(rk)
        for j, (key, _, _) in enumerate(group):
            aes.append({"key": key.hex(), "ct": [bytes(b).hex() for b in ct_open[j]],
                        "round_keys": [bytes(k).hex() for k in rk_open[j]],
                        "consistent": bool(ct_ok[j].all())})
    report["aes"] = aes

    # The same share row seen as an MPyC SecFld(2^8) secure array.
    secfld = mpc.SecFld(2**8)
    report["secfld_modulus"] = int(secfld.field.modulus)
    key, _, rows = vectors[0]
    opened = await mpc.output(key_share_as_secfld(rows[pid], secfld))
    report["secfld_key"] = bytes(int(v) for v in opened).hex()

    # Key-share consistency check alone: honest rows, then one share byte changed per row.
    rows = [v[2][pid] for v in vectors[:3]]
    honest = np.stack([load_key_share(r) for r in rows])
    bad = honest.copy()
    if pid == 2:
        bad[np.arange(3), [0, 7, 15]] ^= np.array([1, 0x80, 0x33], dtype=np.uint8)
    report["key_check"] = {"honest": (await check_key_shares(engine, honest)).tolist(),
                           "tampered": (await check_key_shares(engine, bad)).tolist()}

    # Mixed batch: every case in one run; balances opened for the test only.
    cases = build_cases()
    secint = mpc.SecInt(WIDE_SECINT_BITS, p=PRIME)
    verdicts, balances = await verify_batch([c.inputs[pid] for c in cases], secint)
    report["verdicts"] = {c.name: v for c, v in zip(cases, verdicts, strict=True)}
    report["balances"] = {c.name: int(b) for c, b in zip(cases, await mpc.output(balances), strict=True)}
    report["balance_field"] = balances.sectype.field.modulus == secint.field.modulus

    # Batch of one.
    v1, b1 = await verify_batch([cases[0].inputs[pid]], secint)
    report["single"] = {"verdict": v1[0], "balance": int((await mpc.output(b1))[0])}

    # A narrower integer type over the statistics field, as the statistics engine may use.
    secint64 = mpc.SecInt(64, p=secint.field.modulus)
    v2, b2 = await verify_batch([cases[0].inputs[pid], cases[3].inputs[pid]], secint64)
    report["secint64"] = {"verdicts": v2, "balance": int((await mpc.output(b2))[0]),
                          "same_field": b2.sectype.field.modulus == secint.field.modulus,
                          "bit_length": b2.sectype.bit_length}

    print(json.dumps(report), flush=True)
    await mpc.shutdown()


if __name__ == "__main__":
    mpc.run(main())
