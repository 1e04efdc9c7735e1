"""The security level (issue 15) reaches every MPC job, and only "malicious" or "semi-honest" run.

A party server's ``mpc_security`` (default ``malicious``) goes into every job its MPC service
starts; the local pool (bench, tests, demo) names the level in every job it builds; the party
program configures ``product_check`` from the job before it connects, and any other value ends
the run with a JobError in the result's ``.error`` file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mpc_programs.runtime import party_main, product_check
from mpc_programs.runtime.jobs import JobError
from mpc_programs.statistics.query import parse_query
from mpcstats.benchmarks import local_pool
from servers.party.config import MPC_SECURITY_LEVELS, PartyConfig
from servers.party.mpc import MPCService

REPO = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, **extra: Any) -> PartyConfig:
    return PartyConfig(index=0, data_dir=tmp_path / "party0",
                       mpc_peers=["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"],
                       control_token="x" * 40, notary_keys=["k"], mpc_ssl_dir=tmp_path, **extra)


def test_levels_agree_with_product_check() -> None:
    assert set(MPC_SECURITY_LEVELS) == set(product_check.SECURITY_LEVELS) \
        == {"malicious", "semi-honest"}


def test_party_config_default_and_validation(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert config.mpc_security == "malicious"
    config.validate()
    _config(tmp_path, mpc_security="semi-honest").validate()
    with pytest.raises(ValueError, match="mpc_security must be one of 'malicious', 'semi-honest'"):
        _config(tmp_path, mpc_security="honest-but-curious").validate()


@pytest.mark.parametrize("level", ["malicious", "semi-honest"])
def test_party_service_puts_the_level_into_every_job(tmp_path: Path, level: str) -> None:
    service = MPCService(_config(tmp_path, mpc_security=level))
    for job in ({"task": "stats", "query": {}}, {"task": "verify", "submissions": []},
                {"task": "ingest", "pending": {}}):
        built = service.job_for(job)
        assert built["security"] == level and built["store"] == service.store_path


def test_local_pool_names_the_level(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[list[dict[str, Any]]] = []

    def fake_run_local(jobs: list[dict[str, Any]], workdir: Any, timeout: float = 0) -> list[Any]:
        seen.append(jobs)
        return [{"accepted": [], "rejected": {}, "stored": 0, "n": 0, "input_digest": "",
                 "statistics": {}} for _ in jobs]

    monkeypatch.setattr(local_pool, "run_local", fake_run_local)
    stores = local_pool.store_paths(tmp_path)
    local_pool.ingest(stores, [{}, {}, {}], tmp_path)
    local_pool.statistics(stores, parse_query(None), tmp_path, security="semi-honest")
    local_pool.verify(stores, [[], [], []], tmp_path)
    assert [[j["security"] for j in jobs] for jobs in seen] == [
        ["malicious"] * 3, ["semi-honest"] * 3, ["malicious"] * 3]


def test_configure_security_from_the_job() -> None:
    try:
        assert party_main.configure_security({"task": "stats"}) == "malicious"
        assert product_check.active()
        assert party_main.configure_security({"security": "semi-honest"}) == "semi-honest"
        assert not product_check.active()
        for bad in ("Malicious", "", None, 1, "covert"):
            with pytest.raises(JobError, match="must be one of 'malicious', 'semi-honest'"):
                party_main.configure_security({"security": bad})
    finally:
        product_check.configure("malicious")


def test_party_program_refuses_another_level(tmp_path: Path) -> None:
    """The real entry point: a bad level is a clear job error, before any connection."""
    job = {"task": "stats", "store": str(tmp_path / "s.json"),
           "result": str(tmp_path / "r.json"), "security": "semi_honest"}
    done = subprocess.run([sys.executable, "-m", "mpc_programs.runtime.party_main", "--no-log",
                           "--insecure-local", "--job", "-"], input=json.dumps(job), text=True,
                          capture_output=True, cwd=REPO, timeout=60)
    assert done.returncode == 2
    error = json.loads((tmp_path / "r.error").read_text())
    assert error["error"] == "JobError"
    assert "'semi_honest'" in error["message"] and "'semi-honest'" in error["message"]
    assert not (tmp_path / "r.json").exists()
