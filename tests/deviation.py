"""Shared pieces of the active-security tests (issue 15): a party process that deviates in
one message, and what both honest parties must then show.

Imported by the party programs (``tests/*_party.py``, run as 3 processes) and by the tests.
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any

from mpc_programs.runtime import hardened_runtime
from mpc_programs.shares.field import PRIME

#: Bytes of one prime-field element in our raw messages (24, little-endian).
WIDTH = 24


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def deal(values: list[int], rng: random.Random) -> list[int]:
    """This party's seeded degree-1 Shamir share of every value (the same ``rng`` seed at
    every party gives the three parties shares of one sharing)."""
    from mpc_programs.runtime.hardened_runtime import mpc

    out = []
    for v in values:
        c = rng.randrange(PRIME)
        out.append((v + c * (mpc.pid + 1)) % PRIME)
    return out


def arm_shift(index: int, consistent: bool = True) -> None:
    """Shift the first field element of this party's ``index``-th message to each peer.

    ``consistent``: peer j gets δ·(x_j − x_self) more (x = party number + 1), the points of
    g(X) = f(X) + δ·(X − x_self): a resharing stays a *valid* degree-1 sharing, of the secret
    minus δ·x_self — the additive attack that no opening check can see, only the product
    check. Otherwise 1 more to the lower-numbered peer only (the deviant's own share then
    lies off the honest parties' line)."""
    from mpc_programs.runtime.hardened_runtime import HardenedExchanger, mpc

    original = HardenedExchanger.send
    counts: dict[int, int] = {}
    lowest = min(j for j in range(len(mpc.parties)) if j != mpc.pid)

    def send(self: HardenedExchanger, pc: int, payload: bytes) -> None:
        k = counts.get(self.peer_pid, 0)
        counts[self.peer_pid] = k + 1
        if k == index and (consistent or self.peer_pid == lowest):
            delta = (self.peer_pid - mpc.pid) if consistent else 1
            first = (int.from_bytes(payload[:WIDTH], "little") + delta) % PRIME
            payload = first.to_bytes(WIDTH, "little") + payload[WIDTH:]
            print(f"deviating in message {k} (label {pc}) to party {self.peer_pid}",
                  file=sys.stderr, flush=True)
        original(self, pc, payload)
    HardenedExchanger.send = send  # type: ignore[method-assign]


def assert_honest_parties_aborted(results: list[Any], deviant: int, *expected: str,
                                  deviated: str = "deviating in message") -> None:
    """The deviant did deviate (it wrote ``deviated``); both honest parties printed no
    result, exited with the abort code and gave one of the ``expected`` reasons."""
    assert deviated in results[deviant].stderr, results[deviant].stderr[-2000:]
    for r in results:
        if r.pid == deviant:
            continue
        assert json_lines(r.stdout) == [], r.stdout
        assert r.returncode == hardened_runtime.ABORT_EXIT_CODE, r.stderr[-2000:]
        assert any(e in r.stderr for e in expected), r.stderr[-2000:]


def faulty_dealing(rows: dict[str, list[int]], victim_point: int
                   ) -> tuple[Any, list[dict[str, list[int]]], list[Any]]:
    """A malicious provider's dealing (``mpc_programs.shares.dealing``): honest commitments,
    and for the party at ``victim_point`` a signed layout share one off its committed line.
    Returns (public part, rows per party, parts per party)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from mpc_programs.shares import dealing, pedersen

    dealer = Ed25519PrivateKey.generate()
    key = dealer.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    dealt = {name: pedersen.deal(row) for name, row in rows.items()}
    public = dealing.PublicDealing(key, {n: d.commitments for n, d in dealt.items()})
    shares, parts = [], []
    for x in (1, 2, 3):
        mine = {n: list(d.rows[x - 1]) for n, d in dealt.items()}
        if x == victim_point:
            mine[dealing.LAYOUT][17] = (mine[dealing.LAYOUT][17] + 1) % PRIME
        blindings = {n: d.blindings[x - 1] for n, d in dealt.items()}
        texts = {n: dealing.encode_elements(r) for n, r in mine.items()}
        parts.append(dealing.PartyDealing(
            blindings, dealer.sign(dealing.signed_bytes(x, public, texts, blindings))))
        shares.append(mine)
    return public, shares, parts
