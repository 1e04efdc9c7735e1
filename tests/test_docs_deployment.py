"""A deployment from docs/deployment.md as written: its configuration blocks, its certificate ceremony,
its start commands and its export command, each server its own process on its own loopback address
(127.0.0.2-.7), the parties' MPC on the *same* port as the docs show; then providers contribute with the
exported provider file and `mpcstats query --verify` reads the statistics with the exported consumer file.

Only what a real deployment must fill in is changed: addresses and ports, paths, keys, tokens, and what
the test exchange needs (its name and CA). Any `<placeholder>` or `example.org` left after filling in
fails the test, and so does a key the test must fill in that the docs no longer show — so the docs
cannot drift from the code.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from mpc_programs.shares.encoding import to_units
from mpc_programs.runtime.runner import free_ports
from provider_app.commands.provide import load_deployment
from provider_app.client import ProviderClient
from servers.exchange_sim.accounts import load_accounts
from tlsn import Credentials

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "deployment.md"
ADDRESS = {"notary": "127.0.0.2", "coordinator": "127.0.0.3", "party0": "127.0.0.4", "party1": "127.0.0.5",
           "party2": "127.0.0.6", "results": "127.0.0.7"}
EXCHANGE_NAME = "api.binance.test"  # the simulator's certificate name
PROVIDERS = 4
#: What only the test exchange needs (a real deployment counts the spec's own host, api.binance.com).
TEST_EXCHANGE = {"server_names": {"binance_eth": EXCHANGE_NAME}}


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    return [(m.group(1), textwrap.dedent(m.group(2))) for m in
            re.finditer(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```", text, re.S | re.M)]


def config_blocks(text: str) -> dict[str, dict[str, Any]]:
    """``{"notary.toml": parsed, ...}`` from the toml blocks whose first line names the file."""
    out = {}
    for lang, body in fenced_blocks(text):
        first = body.splitlines()[0]
        if lang == "toml" and first.startswith("# ") and first.split()[1].endswith(".toml"):
            out[first.split()[1]] = tomllib.loads(body)
    return out


def commands(text: str, prefix: str) -> list[str]:
    """The command lines of the sh blocks that start with ``prefix`` (continuations joined, comments cut)."""
    lines = []
    for lang, body in fenced_blocks(text):
        if lang != "sh":
            continue
        joined = body.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith(prefix):
                lines.append(line)
    return lines


def fill(table: dict[str, Any], values: dict[str, Any], where: str) -> dict[str, Any]:
    """The docs' table with ``values`` put in; each filled key must be one the docs show."""
    missing = set(values) - set(table)
    assert not missing, f"docs/deployment.md's {where} no longer shows {sorted(missing)}"
    return {**table, **values}


