"""``mpcstats deployment export`` writes the providers' and the consumers' files from the servers' configs;
both load with the loaders ``provide`` and ``query --verify`` use, and a missing piece is named."""

from __future__ import annotations

import json
from pathlib import Path

from mpcstats.cli import main
from provider_app.commands.provide import load_deployment as load_provider
from servers.common import signing
from servers.results.client import load_deployment as load_consumer

PARTIES = [f"http://127.0.0.{4 + i}:8200" for i in range(3)]


def _configs(tmp: Path, keys: list[str]) -> tuple[Path, Path]:
    coordinator = tmp / "coordinator.toml"
    coordinator.write_text('[coordinator]\ndata_dir = "c"\nhost = "127.0.0.3"\nport = 8100\n'
                           f"parties = {json.dumps(['http://10.0.0.1:1'] * 3)}\n"
                           f"public_party_urls = {json.dumps(PARTIES)}\n"
                           'sources = ["binance_eth"]\nserver_names = {binance_eth = "api.binance.test"}\n')
    results = tmp / "results.toml"
    results.write_text('[results]\ndata_dir = "r"\nhost = "127.0.0.7"\nport = 8090\n' + "".join(
        f'[[results.parties]]\npid = {i}\nurl = "{PARTIES[i]}"\npublic_key = "{k}"\n'
        for i, k in enumerate(keys)))
    return coordinator, results


def test_export_writes_files_that_provide_and_query_accept(tmp_path: Path) -> None:
    keys = [signing.public_key_hex(signing.generate_key()) for _ in range(3)]
    coordinator, results = _configs(tmp_path, keys)
    (tmp_path / "ca.pem").write_text("x")
    assert main(["deployment", "export", "--coordinator-config", str(coordinator), "--results-config",
                 str(results), "--notary-url", "https://notary.example.org", "--exchange-ca-file",
                 str(tmp_path / "ca.pem"), "--out", str(tmp_path / "out")]) == 0
    provider = load_provider(tmp_path / "out" / "provider.json")
    assert (provider.coordinator_url, provider.notary_url) == ("http://127.0.0.3:8100",
                                                                "https://notary.example.org")
    assert provider.party_urls == PARTIES  # the public URLs, not the coordinator's internal ones
    assert provider.exchange_host == "api.binance.test"
    consumer = load_consumer(tmp_path / "out" / "consumer.json")
    assert consumer.results_url == "http://127.0.0.7:8090"
    assert [(p.pid, p.url, p.public_key) for p in consumer.parties] == list(zip(range(3), PARTIES, keys))
    assert "token" not in (tmp_path / "out" / "provider.json").read_text()


def test_export_names_what_is_missing(tmp_path: Path, capsys) -> None:
    keys = [signing.public_key_hex(signing.generate_key()) for _ in range(2)]
    coordinator, results = _configs(tmp_path, keys)
    base = ["deployment", "export", "--coordinator-config", str(coordinator), "--out", str(tmp_path / "o")]
    assert main(base + ["--results-config", str(results)]) == 2
    assert "give --notary-url" in capsys.readouterr().err
    assert main(base + ["--results-config", str(results), "--notary-url", "http://n"]) == 2
    assert "no public_key for party 2" in capsys.readouterr().err
    assert main(base + ["--notary-url", "http://n"]) == 2
    assert "--results-config FILE or --fetch-keys" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
