"""The provider's verifiable dealing: signed, committed share rows and the complaints about them.

Attacks: a malicious provider deals one party a share off its committed line (the complaint
proves it); a malicious party complains about an honest provider with its true share, with an
altered share under the dealer's signature, or with a signature of its own (no complaint holds).
"""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpc_programs.shares import dealing, pedersen
from mpc_programs.shares.encoding import one_hot
from mpc_programs.shares.field import PRIME
from mpc_programs.shares.store import encode_row
from deviation import faulty_dealing

ROWS = {dealing.LAYOUT: one_hot(123_456_789), "btc": one_hot(5)}


def _texts(rows):
    return {name: dealing.encode_elements(row) for name, row in rows.items()}


def test_an_honest_dealing_passes_at_every_party():
    dealt = dealing.deal_rows(ROWS)
    for x in (1, 2, 3):
        rows, part = dealt.rows[x - 1], dealt.parts[x - 1]
        dealing.check_signature(x, dealt.public, _texts(rows), part)
        assert dealing.own_shares_hold(x, [dealt.public], [rows], [part]) == [True]
    # the shares reconstruct the rows
    for name, row in ROWS.items():
        assert [(2 * a - b) % PRIME for a, b in zip(dealt.rows[0][name], dealt.rows[1][name])] == row


def test_the_public_part_and_a_partys_part_round_trip_strictly():
    dealt = dealing.deal_rows(ROWS)
    names = list(ROWS)
    public = dealing.PublicDealing.from_json(json.loads(json.dumps(dealt.public.to_json())), names)
    assert public == dealt.public and public.digest() == dealt.public.digest()
    part = dealing.PartyDealing.from_json(dealt.parts[0].to_json(), names)
    assert part == dealt.parts[0]


@pytest.mark.parametrize("change, why", [
    (lambda d: d.pop("key"), "key and commitments"),
    (lambda d: d.update(extra=1), "key and commitments"),
    (lambda d: d["commitments"].pop("btc"), "one pair for each"),
    (lambda d: d.update(key="AAAA"), "32 bytes"),
    (lambda d: d["commitments"]["btc"].pop(), "two group elements"),
    (lambda d: d["commitments"]["btc"].__setitem__(0, "!" * 344), "not base64"),
])
def test_a_malformed_public_part_is_refused(change, why):
    doc = dealing.deal_rows(ROWS).public.to_json()
    change(doc)
    with pytest.raises(dealing.DealingError, match=why):
        dealing.PublicDealing.from_json(doc, list(ROWS))


def test_a_commitment_outside_the_group_is_refused():
    doc = dealing.deal_rows(ROWS).public.to_json()
    q = pedersen.group().q
    c0 = pedersen.element_from_bytes(__import__("base64").b64decode(doc["commitments"]["btc"][0]))
    doc["commitments"]["btc"][0] = dealing._b64(pedersen.element_bytes(q - c0))  # order-2 part
    with pytest.raises(dealing.DealingError, match="not an element"):
        dealing.PublicDealing.from_json(doc, list(ROWS))


@pytest.mark.parametrize("blinding, why", [(format(PRIME, "x"), "not a field element"),
                                           ("xyz", "not hex"), ("", "in hex")])
def test_a_malformed_blinding_is_refused(blinding, why):
    doc = dealing.deal_rows(ROWS).parts[1].to_json()
    doc["blindings"]["btc"] = blinding
    with pytest.raises(dealing.DealingError, match=why):
        dealing.PartyDealing.from_json(doc, list(ROWS))


def test_the_signature_binds_the_point_the_rows_and_the_blindings():
    dealt = dealing.deal_rows(ROWS)
    rows, part = dealt.rows[1], dealt.parts[1]
    with pytest.raises(dealing.DealingError, match="signature"):
        dealing.check_signature(3, dealt.public, _texts(rows), part)  # another party's point
    other = dict(rows, btc=list(dealt.rows[2]["btc"]))
    with pytest.raises(dealing.DealingError, match="signature"):
        dealing.check_signature(2, dealt.public, _texts(other), part)
    moved = dealing.PartyDealing({**part.blindings, "btc": (part.blindings["btc"] + 1) % PRIME},
                                 part.signature)
    with pytest.raises(dealing.DealingError, match="signature"):
        dealing.check_signature(2, dealt.public, _texts(rows), moved)