def no_placeholders(value: Any, where: str) -> None:
    text = json.dumps(value)
    assert "<" not in text and "example.org" not in text, f"{where}: a placeholder was left: {text}"


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def write_toml(path: Path, document: dict[str, Any]) -> None:
    no_placeholders(document, path.name)
    lines = []
    for section, table in document.items():
        if section == "hosts":
            for name, host in table.items():
                lines += [f'[hosts."{name}"]'] + [f"{k} = {toml_value(v)}" for k, v in host.items()]
            continue
        arrays = {k: v for k, v in table.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
        lines.append(f"[{section}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in table.items() if k not in arrays]
        for key, rows in arrays.items():
            for row in rows:
                lines += [f"[[{section}.{key}]]"] + [f"{k} = {toml_value(v)}" for k, v in row.items()]
    path.write_text("\n".join(lines) + "\n")
    os.chmod(path, 0o600)


def wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url}: the server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    pytest.fail(f"{url} did not answer in {timeout} s:\n{log.read_text()[-3000:]}")


def loopback_aliases_work() -> bool:
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.7", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not loopback_aliases_work(), reason="127.0.0.2-7 are not usable here")
def test_a_deployment_from_the_docs_alone(tmp_path: Path) -> None:
    text = DOC.read_text()
    blocks = config_blocks(text)
    assert {"notary.toml", "party0.toml", "coordinator.toml", "results.toml"} <= set(blocks)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("MPCSTATS_")}
    processes: list[subprocess.Popen] = []

    def cli(*args: str, cwd: Path = tmp_path, env: dict[str, str] | None = None) -> str:
        done = subprocess.run([sys.executable, "-m", "mpcstats.cli", *args], cwd=cwd, capture_output=True,
                              text=True, timeout=120, env={**base_env, **(env or {})})
        assert done.returncode == 0, f"mpcstats {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout

    def start(args: list[str], name: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        log = tmp_path / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen([sys.executable, "-m", "mpcstats.cli", *args], cwd=tmp_path,
                                       stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                       env={**base_env, **(env or {})})
        processes.append(process)
        return process

    try:
        _deploy(tmp_path, text, blocks, cli, start)
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _deploy(root: Path, text: str, blocks: dict[str, dict[str, Any]], cli, start) -> None:  # noqa: ANN001
    http_ports = dict(zip(ADDRESS, free_ports(len(ADDRESS) + 1, "127.0.0.1")))
    exchange_port = free_ports(1, "127.0.0.1")[0]
    # the same MPC port on the three party addresses, as the docs show
    mpc_port = next(p for p in free_ports(20, ADDRESS["party0"])
                    if all(_bindable(ADDRESS[f"party{i}"], p) for i in range(3)))
    url = {name: f"http://{ADDRESS[name]}:{http_ports[name]}" for name in ADDRESS}

    # -- the exchange (the simulator stands in for api.binance.com) ------------------------------
    ca_file = root / "exchange_ca.pem"
    exchange = start(["exchange-sim", "--host", "127.0.0.1", "--port", str(exchange_port), "--accounts",
                      str(PROVIDERS), "--seed", "19", "--ca-out", str(ca_file), "--accounts-out",
                      str(root / "accounts.json")], "exchange")
    deadline = time.monotonic() + 30
    while not (ca_file.exists() and _connectable("127.0.0.1", exchange_port)):
        assert exchange.poll() is None and time.monotonic() < deadline, (root / "exchange.log").read_text()
        time.sleep(0.1)
    accounts = load_accounts(root / "accounts.json")

    # -- section 1: the MPC certificate ceremony, as the docs write it ---------------------------
    ceremony = commands(text, "mpcstats mpc-certs")
    init, csr, sign, install = (next(c for c in ceremony if c.startswith(f"mpcstats mpc-certs {step} "))
                                for step in ("init", "csr", "sign", "install"))
    ca_holder = root / "ca-holder"
    ca_holder.mkdir()
    cli(*shlex.split(init)[1:], cwd=ca_holder)
    for i in range(3):
        operator = root / f"operator{i}"
        operator.mkdir()

        def mine(line: str) -> list[str]:
            line = (line.replace("/etc/mpcstats/mpc", str(operator / "mpc")).replace("party_0", f"party_{i}")
                    .replace("--party 0", f"--party {i}"))
            return shlex.split(line)[1:]
        cli(*mine(csr), cwd=operator)
        shutil.copy(operator / "mpc" / f"party_{i}.csr", ca_holder)          # the CSR travels
        cli(*mine(sign), cwd=ca_holder)
        shutil.copy(ca_holder / f"party_{i}.crt", operator)                 # the certificate returns
        shutil.copy(ca_holder / "pki" / "ca" / "mpyc_ca.crt", operator)
        cli(*mine(install), cwd=operator)
        assert not (ca_holder / f"party_{i}.key").exists()

    tokens = [secrets.token_urlsafe(32) for _ in range(3)]
    env = {
        "notary": {},
        **{f"party{i}": {"MPCSTATS_PARTY_CONTROL_TOKEN": tokens[i],
                         "MPCSTATS_PARTY_MIN_INPUTS": str(PROVIDERS)} for i in range(3)},
        "coordinator": {"MPCSTATS_COORDINATOR_PARTY_TOKENS": json.dumps(tokens),
                        "MPCSTATS_COORDINATOR_MIN_INPUTS": str(PROVIDERS)},
        "results": {"MPCSTATS_RESULTS_MIN_PROVIDERS": str(PROVIDERS)},
    }
    keys: dict[str, str] = {}

    def write_config(file: str) -> None:
        if file == "notary.toml":
            doc = blocks["notary.toml"]
            (root / "notary").mkdir()
            assert list(doc["hosts"]) == ["api.binance.com"]
            host = fill(doc["hosts"]["api.binance.com"], {"connect": "127.0.0.1", "port": exchange_port},
                        "[hosts] table")
            write_toml(root / file, {"notary": fill(doc["notary"], {
                "host": ADDRESS["notary"], "port": http_ports["notary"],
                "key_file": str(root / "notary" / "notary_key.pem"), "trust_roots": str(ca_file)}, "notary.toml"),
                "hosts": {EXCHANGE_NAME: host}})
        elif re.fullmatch(r"party\d\.toml", file):
            i = int(file[5])
            write_toml(root / file, {"party": fill(blocks["party0.toml"]["party"], {
                "index": i, "host": ADDRESS[f"party{i}"], "port": http_ports[f"party{i}"],
                "data_dir": str(root / f"party{i}"),
                "mpc_peers": [f"{ADDRESS[f'party{j}']}:{mpc_port}" for j in range(3)],
                "mpc_ssl_dir": str(root / f"operator{i}" / "mpc"), "notary_keys": [keys["notary"]]},
                "party0.toml") | TEST_EXCHANGE})
        elif file == "coordinator.toml":
            parties = [url[f"party{i}"] for i in range(3)]
            write_toml(root / file, {"coordinator": fill(blocks[file]["coordinator"], {
                "host": ADDRESS["coordinator"], "port": http_ports["coordinator"],
                "data_dir": str(root / "coordinator"), "parties": parties, "public_party_urls": parties,
                "notary_keys": [keys["notary"]]}, file) | TEST_EXCHANGE})
        elif file == "results.toml":
            doc = blocks[file]["results"]
            assert [p["pid"] for p in doc["parties"]] == [0, 1, 2]
            parties = [fill(p, {"url": url[f"party{i}"], "public_key": keys[f"party{i}"]}, "[[results.parties]]")
                       for i, p in enumerate(doc["parties"])]
            write_toml(root / file, {"results": fill(doc, {
                "host": ADDRESS["results"], "port": http_ports["results"], "data_dir": str(root / "results"),
                "parties": parties, "coordinator_url": url["coordinator"]}, file)})
        else:
            pytest.fail(f"docs/deployment.md starts a server from {file}, which it does not show")

    # -- section 2: the start commands, in the docs' order -----------------------------------------
    starts = commands(text, "mpcstats ")
    starts = [c for c in starts if re.fullmatch(r"mpcstats (notary|party|coordinator|results) --config \S+", c)]
    assert [c.split()[1] for c in starts] == ["notary", "party", "party", "party", "coordinator", "results"]
    for line in starts:
        server, file = line.split()[1], line.split()[3]
        name = file.removesuffix(".toml")
        write_config(file)
        cli(server, "--check-config", file, env=env[name])  # as the docs advise
        process = start(shlex.split(line)[1:], name, env[name])
        wait_http(url[name] + "/health", process, root / f"{name}.log")
        if name == "notary" or name.startswith("party"):
            keys[name] = requests.get(url[name] + "/v1/key", timeout=5).json()["public_key"]

    # -- the files handed out -------------------------------------------------------------------
    export = commands(text, "mpcstats deployment export")
    assert len(export) == 1
    line = (export[0].replace("https://coordinator.example.org", url["coordinator"])
            .replace("https://notary.example.org", url["notary"])
            .replace("https://stats.example.org", url["results"]).replace("handout/", str(root / "handout")))
    no_placeholders(line, "the export command")
    cli(*shlex.split(line)[1:], "--exchange-ca-file", str(ca_file))  # a test exchange's CA, as the table says
    provider = load_deployment(root / "handout" / "provider.json")
    assert provider.party_urls == [url[f"party{i}"] for i in range(3)]

    # -- providers contribute, consumers verify ------------------------------------------------------
    def contribute(account) -> str:  # noqa: ANN001
        return ProviderClient(provider).contribute(Credentials(account.api_key, account.secret),
                                                   timeout=300).status
    with ThreadPoolExecutor(PROVIDERS) as pool:
        assert list(pool.map(contribute, accounts)) == ["accepted"] * PROVIDERS
    deadline = time.monotonic() + 300
    while True:
        done = subprocess.run([sys.executable, "-m", "mpcstats.cli", "query", "--verify", "--deployment",
                               str(root / "handout" / "consumer.json"), "--json"], capture_output=True,
                              text=True, timeout=120, cwd=root)
        if done.returncode == 0 or time.monotonic() > deadline:
            break
        assert done.returncode == 3, done.stdout + done.stderr  # only "not enough providers yet" may wait
        time.sleep(1)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["verified"] is True and result["n"] == PROVIDERS
    stats = result["statistics"]
    balances = [to_units(a.eth) for a in accounts]
    assert stats["count"] == PROVIDERS
    assert Decimal(stats["sum"]) * 10**8 == sum(balances), stats  # exact, in 1e-8 ETH
    assert Decimal(stats["mean"]) == Decimal(sum(balances)) / PROVIDERS / 10**8, stats


def _bindable(host: str, port: int) -> bool:
    try:
        with socket.socket() as probe:
            probe.bind((host, port))
        return True
    except OSError:
        return False


def _connectable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.2).close()
        return True
    except OSError:
        return False
