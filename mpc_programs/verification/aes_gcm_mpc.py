"""Input verification inside MPC: decrypt and authenticate a notarized AES-GCM response.

Run by the three computation parties (MPyC, Shamir t=1 of 3) over a batch of P providers
(DESIGN.md, "Data flow" 3-4). Per provider:

* secret: the AES-128 or AES-256 record key, shared byte by byte over GF(2^8) (AES polynomial
  0x11B, MPyC's points 1, 2, 3) by the provider with :func:`share_key_bytes`; each party passes
  its row (:func:`load_key_share`).
* public: ciphertext, tag, 12-byte nonce and AAD of every record of the response from its
  first through the last one used (TLS 1.2 or 1.3 layout, built by the caller; positions index
  the response stream, see :class:`ProviderInput`); templates (offset, expected bytes) that must
  appear in the plaintext -- the first block ``HTTP/1.1 200 OK\\r`` and the bytes around each field, covering
  the byte just before and just after the uid and the balance (else the provider is rejected in
  the clear); the uid offset and the claimed uid; the balance offset and length (ASCII digits
  with a '.' before the last ``decimals`` digits), and as many more value fields of the same
  format (further columns of the pool: ``extra_values``). Template bytes must come from the source spec,
  never from the provider.
* the request (:class:`RequestInput`): the client-write key's shares and the request record;
  every byte of it is known plaintext from the spec except the API key's, which may hold no CR
  or LF.

Outputs: one opened verdict per provider, and each party's shares of the balances (in units of
10^-decimals) as a secure array of the statistics type (default ``mpc.SecInt(WIDE_SECINT_BITS, p=PRIME)``), not opened.
The caller stores the accepted ones and drops the rest (a rejected provider's entry is garbage)
together with the key shares. Also opened, by design: H = E_k(0^128) of each key and E_k(J0) of
every record, so each GCM tag is checked in the clear (:mod:`mpc_programs.verification.gcm`, GHASH vectorised);
they say nothing about the plaintext, whose keystream blocks E_k(nonce || i+2) stay secret.

Why GF(2^8) and not bits or GF(2^128): AES is byte-oriented and its only non-linear step is
inversion in GF(2^8); with Frobenius-aware resharing the whole S-box costs 4 rounds and 7 byte
resharings (:mod:`mpc_programs.verification.gf256_mpc`), with no bit decomposition. Decrypting is free there
(keystream + public ciphertext), and so are the template differences. Only the balance digits
leave GF(2^8), via daBits (:mod:`mpc_programs.verification.dabits`). GHASH needs no MPC (see above). The
shares are MPyC's ``SecFld(2**8)`` shares (:func:`key_share_as_secfld`), but the local arithmetic
uses uint8 tables: MPyC's object arrays cost ~37 us per secure product here, which would make a
batch of 32 take ~15 s instead of ~0.07 s.

Rounds for a batch (any P): 2 (key-share check) + 40 AES-128 (56 for AES-256; both if the batch
mixes key sizes) + 1 open (H, E_k(J0)) + 3 (digits) + 4 (zero test) + ceil(log2 D) (AND of the D
checks of a provider) + 1 open (verdict). Data: ~14 bytes sent per party per S-box byte;
measured (3 local parties, 2 cores): 1 provider 0.02-0.04 s, 32 providers 0.07 s (0.8 MB/party).

Checks folded into the verdict, and their soundness:
* key-share consistency: every key byte is masked by a fresh random degree-1 sharing and opened
  with all three shares; the three points must lie on a line. Exact (no error probability) and
  the opened values are uniform, so nothing leaks. Stronger than a random linear combination
  (error 2^-8 per combination in GF(2^8)) at the same round cost.
* GCM tag over AAD and ciphertext: forging needs the key (GCM's security), but GCM does not
  commit to its key, hence the known-plaintext checks.
* templates, uid and request: d = plaintext byte + expected byte must be 0 for every byte. The
  parties draw public random coefficients (jointly, after every input is fixed) and zero-test
  EQUALITY_CHECKS = 5 combinations sum(c_k d_k) in GF(2^8) (c^255 is 1 iff c != 0): a nonzero d
  passes one with probability 2^-8, all five with 2^-40 (the statistical security). The
  verdict is the product of (1 - flag) over those and the range bits.
  A fake key that still authenticates (GCM is not key-committing) decrypts the checked bytes to
  pseudo-random values, except the few an attacker can steer (the notary prototype steered 16
  bytes of one block); the templates therefore span several blocks: the first block, and the
  bytes around each field.
* digits: each balance byte must be in '0'..'9' (:mod:`mpc_programs.verification.dabits`).
Semi-honest parties, honest majority (MPyC's model); a malicious provider cannot get a balance
accepted that the notarized record does not contain (up to the GCM/known-plaintext argument).

Active security with abort (issue 15; ``product_check.active()``, the default): every GF(2^8)
product — the S-box's (with the plain products a7 = a3·a4 and a127 = a15·a112 as extra outputs
of their rounds, so each Frobenius output is related to a recorded product), the zero tests',
the ANDs', the CR/LF test's, the digits' range products and the daBits' b·b = b — is recorded
on ``gf256_check`` and checked once (Chida et al.'s check in the extension field K of
``gf256_check``, ≤ 3·2^-48 + ε per check) after the verdicts are computed and *before* H and
E_k(J0) are opened; those and the verdicts are then opened with the checked opening, so a
party that shifts a resharing, or lies in an opening, aborts the run before anything depending
on the products is revealed. The daBits' GF(p) halves are checked by ``product_check.verify``
at the same point. Cost: H/E_k(J0) are opened at the end instead of after AES (one check for
the whole batch: 6 rounds + 1 round of masked openings), the two extra outputs per S-box byte,
and the check's resharings (6 bytes per recorded product and per distinct left operand). A row
whose key shares are inconsistent runs on the public key 0 (its provider is rejected anyway),
so its derived openings cannot abort the run. A daBit's cross-field consistency (the same bit
in GF(2^8) and GF(p)) is checked in ``dabits.decimal_value`` (40 sacrificed daBits, random
subsets' parities compared: ≤ 2^-40), before anything but the masked c is opened.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mpc_programs.runtime import product_check
from mpc_programs.verification import gcm, gf256, gf256_check
from mpc_programs.verification.aes_mpc import encrypt
from mpc_programs.verification.dabits import decimal_value
from mpc_programs.shares.field import PRIME, WIDE_SECINT_BITS
from mpc_programs.verification.gf256_mpc import Gf256Engine

MAX_BALANCE_LEN = 20
"""Default longest balance field (digits and '.'); 19 digits < 2^64 units. Longer claims are
rejected in the clear (the length is public anyway)."""


def share_key_bytes(key: bytes, m: int = 3, t: int = 1,
                    rng: np.random.Generator | None = None) -> list[list[int]]:
    """Provider side: Shamir shares of each key byte over GF(2^8), one row per party.

    Plain numpy, no MPyC runtime: the provider is not a party. ``rng`` only for reproducible
    demos and tests (all local parties must derive the same shares); never in production.
    """
    if len(key) not in (16, 32):
        raise ValueError("AES-128 or AES-256 key required")
    key_bytes = np.frombuffer(key, dtype=np.uint8)
    return [row.tolist() for row in gf256.shamir_share(key_bytes, m, t, rng)]


def load_key_share(row: Sequence[int]) -> np.ndarray:
    """Party side: this party's share row as the uint8 array the engine computes on."""
    return np.array(row, dtype=np.uint8)


