"""A whole MPCStats deployment on loopback: every server its own process.

Used by ``mpcstats up``, ``mpcstats demo``, the end-to-end tests and the benchmarks.
It generates what a real operator generates once — the notary key, the parties'
signing keys, the MPyC CA and per-party certificates, the exchange simulator's test
CA — writes one TOML config per server, starts the servers (exchange simulator,
notary, 3 computation parties, coordinator, results API) and waits until each
answers its health check. Everything binds to 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from mpc_programs.shares.encoding import to_units
from mpc_programs.statistics.query import parse_query
from servers.common import signing
from servers.common.mpc_deadline import DEFAULT_BASE_SECONDS
from servers.common.mpc_pki import generate_deployment
from servers.coordinator.api_keys import new_api_key
from servers.exchange_sim.accounts import SimAccount, load_accounts
from tlsn import NotaryKey, public_key_b64

HOST = "127.0.0.1"
EXCHANGE_NAME = "api.binance.test"  # the simulator's TLS name; production uses the spec's host
SOURCE = "binance_eth"
#: The two-column source (ETH and BTC balances) the demo pools.
TWO_COLUMN_SOURCE = "binance_eth_btc"


class DeploymentError(RuntimeError):
    """A server did not come up; the message names it and quotes its log."""


@dataclass
class ServerProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    url: str | None = None
    health: str | None = None

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait()

    def kill(self) -> None:
        """Hard kill (fault tests)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_tail(self, limit: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""


@dataclass
class LocalDeployment:
    root: Path
    servers: dict[str, ServerProcess] = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=dict)
    #: name -> (base URL, health URL); a server without a health URL is waited for otherwise
    endpoints: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    accounts: list[SimAccount] = field(default_factory=list)
    party_public_keys: list[str] = field(default_factory=list)
    source: str = SOURCE
    #: The deployment's API key for queries that spend privacy budget (``api_keys.py``).
    api_key: str = ""
    #: Every API key of the deployment (``api_key`` first; the ``api_keys`` argument of
    #: :func:`start_local_deployment` says how many).
    api_keys: list[str] = field(default_factory=list)
    #: The parties' ``mpc_security`` (default ``malicious``: active security with abort).
    security: str = "malicious"

    @property
    def coordinator_url(self) -> str:
        return self.servers["coordinator"].url or ""

    @property
    def notary_url(self) -> str:
        return self.servers["notary"].url or ""

    @property
    def results_url(self) -> str:
        return self.servers["results"].url or ""

    @property
    def party_urls(self) -> list[str]:
        return [self.servers[f"party{i}"].url or "" for i in range(3)]

    def provider_config(self) -> dict[str, object]:
        """The provider app's deployment settings (``provider_app.client.DeploymentConfig``)."""
        return {"coordinator_url": self.coordinator_url, "notary_url": self.notary_url,
                "source": self.source, "exchange_host": EXCHANGE_NAME,
                "exchange_ca_file": str(self.root / "exchange_ca.pem"),
                "party_urls": self.party_urls}

    def consumer_config(self) -> dict[str, object]:
        return {"results_url": self.results_url, "coordinator_url": self.coordinator_url,
                "parties": [{"pid": i, "url": u, "public_key": k} for i, (u, k) in
                            enumerate(zip(self.party_urls, self.party_public_keys))]}

    def start_server(self, name: str, timeout: float = 30.0) -> ServerProcess:
        """(Re)start one server from its recorded command and wait for its health check."""
        old = self.servers.get(name)
        if old is not None:
            old.stop()
        log_path = self.root / "logs" / f"{name}.log"
        log = open(log_path, "ab")
        process = subprocess.Popen(self.commands[name], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   cwd=self.root)
        log.close()
        url, health = self.endpoints.get(name, (None, None))
        server = ServerProcess(name, process, log_path, url, health)
        self.servers[name] = server
        _wait_healthy(server, timeout)
        return server

    def stop(self) -> None:
        for name in reversed(list(self.servers)):
            self.servers[name].stop()


def _wait_healthy(server: ServerProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise DeploymentError(f"{server.name} exited during start-up:\n{server.log_tail()}")
        try:
            if server.health is None:
                return
            if requests.get(server.health, timeout=1, verify=False).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise DeploymentError(f"{server.name} did not become healthy in {timeout:.0f} s:\n"
                          f"{server.log_tail()}")


def _free_ports(count: int) -> list[int]:
    from mpc_programs.runtime.runner import free_ports
    return free_ports(count, HOST)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, Path)):
        return json.dumps(str(value))
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value)} to TOML")


