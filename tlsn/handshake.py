"""Notary-side checks of a relayed handshake, from the relayed bytes only.

What the notary establishes before it signs:
- the ClientHello names the session's host (SNI) and offers no session resumption;
- the server's certificate chain verifies against the configured trust roots for that name
  (``cryptography``'s RFC 5280 / Web PKI verifier);
- TLS 1.2: the ServerKeyExchange signature over client_random ‖ server_random ‖ ECDHE params, made
  with the certificate's key — so the key exchange really is with the certified server;
- TLS 1.3: given ONLY the server handshake traffic secret, it decrypts the server's handshake
  records and checks EncryptedExtensions, Certificate, CertificateVerify (signature over the
  transcript hash) and the server Finished MAC. Application traffic keys are never needed, and the
  handshake secret cannot open application data.
It also reconstructs each record's key epoch and sequence number for the attestation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from tlsn import keys as keylib
from tlsn import messages as msg
from tlsn.aead import open_tls13_inner, seal_parts
from tlsn.errors import HandshakeError, RecordError
from tlsn.records import (APPLICATION_DATA, APPLICATION_EPOCH, C2S, CHANGE_CIPHER_SPEC, HANDSHAKE, S2C, Record,
                          Transcript, assign_sequence_numbers)
from tlsn.suites import TLS12, TLS13, VERSION_CODES, CipherSuite, suite_by_code

TLS13_SERVER_CV_CONTEXT = b" " * 64 + b"TLS 1.3, server CertificateVerify\x00"

_SCHEME_HASH = {0x0401: hashes.SHA256, 0x0501: hashes.SHA384, 0x0601: hashes.SHA512,
                0x0403: hashes.SHA256, 0x0503: hashes.SHA384, 0x0603: hashes.SHA512,
                0x0804: hashes.SHA256, 0x0805: hashes.SHA384, 0x0806: hashes.SHA512,
                0x0809: hashes.SHA256, 0x080A: hashes.SHA384, 0x080B: hashes.SHA512}


@dataclass(frozen=True)
class HandshakeFacts:
    """What the notary verified about one relayed connection; input to the attestation."""

    server_name: str
    tls_version: str
    suite: CipherSuite
    client_random: bytes
    server_random: bytes
    cert_chain: tuple[bytes, ...]  # DER, leaf first, as sent by the server
    records: tuple[Record, ...]  # both directions, with epoch and seq

    @property
    def cert_chain_sha256(self) -> str:
        """SHA-256 over the concatenated SHA-256 digests of the DER certificates, leaf first."""
        return hashlib.sha256(b"".join(hashlib.sha256(c).digest() for c in self.cert_chain)).hexdigest()


def verify_signature(public_key: object, scheme: int, signature: bytes, data: bytes, *, tls13: bool) -> None:
    """Check a TLS signature (RFC 8446 §4.2.3 schemes); raise HandshakeError on any failure."""
    try:
        if scheme == 0x0807 and isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        elif scheme == 0x0808 and isinstance(public_key, ed448.Ed448PublicKey):
            public_key.verify(signature, data)
        elif scheme in (0x0403, 0x0503, 0x0603) and isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(_SCHEME_HASH[scheme]()))
        elif scheme in (0x0401, 0x0501, 0x0601) and isinstance(public_key, rsa.RSAPublicKey) and not tls13:
            public_key.verify(signature, data, padding.PKCS1v15(), _SCHEME_HASH[scheme]())
        elif 0x0804 <= scheme <= 0x0806 or 0x0809 <= scheme <= 0x080B:
            if not isinstance(public_key, rsa.RSAPublicKey):
                raise HandshakeError("signature_key_mismatch", "RSA-PSS signature from a non-RSA key")
            h = _SCHEME_HASH[scheme]()
            public_key.verify(signature, data, padding.PSS(padding.MGF1(h), h.digest_size), h)
        else:
            raise HandshakeError("unsupported_signature_scheme",
                                 f"signature scheme 0x{scheme:04x} does not fit the certificate key")
    except InvalidSignature:
        raise HandshakeError("bad_handshake_signature",
                             "the server's handshake signature does not verify with its certificate") from None


def _name_matches(cert: x509.Certificate, server_name: str) -> bool:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    host = server_name.lower().rstrip(".")
    for n in names.get_values_for_type(x509.DNSName):
        n = n.lower().rstrip(".")
        if n == host or (n.startswith("*.") and host.split(".", 1)[-1] == n[2:] and host.count(".") >= 2):
            return True
    return False


def verify_chain(chain: list[bytes], server_name: str, trust_roots: list[x509.Certificate],
                 now: dt.datetime | None = None) -> x509.Certificate:
    """Verify the server's chain for ``server_name``; return the leaf certificate."""
    try:
        certs = [x509.load_der_x509_certificate(c) for c in chain]
    except ValueError as exc:
        raise HandshakeError("certificate_malformed", f"cannot parse server certificate: {exc}") from None
    leaf = certs[0]
    if not _name_matches(leaf, server_name):
        raise HandshakeError("certificate_name_mismatch", f"the certificate is not valid for {server_name}")
    if not trust_roots:
        raise HandshakeError("certificate_untrusted", "the notary has no trust roots configured")
    builder = PolicyBuilder().store(Store(trust_roots))
    if now is not None:
        builder = builder.time(now)
    try:
        builder.build_server_verifier(x509.DNSName(server_name)).verify(leaf, certs[1:])
    except VerificationError as exc:
        raise HandshakeError("certificate_untrusted", f"certificate chain does not verify: {exc}") from None
    return leaf


