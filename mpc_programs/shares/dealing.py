"""The provider's verifiable dealing of its share rows: commitments, signed shares, complaints.

Why: with n = 3 and t = 1 the parties' consistency check of a sharing cannot say which of three
points is off, so one deviating party could get an honest provider it picks rejected ("inconsistent
shares"). A Pedersen-committed dealing (:mod:`pedersen`) lets every party check *its own* share, and
the dealer's signature turns a failed check into a proof against the provider, never against a
party. The protocol:

1. The provider makes a fresh Ed25519 *dealer key* for the contribution and deals each row (the
   value's layout, and every extra column's) with :func:`pedersen.deal`. The public part, the
   dealer key and every row's two commitments (:class:`PublicDealing`), goes into the
   registration document; the three parties agree on it (``verify_inputs``' public digest).
   Party x's part, its rows' blinding shares, goes to party x alone in its upload, with the
   dealer's signature over (x, the public part, x's rows, x's blindings) (:class:`PartyDealing`).
2. Party x checks the signature when the upload arrives (a bad one is refused at once: the
   provider erred) and, in the verification run, its shares against the commitments, batched
   over the run's providers (:func:`own_shares_hold`).
3. A party whose shares fail sends the other two a :class:`Complaint`: its rows, its blindings
   and the signature. A complaint *holds* (:func:`complaint_holds`) iff the signature verifies
   under the agreed dealer key and the shares fail the commitments at the complainer's point:
   then the provider dealt a wrong share and is rejected. A complaint that does not hold is the
   complainer's deviation, and the run aborts naming it.

An honest provider's shares always pass, and nobody but the provider can sign other shares for its
dealing, so a deviating party cannot get it rejected through its dealing. A complaint reveals the
complainer's share only of a provider it proves faulty. Two honest parties whose shares pass fix
the sharing, so every row that passes is a degree-1 sharing at the honest parties (what
``ingest``'s consistency test checked before, without a way to tell who erred).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mpc_programs.shares import pedersen
from mpc_programs.shares.field import ELEMENT_BYTES, PARTIES, PRIME

#: the name of the value's own row (the extra columns use their column names)
LAYOUT = "layout"
#: the rows of the record keys' bits, least significant first in each byte
#: (``verification.key_bits``): the server-write key, and the client-write key of the request
KEY = "key"
CLIENT_KEY = "client_key"
#: the most elements a dealt row may have (the generator table's size less h)
MAX_ROW = pedersen.TABLE_SIZE - 1
_DOMAIN = b"mpcstats-dealing-v1\n"
_KEY_BYTES = 32
_SIGNATURE_BYTES = 64


class DealingError(ValueError):
    """A dealing document that is malformed, or a signature that does not verify."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, size: int, what: str) -> bytes:
    if not isinstance(text, str) or len(text) > 4 * size:
        raise DealingError(f"{what}: base64 of {size} bytes expected")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise DealingError(f"{what}: not base64") from None
    if len(data) != size:
        raise DealingError(f"{what}: {size} bytes expected, got {len(data)}")
    return data


def key_rows(request_bound: bool) -> list[str]:
    """The key rows a dealing holds: the server-write key's bits, and the client-write key's
    when the request is bound inside MPC."""
    return [KEY, CLIENT_KEY] if request_bound else [KEY]


