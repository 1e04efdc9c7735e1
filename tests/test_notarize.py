"""End to end over real TLS on loopback: prover -> notary relay -> exchange simulator, then attestation
checks, decryption of the notarized record with the derived keys, and every refusal the issue names."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tlsn_fixtures import HOST, RecordingTransport, ca_roots, credentials, notarize

from provider_app.notary_client import NotaryClient, NotaryClientError
from servers.exchange_sim.certs import ExchangeCA
from servers.exchange_sim.server import start_exchange_sim
from tlsn import (AttestationError, HandshakeError, NotaryKey, ProverSession, RecordClaim, SignedAttestation,
                  SocketTransport, Transcript, UnsupportedCipherError, client_context, load_spec, prove,
                  public_key_from_b64, verify_attestation, verify_handshake)

EXPECTED_SUITE = {"tls12": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                  "tls12_aes128": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                  "tls12_rsa": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                  "tls13": "TLS_AES_256_GCM_SHA384",  # what a default Python client and server agree on
                  "tls13_aes128": "TLS_AES_128_GCM_SHA256",
                  "tls13_rsa": "TLS_AES_256_GCM_SHA384"}
FLAVOURS = list(EXPECTED_SUITE)


def notary_keys(notary) -> dict:
    info = NotaryClient(notary.url).public_key()
    return {info["key_id"]: public_key_from_b64(info["public_key"])}


def claims(session: ProverSession) -> list[RecordClaim]:
    return session.record_claims()


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_notarize_decrypt_and_verify(flavour: str, notarized, notaries, sim_accounts) -> None:
    result = notarized[flavour]
    s, account = result.session, sim_accounts[0]
    assert s.cipher_suite == EXPECTED_SUITE[flavour]
    assert s.tls_version == ("TLSv1.2" if flavour.startswith("tls12") else "TLSv1.3")
    assert len(s.server_write_key) == (16 if "128" in s.cipher_suite else 32)
    assert (s.uid, s.balance) == (str(account.uid), account.eth)
    # Decrypt the notarized record outside MPC with the derived key, nonce and AAD: proves the derivation.
    rec = s.records[0]
    plain = AESGCM(s.server_write_key).decrypt(rec.nonce, rec.ciphertext + rec.tag, rec.aad)
    assert plain.startswith(b"HTTP/1.1 200 OK\r")
    if s.tls_version == "TLSv1.2":
        assert rec.nonce == s.server_write_iv + rec.payload[:8]
        assert rec.aad == rec.seq.to_bytes(8, "big") + rec.header[:3] + len(rec.ciphertext).to_bytes(2, "big")
    else:
        assert plain[-1] == 23  # inner content type: application data (NewSessionTickets were skipped)
        assert rec.aad == rec.header and rec.seq >= 1  # the tickets came first under the same keys
        assert rec.nonce == bytes(a ^ b for a, b in zip(s.server_write_iv, rec.seq.to_bytes(12, "big")))
    for name, value in (("uid", s.uid), ("balance", s.balance)):
        loc = s.fields[name]
        # full-size response: the head is its own record, the fields sit in later ones
        assert loc.record >= 1 and len(s.records) >= 3
        fr = s.records[loc.record]
        plain = AESGCM(s.server_write_key).decrypt(fr.nonce, fr.ciphertext + fr.tag, fr.aad)
        assert plain[loc.offset:loc.offset + loc.length].decode() == value
        assert s.plaintext[s.stream_offset(name):s.stream_offset(name) + loc.length].decode() == value
        spec_field = load_spec("binance_eth").fields[name]
        span = plain[loc.span_offset:loc.span_offset + loc.span_length]
        assert span == (spec_field.prefix + value + spec_field.suffix).encode()
        assert loc.blocks == list(range(loc.span_offset // 16, (loc.span_offset + loc.span_length - 1) // 16 + 1))
        assert loc.counters == [b + 2 for b in loc.blocks]
    # The attestation verifies, names the server, and covers exactly these ciphertext bytes.
    att = verify_attestation(result.attestation.to_json(), notary_keys(notaries[flavour]), server_name=HOST,
                             max_age_seconds=300, records=claims(s))
    assert att.tls_version == s.tls_version and att.cipher_suite == s.cipher_suite
    assert att.client_random == s.client_random.hex() and att.server_random == s.server_random.hex()
    assert att.peer_address.startswith("127.0.0.1:")
    entry = att.record("s2c", rec.index)
    assert entry is not None and entry.epoch == "application" and entry.seq == rec.seq
    # The private session survives a JSON round trip (it is written to disk by `mpcstats notarize`).
    assert ProverSession.from_json(s.to_json()) == s
    # What registration may send reveals neither the key nor the balance nor the plaintext. (The IV is
    # public in effect: the per-record nonce derives from it, and the parties need the nonce.)
    public = json.dumps(s.public_material())
    for private in (s.server_write_key.hex(), s.balance, s.plaintext[:16].hex(), s.plaintext[:16].decode()):
        assert private not in public
    assert json.loads(public)["records"][0]["payload"] == rec.payload.hex()


@pytest.fixture()
def tls13(notarized):
    return notarized["tls13"]


def test_refuses_wrong_notary_key(tls13) -> None:
    other = NotaryKey.generate()
    with pytest.raises(AttestationError) as err:
        verify_attestation(tls13.attestation, other.public_key)
    assert err.value.reason == "unknown_notary_key"
    # Same key id, different key (a substituted key registry): the signature fails.
    with pytest.raises(AttestationError) as err:
        verify_attestation(tls13.attestation, {tls13.attestation.attestation.notary_key_id: other.public_key})
    assert err.value.reason == "bad_signature"


def test_refuses_tampered_record(tls13, notaries) -> None:
    rec = tls13.session.records[0]
    flipped = bytearray(rec.payload)
    flipped[40] ^= 1
    bad = RecordClaim("s2c", rec.index, rec.seq, rec.header, bytes(flipped))
    with pytest.raises(AttestationError) as err:
        verify_attestation(tls13.attestation, notary_keys(notaries["tls13"]), records=[bad])
    assert err.value.reason == "record_mismatch"
    wrong_seq = RecordClaim("s2c", rec.index, rec.seq + 1, rec.header, rec.payload)
    with pytest.raises(AttestationError) as err:
        verify_attestation(tls13.attestation, notary_keys(notaries["tls13"]), records=[wrong_seq])
    assert err.value.reason == "record_mismatch"
    with pytest.raises(AttestationError) as err:
        verify_attestation(tls13.attestation, notary_keys(notaries["tls13"]),
                           records=[RecordClaim("s2c", 999, 0, rec.header, rec.payload)])
    assert err.value.reason == "record_not_attested"
    # A handshake-epoch record (the encrypted certificate, say) is not a response record.
    hs = next(e for e in tls13.attestation.attestation.records if e.epoch == "handshake" and e.direction == "s2c")
    with pytest.raises(AttestationError) as err:
        verify_attestation(tls13.attestation, notary_keys(notaries["tls13"]),
                           records=[RecordClaim("s2c", hs.index, hs.seq or 0, bytes.fromhex(hs.header), b"")])
    assert err.value.reason == "record_not_application_data"


def test_refuses_tampered_signature_or_document(tls13, notaries) -> None:
    doc = tls13.attestation.to_dict()
    sig = bytearray(base64.b64decode(doc["signature"]))
    sig[5] ^= 1
    with pytest.raises(AttestationError) as err:
        verify_attestation(dict(doc, signature=base64.b64encode(bytes(sig)).decode()), notary_keys(notaries["tls13"]))
    assert err.value.reason == "bad_signature"
    changed = json.loads(json.dumps(doc))
    changed["attestation"]["records"][-1]["payload_sha256"] = "00" * 32
    with pytest.raises(AttestationError) as err:
        verify_attestation(changed, notary_keys(notaries["tls13"]))
    assert err.value.reason == "bad_signature"
    with pytest.raises(AttestationError) as err:
        verify_attestation("{not json", notary_keys(notaries["tls13"]))
    assert err.value.reason == "malformed"


def test_refuses_wrong_host_and_expired(tls13, notaries) -> None:
    keys = notary_keys(notaries["tls13"])
    with pytest.raises(AttestationError) as err:
        verify_attestation(tls13.attestation, keys, server_name="api.binance.com")
    assert err.value.reason == "wrong_server"
    signed_at = tls13.attestation.attestation.time
    with pytest.raises(AttestationError) as err:
        verify_attestation(tls13.attestation, keys, max_age_seconds=600, now=signed_at + 601)
    assert err.value.reason == "expired"
    with pytest.raises(AttestationError) as err:
        verify_attestation(tls13.attestation, keys, now=signed_at - 3600)
    assert err.value.reason == "not_yet_valid"


def test_refuses_certificate_for_another_name(sim_accounts, test_ca, notary_factory) -> None:
    with start_exchange_sim(sim_accounts, ca=test_ca, server_names=["other.example"]) as sim:
        notary = notary_factory(sim)
        # A careless prover that skips its own checks: the notary still refuses.
        with pytest.raises(NotaryClientError) as err:
            notarize(notary, sim, sim_accounts[0], verify=False)
    assert (err.value.status, err.value.code) == (422, "certificate_name_mismatch")


def test_refuses_untrusted_ca(sim_accounts, notary_factory) -> None:
    rogue = ExchangeCA()
    with start_exchange_sim(sim_accounts, ca=rogue) as sim:
        notary = notary_factory(sim)  # trusts only the session test CA
        with pytest.raises(NotaryClientError) as err:
            notarize(notary, sim, sim_accounts[0])  # the prover trusts the rogue CA
    assert (err.value.status, err.value.code) == (422, "certificate_untrusted")


def record_direct(sim, account, **ctx_args):
    """Run the prover straight against ``sim`` and keep the bytes, as the notary's relay would."""
    transport = RecordingTransport(SocketTransport(sim.host, sim.port))
    session = prove(transport, load_spec("binance_eth"), credentials(account), server_name=HOST,
                    context=client_context(cadata=sim.ca_pem, **ctx_args))
    return session, transport.transcript


