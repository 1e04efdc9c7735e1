"""What a provider registers, and the checks every server runs on it itself.

A registration names one notarized server→client record and where the uid and the
value fields (the source's columns: the balance, and e.g. a BTC balance) sit in its
plaintext; an optional column the response lacks is left out (a missing value). The
coordinator *and* each computation party run :func:`check_registration` on their own —
a party trusts no other server's word (DESIGN.md, "Parties"). The result is the public half of the MPC input: the
record's nonce, AAD, ciphertext and tag, rebuilt from the attested bytes (only the
IV comes from the provider; a wrong IV makes the tag check fail inside MPC), and
the template bytes, taken from the source spec — never from the provider.

Document (JSON)::

    {"source": "binance_eth",
     "attestation": {...signed attestation...},
     "record": {"index": 5, "seq": 1, "header": "<hex>", "payload": "<hex>", "iv": "<hex>"},
     "fields": {"uid": {"offset": 312, "length": 9}, "balance": {"offset": 201, "length": 10},
                "btc": {"offset": 150, "length": 10}},
     "uid": "123456789"}
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mpc_programs.shares import dealing as dealings
from tlsn import (C2S, S2C, TLS12, AttestationError, Record, RecordClaim, SourceSpec, TLSNError,
                  UnsupportedCipherError, load_spec, seal_parts, suite_by_name, verify_attestation)

FIRST_BLOCK = b"HTTP/1.1 200 OK\r"
MAX_RECORD_BYTES = 16384 + 256


class RegistrationError(ValueError):
    """A registration that must be refused; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CheckedRegistration:
    """The public verification material of one provider, identical at every server."""

    source: str
    uid: str
    input_id: str
    key_length: int
    nonce: bytes
    aad: bytes
    ciphertext: bytes
    tag: bytes
    templates: tuple[tuple[int, bytes], ...]
    uid_field: tuple[int, bytes]
    balance_field: tuple[int, int]
    attested_at: int
    #: The further columns this provider has a value in: (name, (offset, length)), in the
    #: spec's column order; the spec's other columns are missing for this input.
    extra_fields: tuple[tuple[str, tuple[int, int]], ...] = ()
    #: The response's further records, (nonce, aad, ciphertext, tag) each, in order.
    more_records: tuple[tuple[bytes, bytes, bytes, bytes], ...] = ()
    #: TLS 1.3: the inner content type each record must carry (0x16 tickets, 0x17 response).
    inner_types: tuple[int, ...] = ()
    #: The request, bound inside MPC with the client-write key.
    request: "CheckedRequest | None" = None
    #: The provider's verifiable dealing of its share rows: its dealer key and every row's
    #: commitments (``mpc_programs.shares.dealing``), the same at all three parties.
    dealing: dealings.PublicDealing | None = None

    @property
    def dealt_rows(self) -> list[str]:
        """The rows the dealing commits to: the value's layout, each extra column's, the bits
        of the server-write key and, when the request is bound, of the client-write key."""
        return [dealings.LAYOUT, *self.extra_columns, *dealings.key_rows(self.request is not None)]

    @property
    def extra_columns(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.extra_fields)

    def submission(self, layout: str, extra_layouts: Mapping[str, str],
                   key_bits: Mapping[str, str], party_dealing: dealings.PartyDealing
                   ) -> dict[str, Any]:
        """The verify-job document for this registration with one party's secret shares
        (``extra_layouts``: the shared layout of each extra column, by name; ``key_bits``: the
        rows of the keys' bits by their names in the dealing; ``party_dealing``: this party's
        part of the provider's dealing).

        The provider deals the record keys as prime-field bits, which the MPC turns into the
        GF(2^8) sharing AES takes (``verification.key_bits``); the job's GF(2^8) key shares
        are zeros that it replaces."""
        key_share = [0] * self.key_length
        doc = {"input_id": self.input_id, "key_share": key_share,
               "ciphertext": self.ciphertext.hex(), "tag": self.tag.hex(),
               "nonce": self.nonce.hex(), "aad": self.aad.hex(),
               "templates": [[o, b.hex()] for o, b in self.templates],
               "uid": [self.uid_field[0], self.uid_field[1].hex()],
               "balance": list(self.balance_field), "decimals": 8, "layout": layout}
        if self.more_records or self.inner_types:
            doc["more_records"] = [{"ciphertext": c.hex(), "tag": t.hex(), "nonce": n.hex(), "aad": a.hex()}
                                   for n, a, c, t in self.more_records]
            doc["inner_types"] = list(self.inner_types)
        if self.request is not None:
            doc["request"] = self.request.to_json(key_share)
        if self.extra_fields:
            layouts = extra_layouts or {}
            doc["extra"] = [{"column": name, "field": list(field), "layout": layouts.get(name, "")}
                            for name, field in self.extra_fields]
        if self.dealing is not None:
            doc["dealing"] = {"public": self.dealing.to_json(), "party": party_dealing.to_json(),
                              "rows": dict(key_bits)}
        return doc