def _write_toml(path: Path, section: str, values: dict[str, object],
                extra: str = "") -> None:
    """Owner-only (0600): party and coordinator files carry the parties' control tokens."""
    lines = [f"[{section}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    _write_private(path, ("\n".join(lines) + "\n" + extra).encode())


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when an earlier run left the file readable by others
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mpcstats.cli", *args]


def pool_row(account: SimAccount) -> dict[str, int]:
    """The plaintext row a simulated account contributes to the two-column pool, in 1e-8
    units. The exchange's full-size response lists every asset (``omitZeroBalances=false``),
    so an account that holds no BTC shows 0 BTC; a value is missing only when its provider
    leaves the field out. The truth the demo and the tests compare the published statistics with."""
    return {"balance": to_units(account.eth), "btc": to_units(account.btc or "0.00000000")}


def start_local_deployment(root: str | Path, *, accounts: int = 20, seed: int = 0,
                           tls_max: str = "1.3", auto_query_seconds: float = 0.0,
                           min_inputs: int = 1, results_poll_seconds: float = 1.0,
                           mpc_timeout_seconds: float = DEFAULT_BASE_SECONDS,
                           client_rate: float = 50.0,
                           source: str = SOURCE,
                           party_options: dict[str, object] | None = None,
                           api_keys: int = 1,
                           say: Callable[[str], None] = lambda text: None) -> LocalDeployment:
    """Generate keys and configs under ``root`` and start every server; stop() ends them.

    ``source``: the spec the pool counts (``binance_eth``: one column; ``binance_eth_btc``:
    the ETH balance and the BTC balance). ``mpc_timeout_seconds``: the base of the MPC
    deadline, on the parties and the coordinator alike (the per-provider and per-input
    parts keep their defaults; servers/common/mpc_deadline.py). ``party_options``: more
    ``[party]`` settings for all three; by default the parties answer any exact query
    (``exact_queries = "any"``, for development) — pass ``{"exact_queries": "release"}``
    for the production policy (servers/party/policy.py).
    """
    root = Path(root).resolve()
    (root / "logs").mkdir(parents=True, exist_ok=True)
    deployment = LocalDeployment(root, source=source)
    try:
        _start(deployment, accounts, seed, tls_max, auto_query_seconds, min_inputs,
               results_poll_seconds, mpc_timeout_seconds, client_rate, say,
               {"exact_queries": "any", "mpc_security": "malicious", **(party_options or {})},
               api_keys)
    except BaseException:
        deployment.stop()
        raise
    return deployment


def _start(d: LocalDeployment, n_accounts: int, seed: int, tls_max: str, auto_query: float,
           min_inputs: int, poll: float, mpc_timeout: float, client_rate: float,
           say: Callable[[str], None], party_options: dict[str, object],
           n_api_keys: int = 1) -> None:
    root = d.root
    ports = _free_ports(10)
    exchange_port, notary_port, coordinator_port, results_port = ports[:4]
    party_ports, mpc_ports = ports[4:7], ports[7:10]

    # -- keys and certificates, as an operator would generate them once ----------------------
    notary_key_file = root / "notary_key.pem"
    if notary_key_file.exists():
        notary_key = NotaryKey.from_pem(notary_key_file.read_bytes())
    else:
        notary_key = NotaryKey.generate()
        _write_private(notary_key_file, notary_key.to_pem())
    notary_public = public_key_b64(notary_key.public_key)
    pki_dir = root / "mpc-pki"
    if not (pki_dir / "ca").exists():
        generate_deployment(pki_dir, 3)
    party_dirs = [pki_dir / f"party_{i}" for i in range(3)]
    # one credential per party, as each operator would receive its own: party i accepts only
    # party_tokens[i], so one party's token is useless at the other two
    party_tokens = [secrets.token_urlsafe(32) for _ in range(3)]
    for i in range(3):
        data_dir = root / f"party{i}"
        data_dir.mkdir(exist_ok=True)
        key_file = data_dir / "signing_key.pem"
        key = signing.load_or_create_private_key(key_file)
        d.party_public_keys.append(signing.public_key_hex(key))

    # -- exchange simulator -----------------------------------------------------------------
    d.commands["exchange"] = _cli(
        "exchange-sim", "--host", HOST, "--port", str(exchange_port), "--accounts", str(n_accounts),
        "--seed", str(seed), "--accounts-out", str(root / "exchange_accounts.json"),
        "--ca-out", str(root / "exchange_ca.pem"), "--tls-max", tls_max)
    say(f"starting the exchange simulator ({n_accounts} accounts) on {HOST}:{exchange_port}")
    d.endpoints["exchange"] = (f"https://{HOST}:{exchange_port}", None)
    d.start_server("exchange")
    _wait_file(root / "exchange_ca.pem", d.servers["exchange"])
    _wait_port(exchange_port, d.servers["exchange"])
    d.accounts = load_accounts(root / "exchange_accounts.json")

    # -- notary ------------------------------------------------------------------------------
    _write_toml(root / "notary.toml", "notary", {
        "key_file": str(notary_key_file), "trust_roots": str(root / "exchange_ca.pem"),
        # all simulated providers share one address here: allow each a few sessions
        "rate_limit": max(30, 3 * n_accounts)},
        extra=f'\n[hosts."{EXCHANGE_NAME}"]\nconnect = "{HOST}"\nport = {exchange_port}\n')
    d.commands["notary"] = _cli("notary", "--host", HOST, "--port", str(notary_port),
                                "--config", str(root / "notary.toml"), "--log-level", "warning")
    d.endpoints["notary"] = (f"http://{HOST}:{notary_port}", f"http://{HOST}:{notary_port}/health")
    say(f"starting the notary on {HOST}:{notary_port}")
    d.start_server("notary")

    # -- computation parties -------------------------------------------------------------------
    mpc_peers = [f"{HOST}:{p}" for p in mpc_ports]
    d.security = str(party_options.get("mpc_security", "malicious"))
    for i in range(3):
        _write_toml(root / f"party{i}.toml", "party", {
            "index": i, "data_dir": str(root / f"party{i}"), "mpc_peers": mpc_peers,
            "control_token": party_tokens[i], "notary_keys": [notary_public],
            "host": HOST, "port": party_ports[i], "server_names": {d.source: EXCHANGE_NAME},
            "sources": [d.source], "mpc_ssl_dir": str(party_dirs[i]), "mpc_timeout_seconds": mpc_timeout,
            "min_inputs": min_inputs, "client_rate": client_rate, "client_burst": 4 * client_rate,
            **party_options})
        name = f"party{i}"
        d.commands[name] = _cli("party", "--config", str(root / f"party{i}.toml"),
                                "--log-level", "warning")
        url = f"http://{HOST}:{party_ports[i]}"
        d.endpoints[name] = (url, url + "/health")
    say(f"starting 3 computation parties on {HOST}:{party_ports[0]}-{party_ports[2]} "
        f"(MPC over TLS with the deployment's private CA)")
    for i in range(3):
        d.start_server(f"party{i}")

    # -- coordinator ---------------------------------------------------------------------------
    for k in range(max(1, n_api_keys)):
        key_file = root / ("api_key" if k == 0 else f"api_key_{k + 1}")
        if not key_file.exists():
            _write_private(key_file, new_api_key().encode())
        d.api_keys.append(key_file.read_text().strip())
    d.api_key = d.api_keys[0]
    _write_toml(root / "coordinator.toml", "coordinator", {
        "api_keys": {("local" if k == 0 else f"local{k + 1}"): hashlib.sha256(key.encode()).hexdigest()
                     for k, key in enumerate(d.api_keys)},
        "api_key_rate": 50.0, "api_key_burst": 200.0,
        "data_dir": str(root / "coordinator"), "parties": d.party_urls,
        "party_tokens": party_tokens, "notary_keys": [notary_public], "host": HOST,
        "port": coordinator_port, "server_names": {d.source: EXCHANGE_NAME},
        "sources": [d.source],
        "auto_query_seconds": auto_query, "min_inputs": min_inputs,
        # the release follows new inputs after this debounce (off when auto_query is 0: tests
        # ask for their queries themselves); in development the parties answer any exact
        # query, and the published release is the full default query
        "release_debounce_seconds": auto_query,
        "release_max_delay_seconds": max(30.0, 6 * auto_query),
        **({"release_query": parse_query(None).to_json()}
           if party_options.get("exact_queries") == "any" else {}),
        "mpc_timeout_seconds": mpc_timeout,
        "client_rate": client_rate, "client_burst": 4 * client_rate,
        "global_rate": max(200.0, 4 * client_rate), "global_burst": max(400.0, 8 * client_rate)})
    d.commands["coordinator"] = _cli("coordinator", "--config", str(root / "coordinator.toml"),
                                     "--log-level", "warning")
    url = f"http://{HOST}:{coordinator_port}"
    d.endpoints["coordinator"] = (url, url + "/health")
    say(f"starting the coordinator on {HOST}:{coordinator_port}")
    d.start_server("coordinator")

    # -- results API ---------------------------------------------------------------------------
    parties_toml = "".join(
        f'\n[[results.parties]]\npid = {i}\nurl = "{d.party_urls[i]}"\n'
        f'public_key = "{d.party_public_keys[i]}"\n' for i in range(3))
    _write_toml(root / "results.toml", "results", {
        "data_dir": str(root / "results"), "host": HOST, "port": results_port,
        "poll_seconds": poll, "min_providers": min_inputs,
        "coordinator_url": f"http://{HOST}:{coordinator_port}"}, extra=parties_toml)
    d.commands["results"] = _cli("results", "--config", str(root / "results.toml"))
    url = f"http://{HOST}:{results_port}"
    d.endpoints["results"] = (url, url + "/health")
    say(f"starting the results API on {HOST}:{results_port}")
    d.start_server("results")
    (root / "deployment.json").write_text(json.dumps(
        {"provider": d.provider_config(), "consumer": d.consumer_config()}, indent=1))


def _wait_file(path: Path, server: ServerProcess, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if not server.alive() or time.monotonic() > deadline:
            raise DeploymentError(f"{server.name} did not write {path.name}:\n{server.log_tail()}")
        time.sleep(0.05)


def _wait_port(port: int, server: ServerProcess, timeout: float = 20.0) -> None:
    import socket
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
            return
        except OSError:
            if not server.alive() or time.monotonic() > deadline:
                raise DeploymentError(
                    f"{server.name} is not listening:\n{server.log_tail()}") from None
            time.sleep(0.05)