def key_share_as_secfld(row: Sequence[int], secfld: Any) -> Any:
    """This party's share row as an MPyC secure array over ``secfld`` (``mpc.SecFld(2**8)``).

    MPyC keeps a secure object as the local share value, so wrapping the row makes the same
    secret visible to MPyC's own GF(2^8) operations (e.g. ``mpc.output``).
    """
    return secfld.array(secfld.field.array(list(row)))


@dataclass(frozen=True)
class RecordPart:
    """Public material of one further record of the response (same key as the first)."""

    ciphertext: bytes
    tag: bytes
    nonce: bytes
    aad: bytes


@dataclass(frozen=True)
class RequestInput:
    """The provider's request, bound inside MPC: its one application-data record under the
    client-write key (shared like the server-write key), every byte of it either known
    (``known``: the request line with the spec's path and query parameters, ``Host`` and the
    other fixed headers, built by the servers from the spec, never by the provider) or secret
    (``secret``: (offset, length) spans, i.e. the API key; CR and LF are forbidden there, so
    the secret bytes can neither end a header nor start a second request). ``inner_type``:
    TLS 1.3, the record's last byte is its inner content type, which must be 0x17."""

    key_share: Sequence[int]
    record: "RecordPart"
    known: Sequence[tuple[int, bytes]]
    secret: Sequence[tuple[int, int]]
    inner_type: bool = False


