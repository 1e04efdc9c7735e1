"""The whole system, every server its own process on loopback (mpcstats up's deployment)."""

import dataclasses
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from mpc_programs.statistics import plaintext
from mpc_programs.shares.encoding import to_units
from mpc_programs.statistics.query import parse_query
from mpcstats.local_deployment import start_local_deployment
from provider_app.client import Registration
from provider_app.errors import ContributionError

from deployment_helpers import client, creds, party_inputs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    d = start_local_deployment(tmp_path_factory.mktemp("deployment"), accounts=16, seed=7)
    yield d
    d.stop()


def query(deployment) -> dict:
    response = requests.post(deployment.coordinator_url + "/v1/queries",
                             json={"query": None}, timeout=300)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def ten_accepted(deployment):
    accounts = deployment.accounts[:10]
    with ThreadPoolExecutor(5) as pool:
        outcomes = list(pool.map(lambda a: client(deployment).contribute(creds(a)), accounts))
    assert [o.status for o in outcomes] == ["accepted"] * 10
    return accounts


def test_ten_providers_are_counted_and_the_statistics_are_exact(deployment, ten_accepted):
    assert party_inputs(deployment) == [10, 10, 10]
    result = query(deployment)
    truth = plaintext.statistics(parse_query(None), [to_units(a.eth) for a in ten_accepted])
    assert result["n"] == 10
    assert result["statistics"] == truth
    assert len({s["key_id"] for s in result["signatures"]}) == 3
    # the results API serves it once all three signed results agree
    for _ in range(100):
        served = requests.get(deployment.results_url + "/stats", timeout=5)
        if served.status_code == 200 and served.json()["run_id"] == result["run_id"]:
            break
        threading.Event().wait(0.1)
    assert served.json()["statistics"] == truth
    assert len(served.json()["parties"]) == 3
    # the same query over the same inputs is answered from the signed result: no new MPC run
    assert query(deployment)["run_id"] == result["run_id"]


def test_full_size_responses_over_several_records_and_a_zero_eth_account_count(deployment, ten_accepted):
    """The simulator answers like the real exchange (every listed asset, tens of KB): the head
    is a record of its own, the ETH balance and the uid sit in later records, and the provider
    registers every record from the first through the one ending with the uid. The account
    with no ETH at all was counted above with 0 (issue 17)."""
    zero = [a for a in ten_accepted if a.eth == "0.00000000"]
    assert len(zero) == 1
    c = client(deployment)
    notarized = c.notarize(creds(deployment.accounts[14]))
    s = notarized.session
    assert len(s.plaintext) > 20_000 and s.plaintext.count(b'{"asset":') >= 400
    assert s.fields["balance"].record >= 1 and s.fields["uid"].record == len(s.records) - 1 >= 2
    document = c.registration_document(notarized)
    assert len(document["records"]) == len(s.tickets) + len(s.records)
    assert document["tickets"] == len(s.tickets)


def test_a_counted_account_is_refused(deployment, ten_accepted):
    with pytest.raises(ContributionError) as info:
        client(deployment).contribute(creds(ten_accepted[0]))
    assert info.value.code == "already_counted"


def test_two_concurrent_registrations_of_one_account_exactly_one_wins(deployment):
    c = client(deployment)
    notarized = c.notarize(creds(deployment.accounts[10]))
    document = c.registration_document(notarized)
    url = deployment.coordinator_url + "/v1/registrations"
    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(lambda _: requests.post(url, json=document, timeout=30).status_code,
                                range(2)))
    assert codes == [201, 409]


def test_a_forged_attestation_is_refused(deployment):
    c = client(deployment)
    notarized = c.notarize(creds(deployment.accounts[11]))
    document = c.registration_document(notarized)
    signature = document["attestation"]["signature"]
    document["attestation"]["signature"] = ("A" if signature[0] != "A" else "B") + signature[1:]
    response = requests.post(deployment.coordinator_url + "/v1/registrations", json=document,
                             timeout=30)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "attestation_bad_signature"
    # an attestation for one record cannot carry another balance
    document = c.registration_document(notarized)
    payload = document["records"][-1]["payload"]  # flip a bit of the last byte (never a no-op)
    document["records"][-1]["payload"] = payload[:-2] + f"{int(payload[-2:], 16) ^ 1:02x}"
    response = requests.post(deployment.coordinator_url + "/v1/registrations", json=document,
                             timeout=30)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "attestation_record_mismatch"


