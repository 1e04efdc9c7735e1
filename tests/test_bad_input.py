"""Bad input on every public endpoint of the coordinator and the parties: a clear JSON error,
the right status, and no change of state."""

import base64
import json
import os

import pytest
import requests

from mpc_programs.shares.dealing import CLIENT_KEY, KEY, LAYOUT, encode_elements
from mpc_programs.shares.store import encode_row
from mpcstats.local_deployment import start_local_deployment
from provider_app.client import DeploymentConfig, ProviderClient
from tlsn import Credentials, NotaryKey

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    d = start_local_deployment(tmp_path_factory.mktemp("bad-input"), accounts=4, seed=3)
    yield d
    d.stop()


def error_of(response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return body["error"]["code"]


def state(deployment) -> tuple:
    coord = requests.get(deployment.coordinator_url + "/health", timeout=5).json()
    parties = [requests.get(u + "/health", timeout=5).json() for u in deployment.party_urls]
    return coord["inputs"], [p["inputs"] for p in parties], [p["pending_sessions"] for p in parties]


@pytest.mark.parametrize("body,status,code", [
    (b"{not json", 400, "malformed_json"),
    (b"[1, 2]", 422, "invalid_field"),
    (b'{"source": 5}', 422, "unknown_source"),
    (json.dumps({"source": "binance_eth", "uid": "x1"}).encode(), 422, "invalid_field"),
    (b'{"x": NaN}', 400, "malformed_json"),
])
def test_registration_rejects_malformed_bodies(deployment, body, status, code):
    before = state(deployment)
    response = requests.post(deployment.coordinator_url + "/v1/registrations", data=body,
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == status
    assert error_of(response) == code
    assert state(deployment) == before


def test_oversized_body_is_refused(deployment):
    response = requests.post(deployment.coordinator_url + "/v1/registrations",
                             data=b'{"a": "' + b"x" * (2 << 20) + b'"}', timeout=10)
    assert response.status_code == 413
    assert error_of(response) == "payload_too_large"


@pytest.fixture(scope="module")
def notarized(deployment):
    client = ProviderClient(DeploymentConfig.from_dict(deployment.provider_config()))
    account = deployment.accounts[0]
    return client, client.notarize(Credentials(account.api_key, account.secret))


def test_attestation_from_an_untrusted_notary_is_refused(deployment, notarized):
    client, n = notarized
    document = client.registration_document(n)
    rogue = NotaryKey.generate()
    signed = rogue.sign(type(n.attestation.attestation)(
        **{**n.attestation.attestation.__dict__, "notary_key_id": rogue.key_id}))
    document["attestation"] = signed.to_dict()
    response = requests.post(deployment.coordinator_url + "/v1/registrations", json=document,
                             timeout=10)
    assert response.status_code == 403
    assert error_of(response) == "attestation_unknown_notary_key"


def test_wrong_types_in_the_record_are_refused(deployment, notarized):
    client, n = notarized
    for mutate, code in [
        (lambda d: d["records"][0].update(seq="1"), "invalid_field"),
        (lambda d: d["records"][0].update(header="zz"), "invalid_field"),
        (lambda d: d["fields"]["balance"].update(offset=-4), "invalid_field"),
        (lambda d: d.update(uid="123abc"), "invalid_field"),
        (lambda d: d["fields"]["uid"].update(offset=10**7), "invalid_field"),
    ]:
        document = client.registration_document(n)
        mutate(document)
        response = requests.post(deployment.coordinator_url + "/v1/registrations",
                                 json=document, timeout=10)
        assert response.status_code == 422, response.text
        assert error_of(response) == code


def test_tokens_sessions_and_shares_are_checked(deployment, notarized):
    client, n = notarized
    registration = client.register(n)
    party = registration.parties[0]
    url = f"{party}/v1/sessions/{registration.session_id}/shares"
    dealt = client.dealing(n)
    rows, part = dealt.rows[0], dealt.parts[0].to_json()
    key_bits = {"key_bits": encode_elements(rows[KEY]),
                "client_key_bits": encode_elements(rows[CLIENT_KEY])}
    good = {**key_bits, "layout": "AAAA"}
    # no token, a wrong token, a session that does not exist
    assert requests.post(url, json=good, timeout=10).status_code == 401
    wrong = requests.post(url, json=good, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 404 and error_of(wrong) == "unknown_session"
    missing = requests.post(f"{party}/v1/sessions/{'0' * 32}/shares", json=good,
                            headers={"Authorization": f"Bearer {registration.token}"}, timeout=10)
    assert missing.status_code == 404
    auth = {"Authorization": f"Bearer {registration.token}"}
    # shares that are not bytes / not field elements
    too_few = encode_elements(rows[KEY][:-8])
    above_p = base64.b64encode(b"\xff" * 24 * len(rows[KEY])).decode()
    for body, field in (({**key_bits, "key_bits": too_few, "layout": "AAAA"}, "key_bits"),
                        ({**key_bits, "client_key_bits": above_p, "layout": "AAAA"},
                         "client_key_bits"),
                        ({**key_bits, "key_bits": "not base64!", "layout": "AAAA"}, "key_bits"),
                        ({**key_bits, "layout": "not base64!"}, "layout"),
                        ({**key_bits, "layout": "//" * 6000}, "layout")):
        response = requests.post(url, json=body, headers=auth, timeout=10)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["message"].startswith(field), response.text
    # a share upload whose dealing the registration's dealer key did not sign
    valid = {**key_bits, "layout": encode_row(rows[LAYOUT])}
    other = dealt.parts[1].to_json()  # party 1's part: signed for another point
    for dealing_doc, why in ((None, "an object with blindings and signature"),
                             (other, "signature does not verify"),
                             ({**part, "signature": other["signature"]}, "signature does not verify"),
                             ({**part, "blindings": {**part["blindings"], LAYOUT: "1"}},
                              "signature does not verify")):
        response = requests.post(url, json={**valid, "dealing": dealing_doc}, headers=auth,
                                 timeout=10)
        assert response.status_code == 422 and error_of(response) == "invalid_field", response.text
        assert why in response.json()["error"]["message"]
    # the coordinator's control calls need the coordinator token
    for path in ("/v1/sessions", "/v1/verify", "/v1/query", "/v1/commit", "/v1/abort"):
        response = requests.post(party + path, json={}, headers=auth, timeout=10)
        assert response.status_code == 401
    # the real flow still works afterwards, and a replayed share upload is refused
    client.share(n, registration)
    replay = requests.post(url, json=good, headers=auth, timeout=10)
    assert replay.status_code == 409 and error_of(replay) == "already_shared"
    assert client.wait(registration, timeout=120)["status"] == "accepted"
    # a replayed attestation (the same registration again) is refused: one registration per
    # attestation (and nothing said about the account)
    response = requests.post(deployment.coordinator_url + "/v1/registrations",
                             json=client.registration_document(n), timeout=10)
    assert response.status_code == 409 and error_of(response) == "attestation_used"
    # ... also when the JSON around the signed attestation is padded with a field nobody reads
    padded = client.registration_document(n)
    padded["attestation"] = {**padded["attestation"], "note": "again"}
    response = requests.post(deployment.coordinator_url + "/v1/registrations", json=padded, timeout=10)
    assert response.status_code in (409, 403, 422) and error_of(response) != "already_counted"
    assert response.status_code != 201
    # a status query with another session's token reveals nothing
    other = requests.get(deployment.coordinator_url + f"/v1/registrations/{registration.session_id}",
                         headers={"Authorization": "Bearer " + os.urandom(8).hex()}, timeout=10)
    assert other.status_code == 404


def test_bad_queries_are_refused_before_any_mpc(deployment):
    for body, code in [({"query": {"statistics": ["nope"]}}, "invalid_field"),
                       ({"query": {"quantiles": ["2"]}}, "invalid_field"),
                       ({"query": []}, "invalid_field")]:
        response = requests.post(deployment.coordinator_url + "/v1/queries", json=body, timeout=10)
        assert response.status_code == 422, response.text
        assert error_of(response) == code


def test_unknown_routes_and_methods_answer_json(deployment):
    assert error_of(requests.get(deployment.coordinator_url + "/nope", timeout=5)) == "not_found"
    response = requests.get(deployment.coordinator_url + "/v1/registrations", timeout=5)
    assert response.status_code == 405 and error_of(response) == "method_not_allowed"
