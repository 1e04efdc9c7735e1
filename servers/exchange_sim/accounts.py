"""Simulated exchange accounts, generated deterministically from a seed so demos and tests repeat."""

from __future__ import annotations

import json
import os
import random
import string
from dataclasses import asdict, dataclass, field
from pathlib import Path

_ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True)
class SimAccount:
    """One account: API credentials, Binance-style uid, and balances as 8-decimal strings."""

    uid: int
    api_key: str
    secret: str
    balances: dict[str, str] = field(default_factory=dict)

    @property
    def eth(self) -> str:
        return self.balances.get("ETH", "0.00000000")

    @property
    def btc(self) -> str | None:
        """None when the account holds no BTC (the response lists no BTC entry)."""
        return self.balances.get("BTC")


def _amount(rng: random.Random, max_units: int) -> str:
    satoshis = rng.randrange(0, max_units * 10**8)
    return f"{satoshis // 10**8}.{satoshis % 10**8:08d}"


def _eth(rng: random.Random) -> str:
    """Shaped like real holdings: log-normal around 1 ETH (many small, a few whales), 8 decimals."""
    satoshis = min(int(rng.lognormvariate(0.0, 2.5) * 10**8), 10**6 * 10**8)
    return f"{satoshis // 10**8}.{satoshis % 10**8:08d}"


def _btc(eth: str, noise: str) -> str:
    """A BTC balance that grows with the ETH one (1-7 % of it), so that the two columns
    of the demo's pool are visibly correlated, but not exactly."""
    eth_units = int(eth.replace(".", ""))
    satoshis = eth_units * (10 + int(noise.replace(".", "")) % 60) // 1000
    return f"{satoshis // 10**8}.{satoshis % 10**8:08d}"


ZERO_ETH_INDEX = 3
"""The generated account at this position holds no ETH at all (it still counts: 0)."""


def generate_accounts(n: int, seed: int = 0) -> list[SimAccount]:
    """``n`` accounts from ``seed``: 9-digit uids, 64-char keys and secrets, an ETH balance
    spread over many magnitudes (median about 1 ETH), USDT, and BTC correlated with ETH —
    except that every account whose uid is divisible by 7 holds no BTC: its response has no
    BTC entry at all (a missing value for a two-column pool), and the fourth account
    (:data:`ZERO_ETH_INDEX`) holds no ETH."""
    rng = random.Random(f"mpcstats-exchange-sim-{seed}")
    uids = rng.sample(range(100_000_000, 999_999_999), n)
    out = []
    for uid in uids:
        key = "".join(rng.choice(_ALNUM) for _ in range(64))
        secret = "".join(rng.choice(_ALNUM) for _ in range(64))
        noise, eth = _amount(rng, 10), _eth(rng)
        if len(out) == ZERO_ETH_INDEX:
            eth = "0.00000000"  # an account with no ETH: it proves 0 (listed, since omitZeroBalances=false)
        balances = {"ETH": eth, "USDT": _amount(rng, 100_000)}
        if uid % 7:
            balances = {"BTC": _btc(eth, noise), **balances}
        out.append(SimAccount(uid, key, secret, balances))
    return out


def save_accounts(path: str | Path, accounts: list[SimAccount]) -> None:
    """Write the accounts (with their API secrets) to a file only the owner can read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps([asdict(a) for a in accounts], indent=1))


def load_accounts(path: str | Path) -> list[SimAccount]:
    return [SimAccount(**a) for a in json.loads(Path(path).read_text())]
