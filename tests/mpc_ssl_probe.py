"""A tiny 3-party MPyC program for the ``--ssl`` tests: each party inputs ``pid + 1``; all print the sum.

Run: ``python mpc_ssl_probe.py -P 127.0.0.1:p0 -P 127.0.0.1:p1 -P 127.0.0.1:p2 -I <pid> --ssl`` with the
party's directory (holding ``.config/``) as the working directory.
"""

from mpc_programs.shares.field import PRIME
from mpc_programs.runtime.hardened_runtime import mpc


async def main() -> None:
    secint = mpc.SecInt(32, p=PRIME)
    await mpc.start()
    xs = mpc.input(secint(mpc.pid + 1))
    total = await mpc.output(mpc.sum(xs))
    print(f"SUM={total}", flush=True)
    await mpc.shutdown()


if __name__ == "__main__":
    mpc.run(main())