@pytest.mark.parametrize("flavour", ["tls12", "tls13"])
def test_refuses_truncated_transcript(flavour, exchanges, sim_accounts, test_ca) -> None:
    session, transcript = record_direct(exchanges[flavour], sim_accounts[0])
    roots = ca_roots(test_ca)
    secret = session.server_handshake_traffic_secret
    facts = verify_handshake(transcript, server_name=HOST, trust_roots=roots, server_handshake_traffic_secret=secret)
    assert facts.tls_version == session.tls_version
    # Cut in the middle of a record.
    cut = Transcript(transcript.c2s, transcript.s2c[:-7])
    with pytest.raises(HandshakeError) as err:
        verify_handshake(cut, server_name=HOST, trust_roots=roots, server_handshake_traffic_secret=secret)
    assert err.value.reason == "truncated_transcript"
    # Cut at a record boundary right after the server's first flight: no Finished / no response.
    first_flight = 5 + int.from_bytes(transcript.s2c[3:5], "big")
    cut = Transcript(transcript.c2s, transcript.s2c[:first_flight])
    with pytest.raises(HandshakeError) as err:
        verify_handshake(cut, server_name=HOST, trust_roots=roots, server_handshake_traffic_secret=secret)
    assert err.value.reason == "truncated_transcript"


