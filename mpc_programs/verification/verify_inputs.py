"""Verify notarized submissions and turn the accepted ones into stored inputs.

Per provider (DESIGN.md, "Data flow" 3-4), each party holds:

* secret: its share row of the record's AES key over GF(2^8) (``aes_gcm_mpc``) and
  its share row of the balance's stored layout over the statistics field
  (``sharing.share_units``: one-hot hex digits + value);
* public, identical at every party: the record (ciphertext, tag, nonce, AAD), the
  template bytes from the source spec with their offsets, the uid and its offset,
  the balance's offset and length.

It runs ``aes_gcm_mpc.verify_batch`` (the record authenticates under the shared
key, the known plaintext and uid match, the balance digits are digits) and then
``ingest.check_rows`` with the decrypted balance as the expected value: the shared
layout must be a valid encoding *of exactly the notarized balance*. Opened: the
verdicts (and H, E_k(J0) inside verify_batch). The key shares are used here and
nowhere else: the caller drops them with the job.

Under active security (``product_check.active()``) ``verify_batch_values`` checks every
GF(2^8) product of the batch (``gf256_check``) and the daBits' GF(p) bits
(``product_check``) before it opens H, E_k(J0) and the verdicts (``record_ok``), so nothing
pends when ``ingest.check_rows`` runs its own product check before its openings; the values
gathered here are local shares, not openings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mpc_programs.shares import dealing as dealings
from mpc_programs.shares import f192
from mpc_programs.verification import ingest, key_bits
from mpc_programs.verification.gf256_mpc import Gf256Engine
from mpc_programs.runtime import secure_types
from mpc_programs.verification.aes_gcm_mpc import (MAX_RECORDS, ProviderInput, RecordPart,
                                                   RequestInput, verify_batch_values)
from mpc_programs.shares.field import SHARES_PER_INPUT
from mpc_programs.shares.store import StoreError, decode_row, validate_input_id
from mpc_programs.runtime.hardened_runtime import abort_run, expect_from_peers, mpc

REJECT_RECORD = "the notarized record did not verify (key, tag, known plaintext, uid or digits)"
REJECT_SHARES = "inconsistent shares"
REJECT_ENCODING = "the shared value is not a valid encoding of the notarized balance"
REJECT_MALFORMED = "shares are not field elements"
REJECT_DEALING = "the provider dealt shares that do not match its commitments"
#: the largest complaint a party may send: the layout and MAX_EXTRA_COLUMNS extra rows (7,712
#: characters each), two AES-256 keys' bits (8,192 each), the blindings and the signature
MAX_COMPLAINT_CHARS = 64_000


class SubmissionError(ValueError):
    """A submission that is malformed as data (before any MPC)."""


MAX_EXTRA_COLUMNS = 3


@dataclass(frozen=True)
class Submission:
    """One provider's submission as one party sees it.

    ``extra_columns`` names the further value fields the provider has (in the order of
    ``provider.extra_values``), ``extra_rows`` holds its shared layout of each. A column the
    provider lacks is simply absent: a missing value, public like every field position.
    """

    input_id: str
    provider: ProviderInput
    layout_row: list[int]
    extra_columns: tuple[str, ...] = ()
    extra_rows: tuple[list[int], ...] = ()
    #: the provider's verifiable dealing of these rows (``dealing``): the public part, this
    #: party's part and the rows' upload texts, which the dealer's signature covers. Every
    #: upload a party server accepts has one; without it (tests of the MPC programs alone)
    #: the rows' consistency is ``ingest``'s masked test.
    dealing: dealings.PublicDealing | None = None
    party_dealing: dealings.PartyDealing | None = None
    row_texts: Mapping[str, str] | None = None
    key_rows: Mapping[str, list[int]] | None = None  # the keys' bits, decoded from row_texts

    def column_rows(self) -> dict[str, list[int]]:
        """The extra columns' share rows by name (what the store keeps beside the layout)."""
        return dict(zip(self.extra_columns, self.extra_rows, strict=True))

    def dealt(self) -> DealtRows | None:
        """This provider's dealing with every row by its name in it (None: no dealing)."""
        if (self.dealing is None or self.party_dealing is None or self.row_texts is None
                or self.key_rows is None):
            return None
        return DealtRows(self.input_id, self.dealing, self.party_dealing,
                         {dealings.LAYOUT: self.layout_row, **self.column_rows(), **self.key_rows},
                         self.row_texts)

    def public_digest(self) -> str:
        """Digest of everything that must be identical at all three parties."""
        p = self.provider
        doc = {"id": self.input_id, "ct": p.ciphertext.hex(), "tag": p.tag.hex(),
               "nonce": p.nonce.hex(), "aad": p.aad.hex(),
               "templates": [[o, b.hex()] for o, b in p.templates],
               "uid": [p.uid[0], p.uid[1].hex()], "balance": list(p.balance),
               "decimals": p.decimals}
        if self.extra_columns:
            doc["extra"] = [[c, list(v)] for c, v in zip(self.extra_columns, p.extra_values,
                                                         strict=True)]
        if p.more_records or p.inner_types:
            doc["more"] = _records_json(p.more_records)
            doc["inner"] = list(p.inner_types)
        if p.request is not None:
            q = p.request
            doc["request"] = {**_records_json([q.record])[0], "known": [[o, b.hex()] for o, b in q.known],
                              "secret": [list(x) for x in q.secret], "inner_type": q.inner_type}
        if self.dealing is not None:
            doc["dealing"] = self.dealing.digest()
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _bytes(doc: Mapping[str, Any], key: str, limit: int = 1 << 16) -> bytes:
    value = doc.get(key)
    if not isinstance(value, str) or len(value) > 2 * limit:
        raise SubmissionError(f"{key} must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise SubmissionError(f"{key} is not hex") from exc


def _records_json(records: Sequence[RecordPart]) -> list[dict[str, str]]:
    return [{"ciphertext": r.ciphertext.hex(), "tag": r.tag.hex(), "nonce": r.nonce.hex(),
             "aad": r.aad.hex()} for r in records]


def _parse_records(doc: Mapping[str, Any]) -> tuple[tuple[RecordPart, ...], tuple[int, ...]]:
    """``more_records``: [{ciphertext, tag, nonce, aad}, ...]; ``inner_types``: [int, ...]."""
    more = doc.get("more_records", [])
    inner = doc.get("inner_types", [])
    if not isinstance(more, list) or len(more) >= MAX_RECORDS:
        raise SubmissionError(f"more_records must be a list of fewer than {MAX_RECORDS} records")
    if not isinstance(inner, list) or len(inner) > MAX_RECORDS or not all(
            isinstance(t, int) and not isinstance(t, bool) and 0 <= t < 256 for t in inner):
        raise SubmissionError("inner_types must be a list of bytes")
    parts = []
    for item in more:
        if not isinstance(item, dict) or set(item) != {"ciphertext", "tag", "nonce", "aad"}:
            raise SubmissionError("a record is {ciphertext, tag, nonce, aad}")
        parts.append(RecordPart(_bytes(item, "ciphertext"), _bytes(item, "tag"), _bytes(item, "nonce"),
                                _bytes(item, "aad")))
    return tuple(parts), tuple(inner)


def _parse_request(doc: object) -> RequestInput | None:
    """``{key_share, ciphertext, tag, nonce, aad, known: [[offset, hex]], secret: [[offset, length]],
    inner_type}``: the request bound inside MPC (absent: none)."""
    if doc is None:
        return None
    keys = {"key_share", "ciphertext", "tag", "nonce", "aad", "known", "secret", "inner_type"}
    if not isinstance(doc, dict) or set(doc) != keys:
        raise SubmissionError("request is {" + ", ".join(sorted(keys)) + "}")
    key_share = doc["key_share"]
    if (not isinstance(key_share, list) or len(key_share) not in (16, 32)
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 256 for v in key_share)):
        raise SubmissionError("request.key_share must be 16 or 32 bytes")
    known, secret = doc["known"], doc["secret"]
    if not isinstance(known, list) or len(known) > 8 or not isinstance(secret, list) or len(secret) > 8:
        raise SubmissionError("request.known and request.secret are short lists")
    parsed_known = []
    for item in known:
        if not isinstance(item, list) or len(item) != 2 or not isinstance(item[1], str) or len(item[1]) > 8192:
            raise SubmissionError("a known span is [offset, hex]")
        parsed_known.append((_int(item[0], "known offset"), bytes.fromhex(item[1])))
    parsed_secret = []
    for item in secret:
        if not isinstance(item, list) or len(item) != 2:
            raise SubmissionError("a secret span is [offset, length]")
        parsed_secret.append((_int(item[0], "secret offset"), _int(item[1], "secret length")))
    if not isinstance(doc["inner_type"], bool):
        raise SubmissionError("request.inner_type is a boolean")
    record = RecordPart(_bytes(doc, "ciphertext"), _bytes(doc, "tag"), _bytes(doc, "nonce"), _bytes(doc, "aad"))
    return RequestInput(key_share, record, tuple(parsed_known), tuple(parsed_secret), doc["inner_type"])


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 20:
        raise SubmissionError(f"{what} must be a small non-negative integer")
    return value


