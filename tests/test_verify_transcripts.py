"""Input verification inside MPC over real notarized transcripts (TLS 1.2 and 1.3, AES-128 and
AES-256) from the exchange simulator, through the same registration checks the servers run."""

import requests

from mpcstats.benchmarks import local_pool
from mpc_programs.statistics import plaintext
from mpc_programs.verification import verify_inputs
from mpc_programs.shares.encoding import to_units
from mpc_programs.statistics.query import parse_query
from provider_app.client import DeploymentConfig, ProviderClient
from servers.common.registration import check_registration, load_sources
from tlsn import public_key_from_b64
from deployment_helpers import as_notarized, dealt_submission
from tlsn_fixtures import HOST, notarize

FLAVOURS = ["tls12", "tls12_aes128", "tls13", "tls13_aes128"]


def test_real_transcripts_verify_and_store_the_right_balances(notaries, exchanges, sim_accounts,
                                                               tmp_path):
    builder = ProviderClient(DeploymentConfig("http://127.0.0.1:9", "http://127.0.0.1:9"))
    sources = load_sources(["binance_eth"])
    per_party: list[list[dict]] = [[], [], []]
    expected = {}
    for account, flavour in zip(sim_accounts, FLAVOURS):
        result = notarize(notaries[flavour], exchanges[flavour], account)
        key = requests.get(notaries[flavour].url + "/v1/key", timeout=5).json()
        trusted = {key["key_id"]: public_key_from_b64(key["public_key"])}
        notarized = as_notarized(result)
        document = builder.registration_document(notarized)
        dealt = builder.dealing(notarized)
        cases = {"honest": document}
        if flavour == "tls13":  # two dishonest claims on a real record
            other_uid = dict(document, uid=str(int(document["uid"]) + 1))
            btc = result.session.plaintext.find(b'{"asset":"BTC","free":"') + 23
            record_start = result.session.records[result.session.fields["balance"].record]
            btc_offset = btc - record_start.stream_offset
            other_asset = {**document, "fields": {**document["fields"], "balance": {
                "offset": btc_offset, "length": document["fields"]["balance"]["length"]}}}
            cases.update({"claims-another-uid": other_uid, "points-at-btc": other_asset})
        for case, doc in cases.items():
            checked = check_registration(doc, trusted_notaries=trusted, sources=sources,
                                         server_names={"binance_eth": HOST},
                                         max_age_seconds=600)
            input_id = f"{flavour}:{case}"
            for pid in range(3):
                per_party[pid].append({**dealt_submission(checked, dealt, pid), "input_id": input_id})
            if case == "honest":
                expected[input_id] = to_units(result.session.balance)
    stores = local_pool.store_paths(tmp_path)
    outcome = local_pool.verify(stores, per_party, tmp_path)
    assert outcome["accepted"] == sorted(expected)
    assert outcome["rejected"] == {"tls13:claims-another-uid": verify_inputs.REJECT_RECORD,
                                   "tls13:points-at-btc": verify_inputs.REJECT_RECORD}
    # what is stored reconstructs (through MPC, opened here only as statistics) to the balances
    query = parse_query({"statistics": ["count", "sum", "min", "max", "median"]})
    stats = local_pool.statistics(stores, query, tmp_path)[0]["statistics"]
    assert stats == plaintext.statistics(query, list(expected.values()))