def _plain_handshake(records: list[Record], what: str) -> list[msg.HandshakeMessage]:
    messages = msg.leading_handshake(records)
    if not messages:
        raise HandshakeError("truncated_transcript", f"no {what} in the transcript")
    return messages


def _check_alpn(extensions: dict[int, bytes]) -> None:
    if msg.EXT_ALPN in extensions and extensions[msg.EXT_ALPN][3:] != b"http/1.1":
        raise HandshakeError("alpn_forbidden", "the server chose an ALPN protocol other than http/1.1")


def verify_handshake(transcript: Transcript, *, server_name: str, trust_roots: list[x509.Certificate],
                     server_handshake_traffic_secret: bytes | None = None,
                     now: dt.datetime | None = None) -> HandshakeFacts:
    """Check a relayed connection; return the facts to attest or raise :class:`HandshakeError`."""
    try:
        c2s = transcript.records(C2S)
        s2c = transcript.records(S2C)
    except RecordError as exc:
        raise HandshakeError(exc.reason, exc.message) from None
    client_msgs = _plain_handshake(c2s, "ClientHello")
    if client_msgs[0].msg_type != msg.CLIENT_HELLO:
        raise HandshakeError("malformed_handshake", "first client message is not a ClientHello")
    ch = msg.parse_client_hello(client_msgs[0].body)
    if (ch.server_name or "").lower() != server_name.lower():
        raise HandshakeError("sni_mismatch", f"ClientHello names {ch.server_name!r}, session is for {server_name!r}")
    if msg.EXT_PRE_SHARED_KEY in ch.extensions:
        raise HandshakeError("resumption_forbidden", "the client offered a pre-shared key (resumption)")
    server_msgs = _plain_handshake(s2c, "ServerHello")
    if server_msgs[0].msg_type != msg.SERVER_HELLO:
        raise HandshakeError("malformed_handshake", "first server message is not a ServerHello")
    sh = msg.parse_server_hello(server_msgs[0].body)
    if sh.is_hello_retry_request:
        raise HandshakeError("hello_retry_unsupported", "HelloRetryRequest is not supported")
    version = VERSION_CODES.get(sh.version)
    if version is None:
        raise HandshakeError("unsupported_version", f"TLS version 0x{sh.version:04x} is not supported")
    suite = suite_by_code(sh.cipher_suite)  # UnsupportedCipherError for ChaCha20 and the rest
    if suite.version != version:
        raise HandshakeError("malformed_handshake", f"{suite.name} negotiated under {version}")
    if version == TLS12:
        saw_ccs = any(r.content_type == CHANGE_CIPHER_SPEC for r in s2c)
        chain, n_hs = _verify_tls12(server_msgs, ch, sh, saw_ccs, server_name, trust_roots, now), 0
        c2s_seq = assign_sequence_numbers(c2s, TLS12, 0)
        s2c_seq = assign_sequence_numbers(s2c, TLS12, 0)
        # The first encrypted server record is Finished; the response comes after it.
        app = [r for r in s2c_seq if r.epoch == APPLICATION_EPOCH and r.seq and r.content_type == APPLICATION_DATA]
    else:
        if server_handshake_traffic_secret is None:
            raise HandshakeError("secret_required", "TLS 1.3 needs the server handshake traffic secret")
        _check_alpn(sh.extensions)
        if msg.EXT_PRE_SHARED_KEY in sh.extensions:
            raise HandshakeError("resumption_forbidden", "the server accepted a pre-shared key")
        chain, n_hs = _verify_tls13(s2c, client_msgs[0], server_msgs[0], suite,
                                    server_handshake_traffic_secret, server_name, trust_roots, now)
        # Without client authentication the client's handshake epoch is its Finished: one record.
        c2s_seq = assign_sequence_numbers(c2s, TLS13, 1)
        s2c_seq = assign_sequence_numbers(s2c, TLS13, n_hs)
        app = [r for r in s2c_seq if r.epoch == APPLICATION_EPOCH]
    if not app:
        raise HandshakeError("truncated_transcript", "the transcript has no server application data")
    return HandshakeFacts(server_name, version, suite, ch.random, sh.random, tuple(chain),
                          tuple(c2s_seq + s2c_seq))