def test_a_wrong_key_is_rejected_and_nothing_is_stored(deployment, ten_accepted):
    c = client(deployment)
    before = party_inputs(deployment)
    notarized = c.notarize(creds(deployment.accounts[12]))
    key = notarized.session.server_write_key
    forged = dataclasses.replace(notarized.session, server_write_key=os.urandom(len(key)))
    notarized = dataclasses.replace(notarized, session=forged)
    registration = c.register(notarized)
    c.share(notarized, registration)
    final = c.wait(registration, timeout=120)
    assert final["status"] == "rejected"
    assert "did not verify" in final["reason"]
    assert party_inputs(deployment) == before
    # the account is free again: an honest retry is counted
    assert client(deployment).contribute(creds(deployment.accounts[12])).status == "accepted"


def test_every_server_restarts_without_losing_or_adding_anything(deployment, ten_accepted):
    before = party_inputs(deployment)
    counted = requests.get(deployment.coordinator_url + "/health", timeout=5).json()["inputs"]
    for name in ["notary", "party0", "party1", "party2", "coordinator", "results"]:
        deployment.start_server(name)
    assert party_inputs(deployment) == before
    assert requests.get(deployment.coordinator_url + "/health", timeout=5).json()["inputs"] == counted
    assert client(deployment).contribute(creds(deployment.accounts[13])).status == "accepted"
    result = query(deployment)
    assert result["n"] == counted + 1


def test_no_uid_squatting_and_no_membership_oracle(deployment, ten_accepted):
    """Issue 17: a provider with its own valid attestation claims other accounts' uids. Before
    verification the coordinator answers alike for a counted uid, a uid in flight and a new one
    (201: no oracle), reserves nothing (the owner is not blocked: no squatting), and refuses a
    second registration of one attestation; the squatter's shared claim is rejected inside MPC."""
    c = client(deployment)
    squatter, victim = deployment.accounts[14], deployment.accounts[15]
    url = deployment.coordinator_url + "/v1/registrations"

    def claiming(uid: int) -> requests.Response:
        notarized = c.notarize(creds(squatter))
        document = c.registration_document(notarized)
        assert len(str(uid)) == len(document["uid"])
        document["uid"] = str(uid)  # the claim; the notarized response holds the squatter's own
        return requests.post(url, json=document, timeout=30)

    counted, new = claiming(ten_accepted[0].uid), claiming(victim.uid)
    in_flight = claiming(victim.uid)
    assert counted.status_code == new.status_code == in_flight.status_code == 201
    assert set(counted.json()) == set(new.json()) == set(in_flight.json())
    # one registration per attestation
    notarized = c.notarize(creds(squatter))
    document = c.registration_document(notarized)
    assert requests.post(url, json=document, timeout=30).status_code == 201
    replay = requests.post(url, json=document, timeout=30)
    assert replay.status_code == 409 and replay.json()["error"]["code"] == "attestation_used"
    # the squatter shares its real keys under the victim's uid: rejected inside MPC
    squat = c.notarize(creds(squatter))
    squat_doc = c.registration_document(squat)
    squat_doc["uid"] = str(victim.uid)
    body = requests.post(url, json=squat_doc, timeout=30).json()
    registration = Registration(body["session_id"], body["token"], list(body["parties"]),
                                int(body["key_length"]), float(body["expires_at"]))
    c.share(squat, registration)
    final = c.wait(registration, timeout=120)
    assert final["status"] == "rejected" and "did not verify" in final["reason"]
    # the owner is not blocked by any of it
    assert client(deployment).contribute(creds(victim)).status == "accepted"