def submission_from_json(doc: Mapping[str, Any]) -> Submission:
    """Parse one submission of a verify job (hex for bytes; see ``submission_to_json``)."""
    try:
        input_id = validate_input_id(doc.get("input_id"))
        key_share = doc.get("key_share")
        if (not isinstance(key_share, list) or len(key_share) not in (16, 32)
                or not all(isinstance(v, int) and 0 <= v < 256 for v in key_share)):
            raise SubmissionError("key_share must be 16 or 32 bytes")
        templates = doc.get("templates")
        if not isinstance(templates, list) or len(templates) > 16:
            raise SubmissionError("templates must be a list")
        parsed_templates = []
        for t in templates:
            if not isinstance(t, list) or len(t) != 2 or not isinstance(t[1], str):
                raise SubmissionError("a template is [offset, hex]")
            parsed_templates.append((_int(t[0], "template offset"), bytes.fromhex(t[1])))
        uid = doc.get("uid")
        balance = doc.get("balance")
        if not (isinstance(uid, list) and len(uid) == 2 and isinstance(uid[1], str)):
            raise SubmissionError("uid is [offset, hex]")
        if not (isinstance(balance, list) and len(balance) == 2):
            raise SubmissionError("balance is [offset, length]")
        layout = doc.get("layout")
        if not isinstance(layout, str):
            raise SubmissionError("layout must be an encoded share row")
        row = decode_row(layout)
        columns, fields_, rows = _parse_extra(doc.get("extra", []))
        more_records, inner_types = _parse_records(doc)
        request = _parse_request(doc.get("request"))
        public, part, texts, key_rows = _parse_dealing(doc.get("dealing"), layout,
                                                       doc.get("extra", []))
        provider = ProviderInput(
            key_share=key_share, ciphertext=_bytes(doc, "ciphertext"), tag=_bytes(doc, "tag"),
            nonce=_bytes(doc, "nonce"), aad=_bytes(doc, "aad"), templates=parsed_templates,
            uid=(_int(uid[0], "uid offset"), bytes.fromhex(uid[1])),
            balance=(_int(balance[0], "balance offset"), _int(balance[1], "balance length")),
            decimals=_int(doc.get("decimals", 8), "decimals"), extra_values=fields_,
            more_records=more_records, inner_types=inner_types, request=request)
    except (StoreError, ValueError) as exc:
        if isinstance(exc, SubmissionError):
            raise
        raise SubmissionError(str(exc)) from exc
    return Submission(input_id, provider, row, columns, rows, public, part, texts, key_rows)


