"""The request is bound inside MPC (issue 17): a provider who notarized another endpoint of the
exchange that echoes a query parameter into a 200 JSON body, or the account endpoint with other
query parameters than the spec's, gets every response-side check to pass, and is refused inside
MPC because the request's known plaintext (request line, spec's query parameters, Host) does not
match; a request of another length is refused before any MPC. Real notary, real simulator, the
servers' own registration checks, three MPyC processes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from deployment_helpers import dealt_submission
from tlsn_fixtures import HOST, credentials

from mpc_programs.runtime.local_parties import run_parties
from mpc_programs.verification.verify_inputs import REJECT_RECORD
from provider_app.client import DeploymentConfig, Notarized, ProviderClient
from provider_app.notary_client import NotaryClient
from servers.common.registration import RegistrationError, check_registration, load_sources
from servers.exchange_sim.accounts import SimAccount
from servers.exchange_sim.server import ECHO_PATH, start_exchange_sim
from tlsn import client_context, load_spec, public_key_from_b64

SPEC = load_spec("binance_eth")


def _echo_spec(uid: int) -> object:
    """The echo endpoint, its parameter crafted into a Binance-shaped balance and the attacker's
    own uid."""
    crafted = f'x"}},{{"asset":"ETH","free":"999999.00000000","locked":"0"}}],"uid":{uid}}}'
    escaped = crafted.replace("{", "{{").replace("}", "}}")  # the query is a format string
    return dataclasses.replace(SPEC, path=ECHO_PATH,
                               query=f"data={escaped}&timestamp={{timestamp}}&recvWindow={{recv_window}}")


def _length_matched(document: dict, request: bytes) -> dict:
    """The strongest forgery: claim the API key length that makes the spec's request exactly as
    long as the one sent, so that every public check passes."""
    r = document["request"]
    bare, _ = SPEC.expected_request(host=HOST, timestamp_ms=r["timestamp"], signature=r["signature"],
                                    api_key_length=0)
    r["api_key_length"] = len(request) - len(bare)
    assert 1 <= r["api_key_length"] <= 256
    return document


@pytest.fixture(scope="module")
def setting(test_ca, notary_factory):
    accounts = [SimAccount(100000000 + i, f"k{i}".ljust(64, "k"), f"s{i}".ljust(64, "s"),
                           {"ETH": eth, "BTC": "1.00000000"})
                for i, eth in enumerate(["0.10000000", "0.10000000", "0.10000000", "2.00000000"])]
    with start_exchange_sim(accounts, ca=test_ca, echo_endpoint=True) as exchange:
        notary = notary_factory(exchange)
        info = NotaryClient(notary.url).public_key()
        keys = {info["key_id"]: public_key_from_b64(info["public_key"])}
        yield exchange, notary, keys, accounts


def _notarize(setting, account: SimAccount, spec: object) -> Notarized:
    exchange, notary, _, _ = setting
    ctx = client_context(cadata=exchange.ca_pem)
    result = NotaryClient(notary.url).notarize(spec, credentials(account), host=HOST, context=ctx)  # type: ignore[arg-type]
    return Notarized(result.session, result.attestation, result.bytes_relayed)


def _check(setting, document: dict) -> object:
    _, _, keys, _ = setting
    return check_registration(document, trusted_notaries=keys, sources=load_sources(["binance_eth"]),
                              server_names={"binance_eth": HOST}, max_age_seconds=600)


def test_echo_and_other_parameters_are_refused_inside_mpc(setting, tmp_path: Path, monkeypatch) -> None:
    exchange, _, _, accounts = setting
    client = ProviderClient(DeploymentConfig("http://coordinator.invalid", "http://notary.invalid"))
    honest = _notarize(setting, accounts[3], SPEC)
    echo = _notarize(setting, accounts[1], _echo_spec(accounts[1].uid))
    assert echo.session.balance == "999999.00000000" and echo.uid == str(accounts[1].uid)
    assert b"/api/v3/echo?" in echo.session.request
    # omitZeroBalances=true (and a longer recvWindow, to keep the length): the account endpoint
    other = _notarize(setting, accounts[2], dataclasses.replace(
        SPEC, query="omitZeroBalances=true&timestamp={timestamp}&recvWindow=50000"))
    assert b"omitZeroBalances=true" in other.session.request
    docs = [client.registration_document(honest)] + [
        _length_matched(client.registration_document(n), n.session.request) for n in (echo, other)]
    checked = [_check(setting, d) for d in docs]  # every public check passes
    job: list[list[dict]] = [[], [], []]
    for n, c in zip((honest, echo, other), checked, strict=True):
        dealt = client.dealing(n)
        for pid in range(3):
            job[pid].append(dealt_submission(c, dealt, pid))
            if n is echo:  # the same submission without the request: the response alone passes
                unbound = dict(job[pid][-1])
                unbound.pop("request")
                unbound["input_id"] = unbound["input_id"][:-1] + ("0" if unbound["input_id"][-1] != "0" else "1")
                job[pid].append(unbound)
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    monkeypatch.setenv("MPCSTATS_TEST_JOB", str(path))
    results = run_parties(["tests/request_binding_party.py"], timeout=180)
    reports = []
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
        reports.append(json.loads([ln for ln in r.stdout.splitlines() if ln.startswith("{")][-1]))
    # honest; echo (bound: refused); echo with its request left unchecked (the attack the binding
    # stops: the response alone verifies, 999999 ETH); other query parameters (refused)
    assert all(rep["verdicts"] == [None, REJECT_RECORD, None, REJECT_RECORD] for rep in reports), reports


def test_a_request_of_another_length_or_a_second_request_is_refused_before_mpc(setting) -> None:
    _, _, _, accounts = setting
    client = ProviderClient(DeploymentConfig("http://coordinator.invalid", "http://notary.invalid"))
    extra = _notarize(setting, accounts[0], dataclasses.replace(
        SPEC, query="omitZeroBalances=true&foo=bar&timestamp={timestamp}&recvWindow={recv_window}"))
    with pytest.raises(RegistrationError) as info:
        _check(setting, client.registration_document(extra))
    assert info.value.code == "invalid_record" and "spec's request" in info.value.message
    honest = _notarize(setting, accounts[0], SPEC)
    doc = client.registration_document(honest)
    doc["request"]["timestamp"] -= 3_600_000  # not the notarization's time
    with pytest.raises(RegistrationError) as info:
        _check(setting, doc)
    assert "timestamp" in info.value.message
    doc = client.registration_document(honest)
    doc.pop("request")
    with pytest.raises(RegistrationError):
        _check(setting, doc)


def test_the_records_must_run_from_the_first_response_record_without_gaps(setting) -> None:
    """The registration must name every record from the server's first application record
    (TLS 1.3 tickets included) through the last one used, consecutive; else it is refused before
    any MPC with the real cause."""
    _, _, _, accounts = setting
    client = ProviderClient(DeploymentConfig("http://coordinator.invalid", "http://notary.invalid"))
    notarized = _notarize(setting, accounts[3], SPEC)
    good = client.registration_document(notarized)
    assert len(good["records"]) >= 4 and _check(setting, good)
    gap = {**good, "records": good["records"][:2] + good["records"][3:]}
    with pytest.raises(RegistrationError) as info:
        _check(setting, gap)
    assert info.value.code == "records_not_contiguous"
    late = {**good, "records": good["records"][1:], "tickets": max(good["tickets"] - 1, 0)}
    with pytest.raises(RegistrationError) as info:
        _check(setting, late)
    assert info.value.code == "not_first_response"
    one = {k: v for k, v in good.items() if k not in ("records", "iv", "tickets")}
    one["record"] = {**good["records"][-1], "iv": good["iv"]}  # the old one-record form: the uid's record only
    with pytest.raises(RegistrationError) as info:
        _check(setting, one)
    assert info.value.code == "not_first_response"