INNER_HANDSHAKE = 0x16
INNER_APPLICATION_DATA = 0x17


@dataclass(frozen=True)
class ProviderInput:
    """What one party passes in for one provider (all public except ``key_share``).

    The records are the first one (``ciphertext``, ``tag``, ``nonce``, ``aad``) and
    ``more_records``, in order, under one key. Positions (templates, uid, values) index the
    response stream: the concatenated content of the records. Without ``inner_types`` (TLS 1.2)
    a record's content is its whole plaintext. With ``inner_types`` (TLS 1.3, one per record)
    each record's last plaintext byte is its inner content type: 0x17 (application data: the
    bytes before it are content) or 0x16 (a NewSessionTicket that came before the response: no
    content). A record named a ticket must decrypt to type 0x16 (checked inside MPC), so no
    response record can be skipped as a "ticket"; a response record's content is its plaintext
    without the type byte (the prover refuses padded records).
    """

    key_share: Sequence[int]
    ciphertext: bytes
    tag: bytes
    nonce: bytes
    aad: bytes
    templates: Sequence[tuple[int, bytes]]
    uid: tuple[int, bytes]
    balance: tuple[int, int]  # (offset, length)
    decimals: int = 8
    #: More value fields of the same response (further columns), same format as ``balance``.
    extra_values: tuple[tuple[int, int], ...] = ()
    more_records: tuple[RecordPart, ...] = ()
    inner_types: tuple[int, ...] = ()
    #: The request bound inside MPC (the servers always set it for a registration).
    request: RequestInput | None = None

    @property
    def values(self) -> tuple[tuple[int, int], ...]:
        return (self.balance, *self.extra_values)

    @property
    def records(self) -> tuple[RecordPart, ...]:
        return (RecordPart(self.ciphertext, self.tag, self.nonce, self.aad), *self.more_records)


EQUALITY_CHECKS = 5
"""Random combinations the known-plaintext equality is tested with: soundness error 2^-40."""

MAX_RECORDS = 64
"""Most records one provider's response may span (64 x 16 KB: far beyond any account)."""

Pos = tuple[int, int]  # (record, offset in that record's plaintext)


@dataclass
class _Layout:
    """Public per-provider layout: which blocks to encrypt and where each checked byte is."""

    ok: bool
    blocks: list[Pos]  # (record, 16-byte block) pairs whose keystream is needed
    checks: list[tuple[Pos, int]]  # (position, expected byte)
    digits: list[list[tuple[Pos, int]]]  # per value field: (position, weight)


def _value_digits(off: int, length: int, decimals: int,
                  checks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(position, weight) of each digit of a decimal field; the '.' joins ``checks``."""
    dot = off + length - decimals - 1 if decimals else None
    digits: list[tuple[int, int]] = []
    place = 0
    for pos in range(off + length - 1, off - 1, -1):
        if pos == dot:
            checks.append((pos, ord(".")))
        else:
            digits.append((pos, 10 ** place))
            place += 1
    return digits


class _StreamMap:
    """Stream position -> (record, offset): records' content lengths, no per-byte table."""

    def __init__(self, records: list[int], lengths: list[int]) -> None:
        self.records, self.starts = records, []
        total = 0
        for n in lengths:
            self.starts.append(total)
            total += n
        self.length = total

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, pos: int) -> Pos:
        k = bisect.bisect_right(self.starts, pos) - 1
        return self.records[k], pos - self.starts[k]