def input_id_for(source: str, uid: str) -> str:
    """One account, one input: the id is a function of the source and the uid only."""
    return f"{source}:{hashlib.sha256(f'{source}|{uid}'.encode()).hexdigest()[:40]}"


def _int(doc: Mapping[str, Any], key: str, where: str, limit: int = 1 << 32) -> int:
    value = doc.get(key) if isinstance(doc, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
        raise RegistrationError("invalid_field", f"{where}.{key} must be a non-negative integer")
    return value


def _hex(doc: Mapping[str, Any], key: str, where: str, limit: int) -> bytes:
    value = doc.get(key) if isinstance(doc, Mapping) else None
    if not isinstance(value, str) or len(value) > 2 * limit:
        raise RegistrationError("invalid_field", f"{where}.{key} must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise RegistrationError("invalid_field", f"{where}.{key} is not hex") from None


def check_registration(doc: Any, *, trusted_notaries: Mapping[str, Ed25519PublicKey],
                       sources: Mapping[str, SourceSpec], server_names: Mapping[str, str],
                       max_age_seconds: float, now: float | None = None) -> CheckedRegistration:
    """Verify a registration document; raise :class:`RegistrationError` with a clear reason.

    ``server_names`` maps a source to the TLS server name its attestation must carry
    (the spec's host in production; a deployment may override it for a mirror).
    """
    if not isinstance(doc, Mapping):
        raise RegistrationError("invalid_field", "registration must be a JSON object")
    source = doc.get("source")
    if not isinstance(source, str) or source not in sources:
        raise RegistrationError("unknown_source", f"source {source!r} is not served here")
    spec = sources[source]
    uid = doc.get("uid")
    uid_spec = spec.fields.get("uid")
    if uid_spec is None:
        raise RegistrationError("bad_spec", f"source {source} lacks a uid field")
    if not isinstance(uid, str) or re.fullmatch(uid_spec.pattern, uid) is None:
        raise RegistrationError("invalid_field", "uid does not look like an account id")
    fields_doc = doc.get("fields")
    records_doc, iv_doc = _records_of(doc)
    if not isinstance(fields_doc, Mapping):
        raise RegistrationError("invalid_field", "fields is a required object")
    claims = []
    for i, record_doc in enumerate(records_doc):
        where = f"records[{i}]"
        index = _int(record_doc, "index", where, 1 << 20)
        seq = _int(record_doc, "seq", where, 1 << 62)
        header = _hex(record_doc, "header", where, 5)
        payload = _hex(record_doc, "payload", where, MAX_RECORD_BYTES)
        if len(header) != 5 or header[0] != 23 or int.from_bytes(header[3:5], "big") != len(payload):
            raise RegistrationError("invalid_record", "record header does not match an application-data record")
        if claims and (index != claims[-1].index + 1 or seq != claims[-1].seq + 1):
            raise RegistrationError("records_not_contiguous",
                                    "the records must be consecutive server records, in order")
        claims.append(RecordClaim(S2C, index, seq, header, payload))
    iv = _hex(iv_doc, "iv", "record", 12)
    tickets = doc.get("tickets", 0)
    if isinstance(tickets, bool) or not isinstance(tickets, int) or not 0 <= tickets < len(claims):
        raise RegistrationError("invalid_field", "tickets must count records before the response")
    signed = doc.get("attestation")
    if not isinstance(signed, Mapping):
        raise RegistrationError("attestation_malformed", "attestation must be a JSON object")
    try:
        attestation = verify_attestation(
            signed, dict(trusted_notaries), server_name=server_names[source],
            max_age_seconds=max_age_seconds, now=now, records=claims)
    except AttestationError as exc:
        raise RegistrationError(f"attestation_{exc.reason}", str(exc)) from None
    except (TLSNError, TypeError, ValueError) as exc:
        raise RegistrationError("attestation_malformed", str(exc)) from None
    try:
        suite = suite_by_name(attestation.cipher_suite)
    except UnsupportedCipherError as exc:
        raise RegistrationError("unsupported_cipher", str(exc)) from None
    if suite.version != attestation.tls_version:
        raise RegistrationError("unsupported_cipher", "cipher suite and TLS version disagree")
    key_length = suite.key_length
    tls12 = attestation.tls_version == TLS12
    expected_iv = 4 if tls12 else 12
    if len(iv) != expected_iv:
        raise RegistrationError("invalid_record", f"the record IV must be {expected_iv} bytes")
    # The response is the first thing the server sent under the application keys: TLS 1.2's
    # Finished is sequence number 0, so the response starts at 1; TLS 1.3 starts at 0, after
    # which come ``tickets`` NewSessionTicket records (their inner type is checked inside MPC).
    first_seq = 1 if tls12 else 0
    if claims[0].seq != first_seq or (tls12 and tickets):
        raise RegistrationError("not_first_response",
                                "the records must start with the server's first application record")
    sealed_records = []
    try:
        for claim in claims:
            record = Record(S2C, claim.index, claim.header[0],
                            int.from_bytes(claim.header[1:3], "big"), claim.payload, seq=claim.seq)
            sealed_records.append(seal_parts(record, claim.seq, attestation.tls_version, iv))
    except TLSNError as exc:
        raise RegistrationError("invalid_record", str(exc)) from None
    request = _check_request(doc, spec, attestation, host=server_names[source], tls12=tls12)
    inner_types: tuple[int, ...] = () if tls12 else tuple([0x16] * tickets + [0x17] * (len(claims) - tickets))
    if any(len(s.ciphertext) < 1 for s in sealed_records):
        raise RegistrationError("invalid_record", "an empty record")
    sealed = sealed_records[0]
    unknown = set(fields_doc) - {"uid", *spec.columns}
    if unknown:
        raise RegistrationError("invalid_field", f"unknown field(s): {', '.join(sorted(unknown))}")
    uid_doc = fields_doc.get("uid")
    uid_offset = _int(uid_doc, "offset", "fields.uid", 1 << 20)  # type: ignore[arg-type]
    uid_length = _int(uid_doc, "length", "fields.uid", 64)  # type: ignore[arg-type]
    if uid_length != len(uid):
        raise RegistrationError("invalid_field", "fields.uid.length differs from the claimed uid")
    values: list[tuple[str, tuple[int, int]]] = []
    for name in spec.columns:
        if name not in fields_doc and spec.fields[name].optional:
            continue  # missing value
        field_doc = fields_doc.get(name)
        values.append((name, (_int(field_doc, "offset", f"fields.{name}", 1 << 20),  # type: ignore[arg-type]
                              _int(field_doc, "length", f"fields.{name}", 64))))  # type: ignore[arg-type]
    # positions index the response stream: the records' contents in order (TLS 1.3: without the
    # inner content type byte; tickets hold no response bytes)
    plain_length = sum(len(x.ciphertext) - (0 if tls12 else 1)
                       for x, kind in zip(sealed_records, inner_types or [0x17] * len(claims)) if kind == 0x17)
    located = [(uid_spec, uid_offset, uid_length)] + [
        (spec.fields[name], off, length) for name, (off, length) in values]
    spans = [(off - len(f.prefix.encode()), off + length + len(f.suffix.encode()))
             for f, off, length in located]
    if any(lo < len(FIRST_BLOCK) or hi > plain_length for lo, hi in spans):
        raise RegistrationError("invalid_field", "a field lies outside the record's plaintext")
    ordered = sorted(spans)
    if any(a[1] > b[0] for a, b in zip(ordered, ordered[1:])):
        raise RegistrationError("invalid_field", "two fields overlap")
    templates = [(0, FIRST_BLOCK)]
    for f, off, length in located[1:] + located[:1]:  # values first, then the uid
        templates += [(off - len(f.prefix.encode()), f.prefix.encode()), (off + length, f.suffix.encode())]
    try:
        dealing = dealings.PublicDealing.from_json(
            doc.get("dealing"), [dealings.LAYOUT, *(name for name, _ in values[1:]),
                                 *dealings.key_rows(request is not None)])
    except dealings.DealingError as exc:
        raise RegistrationError("invalid_field", str(exc)) from None
    return CheckedRegistration(
        source=source, uid=uid, input_id=input_id_for(source, uid), key_length=key_length,
        nonce=sealed.nonce, aad=sealed.aad, ciphertext=sealed.ciphertext, tag=sealed.tag,
        templates=tuple(templates), uid_field=(uid_offset, uid.encode()),
        balance_field=values[0][1], attested_at=attestation.time,
        extra_fields=tuple(values[1:]),
        more_records=tuple((x.nonce, x.aad, x.ciphertext, x.tag) for x in sealed_records[1:]),
        inner_types=inner_types, request=request, dealing=dealing)


@dataclass(frozen=True)
class CheckedRequest:
    """The provider's request record and what the MPC checks in it: every byte known (rebuilt
    from the spec and the public timestamp and signature) except the API key's."""

    nonce: bytes
    aad: bytes
    ciphertext: bytes
    tag: bytes
    known: tuple[tuple[int, bytes], ...]
    secret: tuple[tuple[int, int], ...]
    inner_type: bool

    def to_json(self, key_share: list[int]) -> dict[str, Any]:
        return {"key_share": key_share, "ciphertext": self.ciphertext.hex(), "tag": self.tag.hex(),
                "nonce": self.nonce.hex(), "aad": self.aad.hex(),
                "known": [[o, b.hex()] for o, b in self.known],
                "secret": [list(x) for x in self.secret], "inner_type": self.inner_type}


REQUEST_SKEW_SECONDS = 30


def _check_request(doc: Mapping[str, Any], spec: SourceSpec, attestation: Any, *, host: str,
                   tls12: bool) -> CheckedRequest:
    """The request: the client's first and only application-data record on the connection (one
    request per connection), attested; its public values (timestamp, signature, API key length)
    give the known plaintext the MPC checks with the client-write key."""
    req = doc.get("request")
    if not isinstance(req, Mapping):
        raise RegistrationError("invalid_field", "request is a required object")
    index = _int(req, "index", "request", 1 << 20)
    seq = _int(req, "seq", "request", 1 << 62)
    header = _hex(req, "header", "request", 5)
    payload = _hex(req, "payload", "request", MAX_REQUEST_RECORD)
    iv = _hex(req, "iv", "request", 12)
    timestamp = _int(req, "timestamp", "request", 1 << 53)
    api_key_length = _int(req, "api_key_length", "request", 257)
    signature = req.get("signature")
    if len(header) != 5 or header[0] != 23 or int.from_bytes(header[3:5], "big") != len(payload):
        raise RegistrationError("invalid_record", "request header does not match an application-data record")
    if len(iv) != (4 if tls12 else 12):
        raise RegistrationError("invalid_record", "the request IV has the wrong length")
    if spec.signature == "hmac-sha256-hex" and (
            not isinstance(signature, str) or re.fullmatch("[0-9a-f]{64}", signature) is None):
        raise RegistrationError("invalid_field", "request.signature must be 64 lowercase hex digits")
    if not 1 <= api_key_length <= 256:
        raise RegistrationError("invalid_field", "request.api_key_length out of range")
    if abs(timestamp / 1000 - attestation.time) > spec.recv_window / 1000 + REQUEST_SKEW_SECONDS:
        raise RegistrationError("invalid_field", "request.timestamp is not the notarization's time")
    first_seq = 1 if tls12 else 0  # TLS 1.2: the client's Finished is sequence number 0
    sent = [e for e in attestation.records if e.direction == "c2s" and e.epoch == "application"
            and (not tls12 or e.header[:2] == "17")]
    if seq != first_seq or len(sent) != 1 or sent[0].index != index:
        raise RegistrationError("one_request", "the request must be the client's only application record")
    try:
        verify_attestation_records(attestation, [RecordClaim(C2S, index, seq, header, payload)])
        record = Record(C2S, index, header[0], int.from_bytes(header[1:3], "big"), payload, seq=seq)
        sealed = seal_parts(record, seq, attestation.tls_version, iv)
    except AttestationError as exc:
        raise RegistrationError(f"attestation_{exc.reason}", str(exc)) from None
    except TLSNError as exc:
        raise RegistrationError("invalid_record", str(exc)) from None
    expected, (start, length) = spec.expected_request(host=host, timestamp_ms=timestamp,
                                                      signature=signature, api_key_length=api_key_length)
    if len(expected) != len(sealed.ciphertext) - (0 if tls12 else 1):
        raise RegistrationError("invalid_record", "the request record's length is not the spec's request")
    return CheckedRequest(sealed.nonce, sealed.aad, sealed.ciphertext, sealed.tag,
                          ((0, expected[:start]), (start + length, expected[start + length:])),
                          ((start, length),), not tls12)


MAX_REQUEST_RECORD = 4096 + 256


def verify_attestation_records(attestation: Any, claims: list[RecordClaim]) -> None:
    """Each claim is an attested application record, byte for byte (the signature was checked)."""
    for claim in claims:
        entry = attestation.record(claim.direction, claim.index)
        if entry is None:
            raise AttestationError("record_not_attested", f"no {claim.direction} record {claim.index}")
        if (entry.epoch != "application" or entry.seq != claim.seq or entry.header != claim.header.hex()
                or entry.payload_sha256 != hashlib.sha256(claim.payload).hexdigest()):
            raise AttestationError("record_mismatch",
                                   f"{claim.direction} record {claim.index} differs from what the notary saw")


MAX_RECORDS = 64


def _records_of(doc: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], Mapping[str, Any]]:
    """The records from the response's first through the last one used, and where the IV is:
    ``{"records": [...], "iv": ...}``, or the one-record form ``{"record": {..., "iv": ...}}``."""
    if "records" in doc:
        records = doc.get("records")
        if (not isinstance(records, list) or not 1 <= len(records) <= MAX_RECORDS
                or not all(isinstance(r, Mapping) for r in records)):
            raise RegistrationError("invalid_field", f"records must list 1 to {MAX_RECORDS} records")
        return records, doc
    record = doc.get("record")
    if not isinstance(record, Mapping):
        raise RegistrationError("invalid_field", "records (or record) and fields are required")
    return [record], record


def load_sources(names: list[str]) -> dict[str, SourceSpec]:
    """The deployment's source specs; they must agree on the pool's columns (one pool)."""
    sources = {spec.name: spec for spec in (load_spec(n) for n in names)}
    pool_columns(sources)
    return sources


def pool_columns(sources: Mapping[str, SourceSpec]) -> list[str]:
    """The pool's columns (the primary first), shared by every source it counts."""
    columns = {spec.columns for spec in sources.values()}
    if len(columns) != 1:
        raise ValueError(f"the sources {', '.join(sorted(sources))} differ in their columns: "
                         "one pool counts one kind of row")
    return list(columns.pop())