def _parse_dealing(doc: object, layout: str, extra: list[dict[str, Any]]
                   ) -> tuple[dealings.PublicDealing | None, dealings.PartyDealing | None,
                              dict[str, str] | None, dict[str, list[int]] | None]:
    """``{"public": ..., "party": ..., "rows": {"key": text[, "client_key": text]}}``
    (``shares.dealing``; rows: the keys' bits), or None: no verifiable dealing. Returns the
    public part, this party's part, every dealt row's text and the keys' rows decoded."""
    if doc is None:
        return None, None, None, None
    if not isinstance(doc, dict) or set(doc) != {"public", "party", "rows"}:
        raise SubmissionError("dealing is {public, party, rows}")
    keys = doc["rows"]
    if (not isinstance(keys, dict) or dealings.KEY not in keys
            or not set(keys) <= {dealings.KEY, dealings.CLIENT_KEY}
            or not all(isinstance(t, str) for t in keys.values())):
        raise SubmissionError("dealing.rows holds the keys' bits")
    texts = {dealings.LAYOUT: layout, **{item["column"]: item["layout"] for item in extra},
             **keys}
    try:
        decoded = {name: dealings.decode_elements(text) for name, text in keys.items()}
        return (dealings.PublicDealing.from_json(doc["public"], list(texts)),
                dealings.PartyDealing.from_json(doc["party"], list(texts)), texts, decoded)
    except dealings.DealingError as exc:
        raise SubmissionError(str(exc)) from None