def _stream_map(p: ProviderInput) -> tuple[_StreamMap | None, list[tuple[Pos, int]]]:
    """Each stream position's (record, offset), and the inner-type checks; None if malformed."""
    records = p.records
    if not 1 <= len(records) <= MAX_RECORDS:
        return None, []
    if any(len(r.nonce) != 12 or len(r.tag) != 16 for r in records):
        return None, []
    data_records: list[int] = []
    lengths: list[int] = []
    type_checks: list[tuple[Pos, int]] = []
    if p.inner_types:
        if len(p.inner_types) != len(records):
            return None, []
        seen_data = False
        for r, (rec, kind) in enumerate(zip(records, p.inner_types, strict=True)):
            if kind not in (INNER_HANDSHAKE, INNER_APPLICATION_DATA) or not rec.ciphertext:
                return None, []
            if kind == INNER_HANDSHAKE and seen_data:
                return None, []  # tickets may only come before the response
            seen_data |= kind == INNER_APPLICATION_DATA
            if kind == INNER_HANDSHAKE:
                # A record named a ticket must be one, else a provider could skip the start of the
                # response. (A response record's own type byte only says where the server's bytes
                # sit; the server, not the provider, decides it, and every used byte is checked.)
                type_checks.append(((r, len(rec.ciphertext) - 1), kind))
            elif len(rec.ciphertext) > 1:
                data_records.append(r)
                lengths.append(len(rec.ciphertext) - 1)
        if not seen_data:
            return None, []
    else:
        for r, rec in enumerate(records):
            if rec.ciphertext:
                data_records.append(r)
                lengths.append(len(rec.ciphertext))
    return _StreamMap(data_records, lengths), type_checks


@dataclass
class _RequestLayout:
    ok: bool
    blocks: list[Pos]
    checks: list[tuple[Pos, int]]
    secret: list[Pos]


MAX_REQUEST_BYTES = 4096


