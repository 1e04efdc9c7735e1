"""``mpcstats bench load``: bounded load on the coordinator and the results API.

Starts a local deployment with a realistic rate limit (coordinator: ``--client-rate`` requests per second
per client address, burst 4x; results API: its defaults), lets ``--providers`` simulated providers
contribute and runs one query so ``GET /stats`` has a result, notarizes ``--notarized`` more accounts
without contributing them, then runs ``--clients`` concurrent clients for ``--seconds``. Each client has
its own source address on the loopback network (127.0.0.2, 127.0.0.3, ...), so the per-client and the
global token buckets both take part, as with many real clients. Every request goes to 127.0.0.1.

A client's loop alternates ``GET /stats`` (results API) and ``POST /v1/registrations`` (coordinator) with,
in turn: a valid notarized registration document re-posted (201 the first time for an account not yet
contributed, then 409 attestation_used: one registration per attestation), a document
with a forged signature (403), a document with a wrong field type (422) and a body that is not JSON (400).
Loops are bounded in time and in count; the run stops by itself.

Prints one JSON line::

    {"clients": 200, "seconds": 30, "status_counts": {"200": .., "429": .., ...},
     "stats_p50_ms": .., "stats_p99_ms": .., "registrations_per_second": ..,
     "rss_growth_mib": .., ...}

``status_counts`` counts every response by status (``"error"``: no response: refused, reset or timed
out); ``stats_p50_ms``/``stats_p99_ms`` are over every ``GET /stats`` answer, 200 and 429 alike
(``stats_ok_p50_ms`` over the 200s only); ``registrations_per_second`` counts registration requests the
coordinator processed (any answer but 429) per second; ``rss_growth_mib`` is the growth of the coordinator
and results API processes' resident memory from the end of the warm-up to the end of the run.
Exit status 1 if any answer was a 5xx or any request got no answer.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import requests

from mpcstats.local_deployment import LocalDeployment, start_local_deployment
from provider_app.client import DeploymentConfig, ProviderClient
from tlsn import Credentials

MAX_REQUESTS_PER_CLIENT = 1_000_000  # a second bound besides time
REQUEST_TIMEOUT = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clients", type=int, default=200, help="concurrent clients (default 200)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the load (default 30)")
    parser.add_argument("--providers", type=int, default=3, help="providers contributed before the load")
    parser.add_argument("--notarized", type=int, default=3,
                        help="accounts notarized but not contributed (their registrations yield 201, then 409)")
    parser.add_argument("--client-rate", type=float, default=5.0,
                        help="coordinator requests per second per client address (the coordinator's default)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")


@dataclass
class Tally:
    """What the clients saw; one lock, a few integer increments per request."""

    statuses: Counter[str] = field(default_factory=Counter)
    by_endpoint: dict[str, Counter[str]] = field(default_factory=lambda: {"stats": Counter(),
                                                                          "registrations": Counter()})
    stats_ms: list[float] = field(default_factory=list)
    stats_ok_ms: list[float] = field(default_factory=list)
    registrations_processed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, endpoint: str, status: str, elapsed_ms: float) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.by_endpoint[endpoint][status] += 1
            if endpoint == "stats" and status != "error":
                self.stats_ms.append(elapsed_ms)
                if status == "200":
                    self.stats_ok_ms.append(elapsed_ms)
            if endpoint == "registrations" and status not in ("429", "error"):
                self.registrations_processed += 1


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def _rss_mib(deployment: LocalDeployment) -> float:
    total = 0
    for name in ("coordinator", "results"):
        try:
            process = psutil.Process(deployment.servers[name].process.pid)
            total += sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])
        except psutil.Error:
            pass
    return total / 2**20


def _bodies(valid: list[dict[str, Any]]) -> list[bytes]:
    """The registration bodies the clients cycle through: valid ones and three kinds of invalid ones."""
    forged = copy.deepcopy(valid[0])
    signature = forged["attestation"]["signature"]
    forged["attestation"]["signature"] = ("A" if signature[0] != "A" else "B") + signature[1:]
    wrong_type = copy.deepcopy(valid[0])
    wrong_type["records"][0]["seq"] = "1"
    bodies = [json.dumps(d).encode() for d in valid]
    return bodies + [json.dumps(forged).encode(), json.dumps(wrong_type).encode(), b"{not json"]


def _prepare(deployment: LocalDeployment, providers: int, notarized: int,
             say: Any) -> list[dict[str, Any]]:
    """Contribute ``providers`` accounts, run a query, wait for /stats; return valid registration documents."""
    config = DeploymentConfig.from_dict(deployment.provider_config())
    documents = []
    for account in deployment.accounts[:providers]:
        client = ProviderClient(config)
        notarized_account = client.notarize(Credentials(account.api_key, account.secret))
        documents.append(client.registration_document(notarized_account))
        registration = client.register(notarized_account)
        client.share(notarized_account, registration)
        final = client.wait(registration, timeout=300, interval=0.5)
        if final["status"] != "accepted":
            raise RuntimeError(f"a provider was not accepted: {final}")
    say(f"{providers} providers contributed")
    response = requests.post(deployment.coordinator_url + "/v1/queries", json={"query": None}, timeout=600)
    response.raise_for_status()
    deadline = time.monotonic() + 60
    while requests.get(deployment.results_url + "/stats", timeout=5).status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError("the results API did not serve the query's result")
        time.sleep(0.2)
    say("one query computed; the results API serves it")
    for account in deployment.accounts[providers:providers + notarized]:
        client = ProviderClient(config)
        documents.append(client.registration_document(
            client.notarize(Credentials(account.api_key, account.secret))))
    say(f"{notarized} more accounts notarized (not contributed)")
    return documents


def _client(index: int, deployment: LocalDeployment, bodies: list[bytes], clock: dict[str, float],
            start: threading.Barrier, tally: Tally) -> None:
    source = f"127.0.0.{2 + index}" if index < 250 else "127.0.0.1"  # own address: own rate bucket
    transport = httpx.HTTPTransport(local_address=source, retries=0)
    stats_url = deployment.results_url + "/stats"
    registrations_url = deployment.coordinator_url + "/v1/registrations"
    headers = {"Content-Type": "application/json"}
    with httpx.Client(transport=transport, timeout=REQUEST_TIMEOUT) as http:
        start.wait()
        deadline = clock["deadline"]
        for n in range(MAX_REQUESTS_PER_CLIENT):
            if time.monotonic() >= deadline:
                break
            endpoint = "stats" if n % 2 == 0 else "registrations"
            t = time.perf_counter()
            try:
                if endpoint == "stats":
                    response = http.get(stats_url)
                else:
                    body = bodies[(index + n // 2) % len(bodies)]
                    response = http.post(registrations_url, content=body, headers=headers)
                status = str(response.status_code)
            except httpx.HTTPError:
                status = "error"
            tally.add(endpoint, status, (time.perf_counter() - t) * 1000)


def _load(deployment: LocalDeployment, bodies: list[bytes], clients: int, seconds: float,
          say: Any) -> tuple[Tally, float, float]:
    """Run the clients; return what they saw, the wall seconds and the RSS growth after warm-up (MiB)."""
    tally = Tally()
    clock: dict[str, float] = {}

    def go() -> None:  # runs once, when every client is ready
        clock["began"] = time.monotonic()
        clock["deadline"] = clock["began"] + seconds

    start = threading.Barrier(clients + 1, action=go)
    threads = [threading.Thread(target=_client, args=(i, deployment, bodies, clock, start, tally),
                                daemon=True, name=f"load-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait(timeout=120)
    warmup = min(5.0, seconds / 5)
    time.sleep(warmup)
    rss_start = _rss_mib(deployment)
    say(f"warm-up done ({warmup:.1f} s); coordinator + results API RSS {rss_start:.1f} MiB")
    for thread in threads:  # each stops at the deadline; a request in flight ends within its timeout
        thread.join(timeout=max(0.0, clock["deadline"] + REQUEST_TIMEOUT + 5 - time.monotonic()))
    wall = time.monotonic() - clock["began"]
    return tally, wall, _rss_mib(deployment) - rss_start


def run(args: argparse.Namespace) -> int:
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    if args.clients < 1 or args.seconds <= 0 or args.providers < 1 or args.notarized < 0:
        print("--clients, --seconds and --providers must be positive", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="mpcstats-bench-load-") as tmp:
        deployment = start_local_deployment(Path(tmp), accounts=args.providers + args.notarized,
                                            client_rate=args.client_rate, results_poll_seconds=0.5)
        try:
            bodies = _bodies(_prepare(deployment, args.providers, args.notarized, say))
            say(f"load: {args.clients} clients for {args.seconds:g} s")
            tally, wall, rss_growth = _load(deployment, bodies, args.clients, args.seconds, say)
            alive = [name for name in ("coordinator", "results") if deployment.servers[name].alive()]
        finally:
            deployment.stop()
    report = {
        "clients": args.clients,
        "seconds": args.seconds,
        "status_counts": dict(sorted(tally.statuses.items())),
        "stats_p50_ms": _percentile(tally.stats_ms, 0.50),
        "stats_p99_ms": _percentile(tally.stats_ms, 0.99),
        "stats_ok_p50_ms": _percentile(tally.stats_ok_ms, 0.50),
        "stats_ok_p99_ms": _percentile(tally.stats_ok_ms, 0.99),
        "registrations_per_second": round(tally.registrations_processed / wall, 1),
        "requests_per_second": round(sum(tally.statuses.values()) / wall, 1),
        "rss_growth_mib": round(rss_growth, 1),
        "by_endpoint": {k: dict(sorted(v.items())) for k, v in tally.by_endpoint.items()},
        "client_rate": args.client_rate,
        "servers_alive": len(alive) == 2,
    }
    print(json.dumps(report))
    server_errors = sum(n for status, n in tally.statuses.items() if status.startswith("5"))
    failed = server_errors or tally.statuses.get("error", 0) or len(alive) != 2
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mpcstats bench load", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