def text_length(elements: int) -> int:
    """The length of the upload text of a row of ``elements`` field elements (base64)."""
    return 4 * -(-elements * ELEMENT_BYTES // 3)


def key_bits(key: bytes) -> list[int]:
    """A record key's bits as the provider deals them: least significant first in each byte."""
    return [(byte >> b) & 1 for byte in key for b in range(8)]


def encode_elements(values: Sequence[int]) -> str:
    """A row of field elements as its upload text: base64 of 24-byte big-endian elements."""
    if not 0 < len(values) <= MAX_ROW or not all(
            isinstance(v, int) and 0 <= v < PRIME for v in values):
        raise DealingError(f"a dealt row holds 1 to {MAX_ROW} field elements")
    return _b64(b"".join(v.to_bytes(ELEMENT_BYTES, "big") for v in values))


def decode_elements(text: Any) -> list[int]:
    """:func:`encode_elements` reversed; DealingError unless every element is below p."""
    if not isinstance(text, str) or len(text) > text_length(MAX_ROW):
        raise DealingError("a dealt row is a base64 string")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise DealingError("a dealt row is not base64") from None
    if not data or len(data) % ELEMENT_BYTES:
        raise DealingError(f"a dealt row holds whole {ELEMENT_BYTES}-byte elements")
    values = [int.from_bytes(data[k:k + ELEMENT_BYTES], "big")
              for k in range(0, len(data), ELEMENT_BYTES)]
    if len(values) > MAX_ROW or any(v >= PRIME for v in values):
        raise DealingError(f"a dealt row holds at most {MAX_ROW} elements below p")
    return values


@dataclass(frozen=True)
class PublicDealing:
    """What all three parties see alike: the dealer key and every row's (C_0, C_1)."""

    key: bytes
    commitments: Mapping[str, tuple[int, int]]  # LAYOUT, then extra columns by name

    def to_json(self) -> dict[str, Any]:
        return {"key": _b64(self.key),
                "commitments": {name: [_b64(pedersen.element_bytes(c)) for c in pair]
                                for name, pair in sorted(self.commitments.items())}}

    @classmethod
    def from_json(cls, doc: Any, rows: Sequence[str]) -> PublicDealing:
        """Strictly: exactly the rows named in ``rows``, every commitment a group element."""
        if not isinstance(doc, dict) or set(doc) != {"key", "commitments"}:
            raise DealingError("dealing: an object with key and commitments expected")
        key = _unb64(doc["key"], _KEY_BYTES, "dealing.key")
        commitments = doc["commitments"]
        if not isinstance(commitments, dict) or set(commitments) != set(rows):
            raise DealingError(f"dealing.commitments: one pair for each of {sorted(rows)}")
        parsed: dict[str, tuple[int, int]] = {}
        for name, pair in commitments.items():
            if not isinstance(pair, list) or len(pair) != 2:
                raise DealingError(f"dealing.commitments.{name}: two group elements expected")
            raw = [_unb64(c, pedersen.ELEMENT_BYTES, f"dealing.commitments.{name}") for c in pair]
            try:
                c0, c1 = (pedersen.element_from_bytes(r) for r in raw)
            except ValueError as exc:
                raise DealingError(f"dealing.commitments.{name}: {exc}") from None
            parsed[name] = (c0, c1)
        return cls(key, parsed)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class PartyDealing:
    """Party x's own part: its rows' blinding shares and the dealer's signature over them."""

    blindings: Mapping[str, int] = field(repr=False)  # shares: never in a log line
    signature: bytes = b""

    def to_json(self) -> dict[str, Any]:
        return {"blindings": {name: format(b, "x") for name, b in sorted(self.blindings.items())},
                "signature": _b64(self.signature)}

    @classmethod
    def from_json(cls, doc: Any, rows: Sequence[str]) -> PartyDealing:
        if not isinstance(doc, dict) or set(doc) != {"blindings", "signature"}:
            raise DealingError("dealing: an object with blindings and signature expected")
        blindings = doc["blindings"]
        if not isinstance(blindings, dict) or set(blindings) != set(rows):
            raise DealingError(f"dealing.blindings: one for each of {sorted(rows)}")
        parsed: dict[str, int] = {}
        for name, text in blindings.items():
            if not isinstance(text, str) or not 0 < len(text) <= 48:
                raise DealingError(f"dealing.blindings.{name}: a field element in hex expected")
            try:
                value = int(text, 16)
            except ValueError:
                raise DealingError(f"dealing.blindings.{name}: not hex") from None
            if not 0 <= value < PRIME:
                raise DealingError(f"dealing.blindings.{name}: not a field element")
            parsed[name] = value
        return cls(parsed, _unb64(doc["signature"], _SIGNATURE_BYTES, "dealing.signature"))


def signed_bytes(point: int, public: PublicDealing, row_texts: Mapping[str, str],
                  blindings: Mapping[str, int]) -> bytes:
    """What the dealer signs for party ``point``: rows by the SHA-256 of their upload text."""
    doc = {"point": point, "public": public.digest(),
           "rows": {n: hashlib.sha256(t.encode("ascii")).hexdigest()
                    for n, t in sorted(row_texts.items())},
           "blindings": {n: format(b, "x") for n, b in sorted(blindings.items())}}
    return _DOMAIN + json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def check_signature(point: int, public: PublicDealing, row_texts: Mapping[str, str],
                    part: PartyDealing) -> None:
    """DealingError unless the dealer signed exactly these rows and blindings for ``point``."""
    if set(row_texts) != set(public.commitments):
        raise DealingError("the rows do not match the dealing's")
    try:
        Ed25519PublicKey.from_public_bytes(public.key).verify(
            part.signature, signed_bytes(point, public, row_texts, part.blindings))
    except (InvalidSignature, ValueError):
        raise DealingError("the dealer's signature does not verify") from None


@dataclass(frozen=True)
class ProviderDealing:
    """What the provider made: the public part and, per party (index x − 1), rows and part."""

    public: PublicDealing
    rows: tuple[Mapping[str, list[int]], ...] = field(repr=False)  # shares: never in a log line
    parts: tuple[PartyDealing, ...] = field(repr=False)


def deal_rows(rows: Mapping[str, Sequence[int]], parties: int = PARTIES) -> ProviderDealing:
    """Deal every row (LAYOUT, the extra columns, the keys' bits: plaintext field elements).

    The signature covers each share row's upload text (:func:`encode_elements`, which for a
    layout is ``store.encode_row``'s). The dealer key is fresh and dropped here: it signs
    nothing else.
    """
    dealer = Ed25519PrivateKey.generate()
    key = dealer.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    dealings = {name: pedersen.deal(row, parties) for name, row in rows.items()}
    public = PublicDealing(key, {name: d.commitments for name, d in dealings.items()})
    share_rows, parts = [], []
    for x in range(1, parties + 1):
        mine = {name: list(d.rows[x - 1]) for name, d in dealings.items()}
        blindings = {name: d.blindings[x - 1] for name, d in dealings.items()}
        texts = {name: encode_elements(row) for name, row in mine.items()}
        parts.append(PartyDealing(blindings, dealer.sign(signed_bytes(x, public, texts,
                                                                        blindings))))
        share_rows.append(mine)
    return ProviderDealing(public, tuple(share_rows), tuple(parts))


def own_shares_hold(point: int, publics: Sequence[PublicDealing],
                    rows: Sequence[Mapping[str, Sequence[int]]],
                    parts: Sequence[PartyDealing]) -> list[bool]:
    """Per provider: do party ``point``'s shares of every row lie on their committed lines?

    Batched per row name and width over the providers (:func:`pedersen.faulty`: one
    small-exponent test, bisected only when it fails; an AES-128 and an AES-256 key's bits
    differ in width).
    """
    holds = [True] * len(publics)
    groups: dict[tuple[str, int], list[int]] = {}  # one batch per row name and width
    for i, public in enumerate(publics):
        for name in public.commitments:
            groups.setdefault((name, len(rows[i][name])), []).append(i)
    for (name, _), having in sorted(groups.items()):
        bad = pedersen.faulty(point, [publics[i].commitments[name] for i in having],
                              [rows[i][name] for i in having],
                              [parts[i].blindings[name] for i in having])
        for k in bad:
            holds[having[k]] = False
    return holds


@dataclass(frozen=True)
class Complaint:
    """Party ``point``'s proof that a provider dealt it shares off the committed lines."""

    point: int
    row_texts: Mapping[str, str]
    part: PartyDealing

    def to_json(self) -> dict[str, Any]:
        return {"point": self.point, "rows": dict(self.row_texts), "dealing": self.part.to_json()}

    @classmethod
    def from_json(cls, doc: Any, rows: Sequence[str]) -> Complaint:
        if not isinstance(doc, dict) or set(doc) != {"point", "rows", "dealing"}:
            raise DealingError("complaint: point, rows and dealing expected")
        point, texts = doc["point"], doc["rows"]
        if not isinstance(point, int) or isinstance(point, bool) or not 1 <= point <= PARTIES:
            raise DealingError("complaint: a party's point expected")
        if (not isinstance(texts, dict) or set(texts) != set(rows)
                or not all(isinstance(t, str) and len(t) <= text_length(MAX_ROW)
                           for t in texts.values())):
            raise DealingError(f"complaint.rows: one upload text for each of {sorted(rows)}")
        return cls(point, dict(texts), PartyDealing.from_json(doc["dealing"], rows))


def complaint_holds(complaint: Complaint, public: PublicDealing) -> bool:
    """Signed by the dealer, and off the committed lines: the provider is faulty (an
    undecodable row the dealer signed is its fault too)."""
    try:
        check_signature(complaint.point, public, complaint.row_texts, complaint.part)
    except DealingError:
        return False
    for name, text in complaint.row_texts.items():
        try:
            row = decode_elements(text)
        except DealingError:
            return True
        if not pedersen.verify_batch(complaint.point, [public.commitments[name]], [row],
                                     [complaint.part.blindings[name]]):
            return True
    return False
