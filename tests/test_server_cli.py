"""Every server has the same command shape (servers/common/cli.py): ``--config FILE``, ``--host``/``--port``
over ``MPCSTATS_<SECTION>_HOST/PORT`` over the file, ``--check-config FILE`` (exit 0, or 2 naming the key),
and a start-up failure that names its cause (a port in use) instead of a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from servers.common import signing
from servers.common.config import ConfigError, from_dict
from servers.common.mpc_pki import generate_deployment
from servers.results.config import ResultsConfig
from tlsn import NotaryKey, public_key_b64

ROOT = Path(__file__).resolve().parents[1]
NOTARY = public_key_b64(NotaryKey.generate().public_key)
TOKENS = [c * 40 for c in "abc"]


def mpcstats(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
             cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MPCSTATS_")}
    return subprocess.run([sys.executable, "-m", "mpcstats.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env={**clean, **(env or {})})


def _party_toml(tmp: Path, pki: Path, mpc_port: int, port: int = 0) -> Path:
    path = tmp / "party0.toml"
    path.write_text(f'[party]\nindex = 0\ndata_dir = "data0"\nport = {port}\n'
                    f'mpc_peers = ["127.0.0.1:{mpc_port}", "127.0.0.1:2", "127.0.0.1:3"]\n'
                    f'mpc_ssl_dir = "{pki / "party_0"}"\nnotary_keys = ["{NOTARY}"]\n')
    return path


def _results_toml(tmp: Path, extra: str = "") -> Path:
    keys = [signing.public_key_hex(signing.generate_key()) for _ in range(3)]
    path = tmp / "results.toml"
    path.write_text('[results]\ndata_dir = "results"\n' + extra + "".join(
        f'[[results.parties]]\npid = {i}\nurl = "http://127.0.0.1:{9000 + i}"\npublic_key = "{k}"\n'
        for i, k in enumerate(keys)))
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pki")
    generate_deployment(root, 3)
    return root


def test_check_config_says_ok_and_where_it_would_listen(tmp_path: Path, pki: Path) -> None:
    party = _party_toml(tmp_path, pki, 11365, port=8201)
    done = mpcstats("party", "--check-config", str(party), "--port", "8299",
                    env={"MPCSTATS_PARTY_CONTROL_TOKEN": TOKENS[0], "MPCSTATS_PARTY_HOST": "127.0.0.5"})
    assert done.returncode == 0, done.stderr
    assert "ok (would listen on 127.0.0.5:8299)" in done.stdout  # flag over environment over file
    assert not (tmp_path / "data0").exists()  # nothing started, nothing created
    results = _results_toml(tmp_path)
    done = mpcstats("results", "--check-config", str(results))
    assert done.returncode == 0 and "would listen on 127.0.0.1:8090" in done.stdout, done.stderr


@pytest.mark.parametrize("server,body,key", [
    ("party", "[party]\nindex = 0\n", "party.data_dir: is required"),
    ("coordinator", '[coordinator]\ndata_dir = "d"\nparties = []\nparty_tokens = []\nnotary_keys = []\n'
                    "client_rat = 1\n", "coordinator.client_rat: unknown setting"),
    ("results", "[results]\nrate_per_second = 3\n", "results.rate_per_second: is no longer supported: "
                                                     "every server names its rate limits alike: write "
                                                     "client_rate instead"),
    ("notary", '[notary]\ntrust_roots = "missing.pem"\n[hosts."x.test"]\n', "notary.trust_roots"),
    ("notary", "[notary]\n", "hosts: no server is allowed"),
    ("exchange-sim", '[exchange_sim]\ntls_max = "1.1"\n', 'tls_max must be "1.2" or "1.3"'),
])
def test_check_config_names_the_key_to_fix(tmp_path: Path, server: str, body: str, key: str) -> None:
    path = tmp_path / "server.toml"
    path.write_text(body)
    done = mpcstats(server, "--check-config", str(path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert key in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "notary_key.pem").exists()  # --check-config creates no key


def test_a_party_without_its_certificate_is_refused_naming_mpc_ssl_dir(tmp_path: Path) -> None:
    empty = tmp_path / "no-pki"
    (empty / "party_0").mkdir(parents=True)
    done = mpcstats("party", "--check-config", str(_party_toml(tmp_path, empty, 11365)),
                    env={"MPCSTATS_PARTY_CONTROL_TOKEN": TOKENS[0]})
    assert done.returncode == 2
    assert "party.mpc_ssl_dir" in done.stderr and "mpcstats mpc-certs" in done.stderr


def test_no_config_at_all_is_a_usage_error(tmp_path: Path) -> None:
    done = mpcstats("coordinator", cwd=tmp_path)
    assert done.returncode == 2 and "give --config FILE" in done.stderr


def test_a_port_in_use_is_named_with_the_keys_that_set_it(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = mpcstats("results", "--config", str(_results_toml(tmp_path)), "--port", str(port))
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: the port is already in use" in done.stderr
    assert "results.port" in done.stderr and "--port" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_party_whose_mpc_port_is_in_use_says_so_before_serving(tmp_path: Path, pki: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        mpc_port = busy.getsockname()[1]
        done = mpcstats("party", "--config", str(_party_toml(tmp_path, pki, mpc_port)),
                        env={"MPCSTATS_PARTY_CONTROL_TOKEN": TOKENS[0]})
    assert done.returncode == 1, done.stderr
    assert f"party.mpc_peers[0] = 127.0.0.1:{mpc_port}" in done.stderr
    assert "already in use" in done.stderr


def test_the_results_api_speaks_the_same_rate_vocabulary(tmp_path: Path) -> None:
    parties = [{"pid": i, "url": f"http://127.0.0.1:{9000 + i}",
                "public_key": signing.public_key_hex(signing.generate_key())} for i in range(3)]
    config = from_dict(ResultsConfig, {"data_dir": str(tmp_path), "parties": parties, "client_rate": 3,
                                       "client_burst": 6, "global_rate": 30, "global_burst": 60}, "results")
    assert (config.client_rate, config.client_burst, config.global_rate, config.global_burst) == (3, 6, 30, 60)
    for old in ("rate_burst", "global_rate_per_second", "global_rate_burst"):
        with pytest.raises(ConfigError, match="is no longer supported"):
            from_dict(ResultsConfig, {"data_dir": str(tmp_path), "parties": parties, old: 1}, "results")


def test_no_command_shows_a_traceback_for_a_path_it_cannot_use(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = mpcstats("up", "--dir", str(blocker / "below-a-file"))  # cannot create it
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "mpcstats up: " in done.stderr and str(blocker) in done.stderr
