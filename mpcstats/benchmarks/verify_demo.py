"""Demo: verify a batch of synthetic notarized records inside MPC and time it.

Run with 3 local parties::

    python -m mpcstats.benchmarks.verify_demo -M3 --batch 8 --repeat 3 [--key-bits 256] [--check] [--json]

Every party derives the same B synthetic Binance-like AES-GCM records and the same provider-side
key shares from ``--seed`` (a stand-in for the shares that providers upload), takes its own row,
and runs :func:`mpc_programs.verification.aes_gcm_mpc.verify_batch_values` ``--repeat`` times. It prints the seconds
per batch; with ``--json`` one JSON line per party with the median, the bytes this party sent per
batch and the number accepted. ``--check`` opens the balances (demo only!) and compares them.

``--keys bits`` (the default, what providers upload): the keys are dealt as prime-field bits and
turned into GF(2^8) shares inside MPC (``verify_inputs.dealt_keys``), timed with the batch;
``--keys gf256``: GF(2^8) key shares dealt directly, checked for consistency among the parties.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time

import numpy as np

from mpc_programs.verification.aes_gcm_mpc import (ProviderInput, share_key_bytes,
                                                   verify_batch_values)
from mpc_programs.shares.field import PRIME, WIDE_SECINT_BITS
from mpcstats.benchmarks.synthetic_records import (SyntheticRecord, SyntheticResponse, make_record,
                                                   make_request, make_response, provider_input,
                                                   request_input, response_input)
from mpc_programs.runtime import product_check
from mpc_programs.runtime.hardened_runtime import mpc
from mpc_programs.shares.dealing import CLIENT_KEY, KEY
from mpc_programs.shares.dealing import key_bits as bits_of_key
from mpc_programs.verification.verify_inputs import dealt_keys


def synthetic_batch(batch: int, seed: int, key_bits: int, pid: int, m: int, columns: int = 1,
                    response_bytes: int = 0, tickets: int = 2, bind_request: bool = True
                    ) -> tuple[list[SyntheticRecord | SyntheticResponse], list[ProviderInput],
                               list[bytes | None]]:
    """B honest providers' records, this party's view of their inputs and the client-write keys
    of their bound requests (``columns`` = 2:
    the BTC balance is claimed too, as a second column). ``response_bytes`` > 0: full-size
    responses of about that many bytes over several records (the head, 16 KB body records,
    ``tickets`` TLS 1.3 NewSessionTickets first), every record tag-checked, and (``bind_request``)
    the request checked with the client-write key; 0: one small record."""
    rng = random.Random(seed)
    share_rng = np.random.default_rng(seed)
    records: list[SyntheticRecord | SyntheticResponse] = []
    inputs = []
    client_keys: list[bytes | None] = []
    for i in range(batch):
        eth = b"%d.%08d" % (rng.randrange(0, 100), rng.randrange(0, 10 ** 8))
        balances = {b"BTC": b"0.10000000", b"ETH": eth}
        extra = [b"BTC"] if columns == 2 else []
        if response_bytes:
            resp = make_response(rng, uid=100000000 + i, key_bits=key_bits, balances=balances,
                                 response_bytes=response_bytes, tickets=tickets)
            rows = share_key_bytes(resp.key, m=m, t=(m - 1) // 2, rng=share_rng)
            records.append(resp)
            request, client_key = None, None
            if bind_request:  # the request, bound with the client-write key
                req = make_request(rng, key_bits=key_bits)
                client_rows = share_key_bytes(req.key, m=m, t=(m - 1) // 2, rng=share_rng)
                request, client_key = request_input(req, client_rows[pid]), req.key
            inputs.append(response_input(resp, rows[pid], extra, request=request))
            client_keys.append(client_key)
        else:
            rec = make_record(rng, uid=100000000 + i, key_bits=key_bits, balances=balances)
            rows = share_key_bytes(rec.key, m=m, t=(m - 1) // 2, rng=share_rng)
            records.append(rec)
            inputs.append(provider_input(rec, rows[pid], extra))
            client_keys.append(None)
    return records, inputs, client_keys


def dealt_key_rows(records: list[SyntheticRecord | SyntheticResponse],
                   client_keys: list[bytes | None], seed: int, pid: int, m: int
                   ) -> list[dict[str, list[int]]]:
    """This party's shares of every provider's keys dealt as prime-field bits (a seeded stand-in
    for the rows providers upload: ``shares.dealing``), degree (m − 1) // 2."""
    rng = random.Random(seed + 1)
    t = (m - 1) // 2

    def share(bits: list[int]) -> list[int]:
        out = []
        for b in bits:
            coefficients = [b] + [rng.randrange(PRIME) for _ in range(t)]
            out.append(sum(c * (pid + 1) ** k for k, c in enumerate(coefficients)) % PRIME)
        return out
    rows = []
    for rec, client_key in zip(records, client_keys, strict=True):
        mine = {KEY: share(bits_of_key(rec.key))}
        if client_key is not None:
            mine[CLIENT_KEY] = share(bits_of_key(client_key))
        rows.append(mine)
    return rows


