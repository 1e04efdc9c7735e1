"""``mpcstats deployment export``: write the two files a deployment hands out, from its servers' configs.

- ``provider.json`` — for ``mpcstats provide --deployment`` and the installer build (``packaging/build``):
  where the coordinator, the notary and the three parties are, which source is counted, and which
  exchange name (and, for a test exchange, CA) to trust.
- ``consumer.json`` — for ``mpcstats query --verify --deployment``: the results API, the coordinator,
  and each party's URL and Ed25519 public key, so that consumers check the parties' signatures themselves.

Run it where the coordinator's and the results API's TOML files are (no secret is read or written: the
party tokens are neither needed nor copied)::

    mpcstats deployment export --coordinator-config coordinator.toml --results-config results.toml \\
        --coordinator-url https://coordinator.example.org --notary-url https://notary.example.org \\
        --results-url https://stats.example.org --out handout/

Public URLs default to ``http://<host>:<port>`` of each config (right on one machine, rarely behind a
proxy). The party URLs are the coordinator's ``public_party_urls`` (else ``parties``); the public keys
come from ``--results-config`` or, with ``--fetch-keys``, from each running party's ``GET /v1/key``.
Both files are checked with the same loaders that ``provide`` and ``query`` use before they are written.
Exit 0 written; 1 a party could not be asked for its key; 2 a config or option is missing or wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

import requests

PROG = "mpcstats deployment export"


class ExportError(Exception):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--coordinator-config", metavar="FILE", required=True, type=Path,
                        help="the coordinator's TOML file (parties, public_party_urls, sources, host, port)")
    parser.add_argument("--results-config", metavar="FILE", type=Path,
                        help="the results API's TOML file (the parties' public keys, its host and port)")
    parser.add_argument("--notary-config", metavar="FILE", type=Path,
                        help="the notary's TOML file (its host and port; or give --notary-url)")
    parser.add_argument("--coordinator-url", metavar="URL", help="public URL of the coordinator")
    parser.add_argument("--notary-url", metavar="URL", help="public URL of the notary")
    parser.add_argument("--results-url", metavar="URL", help="public URL of the results API")
    parser.add_argument("--fetch-keys", action="store_true",
                        help="ask each party's GET /v1/key for its public key (instead of --results-config)")
    parser.add_argument("--exchange-ca-file", metavar="PEM",
                        help="providers trust this CA for the exchange (test exchanges only; an absolute "
                             "path on the providers' machines)")
    parser.add_argument("--ca-file", metavar="PEM",
                        help="consumers trust this CA for the parties' HTTPS (a private CA)")
    parser.add_argument("--out", metavar="DIR", type=Path, default=Path("."),
                        help="where to write provider.json and consumer.json (default: here)")


def _section(path: Path, section: str) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            table = tomllib.load(fh).get(section)
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ExportError(f"{path} is not valid TOML: {exc}") from None
    if not isinstance(table, dict):
        raise ExportError(f"{path} has no [{section}] table")
    # the same environment overrides the server itself applies (MPCSTATS_<SECTION>_<KEY>)
    prefix = f"MPCSTATS_{section.upper()}_"
    for name, value in os.environ.items():
        key = name[len(prefix):].lower() if name.startswith(prefix) else None
        if key in ("host", "parties", "public_party_urls", "sources", "server_names"):
            try:
                table[key] = value if key == "host" else json.loads(value)
            except json.JSONDecodeError:
                raise ExportError(f"{name} must be JSON") from None
        elif key == "port" and value.isdigit():
            table[key] = int(value)
    return table


def _listen_url(table: dict[str, Any], section: str, default_port: int, option: str) -> str:
    host = str(table.get("host", "127.0.0.1"))
    if host in ("0.0.0.0", "::"):
        raise ExportError(f"{section}.host is {host} (every interface): give {option} with its public URL")
    return f"http://{host}:{table.get('port', default_port)}"


def _key_of(url: str, pid: int, ca_file: str | None) -> str:
    try:
        response = requests.get(url.rstrip("/") + "/v1/key", timeout=10, verify=ca_file or True)
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ExportError(f"party {pid} ({url}): cannot read its key: {exc}") from None
    if response.status_code != 200 or body.get("party") != pid or not isinstance(body.get("public_key"), str):
        raise ExportError(f"party {pid} ({url}) did not answer GET /v1/key as party {pid}")
    return body["public_key"]


def build(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    coordinator = _section(args.coordinator_config, "coordinator")
    parties = coordinator.get("public_party_urls") or coordinator.get("parties")
    if not (isinstance(parties, list) and len(parties) == 3 and all(isinstance(u, str) for u in parties)):
        raise ExportError(f"{args.coordinator_config}: coordinator.parties (or public_party_urls) must list "
                          "the three parties' URLs")
    coordinator_url = args.coordinator_url or _listen_url(coordinator, "coordinator", 8100,
                                                          "--coordinator-url")
    if args.notary_url:
        notary_url = args.notary_url
    elif args.notary_config:
        notary_url = _listen_url(_section(args.notary_config, "notary"), "notary", 8700, "--notary-url")
    else:
        raise ExportError("give --notary-url URL (or --notary-config FILE): providers notarize there")
    sources = coordinator.get("sources") or ["binance_eth"]
    source = sources[0]
    provider: dict[str, Any] = {"coordinator_url": coordinator_url, "notary_url": notary_url,
                                "source": source, "party_urls": list(parties)}
    server_name = (coordinator.get("server_names") or {}).get(source)
    if server_name:
        provider["exchange_host"] = server_name
    if args.exchange_ca_file:
        provider["exchange_ca_file"] = str(Path(args.exchange_ca_file).resolve())

    results: dict[str, Any] | None = None
    if args.results_config:
        results = _section(args.results_config, "results")
    results_url = args.results_url or (_listen_url(results, "results", 8090, "--results-url")
                                       if results is not None else None)
    if args.fetch_keys:
        keys = {pid: _key_of(url, pid, args.ca_file) for pid, url in enumerate(parties)}
    elif results is not None:
        listed = results.get("parties")
        if not isinstance(listed, list):
            raise ExportError(f"{args.results_config}: [[results.parties]] tables (pid, url, public_key) "
                              "are missing")
        keys = {p.get("pid"): p.get("public_key") for p in listed if isinstance(p, dict)}
        missing = [pid for pid in range(3) if not isinstance(keys.get(pid), str)]
        if missing:
            raise ExportError(f"{args.results_config}: no public_key for party {missing[0]} in "
                              "[[results.parties]]")
    else:
        raise ExportError("the parties' public keys: give --results-config FILE or --fetch-keys")
    consumer: dict[str, Any] = {"coordinator_url": coordinator_url,
                                "parties": [{"pid": pid, "url": url, "public_key": keys[pid]}
                                            for pid, url in enumerate(parties)]}
    if results_url:
        consumer["results_url"] = results_url
        provider_file = {"provider": provider, "results_url": results_url}
    else:
        provider_file = {"provider": provider}
    ca_file = args.ca_file or (results or {}).get("party_ca_file")
    if ca_file:
        consumer["ca_file"] = str(Path(ca_file).resolve())
    return provider_file, consumer


def check(provider_path: Path, consumer_path: Path) -> None:
    """Load both files exactly as ``provide`` and ``query`` will."""
    # not provider_app.client: it imports MPyC, which parses this command's argv as its own
    from provider_app.settings import SettingsError, load_file
    from servers.results.client import ConsumerError
    from servers.results.client import load_deployment as load_consumer
    from tlsn import TLSNError, load_spec
    try:
        settings = load_file(provider_path)
        load_spec(settings.provider.get("source", "binance_eth"))
    except (SettingsError, TLSNError) as exc:
        raise ExportError(f"the provider file would be refused: {exc}") from None
    try:
        load_consumer(consumer_path)
    except ConsumerError as exc:
        raise ExportError(f"the consumer file would be refused: {exc.message}") from None


def run(args: argparse.Namespace) -> int:
    try:
        provider, consumer = build(args)
    except ExportError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1 if "cannot read its key" in str(exc) or "did not answer" in str(exc) else 2
    args.out.mkdir(parents=True, exist_ok=True)
    provider_path, consumer_path = args.out / "provider.json", args.out / "consumer.json"
    provider_path.write_text(json.dumps(provider, indent=1) + "\n")
    consumer_path.write_text(json.dumps(consumer, indent=1) + "\n")
    try:
        check(provider_path, consumer_path)
    except ExportError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    print(f"{provider_path}: for providers (mpcstats provide --deployment, packaging/build)")
    print(f"{consumer_path}: for consumers (mpcstats query --verify --deployment)")
    return 0