def _verify_tls12(server_msgs: list[msg.HandshakeMessage], ch: msg.ClientHello, sh: msg.ServerHello,
                  saw_ccs: bool, server_name: str, trust_roots: list[x509.Certificate],
                  now: dt.datetime | None) -> list[bytes]:
    _check_alpn(sh.extensions)
    by_type = {m.msg_type: m for m in server_msgs}
    if msg.SERVER_HELLO_DONE not in by_type:
        if saw_ccs:  # ServerHello then ChangeCipherSpec: an abbreviated (resumed) handshake
            raise HandshakeError("resumption_forbidden", "the server resumed a session")
        raise HandshakeError("truncated_transcript", "the server's first flight is incomplete")
    if msg.CERTIFICATE not in by_type:
        raise HandshakeError("certificate_missing", "no server Certificate in a TLS 1.2 handshake")
    if msg.SERVER_KEY_EXCHANGE not in by_type:
        raise HandshakeError("unsupported_key_exchange", "TLS 1.2 without ECDHE ServerKeyExchange")
    if msg.CERTIFICATE_REQUEST in by_type:
        raise HandshakeError("client_auth_unsupported", "client certificates are not supported")
    chain = msg.parse_certificate(by_type[msg.CERTIFICATE].body, tls13=False)
    leaf = verify_chain(chain, server_name, trust_roots, now)
    ske = msg.parse_server_key_exchange(by_type[msg.SERVER_KEY_EXCHANGE].body)
    verify_signature(leaf.public_key(), ske.scheme, ske.signature, ch.random + sh.random + ske.params, tls13=False)
    return chain


def open_tls13_handshake(s2c: list[Record], keys: keylib.ServerWriteKeys) -> tuple[list[msg.HandshakeMessage], int]:
    """Decrypt the server's TLS 1.3 handshake epoch, up to and including its Finished (RFC 8446 §4.4).

    Returns the messages and how many encrypted records they took: the application epoch's sequence
    numbers start after them. Used by the notary (to check the handshake) and the prover (to skip it).
    """
    stream = bytearray()
    for seq, r in enumerate(r for r in s2c if r.content_type == APPLICATION_DATA):
        try:
            inner_type, content = open_tls13_inner(keys.key, seal_parts(r, seq, TLS13, keys.iv))
        except InvalidTag:
            raise HandshakeError("handshake_secret_invalid",
                                 "the handshake traffic secret does not open the server's handshake") from None
        if inner_type != HANDSHAKE:
            raise HandshakeError("malformed_handshake", "non-handshake record in the handshake epoch")
        stream += content
        messages, tail = msg.split_messages(bytes(stream))
        if messages and messages[-1].msg_type == msg.FINISHED and not tail:
            return messages, seq + 1
    raise HandshakeError("truncated_transcript", "the server Finished is missing")


def _verify_tls13(s2c: list[Record], client_hello: msg.HandshakeMessage, server_hello: msg.HandshakeMessage,
                  suite: CipherSuite, secret: bytes, server_name: str, trust_roots: list[x509.Certificate],
                  now: dt.datetime | None) -> tuple[list[bytes], int]:
    messages, n_hs = open_tls13_handshake(s2c, keylib.tls13_traffic_keys(secret, suite))
    kinds = [m.msg_type for m in messages]
    if msg.CERTIFICATE_REQUEST in kinds:
        raise HandshakeError("client_auth_unsupported", "client certificates are not supported")
    if kinds != [msg.ENCRYPTED_EXTENSIONS, msg.CERTIFICATE, msg.CERTIFICATE_VERIFY, msg.FINISHED]:
        raise HandshakeError("malformed_handshake", f"unexpected server handshake messages {kinds}")
    ee, cert, cv, fin = messages
    ee_exts = msg._extensions(msg._Reader(ee.body, "EncryptedExtensions"))
    _check_alpn(ee_exts)
    chain = msg.parse_certificate(cert.body, tls13=True)
    leaf = verify_chain(chain, server_name, trust_roots, now)
    h = hashlib.new(suite.hash_name)

    def transcript_hash(*parts: msg.HandshakeMessage) -> bytes:
        d = h.copy()
        for p in parts:
            d.update(p.raw)
        return d.digest()

    base = (client_hello, server_hello)
    scheme, signature = msg.parse_certificate_verify(cv.body)
    verify_signature(leaf.public_key(), scheme, signature,
                     TLS13_SERVER_CV_CONTEXT + transcript_hash(*base, ee, cert), tls13=True)
    finished_key = keylib.tls13_finished_key(secret, suite)
    expected = hmac.new(finished_key, transcript_hash(*base, ee, cert, cv), suite.hash_name).digest()
    if not hmac.compare_digest(expected, fin.body):
        raise HandshakeError("bad_finished", "the server Finished does not match the transcript")
    return chain, n_hs