def test_tls13_needs_the_right_handshake_secret(exchanges, sim_accounts, test_ca) -> None:
    session, transcript = record_direct(exchanges["tls13"], sim_accounts[0])
    roots = ca_roots(test_ca)
    with pytest.raises(HandshakeError) as err:
        verify_handshake(transcript, server_name=HOST, trust_roots=roots)
    assert err.value.reason == "secret_required"
    assert session.server_handshake_traffic_secret is not None
    wrong = bytes(len(session.server_handshake_traffic_secret))
    with pytest.raises(HandshakeError) as err:
        verify_handshake(transcript, server_name=HOST, trust_roots=roots, server_handshake_traffic_secret=wrong)
    assert err.value.reason == "handshake_secret_invalid"
    with pytest.raises(HandshakeError) as err:
        verify_handshake(transcript, server_name="api.binance.com", trust_roots=roots,
                         server_handshake_traffic_secret=session.server_handshake_traffic_secret)
    assert err.value.reason == "sni_mismatch"


def test_tls12_server_key_exchange_signature_is_checked(exchanges, sim_accounts, test_ca) -> None:
    _, transcript = record_direct(exchanges["tls12"], sim_accounts[0])
    s2c = bytearray(transcript.s2c)
    # Find the ServerKeyExchange (handshake type 12) and flip the last byte of its signature.
    pos = 0
    while pos < len(s2c):
        length = int.from_bytes(s2c[pos + 3:pos + 5], "big")
        body = s2c[pos + 5:pos + 5 + length]
        if s2c[pos] == 22 and body[:1] == b"\x0c":
            s2c[pos + 5 + length - 1] ^= 1
            break
        pos += 5 + length
    else:
        raise AssertionError("no ServerKeyExchange record in the transcript")
    with pytest.raises(HandshakeError) as err:
        verify_handshake(Transcript(transcript.c2s, s2c), server_name=HOST, trust_roots=ca_roots(test_ca))
    assert err.value.reason == "bad_handshake_signature"


def test_chacha20_is_refused_clearly(sim_accounts, test_ca) -> None:
    with start_exchange_sim(sim_accounts, ca=test_ca, tls13_suites=["TLS_CHACHA20_POLY1305_SHA256"]) as sim:
        transport = RecordingTransport(SocketTransport(sim.host, sim.port))
        with pytest.raises(UnsupportedCipherError) as err:
            prove(transport, load_spec("binance_eth"), credentials(sim_accounts[0]), server_name=HOST,
                  context=client_context(cadata=sim.ca_pem))
    assert err.value.reason == "unsupported_cipher"
    # Refused before the request: nothing beyond the client's handshake flight was sent.
    assert transport.transcript.c2s.count(bytes([23, 3, 3])) <= 1
    with pytest.raises(UnsupportedCipherError):
        verify_handshake(transport.transcript, server_name=HOST, trust_roots=ca_roots(test_ca),
                         server_handshake_traffic_secret=b"\x00" * 32)


