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

from tlsn import (S2C, TLS12, AttestationError, Record, RecordClaim, SourceSpec, TLSNError,
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

    @property
    def extra_columns(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.extra_fields)

    def submission(self, key_share: list[int], layout: str,
                   extra_layouts: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The verify-job document for this registration with one party's secret shares
        (``extra_layouts``: the shared layout of each extra column, by name)."""
        doc = {"input_id": self.input_id, "key_share": key_share,
               "ciphertext": self.ciphertext.hex(), "tag": self.tag.hex(),
               "nonce": self.nonce.hex(), "aad": self.aad.hex(),
               "templates": [[o, b.hex()] for o, b in self.templates],
               "uid": [self.uid_field[0], self.uid_field[1].hex()],
               "balance": list(self.balance_field), "decimals": 8, "layout": layout}
        if self.extra_fields:
            layouts = extra_layouts or {}
            doc["extra"] = [{"column": name, "field": list(field), "layout": layouts.get(name, "")}
                            for name, field in self.extra_fields]
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
    record_doc = doc.get("record")
    fields_doc = doc.get("fields")
    if not isinstance(record_doc, Mapping) or not isinstance(fields_doc, Mapping):
        raise RegistrationError("invalid_field", "record and fields are required objects")
    index = _int(record_doc, "index", "record", 1 << 20)
    seq = _int(record_doc, "seq", "record", 1 << 62)
    header = _hex(record_doc, "header", "record", 5)
    payload = _hex(record_doc, "payload", "record", MAX_RECORD_BYTES)
    iv = _hex(record_doc, "iv", "record", 12)
    if len(header) != 5 or header[0] != 23 or int.from_bytes(header[3:5], "big") != len(payload):
        raise RegistrationError("invalid_record", "record header does not match an application-data record")
    signed = doc.get("attestation")
    if not isinstance(signed, Mapping):
        raise RegistrationError("attestation_malformed", "attestation must be a JSON object")
    try:
        attestation = verify_attestation(
            signed, dict(trusted_notaries), server_name=server_names[source],
            max_age_seconds=max_age_seconds, now=now,
            records=[RecordClaim(S2C, index, seq, header, payload)])
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
    expected_iv = 4 if attestation.tls_version == TLS12 else 12
    if len(iv) != expected_iv:
        raise RegistrationError("invalid_record", f"the record IV must be {expected_iv} bytes")
    try:
        record = Record(S2C, index, header[0], int.from_bytes(header[1:3], "big"), payload,
                        seq=seq)
        sealed = seal_parts(record, seq, attestation.tls_version, iv)
    except TLSNError as exc:
        raise RegistrationError("invalid_record", str(exc)) from None
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
    plain_length = len(sealed.ciphertext)
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
    return CheckedRegistration(
        source=source, uid=uid, input_id=input_id_for(source, uid), key_length=key_length,
        nonce=sealed.nonce, aad=sealed.aad, ciphertext=sealed.ciphertext, tag=sealed.tag,
        templates=tuple(templates), uid_field=(uid_offset, uid.encode()),
        balance_field=values[0][1], attested_at=attestation.time,
        extra_fields=tuple(values[1:]))


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