def _parse_extra(extra: object) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...],
                                         tuple[list[int], ...]]:
    """``[{"column": name, "field": [offset, length], "layout": row}, ...]``."""
    if not isinstance(extra, list) or len(extra) > MAX_EXTRA_COLUMNS:
        raise SubmissionError(f"extra must be a list of at most {MAX_EXTRA_COLUMNS} columns")
    columns, fields_, rows = [], [], []
    for item in extra:
        if not isinstance(item, dict) or set(item) != {"column", "field", "layout"}:
            raise SubmissionError("an extra column is {column, field, layout}")
        name, field, layout = item["column"], item["field"], item["layout"]
        if not isinstance(name, str) or not 0 < len(name) <= 32 or name in columns:
            raise SubmissionError("extra column names must be distinct short strings")
        if not (isinstance(field, list) and len(field) == 2):
            raise SubmissionError("an extra column's field is [offset, length]")
        if not isinstance(layout, str):
            raise SubmissionError("an extra column's layout must be an encoded share row")
        columns.append(name)
        fields_.append((_int(field[0], "field offset"), _int(field[1], "field length")))
        rows.append(decode_row(layout))
    return tuple(columns), tuple(fields_), tuple(rows)


def submission_to_json(input_id: str, provider: ProviderInput, layout: str,
                       extra: Mapping[str, str] | None = None,
                       dealing: tuple[dealings.PublicDealing, dealings.PartyDealing,
                                      Mapping[str, str]] | None = None
                       ) -> dict[str, Any]:
    """``extra``: encoded share rows of the extra columns, by name, in ``extra_values`` order;
    ``dealing``: the provider's verifiable dealing of them (public part, this party's part, the
    upload texts of the keys' bits by name; ``provider.key_share`` is then replaced inside MPC
    by the key made from them)."""
    p = provider
    doc = {"input_id": input_id, "key_share": list(p.key_share),
           "ciphertext": p.ciphertext.hex(), "tag": p.tag.hex(), "nonce": p.nonce.hex(),
           "aad": p.aad.hex(), "templates": [[o, b.hex()] for o, b in p.templates],
           "uid": [p.uid[0], p.uid[1].hex()], "balance": list(p.balance),
           "decimals": p.decimals, "layout": layout}
    if p.more_records or p.inner_types:
        doc["more_records"] = _records_json(p.more_records)
        doc["inner_types"] = list(p.inner_types)
    if p.request is not None:
        q = p.request
        doc["request"] = {"key_share": list(q.key_share), **_records_json([q.record])[0],
                          "known": [[o, b.hex()] for o, b in q.known],
                          "secret": [list(x) for x in q.secret], "inner_type": q.inner_type}
    if extra:
        doc["extra"] = [{"column": name, "field": list(field), "layout": row}
                        for (name, row), field in zip(extra.items(), p.extra_values, strict=True)]
    if dealing is not None:
        doc["dealing"] = {"public": dealing[0].to_json(), "party": dealing[1].to_json(),
                          "rows": dict(dealing[2])}
    return doc


