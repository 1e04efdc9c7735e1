"""``mpcstats query --spec FILE``: run a JSON/TOML query spec on the coordinator and check the answer.

Fast tests run the command in-process (:func:`mpcstats.cli.main`) against a stand-in coordinator on
loopback that answers ``POST /v1/queries`` with whatever the test sets — a result signed by three real
Ed25519 keys, or an error. The end-to-end test (marker ``slow``) starts a whole two-column deployment
(``binance_eth_btc``: ETH and BTC balances), counts a few providers and runs specs through the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mpc_programs.statistics import plaintext
from mpc_programs.statistics.query import parse_query
from mpcstats.cli import main
from mpcstats.local_deployment import TWO_COLUMN_SOURCE, pool_row, start_local_deployment
from servers.common.serve import free_port, serve_in_thread
from servers.common.signing import generate_key, key_id, public_key_hex, sign_result

from deployment_helpers import client, creds

SPEC_TOML = """\
# the correlation of ETH and BTC balances, over accounts with more than 0.01 BTC
statistics = ["count", "mean", "correlation", "linear_regression"]
columns = ["balance", "btc"]
filter = [["btc", ">", "0.01"]]
"""
SPEC_JSON = {"statistics": ["count", "mean", "median", "covariance"], "column": "btc",
             "columns": ["balance", "btc"]}


class StandInCoordinator:
    """``POST /v1/queries`` answers ``(status, body)``; ``bodies`` records what it was sent."""

    def __init__(self) -> None:
        self.status, self.body = 200, {}
        self.bodies: list[Any] = []

        async def queries(request: Request) -> JSONResponse:
            self.bodies.append(await request.json())
            return JSONResponse(self.body, status_code=self.status)

        self.server = serve_in_thread(Starlette(routes=[Route("/v1/queries", queries, methods=["POST"])]))

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StandInCoordinator]:
    coordinator = StandInCoordinator()
    yield coordinator
    coordinator.server.stop()


@pytest.fixture()
def coordinator(stand_in: StandInCoordinator) -> StandInCoordinator:
    stand_in.status, stand_in.body, stand_in.bodies = 200, {}, []
    return stand_in


@pytest.fixture(scope="module")
def keys() -> list[Any]:
    return [generate_key() for _ in range(3)]


def bivariate_result(query: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"run_id": "query-spec", "n": 4, "computed_at": 1795618800, "input_digest": "cd" * 32,
            "query": query or parse_query(json.loads(json.dumps(SPEC_JSON))).to_json(),
            "statistics": {"count": 3, "mean": "0.5", "median": "0.25", "covariance": "1.125",
                           "correlation": "0.98198050606196571116",
                           "linear_regression": {"slope": "0.5", "intercept": None}}}


def signed_answer(result: dict[str, Any], keys: list[Any]) -> dict[str, Any]:
    """What the coordinator answers: the result the three parties signed, and their signatures."""
    documents = [sign_result(k, result, i) for i, k in enumerate(keys)]
    return {**result, "signatures": [{"party": d["party"], "key_id": d["key_id"],
                                      "signature": d["signature"]} for d in documents]}


def key_args(keys: list[Any]) -> list[str]:
    return [arg for k in keys for arg in ("--party-key", public_key_hex(k))]


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["query", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- a bad spec never reaches the coordinator -------------------------------------------------------


@pytest.mark.parametrize("name, text, message", [
    ("unknown.json", '{"statistics": ["mean", "average"]}', "unknown statistic 'average'"),
    ("column.json", '{"statistics": ["mean"], "column": "BTC"}', "'column' must be a column name"),
    ("pair.toml", 'statistics = ["correlation"]\n', "'correlation' needs 'columns'"),
    ("filter.toml", 'filter = [["btc", "~", "1"]]\n', "unknown filter operator '~'"),
    ("field.toml", 'statistic = ["mean"]\n', "unknown query field(s): statistic"),
    ("bad.toml", 'statistics = ["mean"\n', "is not valid TOML"),
    ("bad.json", '{"statistics": ["mean"],}', "is not valid JSON"),
    ("list.json", '["mean"]', "a query must be a JSON object"),
])
def test_a_bad_spec_exits_2_before_any_network_call(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                     name: str, text: str, message: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: a request would fail differently
    code, out, err = run(capsys, "--spec", write(tmp_path, name, text), "--coordinator-url", closed)
    assert code == 2 and out == ""
    assert err.startswith("mpcstats query: ") and message in err and "cannot reach" not in err
    assert err.count("\n") == 1  # one line


def test_bad_spec_usage_does_not_contact_the_coordinator(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                         coordinator: StandInCoordinator) -> None:
    code, _, err = run(capsys, "--spec", write(tmp_path, "q.json", '{"statistics": ["x"]}'),
                       "--coordinator-url", coordinator.url)
    assert code == 2 and "invalid query spec" in err and coordinator.bodies == []
    code, _, err = run(capsys, "--spec", str(tmp_path / "missing.toml"), "--coordinator-url", coordinator.url)
    assert code == 2 and "cannot read query spec" in err
    spec = write(tmp_path, "ok.json", json.dumps(SPEC_JSON))
    code, _, err = run(capsys, "--spec", spec)
    assert code == 2 and "--coordinator-url" in err
    code, _, err = run(capsys, "--spec", spec, "--coordinator-url", coordinator.url, "--verify")
    assert code == 2 and "public keys" in err
    code, _, err = run(capsys, "--spec", spec, "--coordinator-url", coordinator.url,
                       "--party-key", "ab" * 32)
    assert code == 2 and "three times" in err
    code, _, err = run(capsys, "--coordinator-url", coordinator.url)
    assert code == 2 and "only used with --spec" in err
    assert coordinator.bodies == []


# --- against a stand-in coordinator -----------------------------------------------------------------


def test_json_spec_runs_and_every_signature_is_checked(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                       coordinator: StandInCoordinator, keys: list[Any]) -> None:
    result = bivariate_result()
    coordinator.body = signed_answer(result, keys)
    spec = write(tmp_path, "q.json", json.dumps({"query": SPEC_JSON}))  # the request body form works too
    code, out, err = run(capsys, "--spec", spec, "--coordinator-url", coordinator.url, *key_args(keys))
    assert code == 0, err
    assert coordinator.bodies == [{"query": parse_query(SPEC_JSON).to_json()}]
    assert "Verified here: all three parties signed this same result" in out
    assert "query: column btc · columns balance × btc" in out
    lines = {line.split("  ")[1].strip(): line for line in out.splitlines() if line.startswith("  ")
             and len(line.split("  ")) > 2}
    assert lines["Mean"].rstrip().endswith("0.5  BTC")
    assert lines["Sample covariance (balance, btc)"].rstrip().endswith("1.125  ETH·BTC")
    assert "Distribution" not in out
    code, out, _ = run(capsys, "--spec", spec, "--coordinator-url", coordinator.url, *key_args(keys), "--json")
    body = json.loads(out)
    assert code == 0 and body["verified"] is True and body["source"] == coordinator.url
    assert body["statistics"] == result["statistics"]
    assert body["parties"] == [{"party": i, "key_id": key_id(keys[i])} for i in range(3)]
    assert len(body["signatures"]) == 3


def test_toml_spec_prints_the_bivariate_rows(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                             coordinator: StandInCoordinator, keys: list[Any]) -> None:
    query = parse_query({"statistics": ["count", "mean", "correlation", "linear_regression"],
                         "columns": ["balance", "btc"], "filter": [["btc", ">", "0.01"]]}).to_json()
    result = bivariate_result(query)
    coordinator.body = signed_answer(result, keys)
    spec = write(tmp_path, "q.toml", SPEC_TOML)
    code, out, err = run(capsys, "--spec", spec, "--coordinator-url", coordinator.url)
    assert code == 0, err
    assert coordinator.bodies == [{"query": query}]
    assert "Pearson correlation (balance, btc)" in out and "0.98198051" in out
    assert "Regression slope (btc on balance)" in out and "BTC/ETH" in out
    assert "Regression intercept (btc on balance)" in out and "—" in out
    assert "filter btc > 0.01" in out
    assert "signatures not checked here" in out and "Verified here" not in out


@pytest.mark.parametrize("attack, reason", [
    ("tampered", "bad_signature"), ("missing", "incomplete"), ("wrong_key", "unknown_key"),
    ("swapped", "wrong_party"), ("unsigned", "incomplete")])
def test_an_answer_whose_signatures_fail_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                    coordinator: StandInCoordinator, keys: list[Any],
                                                    attack: str, reason: str) -> None:
    answer = signed_answer(bivariate_result(), keys)
    if attack == "tampered":
        answer["statistics"]["correlation"] = "-1"
    elif attack == "missing":
        answer["signatures"] = answer["signatures"][:2]
    elif attack == "wrong_key":
        answer["signatures"][1] = signed_answer(bivariate_result(), [generate_key()] * 3)["signatures"][1]
    elif attack == "swapped":
        answer["signatures"][0]["party"], answer["signatures"][1]["party"] = 1, 0
    else:
        del answer["signatures"]
    coordinator.body = answer
    spec = write(tmp_path, "q.json", json.dumps(SPEC_JSON))
    code, out, err = run(capsys, "--spec", spec, "--coordinator-url", coordinator.url, *key_args(keys))
    assert code == 1 and out == "" and err.startswith("Refusing to show statistics:")
    code, out, _ = run(capsys, "--spec", spec, "--coordinator-url", coordinator.url, *key_args(keys), "--json")
    assert code == 1 and json.loads(out)["error"]["code"] == reason


@pytest.mark.parametrize("status, error, code, shown", [
    (409, "not_enough_inputs", 3, "Not enough providers yet: not enough providers yet (0 of 5)"),
    (422, "invalid_field", 1, "the coordinator refused the query: invalid_field: query: unknown column"),
    (503, "party_unreachable", 1, "answered HTTP 503 (party_unreachable: "),
    (429, "rate_limited", 1, "rate limiting"),
])
def test_coordinator_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                            coordinator: StandInCoordinator, keys: list[Any],
                            status: int, error: str, code: int, shown: str) -> None:
    message = {"not_enough_inputs": "not enough providers yet (0 of 5)",
               "invalid_field": "query: unknown column 'usdt'; this pool has: balance, btc"}.get(error, "down")
    coordinator.status, coordinator.body = status, {"error": {"code": error, "message": message}}
    spec = write(tmp_path, "q.json", json.dumps(SPEC_JSON))
    got, out, err = run(capsys, "--spec", spec, "--coordinator-url", coordinator.url, *key_args(keys))
    assert got == code and shown in (out if code == 3 else err)
    got, out, _ = run(capsys, "--spec", spec, "--coordinator-url", coordinator.url, "--json")
    assert got == code and "error" in json.loads(out)


def test_unreachable_coordinator_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = write(tmp_path, "q.json", json.dumps(SPEC_JSON))
    code, _, err = run(capsys, "--spec", spec, "--coordinator-url", f"http://127.0.0.1:{free_port()}",
                       "--timeout", "2")
    assert code == 1 and "cannot reach" in err


# --- end to end: a whole two-column deployment ------------------------------------------------------


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    d = start_local_deployment(tmp_path_factory.mktemp("spec-cli"), accounts=8, seed=5,
                               source=TWO_COLUMN_SOURCE)
    yield d
    d.stop()


@pytest.fixture(scope="module")
def counted(deployment: Any) -> list[Any]:
    accounts = [a for a in deployment.accounts if a.btc is not None][:4]
    assert len(accounts) == 4

    def contribute(account: Any) -> str:
        return client(deployment).contribute(creds(account)).status

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(contribute, accounts)) == ["accepted"] * 4
    return accounts


@pytest.mark.slow
def test_specs_run_end_to_end_on_a_real_deployment(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                   deployment: Any, counted: list[Any]) -> None:
    table = [pool_row(a) for a in counted]
    dep_file = str(deployment.root / "deployment.json")
    toml_spec = write(tmp_path, "q.toml", SPEC_TOML)
    code, out, err = run(capsys, "--spec", toml_spec, "--deployment", dep_file, "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["verified"] is True and body["source"] == deployment.coordinator_url
    want = plaintext.table_statistics(parse_query(tomllib_load(toml_spec)), table)
    got = body["statistics"]
    assert got["count"] == want["count"] and got["mean"] == want["mean"]
    for value, exact in ((got["correlation"], want["correlation"]),
                         (got["linear_regression"]["slope"], want["linear_regression"]["slope"]),
                         (got["linear_regression"]["intercept"], want["linear_regression"]["intercept"])):
        assert (value is None) == (exact is None)
        if exact is not None:
            assert abs(Decimal(value) - Decimal(exact)) <= Decimal("1e-6") * max(1, abs(Decimal(exact)))
    code, out, err = run(capsys, "--spec", toml_spec, "--deployment", dep_file)  # same query: cached answer
    assert code == 0, err
    assert "Verified here: all three parties signed this same result" in out
    assert "Pearson correlation (balance, btc)" in out and "Regression slope (btc on balance)" in out

    json_spec = write(tmp_path, "q.json", json.dumps({"statistics": ["count", "mean", "max"], "column": "btc"}))
    keys = [arg for k in deployment.party_public_keys for arg in ("--party-key", k)]
    code, out, err = run(capsys, "--spec", json_spec, "--coordinator-url", deployment.coordinator_url, *keys)
    assert code == 0, err
    want = plaintext.table_statistics(parse_query({"statistics": ["count", "mean", "max"], "column": "btc"}),
                                      table)
    assert "Verified here" in out and f"({len(counted)} providers)" in out
    assert any(line.startswith("  Maximum") and line.rstrip().endswith(" BTC") for line in out.splitlines())
    assert str(want["count"]) in out

    unknown = write(tmp_path, "usdt.json", json.dumps({"statistics": ["mean"], "column": "usdt"}))
    code, _, err = run(capsys, "--spec", unknown, "--deployment", dep_file)
    assert code == 1 and "unknown column 'usdt'" in err


def tomllib_load(path: str) -> Any:
    import tomllib
    return tomllib.loads(Path(path).read_text())