def _request_layout(p: ProviderInput) -> _RequestLayout:
    """Every byte of the request record's content is known or secret, exactly once."""
    req = p.request
    bad = _RequestLayout(False, [(0, 0)], [], [])
    if req is None or len(req.key_share) != len(p.key_share) or not all(0 <= v < 256 for v in req.key_share):
        return bad
    rec = req.record
    n = len(rec.ciphertext) - (1 if req.inner_type else 0)
    if len(rec.nonce) != 12 or len(rec.tag) != 16 or not 0 < n <= MAX_REQUEST_BYTES:
        return bad
    checks = [(off + i, b) for off, data in req.known for i, b in enumerate(data)]
    secret = [off + i for off, length in req.secret for i in range(length)]
    positions = [q for q, _ in checks] + secret
    if sorted(positions) != list(range(n)):
        return bad
    if req.inner_type:
        checks.append((n, INNER_APPLICATION_DATA))
    used = [q for q, _ in checks] + secret
    return _RequestLayout(True, sorted({(0, q // 16) for q in used}),
                          [((0, q), b) for q, b in checks], [(0, q) for q in secret])


def _layout(p: ProviderInput, max_len: int) -> _Layout:
    values = p.values
    bad = _Layout(False, [(0, 0)], [((0, 0), 0)], [[((0, 0), 0)]] * len(values))
    where, type_checks = _stream_map(p)
    if where is None:
        return bad
    n = len(where)
    checks = [(off + i, b) for off, data in p.templates for i, b in enumerate(data)]
    uid_off, uid = p.uid
    checks += [(uid_off + i, b) for i, b in enumerate(uid)]
    ok = (len(p.key_share) in (16, 32) and all(0 <= v < 256 for v in p.key_share)
          and len(uid) > 0 and 0 <= p.decimals and len(values) <= 8
          and all(p.decimals + (2 if p.decimals else 1) <= length <= max_len
                  for _, length in values))
    spans = sorted([(uid_off, uid_off + len(uid))] + [(off, off + length) for off, length in values])
    ok = ok and all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # fields never overlap
    digits: list[list[tuple[int, int]]] = []
    if ok:
        digits = [_value_digits(off, length, p.decimals, checks) for off, length in values]
    positions = [pos for pos, _ in checks] + [pos for field in digits for pos, _ in field]
    ok = ok and all(0 <= pos < n for pos in positions)
    # Each field must be delimited by template bytes on both sides, or a claim could cover a
    # shorter run of digits (or a uid prefix) inside the real field.
    covered = {t_off + i for t_off, data in p.templates for i in range(len(data))}
    ok = ok and {bound for lo, hi in spans for bound in (lo - 1, hi)} <= covered
    if not ok:
        return bad
    mapped = [(where[pos], b) for pos, b in checks] + type_checks
    mapped_digits = [[(where[pos], w) for pos, w in field] for field in digits]
    used = [q for q, _ in mapped] + [q for field in mapped_digits for q, _ in field]
    return _Layout(True, sorted({(r, off // 16) for r, off in used}), mapped, mapped_digits)


async def check_key_shares(engine: Gf256Engine, keys: np.ndarray) -> np.ndarray:
    """Public per-row verdict: are this row's key bytes consistent degree-t sharings?

    Two rounds: deal a fresh random sharing r per byte, open k + r with all m shares and check
    that they lie on one degree-t polynomial. k + r is uniform, so nothing about k leaks; the
    check is exact per byte (no soundness error). It cannot say *who* is off: a deviating party
    can make an honest provider's row fail. Keys that providers upload are therefore dealt as
    checked prime-field bits and made into GF(2^8) shares inside MPC (``key_bits``); for those
    the caller ignores this verdict (``keys_dealt``).
    """
    mask = await engine.random(keys.shape)
    _, consistent = await engine.open(keys ^ mask, check=True)
    return np.asarray(consistent.all(axis=-1))


async def verify_batch(providers: Sequence[ProviderInput], sectype: Any = None,
                       runtime: Any = None, max_balance_len: int = MAX_BALANCE_LEN
                       ) -> tuple[list[bool], Any]:
    """:func:`verify_batch_values` for the balance alone: (verdicts, secure balances (P,))."""
    verdicts, values = await verify_batch_values(providers, sectype, runtime, max_balance_len)
    return verdicts, values[:, 0]


async def verify_batch_values(providers: Sequence[ProviderInput], sectype: Any = None,
                              runtime: Any = None, max_balance_len: int = MAX_BALANCE_LEN,
                              keys_dealt: Sequence[bool] | None = None
                              ) -> tuple[list[bool], Any]:
    """Verify P providers in one MPC run. Every party calls this with the same public inputs
    and its own key-share rows, in the same order.

    ``sectype``: the secure type of the balances (default ``runtime.SecInt(WIDE_SECINT_BITS, p=PRIME)``); ``runtime``:
    the running MPyC runtime (default ``mpyc.runtime.mpc``). Returns (opened verdicts, secure
    values of shape (P, C) in units of 10^-decimals, C the most value fields any provider has:
    column 0 the balance, then ``extra_values`` in order, 0 where a provider has fewer;
    entries of rejected providers are garbage). ``keys_dealt``: per provider, whether its key
    shares were made inside MPC from a checked dealing (``key_bits``); the key-share
    consistency check's verdict does not apply to them.
    """
    if runtime is None:
        from mpc_programs.runtime.hardened_runtime import mpc

        runtime = mpc
    if sectype is None:
        sectype = runtime.SecInt(WIDE_SECINT_BITS, p=PRIME)
    if not providers:
        raise ValueError("empty batch")
    engine = Gf256Engine(runtime)
    count = len(providers)
    layouts = [_layout(p, max_balance_len) for p in providers]
    gate = np.array([lay.ok for lay in layouts], dtype=bool)

    # AES rows: each provider's server-write key, then the client-write key of each provider
    # whose request is bound (same suite, same key length).
    req_layouts = [_request_layout(p) if lay.ok and p.request is not None else None
                   for p, lay in zip(providers, layouts, strict=True)]
    for i, (p, rl) in enumerate(zip(providers, req_layouts, strict=True)):
        if p.request is not None and (rl is None or not rl.ok):
            gate[i] = False
    with_req = [i for i, rl in enumerate(req_layouts) if rl is not None and rl.ok]
    req_row = {i: count + j for j, i in enumerate(with_req)}
    n_rows = count + len(with_req)
    row_records: list[tuple[RecordPart, ...]] = []
    row_blocks: list[list[Pos]] = []
    keys = np.zeros((n_rows, 32), dtype=np.uint8)
    klens = []
    for i, p in enumerate(providers):
        ok = layouts[i].ok
        klen = len(p.key_share) if ok else 16
        klens.append(klen)
        if ok:
            keys[i, :klen] = load_key_share(p.key_share)
        row_records.append(p.records if ok else (RecordPart(b"", bytes(16), bytes(12), b""),))
        row_blocks.append(layouts[i].blocks)
    for i in with_req:
        req = providers[i].request
        assert req is not None
        keys[req_row[i], :klens[i]] = load_key_share(req.key_share)
        klens.append(klens[i])
        row_records.append((req.record,))
        row_blocks.append(req_layouts[i].blocks)  # type: ignore[union-attr]

    consistent = await check_key_shares(engine, keys)
    for i, dealt in enumerate(keys_dealt or ()):
        # Keys made inside MPC from a checked dealing (``key_bits``): their sharing is right by
        # construction, so the check's verdict (which a deviating party could spoil) is moot.
        if dealt:
            consistent[i] = True
            if i in req_row:
                consistent[req_row[i]] = True
    if product_check.active():
        # A row whose key shares do not lie on one line would make every opening derived from
        # it (H, E_k(J0), the masked digits) fail its check and abort the whole run because of
        # one provider; its provider is rejected anyway, so it runs on the public key 0.
        keys[~consistent] = 0
    gate &= consistent[:count]
    for i in with_req:
        gate[i] &= consistent[req_row[i]]

    # One batched AES call per key size and row kind (server-write rows, client-write rows: their
    # widths differ). Row layout: [0^128, J0 of each of its records, its keystream blocks],
    # padded at the end; only H and the J0s are ever opened (gathered per row, padded with H
    # again), so a row's padding or keystream never is.
    rmax = max(len(recs) for recs in row_records)
    first_ks = [1 + len(recs) for recs in row_records]
    enc_rows: list[np.ndarray] = [np.zeros((0, 16), dtype=np.uint8)] * n_rows
    for group in sorted({(klens[row], row >= count) for row in range(n_rows)}):
        rows = [row for row in range(n_rows) if (klens[row], row >= count) == group]
        width = max(first_ks[row] + len(row_blocks[row]) for row in rows)
        public = np.zeros((len(rows), width, 16), dtype=np.uint8)
        for g, row in enumerate(rows):
            nonces = [r.nonce for r in row_records[row]]
            for r, nonce in enumerate(nonces):
                public[g, 1 + r] = np.frombuffer(gcm.counter_block(nonce, 1), dtype=np.uint8)
            for j, (r, b) in enumerate(row_blocks[row]):
                public[g, first_ks[row] + j] = np.frombuffer(gcm.counter_block(nonces[r], b + 2),
                                                             dtype=np.uint8)
        out, _ = await encrypt(engine, keys[rows, :group[0]], public)
        for g, row in enumerate(rows):
            enc_rows[row] = out[g]

    # GHASH in the clear from the opened H and each record's E_k(J0): every record's tag.
    hj_shares = np.stack([enc_rows[row][list(range(1 + len(recs))) + [0] * (rmax - len(recs))]
                          for row, recs in enumerate(row_records)])

    async def tag_gate() -> None:
        hj = await engine.open_verified(hj_shares, "AES-GCM H and E_k(J0)")

        def tags(row: int) -> bool:
            recs = row_records[row]
            return gcm.tags_ok(hj[row, 0].tobytes(), [hj[row, 1 + r].tobytes() for r in range(len(recs))],
                               [(r.aad, r.ciphertext, r.tag) for r in recs])

        for i in range(count):
            if gate[i]:
                gate[i] = tags(i) and (i not in req_row or tags(req_row[i]))

    # Active security: H and E_k(J0) are opened at the end, after the one product check that
    # covers the AES products and the verdict's (the gate is public and only needed there).
    active = product_check.active()
    if not active:
        await tag_gate()

    # Decrypt only the checked bytes: keystream + public ciphertext, free in GF(2^8).
    def decrypt(row: int, positions: list[Pos], ok: bool = True) -> np.ndarray:
        slot = {blk: first_ks[row] + j for j, blk in enumerate(row_blocks[row])}
        ks = enc_rows[row]
        out = np.array([ks[slot[(r, off // 16)], off % 16] for r, off in positions], dtype=np.uint8)
        if ok:
            recs = row_records[row]
            out ^= np.frombuffer(bytes(recs[r].ciphertext[off] for r, off in positions), dtype=np.uint8)
        return out

    def decrypt_provider(i: int, positions: list[Pos]) -> np.ndarray:
        return decrypt(i, positions, layouts[i].ok)

    # The request's checks join its provider's: known bytes must match, and no secret byte of
    # the request (the API key) may be CR or LF (``forbid``: 1 where it is).
    req_checks = [req_layouts[i].checks if i in req_row else [] for i in range(count)]  # type: ignore[union-attr]
    req_secret = [req_layouts[i].secret if i in req_row else [] for i in range(count)]  # type: ignore[union-attr]
    n_forbid = max(1, max(len(x) for x in req_secret))
    secret_bytes = np.full((count, n_forbid), 0x41, dtype=np.uint8)  # padding: public 'A'
    for i in with_req:
        secret_bytes[i, :len(req_secret[i])] = decrypt(req_row[i], req_secret[i])

    n_checks = max(len(lay.checks) + len(rc) for lay, rc in zip(layouts, req_checks, strict=True))
    diffs = np.zeros((count, n_checks), dtype=np.uint8)  # padding: public 0 (matches)
    columns = max(len(lay.digits) for lay in layouts)
    n_digits = max(len(field) for lay in layouts for field in lay.digits)
    # one row per (provider, value field); padding: public '0' digits of weight 0
    digits = np.full((count, columns, n_digits), ord("0"), dtype=np.uint8)
    weights = np.zeros((count, columns, n_digits), dtype=object)
    for i, lay in enumerate(layouts):
        pos = [q for q, _ in lay.checks]
        expected = np.array([e for _, e in lay.checks], dtype=np.uint8)
        diffs[i, :len(pos)] = decrypt_provider(i, pos) ^ expected
        if req_checks[i]:
            rpos = [q for q, _ in req_checks[i]]
            rexp = np.array([e for _, e in req_checks[i]], dtype=np.uint8)
            diffs[i, len(pos):len(pos) + len(rpos)] = decrypt(req_row[i], rpos) ^ rexp
        for c, field in enumerate(lay.digits):
            digits[i, c, :len(field)] = decrypt_provider(i, [q for q, _ in field])
            weights[i, c, :len(field)] = [w for _, w in field]

    values, range_bad = await decimal_value(engine, runtime, sectype,
                                            digits.reshape(count * columns, n_digits),
                                            weights.reshape(count * columns, n_digits))
    range_bad = range_bad.reshape(count, -1)
    # Known plaintext: every difference must be 0. Instead of a zero test per byte, test
    # EQUALITY_CHECKS random combinations of them, with coefficients drawn jointly after every
    # input is fixed: a nonzero difference vector survives one combination with probability
    # 2^-8, all of them with 2^-(8 * EQUALITY_CHECKS) = 2^-40 (the statistical security).
    # (The coins are dealt randomness, not products: opened checked under active security so
    # every party combines with the same coefficients, with no product check first.)
    coins = await engine.open_masked(await engine.random((count, EQUALITY_CHECKS, diffs.shape[1])),
                                     "equality coins")
    combos = np.bitwise_xor.reduce(gf256.mul(coins, diffs[:, None, :]), axis=-1)
    # No secret request byte may be CR or LF: the product of (b - CR)(b - LF) over them is
    # nonzero exactly then (padding 'A' is neither).
    allowed = await engine.prod(await engine.mul_checked(secret_bytes ^ np.uint8(0x0D),
                                                         secret_bytes ^ np.uint8(0x0A)))
    nonzero = await engine.nonzero(np.concatenate([combos, allowed.reshape(count, 1)], axis=1))
    flags = np.concatenate([nonzero[:, :EQUALITY_CHECKS], range_bad, nonzero[:, EQUALITY_CHECKS:] ^ np.uint8(1)],
                           axis=1)
    verdict = await engine.prod(flags ^ np.uint8(1))
    if active:
        # One check of every GF(2^8) product of the batch (AES, digits, zero tests, the AND)
        # and the daBits' GF(p) halves, before anything depending on them is opened.
        await product_check.verify("daBits (GF(p) bits)")
        await tag_gate()  # open_verified runs gf256_check.verify first
    verdict = np.where(gate, verdict, np.uint8(0))  # public AND: a sharing of 0 where gate fails
    opened = await engine.open_verified(verdict, "verdicts")
    return [bool(v == 1) for v in opened], values.reshape(count, columns)