@dataclass(frozen=True)
class DealtRows:
    """One provider's verifiable dealing as one party holds it (``shares.dealing``)."""

    input_id: str
    public: dealings.PublicDealing
    part: dealings.PartyDealing
    rows: Mapping[str, Sequence[int]]  # by name: dealing.LAYOUT, the extra columns, the keys' bits
    texts: Mapping[str, str]  # the rows' upload texts, which the dealer's signature covers


async def dealing_verdicts(items: Sequence[DealtRows | None]) -> list[bool]:
    """Per provider (same order at every party): False iff it is proven to have dealt a
    wrong share. None: no dealing (tests of the MPC programs alone): passes here.

    This party checks its own shares against the commitments (``dealing.own_shares_hold``)
    and sends the other two a complaint for each provider whose shares fail; every party
    checks every complaint (``dealing.complaint_holds``). A complaint that does not hold
    aborts the run naming its sender: an honest party never sends one, because an upload
    whose dealer signature fails is refused when it arrives.
    """
    dealt = [i for i, item in enumerate(items) if item is not None]
    point = mpc.pid + 1
    mine_items = [items[i] for i in dealt]
    holds = dealings.own_shares_hold(point, [d.public for d in mine_items],  # type: ignore[union-attr]
                                     [d.rows for d in mine_items],  # type: ignore[union-attr]
                                     [d.part for d in mine_items])  # type: ignore[union-attr]
    mine = [[i, json.dumps(dealings.Complaint(point, d.texts, d.part).to_json())]  # type: ignore[union-attr]
            for i, d, ok in zip(dealt, mine_items, holds) if not ok]
    received = expect_from_peers(
        await mpc.transfer(mine),
        lambda v: isinstance(v, list) and len(v) <= len(dealt) and all(
            isinstance(c, list) and len(c) == 2 and type(c[0]) is int and isinstance(c[1], str)
            and len(c[1]) <= MAX_COMPLAINT_CHARS for c in v),
        "a list of complaints about dealings")
    faulty: set[int] = set()
    for pid, complaints in enumerate(received):
        for index, text in complaints:
            item = items[index] if 0 <= index < len(items) else None
            try:
                if item is None:
                    raise dealings.DealingError("no dealing to complain about")
                complaint = dealings.Complaint.from_json(json.loads(text), list(item.rows))
            except (dealings.DealingError, ValueError) as exc:
                abort_run(f"party {pid} sent a malformed complaint about a dealing: {exc}")
                raise  # unreachable: abort_run exits
            if complaint.point != pid + 1 or not dealings.complaint_holds(complaint, item.public):
                abort_run(f"party {pid} complained about the dealing of {item.input_id} "
                          "without proof (dealing check)")
            faulty.add(index)
    return [i not in faulty for i in range(len(items))]


