"""This party's side of an MPC run: one supervised MPyC process per run, one run at a time.

The job (with any key shares) goes to the child through its stdin. The child
writes its store only at its very end, so a run that fails or times out — a peer
died, the network broke — leaves the store as it was (``mpc_programs.runner``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from mpc_programs.runner import start_party, supervise
from servers.party.config import PartyConfig


class MPCService:
    def __init__(self, config: PartyConfig) -> None:
        self.config = config
        self.lock = asyncio.Lock()
        self.workdir = config.data_dir / "runs"
        self.workdir.mkdir(parents=True, exist_ok=True)

    @property
    def store_path(self) -> str:
        return str(self.config.data_dir / "shares.json")

    def _run_blocking(self, job: dict[str, Any]) -> dict[str, Any]:
        ssl_dir = self.config.mpc_ssl_dir
        run = start_party(self.config.index, self.config.mpc_addresses(),
                          {**job, "store": self.store_path}, self.workdir,
                          stamp=f"{time.time_ns()}", ssl=ssl_dir is not None,
                          cwd=ssl_dir)
        return supervise([run], self.config.mpc_timeout_seconds)[0]

    async def run(self, job: dict[str, Any]) -> dict[str, Any]:
        """Run one job; raises :class:`MPCRunError` on failure or timeout."""
        async with self.lock:
            return await asyncio.to_thread(self._run_blocking, job)
