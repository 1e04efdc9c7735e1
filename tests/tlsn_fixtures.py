"""Fixtures for the notarization tests: a test CA, exchange simulators (TLS 1.2, TLS 1.3 default and
TLS 1.3 pinned to AES-128), and a factory for notaries on free loopback ports. Real TLS, real uvicorn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography import x509

from provider_app.notary_client import NotarizationResult, NotaryClient
from servers.common.serve import BackgroundServer
from servers.exchange_sim.accounts import SimAccount, generate_accounts
from servers.exchange_sim.certs import ExchangeCA
from servers.exchange_sim.server import RunningExchange, start_exchange_sim
from servers.notary.app import start_notary
from servers.notary.config import HostTarget, NotaryConfig
from tlsn import Credentials, Transcript, client_context, load_spec

HOST = "api.binance.test"


def ca_roots(ca: ExchangeCA) -> list[x509.Certificate]:
    return [x509.load_pem_x509_certificate(ca.cert_pem.encode())]


def credentials(account: SimAccount) -> Credentials:
    return Credentials(account.api_key, account.secret)


class RecordingTransport:
    """Wraps a transport and keeps what crossed it, as the notary would (for handshake unit tests)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.transcript = inner, Transcript()

    def send(self, data: bytes) -> None:
        self.transcript.add("c2s", data)
        self.inner.send(data)

    def recv(self, timeout: float) -> bytes:
        data = self.inner.recv(timeout)
        self.transcript.add("s2c", data)
        return data

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(scope="session")
def sim_accounts() -> list[SimAccount]:
    return generate_accounts(4, seed=42)


@pytest.fixture(scope="session")
def test_ca() -> ExchangeCA:
    return ExchangeCA()


@pytest.fixture(scope="session")
def exchange_tls13(sim_accounts: list[SimAccount], test_ca: ExchangeCA) -> Iterator[RunningExchange]:
    with start_exchange_sim(sim_accounts, ca=test_ca) as sim:
        yield sim


@pytest.fixture(scope="session")
def exchange_tls13_aes128(sim_accounts: list[SimAccount], test_ca: ExchangeCA) -> Iterator[RunningExchange]:
    with start_exchange_sim(sim_accounts, ca=test_ca, tls13_suites=["TLS_AES_128_GCM_SHA256"]) as sim:
        yield sim


@pytest.fixture(scope="session")
def exchange_tls12(sim_accounts: list[SimAccount], test_ca: ExchangeCA) -> Iterator[RunningExchange]:
    with start_exchange_sim(sim_accounts, ca=test_ca, tls_max_version="1.2") as sim:
        yield sim


@pytest.fixture(scope="session")
def exchanges(exchange_tls12: RunningExchange, exchange_tls13: RunningExchange,
              exchange_tls13_aes128: RunningExchange, sim_accounts: list[SimAccount],
              test_ca: ExchangeCA) -> Iterator[dict[str, RunningExchange]]:
    """Every server flavour the notary must handle: versions, AES-128/256, ECDSA and RSA certificates."""
    extra = {
        "tls12_aes128": start_exchange_sim(sim_accounts, ca=test_ca, tls_max_version="1.2",
                                           tls12_ciphers="ECDHE-ECDSA-AES128-GCM-SHA256"),
        "tls12_rsa": start_exchange_sim(sim_accounts, ca=test_ca, tls_max_version="1.2", key_type="rsa"),
        "tls13_rsa": start_exchange_sim(sim_accounts, ca=test_ca, key_type="rsa"),
    }
    yield {"tls12": exchange_tls12, "tls13": exchange_tls13, "tls13_aes128": exchange_tls13_aes128, **extra}
    for sim in extra.values():
        sim.stop()


@pytest.fixture(scope="session")
def notary_factory(test_ca: ExchangeCA) -> Iterator[Callable[..., BackgroundServer]]:
    """``make(exchange, **limits)``: a notary whose allow-list maps api.binance.test to ``exchange``."""
    started: list[BackgroundServer] = []

    def make(exchange: RunningExchange | None = None, *, roots: list[x509.Certificate] | None = None,
             **limits: Any) -> BackgroundServer:
        hosts = {HOST: HostTarget(exchange.host, exchange.port)} if exchange else {}
        config = NotaryConfig(hosts=hosts, trust_roots=ca_roots(test_ca) if roots is None else roots, **limits)
        server = start_notary(config)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def notaries(exchanges: dict[str, RunningExchange],
             notary_factory: Callable[..., BackgroundServer]) -> dict[str, BackgroundServer]:
    return {name: notary_factory(ex) for name, ex in exchanges.items()}


def notarize(notary: BackgroundServer, exchange: RunningExchange, account: SimAccount,
             **context_args: Any) -> NotarizationResult:
    ctx = client_context(**({"cadata": exchange.ca_pem} | context_args))
    return NotaryClient(notary.url).notarize(load_spec("binance_eth"), credentials(account), host=HOST, context=ctx)


@pytest.fixture(scope="session")
def notarized(notaries: dict[str, BackgroundServer], exchanges: dict[str, RunningExchange],
              sim_accounts: list[SimAccount]) -> dict[str, NotarizationResult]:
    """One successful notarization per server flavour, shared by the read-only tests."""
    return {name: notarize(notaries[name], exchanges[name], sim_accounts[0]) for name in exchanges}
