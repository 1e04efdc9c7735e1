"""A two-column pool end to end (ETH and BTC balances from one notarized response): every
server its own process, the BTC value verified inside MPC like the balance, missing when the
provider leaves it out (the full-size response lists every asset), and queries over either
column and both."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from fractions import Fraction

import pytest
import requests

from mpc_programs.statistics import plaintext
from mpc_programs.statistics.query import parse_query
from mpc_programs.shares.dealing import CLIENT_KEY, KEY, LAYOUT, encode_elements
from mpc_programs.shares.store import encode_row
from mpcstats.local_deployment import TWO_COLUMN_SOURCE, pool_row, start_local_deployment
from provider_app.client import ProviderClient
from provider_app.errors import ContributionError

from deployment_helpers import client, creds, party_inputs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    d = start_local_deployment(tmp_path_factory.mktemp("two-columns"), accounts=14, seed=2,
                               source=TWO_COLUMN_SOURCE)
    yield d
    d.stop()


def spares(deployment) -> list:
    """Accounts not counted by the fixture that hold BTC."""
    return [a for a in deployment.accounts[10:] if a.btc is not None]


def table(accounts) -> list[dict[str, int]]:
    """The counted rows: an account that holds no BTC left its (listed, zero) BTC field out."""
    return [{k: v for k, v in pool_row(a).items() if a.btc is not None or k != "btc"} for a in accounts]


def ask(deployment, spec: dict) -> requests.Response:
    return requests.post(deployment.coordinator_url + "/v1/queries", json={"query": spec},
                         timeout=300)


class LyingAboutBtc(ProviderClient):
    """Shares a BTC value other than the notarized one."""

    def column_values(self, notarized):
        values = super().column_values(notarized)
        values["btc"] = "1234.00000000"
        return values


class HidingBtc(ProviderClient):
    """Registers without its BTC field: the value is then missing (the provider's choice)."""

    def registration_document(self, notarized):
        doc = super().registration_document(notarized)
        doc["fields"].pop("btc")
        return doc

    def column_values(self, notarized):
        values = super().column_values(notarized)
        values.pop("btc")
        return values


@pytest.fixture(scope="module")
def counted(deployment):
    accounts = deployment.accounts
    honest = accounts[:10]
    assert sum(1 for a in honest if a.btc is None) >= 2  # the simulator's missing BTC
    with ThreadPoolExecutor(4) as pool:
        # the full-size response lists BTC (0) for every account; those that hold none leave
        # the field out (a missing value)
        outcomes = list(pool.map(lambda a: client(deployment, HidingBtc if a.btc is None else ProviderClient)
                                 .contribute(creds(a)), honest))
    assert [o.status for o in outcomes] == ["accepted"] * 10
    return honest


def test_a_false_btc_value_is_rejected_inside_mpc(deployment, counted):
    liar = spares(deployment)[0]
    with pytest.raises(ContributionError) as info:
        client(deployment, LyingAboutBtc).contribute(creds(liar))
    assert info.value.code == "rejected" and "not a valid encoding" in info.value.detail
    assert party_inputs(deployment) == [10, 10, 10]


def test_statistics_of_each_column_and_of_both(deployment, counted):
    rows = table(counted)
    specs = [
        {"statistics": ["count", "mean", "median", "max"], "column": "btc"},
        {"statistics": ["count", "sum", "min"], "filter": [["btc", ">", "0.01"]]},
    ]
    for spec in specs:
        response = ask(deployment, spec)
        assert response.status_code == 200, response.text
        assert response.json()["statistics"] == plaintext.table_statistics(
            parse_query(spec), rows), spec
    btc_count = ask(deployment, specs[0]).json()["statistics"]["count"]
    assert btc_count == sum(1 for a in counted if a.btc is not None) < len(counted)


def test_two_column_statistics_over_the_complete_rows(deployment, counted):
    spec = {"statistics": ["count", "covariance", "correlation", "linear_regression"],
            "columns": ["balance", "btc"]}
    response = ask(deployment, spec)
    assert response.status_code == 200, response.text
    got = response.json()["statistics"]
    want = plaintext.table_statistics(parse_query(spec), table(counted))
    assert got["count"] == want["count"]
    for name in ("covariance", "correlation"):
        assert close(got[name], want[name]), name
    for part in ("slope", "intercept"):
        assert close(got["linear_regression"][part], want["linear_regression"][part]), part


def test_an_unknown_column_is_refused_before_any_mpc(deployment, counted):
    response = ask(deployment, {"statistics": ["mean"], "column": "usdt"})
    assert response.status_code == 422
    assert "unknown column 'usdt'" in response.json()["error"]["message"]


def test_a_provider_may_leave_an_optional_column_out(deployment, counted):
    hider = spares(deployment)[1]
    outcome = client(deployment, HidingBtc).contribute(creds(hider))
    assert outcome.status == "accepted"
    spec = {"statistics": ["count"], "column": "btc"}
    body = ask(deployment, spec).json()
    with_btc = sum(1 for a in counted if a.btc is not None)
    assert body["n"] == 11 and body["statistics"]["count"] == with_btc


def test_bad_column_fields_and_share_bodies_are_refused_with_reasons(deployment, counted):
    account = spares(deployment)[2]
    provider = client(deployment)
    notarized = provider.notarize(creds(account))
    good = provider.registration_document(notarized)
    url = deployment.coordinator_url + "/v1/registrations"

    def refused(doc: dict, message: str) -> None:
        response = requests.post(url, json=doc, timeout=30)
        assert response.status_code == 422, response.text
        assert message in response.json()["error"]["message"]

    refused({**good, "fields": {**good["fields"], "usdt": good["fields"]["btc"]}},
            "unknown field(s): usdt")
    refused({**good, "fields": {**good["fields"], "btc": good["fields"]["balance"]}},
            "two fields overlap")
    refused({**good, "fields": {**good["fields"], "btc": {"offset": -1, "length": 10}}},
            "fields.btc.offset")
    # a registered provider must send exactly the extra columns its registration located
    registration = provider.register(notarized)
    party = deployment.party_urls[0]
    shares_url = f"{party}/v1/sessions/{registration.session_id}/shares"
    auth = {"Authorization": f"Bearer {registration.token}"}
    dealt = provider.dealing(notarized)
    row, btc = encode_row(dealt.rows[0][LAYOUT]), encode_row(dealt.rows[0]["btc"])
    body = {"key_bits": encode_elements(dealt.rows[0][KEY]),
            "client_key_bits": encode_elements(dealt.rows[0][CLIENT_KEY]),
            "layout": row, "dealing": dealt.parts[0].to_json()}
    for columns, status in (({}, 422), ({"btc": row, "usdt": row}, 422), ({"btc": "x"}, 422)):
        response = requests.post(shares_url, json={**body, "columns": columns}, headers=auth,
                                 timeout=30)
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == "invalid_field"
    assert requests.post(shares_url, json={**body, "columns": {"btc": btc}}, headers=auth,
                         timeout=30).status_code == 200


def close(got: str | None, want: str | None) -> bool:
    """Within 1e-6 relative (the fixed-point results); exact agreement on None."""
    if got is None or want is None:
        return got is want
    g, w = Fraction(Decimal(got)), Fraction(Decimal(want))
    return abs(g - w) <= abs(w) * Fraction(1, 10**6) + Fraction(1, 10**9)
