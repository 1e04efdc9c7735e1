"""packaging/systemd: one hardened unit per server, running the documented command line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[1] / "packaging" / "systemd"
SERVERS = ("notary", "coordinator", "party", "results")
HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
             "PrivateDevices": "yes", "CapabilityBoundingSet": "", "RestrictSUIDSGID": "yes",
             "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "UMask": "0077"}


def _service(server: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    section = None
    for line in (UNITS / f"mpcstats-{server}.service").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        key, _, value = line.partition("=")
        if section == "[Service]":
            values.setdefault(key, []).append(value)
    return values


@pytest.mark.parametrize("server", SERVERS)
def test_each_server_has_a_hardened_unit(server: str) -> None:
    service = _service(server)
    assert service["ExecStart"] == [f"/opt/mpcstats/venv/bin/mpcstats {server} --config /etc/mpcstats/{server}.toml"]
    assert service["ExecStartPre"] == [f"/opt/mpcstats/venv/bin/mpcstats {server} --check-config "
                                       f"/etc/mpcstats/{server}.toml"]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], (server, key)
    assert service["ReadWritePaths"] == [f"/var/lib/mpcstats/{server}"]
    assert service["StateDirectory"] == [f"mpcstats/{server}"]
    assert service["User"] == ["mpcstats"]
    assert service["RestartPreventExitStatus"] == ["2"]  # a bad config (exit 2) is not restarted in a loop


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
@pytest.mark.parametrize("server", SERVERS)
def test_systemd_accepts_the_unit(server: str) -> None:
    done = subprocess.run(["systemd-analyze", "verify", str(UNITS / f"mpcstats-{server}.service")],
                          capture_output=True, text=True, timeout=60)
    problems = [line for line in (done.stdout + done.stderr).splitlines()
                if line.strip() and "is not executable" not in line]  # /opt/mpcstats is not installed here
    assert not problems, problems