def test_a_provider_that_deals_a_wrong_share_is_proven_faulty():
    public, shares, parts = faulty_dealing(ROWS, 3)
    rows, part = shares[2], parts[2]
    assert dealing.own_shares_hold(3, [public], [rows], [part]) == [False]
    assert dealing.own_shares_hold(1, [public], [shares[0]], [parts[0]]) == [True]
    complaint = dealing.Complaint(3, _texts(rows), part)
    received = dealing.Complaint.from_json(json.loads(json.dumps(complaint.to_json())), list(ROWS))
    assert dealing.complaint_holds(received, public)


def test_a_party_cannot_prove_an_honest_provider_faulty():
    dealt = dealing.deal_rows(ROWS)
    rows, part = dealt.rows[1], dealt.parts[1]
    # its true share: it passes, so the complaint does not hold
    assert not dealing.complaint_holds(dealing.Complaint(2, _texts(rows), part), dealt.public)
    # an altered share under the dealer's signature: the signature fails
    altered = {**rows, dealing.LAYOUT: [(v + 1) % PRIME for v in rows[dealing.LAYOUT]]}
    assert not dealing.complaint_holds(dealing.Complaint(2, _texts(altered), part), dealt.public)
    # an altered share signed with a key of its own: not the dealer's
    forger = Ed25519PrivateKey.generate()
    forged = dealing.PartyDealing(part.blindings, forger.sign(
        dealing.signed_bytes(2, dealt.public, _texts(altered), part.blindings)))
    assert not dealing.complaint_holds(dealing.Complaint(2, _texts(altered), forged),
                                       dealt.public)
    # another party's share, claimed at its own point: signed for another point
    assert not dealing.complaint_holds(dealing.Complaint(2, _texts(dealt.rows[0]), dealt.parts[0]),
                                       dealt.public)


def test_providers_with_keys_of_both_lengths_are_checked_together():
    short = dealing.deal_rows({dealing.LAYOUT: one_hot(1), dealing.KEY: dealing.key_bits(bytes(16))})
    long = dealing.deal_rows({dealing.LAYOUT: one_hot(2),
                              dealing.KEY: dealing.key_bits(bytes(range(32)))})
    publics, parts = [short.public, long.public], [short.parts[1], long.parts[1]]
    assert dealing.own_shares_hold(2, publics, [short.rows[1], long.rows[1]], parts) == [True, True]
    bent = {**long.rows[1], dealing.KEY: [(v + 1) % PRIME for v in long.rows[1][dealing.KEY]]}
    assert dealing.own_shares_hold(2, publics, [short.rows[1], bent], parts) == [True, False]


def test_key_bits_are_least_significant_first_and_rows_round_trip():
    assert dealing.key_bits(b"\x01\x80") == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    row = [0, 1, PRIME - 1] + [5] * 253
    assert dealing.decode_elements(dealing.encode_elements(row)) == row
    assert dealing.encode_elements(ROWS["btc"]) == encode_row(ROWS["btc"])  # a layout's format


@pytest.mark.parametrize("text, why", [
    ("", "whole 24-byte"), ("AAAA", "whole 24-byte"), ("!!", "not base64"),
    (dealing._b64(PRIME.to_bytes(24, "big")), "below p"),
    (dealing._b64(bytes(24 * (dealing.MAX_ROW + 1))), "a dealt row is a base64 string"),
])
def test_malformed_rows_are_refused(text, why):
    with pytest.raises(dealing.DealingError, match=why):
        dealing.decode_elements(text)


def test_the_dealing_benchmark_finds_its_faulty_provider():
    """``mpcstats bench dealing``'s short form."""
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "mpcstats.cli", "bench", "dealing", "--n", "4",
                           "--repeat", "1", "--json"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["providers"] == 4 and report["party_check_s"] > 0
    assert report["provider_deal_s"] > 0 and report["per_million_s"] > 0


def test_the_largest_complaint_fits_the_limit_the_parties_accept():
    """Three extra columns and two AES-256 keys: an honest complaint is never refused as malformed."""
    from mpc_programs.verification.verify_inputs import MAX_COMPLAINT_CHARS, MAX_EXTRA_COLUMNS
    rows = {dealing.LAYOUT: one_hot(10**16), dealing.KEY: dealing.key_bits(bytes(32)),
            dealing.CLIENT_KEY: dealing.key_bits(bytes(32)),
            **{f"column{k}": one_hot(10**16) for k in range(MAX_EXTRA_COLUMNS)}}
    dealt = dealing.deal_rows(rows)
    complaint = dealing.Complaint(3, _texts(dealt.rows[2]), dealt.parts[2])
    assert len(json.dumps(complaint.to_json())) <= MAX_COMPLAINT_CHARS
