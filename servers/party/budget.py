"""The privacy budget a party enforces itself, and its cache of differentially private answers.

Why: a DP answer is ε-DP per query, and k answers over the same providers are (Σε)-DP
(sequential composition, Dwork & Roth, "The Algorithmic Foundations of Differential
Privacy", Thm 3.14). Without a bound a consumer asks again and again and averages the
noise away. So every party keeps, in its own data dir (``privacy_ledger.json``):

* **the ledger**: one entry per DP run it took part in — the pool version (the digest of
  the counted input ids and their number), the query's canonical key and its ε. The
  pool only grows, so the providers of the oldest version are in every later run: the
  privacy loss of the most exposed provider is the sum of every ε ever spent. A run is
  refused (``privacy_budget_exhausted``) when that sum plus its ε would exceed the
  party's ``privacy_budget_epsilon``. The ε is spent *before* the run starts and stays
  spent if the run fails (a run that fails after an opening has still released
  something). Each party decides alone: a coordinator cannot talk it into more.
* **the last exact release** (``exact_queries = "release"``): the pool version of the
  operator's last exact release; the next one needs that same pool or at least
  ``exact_release_min_new_providers`` more inputs (``exact_release``).
* **the cache**: the signed answer of every DP run (and every exact release), keyed by (pool version, the query's
  canonical key — ε "1", "1.0" and "1.00" are one key, see ``query.canonical_key``).
  The same question over the same pool gets the same signed answer again, costing no
  budget and drawing no new noise.

The file is rewritten atomically (temporary file + rename) before any MPC starts.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

LEDGER_FILE = "privacy_ledger.json"
#: Cached signed answers kept per party (the oldest are dropped; their ε stays spent).
CACHE_SIZE = 1000


def fraction_text(value: Fraction) -> str:
    """An exact fraction as a decimal string when it has one ("1.5"), else "p/q"."""
    d = Decimal(value.numerator) / Decimal(value.denominator)
    if Fraction(d) == value:
        return "0" if d == 0 else format(d.normalize(), "f")
    return f"{value.numerator}/{value.denominator}"


class TooFewNewProviders(Exception):
    """An exact release over a pool that grew by fewer than the minimum since the last one."""


class BudgetExhausted(Exception):
    def __init__(self, needed: Fraction, remaining: Fraction, total: Fraction) -> None:
        super().__init__(f"this query needs epsilon {fraction_text(needed)} but the pool's "
                         f"privacy budget has {fraction_text(remaining)} left of "
                         f"{fraction_text(total)}; ask for a cached query or less epsilon")
        self.needed, self.remaining, self.total = needed, remaining, total


@dataclass(frozen=True)
class PoolVersion:
    digest: str  # sha256 of the sorted counted input ids (the results' input_digest)
    n: int


class PrivacyLedger:
    """Spends and cached answers, persisted in ``data_dir / privacy_ledger.json``."""

    def __init__(self, data_dir: Path, total_epsilon: Fraction) -> None:
        if total_epsilon <= 0:
            raise ValueError("privacy_budget_epsilon must be positive")
        self.path = data_dir / LEDGER_FILE
        self.total = total_epsilon
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {"spends": [], "cache": {}}
        if self.path.exists():
            try:
                loaded = json.loads(self.path.read_text())
                if not isinstance(loaded, dict):
                    raise ValueError("not a JSON object")
            except (ValueError, OSError) as exc:
                # fail closed: a party that lost its ledger must not start with a fresh budget
                raise RuntimeError(f"cannot read the privacy ledger {self.path} ({exc}); restore it "
                                   "from a backup — starting without it would reset the budget") from None
            self._data = {"spends": list(loaded.get("spends", [])),
                          "cache": dict(loaded.get("cache", {}))}
            if loaded.get("exact_last"):
                self._data["exact_last"] = dict(loaded["exact_last"])

    # -- reading ------------------------------------------------------------------------------
    def spent(self) -> Fraction:
        return sum((Fraction(s["epsilon"]) for s in self._data["spends"]), Fraction(0))

    def remaining(self) -> Fraction:
        return max(self.total - self.spent(), Fraction(0))

    def status(self, version: PoolVersion | None = None) -> dict[str, Any]:
        """The public view (``GET /v1/budget``): budget, spent, remaining, per pool version."""
        versions: dict[str, dict[str, Any]] = {}
        for s in self._data["spends"]:
            v = versions.setdefault(s["pool"], {"input_digest": s["pool"], "n": s["n"],
                                                "spent": Fraction(0), "queries": 0})
            v["spent"] += Fraction(s["epsilon"])
            v["queries"] += 1
        out: dict[str, Any] = {
            "epsilon_budget": fraction_text(self.total), "epsilon_spent": fraction_text(self.spent()),
            "epsilon_remaining": fraction_text(self.remaining()),
            "accounting": "sequential composition over every DP run since the pool began "
                          "(its first providers are in every run)",
            "versions": [{**v, "spent": fraction_text(v["spent"])} for v in versions.values()],
            "cached_answers": len(self._data["cache"])}
        last = self._data.get("exact_last")
        if last is not None:
            out["last_exact_release"] = {"input_digest": last["pool"], "n": last["n"]}
        if version is not None:
            out["pool"] = {"input_digest": version.digest, "n": version.n}
        return out

    def last_exact(self) -> dict[str, Any] | None:
        return self._data.get("exact_last")

    def exact_release(self, version: PoolVersion, min_new: int) -> None:
        """Allow an exact release over ``version`` or raise :class:`TooFewNewProviders`.

        Differencing: two exact sums over pools that differ by one provider give that
        provider's balance. So after an exact release over n inputs the next one needs
        the same pool (the same inputs: more statistics of the same release) or at least
        ``min_new`` more inputs — then any difference is an aggregate of ≥ ``min_new``.
        """
        with self._lock:
            last = self._data.get("exact_last")
            if last is not None and last["pool"] != version.digest:
                if version.n - last["n"] < min_new:
                    raise TooFewNewProviders(
                        f"the last exact release covered {last['n']} inputs; the next needs at "
                        f"least {min_new} new providers (the pool has {version.n}); ask with "
                        "'privacy' meanwhile")
            if last is None or last["pool"] != version.digest:
                self._data["exact_last"] = {"pool": version.digest, "n": version.n,
                                            "at": time.time()}
                self._save()

    def cached(self, version: PoolVersion, key: str) -> dict[str, Any] | None:
        return self._data["cache"].get(self._cache_key(version, key))

    # -- writing ------------------------------------------------------------------------------
    def spend(self, version: PoolVersion, key: str, epsilon: Fraction) -> None:
        """Record ε for a run about to start, or raise :class:`BudgetExhausted` (nothing spent)."""
        with self._lock:
            remaining = self.total - self.spent()
            if epsilon > remaining:
                raise BudgetExhausted(epsilon, max(remaining, Fraction(0)), self.total)
            self._data["spends"].append({"pool": version.digest, "n": version.n, "query": key,
                                         "epsilon": fraction_text(epsilon), "at": time.time()})
            self._save()

    def remember(self, version: PoolVersion, key: str, document: dict[str, Any]) -> None:
        with self._lock:
            cache = self._data["cache"]
            cache[self._cache_key(version, key)] = document
            while len(cache) > CACHE_SIZE:
                cache.pop(next(iter(cache)))
            self._save()

    @staticmethod
    def _cache_key(version: PoolVersion, key: str) -> str:
        return f"{version.digest}|{key}"

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump(self._data, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