def test_no_plaintext_reaches_the_notary(notaries, exchanges, sim_accounts, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    notary, sim, account = notaries["tls13"], exchanges["tls13"], sim_accounts[2]
    client = NotaryClient(notary.url)
    opened = client.open_session(HOST)
    session = prove(client.relay(opened), load_spec("binance_eth"), credentials(account), server_name=HOST,
                    context=client_context(cadata=sim.ca_pem))
    stored = notary.app.state.sessions.get(opened["session_id"])
    relayed = bytes(stored.transcript.c2s) + bytes(stored.transcript.s2c)
    assert len(relayed) > 1000
    secrets = [session.uid, session.balance, account.api_key, account.secret, "/api/v3/account", "HTTP/1.1"]
    for value in secrets:
        assert value.encode() not in relayed
    signed = client.attest(opened["session_id"], session.server_handshake_traffic_secret)
    notary_logs = "\n".join(r.getMessage() for r in caplog.records
                            if r.name.startswith(("servers.notary", "uvicorn", "starlette")))
    text = signed.to_json() + notary_logs
    for value in secrets + [session.server_handshake_traffic_secret.hex(), session.server_write_key.hex()]:
        assert value not in text
    assert "attested" in notary_logs  # the notary did log, just nothing private
    # The session is forgotten after its one attestation attempt.
    with pytest.raises(NotaryClientError) as err:
        client.attest(opened["session_id"], None)
    assert (err.value.status, err.value.code) == (404, "unknown_session")


def test_notarize_command_writes_files(notaries, exchanges, sim_accounts, tmp_path: Path, monkeypatch,
                                       capsys) -> None:
    from mpcstats.cli import main

    sim, account = exchanges["tls12"], sim_accounts[3]
    cafile = tmp_path / "ca.pem"
    cafile.write_text(sim.ca_pem)
    monkeypatch.setenv("MPCSTATS_API_KEY", account.api_key)
    monkeypatch.setenv("MPCSTATS_API_SECRET", account.secret)
    out, private = tmp_path / "att.json", tmp_path / "session.json"
    code = main(["notarize", "--notary", notaries["tls12"].url, "--host", HOST, "--cafile", str(cafile),
                 "--tls-max", "1.2", "--out", str(out), "--secrets-out", str(private)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["uid"] == str(account.uid) and summary["tls_version"] == "TLSv1.2"
    assert os.stat(private).st_mode & 0o777 == 0o600
    session = ProverSession.from_json(private.read_text())
    att = verify_attestation(SignedAttestation.from_json(out.read_text()), notary_keys(notaries["tls12"]),
                             server_name=HOST, records=claims(session))
    assert att.tls_version == "TLSv1.2" and session.balance == account.eth
    monkeypatch.delenv("MPCSTATS_API_SECRET")
    assert main(["notarize", "--notary", notaries["tls12"].url, "--out", str(out)]) == 2


def test_notarize_median_under_half_a_second(notaries, exchanges, sim_accounts) -> None:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        notarize(notaries["tls13"], exchanges["tls13"], sim_accounts[1])
        times.append(time.perf_counter() - start)
    assert sorted(times)[1] < 0.5


def test_attestation_dataclass_round_trip(tls13) -> None:
    signed = SignedAttestation.from_json(tls13.attestation.to_json())
    assert signed == tls13.attestation
    assert dataclasses.asdict(signed.attestation)["version"] == 1


def test_exchange_refusal_surfaces_as_prover_error(exchanges, sim_accounts) -> None:
    from tlsn import Credentials, ProverError

    sim, account = exchanges["tls13"], sim_accounts[0]
    with pytest.raises(ProverError) as err:
        prove(SocketTransport(sim.host, sim.port), load_spec("binance_eth"),
              Credentials(account.api_key, "wrong-secret"), server_name=HOST,
              context=client_context(cadata=sim.ca_pem))
    assert err.value.reason == "http_status" and "-1022" in err.value.message


@pytest.mark.parametrize("flavour", ["tls12", "tls13", "tls13_rsa"])
def test_aes128_only_client_keeps_the_mpc_on_aes128(flavour, notaries, exchanges, sim_accounts) -> None:
    # These servers pick AES-256 by default; a client offering only AES-128-GCM gets AES-128.
    result = notarize(notaries[flavour], exchanges[flavour], sim_accounts[1], aes128_only=True)
    s = result.session
    assert s.cipher_suite.endswith("AES_128_GCM_SHA256") and len(s.server_write_key) == 16
    rec = s.records[0]
    assert AESGCM(s.server_write_key).decrypt(rec.nonce, rec.ciphertext + rec.tag, rec.aad).startswith(b"HTTP/1.1 200")
    verify_attestation(result.attestation, notary_keys(notaries[flavour]), server_name=HOST, records=claims(s))