async def dealt_keys(providers: Sequence[ProviderInput],
                     rows: Sequence[Mapping[str, Sequence[int]] | None]
                     ) -> tuple[list[ProviderInput], list[bool], list[bool]]:
    """The record keys of the dealt providers, made from their dealt bits inside MPC.

    ``key_bits.bytes_from_bits`` turns every dealt key row (``dealing.KEY``, and
    ``dealing.CLIENT_KEY`` for a bound request) into GF(2^8) shares, which replace the
    provider's ``key_share`` (and its request's). Returns (the providers, per provider whether
    its keys were dealt, per provider False iff a dealt "bit" was no bit or a key row has the
    wrong length: the provider dealt wrong). ``rows``: per provider, this party's dealt rows by
    name (``DealtRows.rows``), or None. Every party calls it for the same providers.
    """
    out = list(providers)
    dealt = [False] * len(providers)
    ok = [True] * len(providers)
    wanted: list[tuple[int, str]] = []
    for i, (provider, mine) in enumerate(zip(providers, rows, strict=True)):
        if mine is None or dealings.KEY not in mine:
            continue
        dealt[i] = True
        for name in dealings.key_rows(provider.request is not None):
            row = mine.get(name)
            if row is None or len(row) != 8 * len(provider.key_share):
                ok[i] = False
            else:
                wanted.append((i, name))
    if not wanted:
        return out, dealt, ok
    bits = np.concatenate([f192.from_ints(rows[i][name]) for i, name in wanted])  # type: ignore[index]
    key_bytes, are_bits = await key_bits.bytes_from_bits(Gf256Engine(mpc), mpc,
                                                         secure_types.secint, bits)
    start = 0
    for i, name in wanted:
        width = len(providers[i].key_share)
        key = [int(b) for b in key_bytes[start:start + width]]
        ok[i] = ok[i] and bool(are_bits[start:start + width].all())
        start += width
        if name == dealings.KEY:
            out[i] = dataclasses.replace(out[i], key_share=key)
        else:
            out[i] = dataclasses.replace(out[i], request=dataclasses.replace(
                out[i].request, key_share=key))  # type: ignore[arg-type]
    return out, dealt, ok


async def verify_submissions(submissions: Sequence[Submission]) -> list[str | None]:
    """Per submission (same order at every party): None if accepted, else the reason."""
    if not submissions:
        return []
    items = [s.dealt() for s in submissions]
    dealt_ok = await dealing_verdicts(items)
    providers, keys_dealt, keys_ok = await dealt_keys(
        [s.provider for s in submissions], [None if d is None else d.rows for d in items])
    dealt_ok = [a and b for a, b in zip(dealt_ok, keys_ok, strict=True)]
    record_ok, values = await verify_batch_values(providers, sectype=secure_types.secint,
                                                  keys_dealt=keys_dealt)
    value_shares = np.asarray((await mpc.gather(values)).value, dtype=object)
    # Only records that verified take part in the layout check: for the others the
    # "balance" is whatever the claimed offsets decrypt to, possibly predictable, and
    # opening a combination with it could reveal the provider's shared value.
    # A provider shown to have dealt a wrong share is left out too.
    verified = [i for i, ok in enumerate(record_ok) if ok and dealt_ok[i]]
    # Every shared layout (the balance's, then each extra column's) is checked against the
    # value decrypted from its own field, all in one ingestion check.
    owners = [(i, c) for i in verified for c in range(1 + len(submissions[i].extra_rows))]
    rows = np.array([submissions[i].layout_row if c == 0 else submissions[i].extra_rows[c - 1]
                     for i, c in owners], dtype=object).reshape(len(owners), SHARES_PER_INPUT)
    expected = np.array([value_shares[i, c] for i, c in owners], dtype=object)
    vouched = np.array([submissions[i].dealing is not None for i, _ in owners], dtype=bool)
    checked = await ingest.check_rows(rows, expected_values=expected, dealt=vouched)
    layout_verdicts: list[str | None] = [REJECT_RECORD] * len(submissions)
    for i in verified:
        layout_verdicts[i] = None
    for (i, _), reason in zip(owners, checked):
        if reason is not None and layout_verdicts[i] != "inconsistent shares":
            layout_verdicts[i] = reason
    out: list[str | None] = []
    for ok, dealt, reason in zip(record_ok, dealt_ok, layout_verdicts):
        if not dealt:
            out.append(REJECT_DEALING)
        elif not ok:
            out.append(REJECT_RECORD)
        elif reason == "inconsistent shares":
            out.append(REJECT_SHARES)
        elif reason is not None:
            out.append(REJECT_ENCODING)
        else:
            out.append(None)
    return out
