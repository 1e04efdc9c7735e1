"""Property-based fuzzing (hypothesis) of every parser that reads bytes or JSON from outside.

Each parser has one documented exception type for bad input; anything else (a ``TypeError`` from a
list where a string was expected, an ``AttributeError`` from an int where a dict was expected) would
be a 500 at a server or a crash in the app. And a mutated attestation must never verify.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from deployment_helpers import as_notarized
from tlsn_fixtures import notarize

from mpc_programs.statistics.query import QueryError, parse_query
from mpc_programs.shares.store import ELEMENT_BYTES, PRIME, SHARES_PER_INPUT, StoreError, decode_row
from provider_app.client import DeploymentConfig, ProviderClient
from servers.common.registration import RegistrationError, check_registration, load_sources
from tlsn import (Attestation, AttestationError, NotaryKey, RecordEntry, RecordError, SignedAttestation,
                  key_id, parse_records, verify_attestation)
from tlsn.attestation import canonical_json
from tlsn.records import MAX_CIPHERTEXT

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=150, deadline=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# Arbitrary JSON values, as any client can send them.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


# -- TLS records --------------------------------------------------------------------------------------

@FUZZ
@given(st.binary(max_size=600), st.sampled_from(["c2s", "s2c"]), st.booleans())
def test_record_parser_raises_only_record_error(data: bytes, direction: str, partial: bool) -> None:
    try:
        records, tail = parse_records(data, direction, allow_partial=partial)
    except RecordError:
        return
    assert b"".join(r.raw for r in records) + tail == data
    assert partial or not tail


@FUZZ
@given(st.binary(max_size=64), st.text(max_size=5))
def test_record_parser_refuses_unknown_direction_with_value_error(data: bytes, direction: str) -> None:
    assume(direction not in ("c2s", "s2c"))
    with pytest.raises(ValueError):
        parse_records(data, direction)


valid_records = st.lists(st.tuples(st.sampled_from([20, 21, 22, 23]), st.integers(0x0300, 0x03FF),
                                   st.binary(max_size=300)), max_size=8)


@FUZZ
@given(valid_records, st.binary(max_size=4))
def test_valid_records_round_trip(specs: list[tuple[int, int, bytes]], short_tail: bytes) -> None:
    wire = b"".join(bytes([t]) + v.to_bytes(2, "big") + len(p).to_bytes(2, "big") + p for t, v, p in specs)
    records, tail = parse_records(wire, "s2c")
    assert tail == b""
    assert [(r.content_type, r.version, r.payload, r.index) for r in records] == \
        [(t, v, p, i) for i, (t, v, p) in enumerate(specs)]
    assert b"".join(r.raw for r in records) == wire
    # fewer than a header's worth of extra bytes is a tail: kept with allow_partial, refused without
    if short_tail:
        assert parse_records(wire + short_tail, "s2c", allow_partial=True) == (records, short_tail)
        with pytest.raises(RecordError) as excinfo:
            parse_records(wire + short_tail, "s2c")
        assert excinfo.value.reason == "truncated_transcript"


@FUZZ
@given(st.integers(MAX_CIPHERTEXT + 1, 0xFFFF))
def test_record_longer_than_the_rfc_bound_is_malformed(length: int) -> None:
    with pytest.raises(RecordError) as excinfo:
        parse_records(bytes([23, 3, 3]) + length.to_bytes(2, "big"), "s2c", allow_partial=True)
    assert excinfo.value.reason == "malformed_record"


# -- attestations -------------------------------------------------------------------------------------

NOTARY = NotaryKey.generate()
TRUSTED = {NOTARY.key_id: NOTARY.public_key}


def _signed_attestation() -> SignedAttestation:
    records = tuple(RecordEntry(d, i, e, s, h, "ab" * 32) for d, i, e, s, h in [
        ("c2s", 0, "plaintext", None, "1603010200"), ("s2c", 0, "plaintext", None, "160303007a"),
        ("s2c", 5, "application", 1, "17030300e4")])
    att = Attestation(version=1, notary_key_id=NOTARY.key_id, session_id="s1", server_name="api.binance.test",
                      peer_address="127.0.0.1:443", time=int(time.time()), tls_version="TLSv1.3",
                      cipher_suite="TLS_AES_128_GCM_SHA256", cipher_suite_id=0x1301, client_random="00" * 32,
                      server_random="11" * 32, cert_chain_sha256="22" * 32, records=records)
    return NOTARY.sign(att)


SIGNED = _signed_attestation()
ORIGINAL = SIGNED.to_dict()


def test_the_unmutated_attestation_verifies() -> None:
    assert verify_attestation(ORIGINAL, TRUSTED, server_name="api.binance.test", max_age_seconds=3600)


@FUZZ
@given(json_values)
def test_signed_attestation_parsers_raise_only_attestation_error(value: Any) -> None:
    for parse in (SignedAttestation.from_dict, lambda v: SignedAttestation.from_json(json.dumps(v)),
                  lambda v: verify_attestation(v, TRUSTED)):
        with pytest.raises(AttestationError):
            parse(value)


@FUZZ
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_attestation_from_arbitrary_text_raises_only_attestation_error(text: str) -> None:
    with pytest.raises(AttestationError):
        verify_attestation(text, TRUSTED)


@FUZZ
@given(st.dictionaries(st.sampled_from(list(ORIGINAL["attestation"]) + ["extra"]), json_values, max_size=6))
def test_attestation_fields_of_any_type_raise_only_attestation_error(replacements: dict[str, Any]) -> None:
    doc = copy.deepcopy(ORIGINAL)
    doc["attestation"].update(replacements)
    changed = canonical_json(doc["attestation"]) != canonical_json(ORIGINAL["attestation"])
    try:
        att = verify_attestation(doc, TRUSTED, server_name="api.binance.test", max_age_seconds=3600)
    except AttestationError:
        return
    assert not changed, f"a changed attestation verified: {att}"


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


ATTESTATION_PATHS = [p for p in _paths(ORIGINAL) if p]


def _draw_place(draw: st.DrawFn, doc: Any) -> tuple[tuple[Any, ...], Any]:
    """A random non-empty path into ``doc`` and the container holding its last step."""
    path = draw(st.sampled_from([p for p in _paths(doc) if p]))
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    return path, parent


@st.composite
def mutated_attestations(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(ORIGINAL)
    for _ in range(draw(st.integers(1, 3))):
        path, parent = _draw_place(draw, doc)
        action = draw(st.sampled_from(["replace", "delete", "flip"] + (["add"] if isinstance(parent, dict)
                                                                       and path[0] == "attestation" else [])))
        last = path[-1]
        if action == "replace":
            parent[last] = draw(json_values)
        elif action == "delete":
            del parent[last]
        elif action == "add":
            parent[draw(st.text(min_size=1, max_size=6))] = draw(json_values)
        else:  # flip: a small edit of a scalar
            value = parent[last]
            if isinstance(value, bool) or value is None:
                parent[last] = not value
            elif isinstance(value, int):
                parent[last] = value + draw(st.sampled_from([-1, 1, 2**32]))
            elif isinstance(value, str) and value:
                i = draw(st.integers(0, len(value) - 1))
                parent[last] = value[:i] + draw(st.characters(codec="ascii")) + value[i + 1:]
    return doc


def _semantics(doc: Any) -> tuple[bytes, bytes] | None:
    """What a signature covers (the canonical attestation) and the signature bytes, or None if unreadable."""
    try:
        return canonical_json(doc["attestation"]), base64.b64decode(doc["signature"], validate=True)
    except (KeyError, TypeError, ValueError):
        return None


@settings(max_examples=400, deadline=None)
@given(mutated_attestations())
def test_mutated_attestations_are_refused_with_attestation_error(doc: dict[str, Any]) -> None:
    try:
        verify_attestation(doc, TRUSTED, server_name="api.binance.test", max_age_seconds=3600)
    except AttestationError:
        return
    # Accepted: only if the mutation changed nothing that is signed (e.g. a character replaced by itself).
    assert _semantics(doc) == _semantics(ORIGINAL) and doc.get("alg") == "Ed25519"


@FUZZ
@given(st.one_of(json_values, st.builds(dict)), st.sampled_from(["key", "mapping"]))
def test_verify_attestation_with_any_trusted_keys_shape(value: Any, shape: str) -> None:
    keys = NOTARY.public_key if shape == "key" else {key_id(NOTARY.public_key): NOTARY.public_key}
    with pytest.raises(AttestationError):
        verify_attestation({"alg": "Ed25519", "attestation": value, "signature": ORIGINAL["signature"]}, keys)


# -- registration documents ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def registration(exchange_tls13, notary_factory, sim_accounts) -> dict[str, Any]:
    notary = notary_factory(exchange_tls13)
    result = notarize(notary, exchange_tls13, sim_accounts[1])
    client = ProviderClient(DeploymentConfig("http://127.0.0.1:9", notary.url))
    return {"document": client.registration_document(as_notarized(result)),
            "notaries": {result.attestation.attestation.notary_key_id: notary.app.state.config.key.public_key}}


SOURCES = load_sources(["binance_eth"])
SERVER_NAMES = {"binance_eth": "api.binance.test"}


def _check(doc: Any, notaries: dict[str, Any]) -> Any:
    return check_registration(doc, trusted_notaries=notaries, sources=SOURCES, server_names=SERVER_NAMES,
                              max_age_seconds=3600)


def test_the_unmutated_registration_passes(registration: dict[str, Any]) -> None:
    assert _check(registration["document"], registration["notaries"]).uid


@st.composite
def mutated_registrations(draw: st.DrawFn, original: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(original)
    for _ in range(draw(st.integers(1, 3))):
        path, parent = _draw_place(draw, doc)
        if draw(st.booleans()):
            parent[path[-1]] = draw(json_values)
        else:
            del parent[path[-1]]
    return doc


@FEW
@given(data=st.data())
def test_mutated_registrations_raise_only_registration_error(registration: dict[str, Any],
                                                             data: st.DataObject) -> None:
    original = registration["document"]
    doc = data.draw(mutated_registrations(original))
    try:
        checked = _check(doc, registration["notaries"])
    except RegistrationError as exc:
        assert exc.code and isinstance(exc.message, str)
        return
    # Accepted only if nothing that reaches the MPC or the Sybil check changed.
    reference = _check(original, registration["notaries"])
    assert checked == reference


@FEW
@given(json_values)
def test_registration_of_any_json_raises_only_registration_error(registration: dict[str, Any],
                                                                 value: Any) -> None:
    with pytest.raises(RegistrationError):
        _check(value, registration["notaries"])


# -- queries and stored share rows --------------------------------------------------------------------

query_keys = st.sampled_from(["statistics", "quantiles", "histogram_edges", "filter", "bins", "other"])
query_like = st.dictionaries(query_keys, json_values | st.lists(st.text(max_size=8) | st.floats() | st.integers(),
                                                                max_size=5), max_size=4)


@FUZZ
@given(json_values | query_like)
def test_parse_query_raises_only_query_error(spec: Any) -> None:
    try:
        parse_query(spec)
    except QueryError:
        pass


ROW_BYTES = SHARES_PER_INPUT * ELEMENT_BYTES


@FUZZ
@given(st.text(max_size=80) | st.binary(max_size=ROW_BYTES + 8).map(lambda b: base64.b64encode(b).decode())
       | st.binary(min_size=ROW_BYTES, max_size=ROW_BYTES).map(lambda b: base64.b64encode(b).decode()))
def test_decode_row_raises_only_store_error(text: str) -> None:
    try:
        row = decode_row(text)
    except StoreError:
        return
    assert len(row) == SHARES_PER_INPUT and all(0 <= v < PRIME for v in row)


@FUZZ
@given(json_values)
def test_decode_row_of_non_strings_raises_store_error(value: Any) -> None:
    assume(not isinstance(value, str))
    with pytest.raises(StoreError):
        decode_row(value)