def _bytes_sent() -> int:
    return sum(p.protocol.nbytes_sent for p in mpc.parties if p.pid != mpc.pid and p.protocol)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--key-bits", type=int, choices=(128, 256), default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--columns", type=int, choices=(1, 2), default=1,
                        help="2: verify the BTC balance as a second column too")
    parser.add_argument("--response-bytes", type=int, default=0,
                        help="full-size responses of about this many bytes over several records (0: one small record)")
    parser.add_argument("--security", choices=product_check.SECURITY_LEVELS, default="malicious",
                        help="security level (default malicious: active security with abort)")
    parser.add_argument("--keys", choices=("bits", "gf256"), default="bits",
                        help="how providers deal the record keys (default bits: as uploaded)")
    parser.add_argument("--check", action="store_true", help="open balances and compare (demo)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    product_check.configure(args.security)

    await mpc.start()
    records, inputs, client_keys = synthetic_batch(args.batch, args.seed, args.key_bits, mpc.pid,
                                                   len(mpc.parties), args.columns,
                                                   args.response_bytes)
    secint = mpc.SecInt(WIDE_SECINT_BITS, p=PRIME)
    times, sent, accepted, ok = [], [], 0, True
    for _ in range(args.repeat):
        before = _bytes_sent()
        start = time.perf_counter()
        if args.keys == "bits":
            rows = dealt_key_rows(records, client_keys, args.seed, mpc.pid, len(mpc.parties))
            dealt_inputs, dealt, _ = await dealt_keys(inputs, rows)
            verdicts, values = await verify_batch_values(dealt_inputs, secint, keys_dealt=dealt)
        else:
            verdicts, values = await verify_batch_values(inputs, secint)
        balances = values[:, 0]
        await mpc.gather(balances)
        times.append(time.perf_counter() - start)
        sent.append(_bytes_sent() - before)
        accepted = sum(verdicts)
        if not args.json:
            print(f"batch {args.batch}: {times[-1]:.3f} s, accepted {accepted}/{args.batch}")
        if args.check:
            opened = await mpc.output(balances)
            ok &= [int(v) for v in opened] == [r.units for r in records]
            if args.columns == 2:  # every synthetic record holds 0.1 BTC
                ok &= all(int(v) == 10**7 for v in await mpc.output(values[:, 1]))
    if args.check and not args.json:
        print("balances", "match" if ok else "MISMATCH")
    if args.json:
        median = statistics.median(times)
        print(json.dumps({"party": mpc.pid, "batch": args.batch, "seconds": median,
                          "security": args.security,
                          "seconds_per_provider": median / args.batch,
                          "bytes_per_party": int(statistics.median(sent)),
                          "accepted": accepted, "balances_ok": ok if args.check else None,
                          "response_bytes": len(records[0].stream if isinstance(records[0], SyntheticResponse)
                                                else records[0].plaintext),
                          "records": len(inputs[0].records),
                          "request_bound": inputs[0].request is not None}),
              flush=True)
    await mpc.shutdown()
    return 0 if accepted == args.batch and ok else 1


if __name__ == "__main__":
    sys.exit(mpc.run(main()))
