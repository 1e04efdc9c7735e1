"""Proxy-mode TLS notarization (pure logic: no Qt, no HTTP framework).

The prover (:func:`prove`) runs a real TLS client through a relay and keeps its session keys; the
notary checks the relayed handshake (:func:`verify_handshake`) and signs an :class:`Attestation`;
anyone checks it with :func:`verify_attestation`.
"""

from tlsn.aead import SealedRecord, open_record, open_tls13_inner, seal_parts
from tlsn.attestation import (ATTESTATION_VERSION, Attestation, NotaryKey, RecordClaim, RecordEntry,
                              SignedAttestation, build_attestation, key_id, public_key_b64,
                              public_key_from_b64, verify_attestation)
from tlsn.errors import (AttestationError, HandshakeError, KeyLogError, ProverError, RecordError, SpecError,
                         TLSNError, UnsupportedCipherError)
from tlsn.handshake import HandshakeFacts, verify_chain, verify_handshake
from tlsn.keys import (ServerWriteKeys, hkdf_expand_label, parse_keylog, tls12_prf, tls12_server_write_keys,
                       tls13_traffic_keys)
from tlsn.prover import FieldLocation, ProverSession, ResponseRecord, client_context, prove, write_private
from tlsn.records import C2S, S2C, Record, Transcript, parse_records
from tlsn.spec import Credentials, FieldSpec, SourceSpec, load_spec
from tlsn.suites import TLS12, TLS13, CipherSuite, suite_by_code, suite_by_name
from tlsn.transport import RelayTransport, SocketTransport

__all__ = [
    "ATTESTATION_VERSION", "Attestation", "AttestationError", "C2S", "CipherSuite", "Credentials",
    "FieldLocation", "FieldSpec", "HandshakeError", "HandshakeFacts", "KeyLogError", "NotaryKey",
    "ProverError", "ProverSession", "Record", "RecordClaim", "RecordEntry", "RecordError", "RelayTransport",
    "ResponseRecord", "S2C", "SealedRecord", "ServerWriteKeys", "SignedAttestation", "SocketTransport",
    "SourceSpec", "SpecError", "TLS12", "TLS13", "TLSNError", "Transcript", "UnsupportedCipherError",
    "build_attestation", "client_context", "hkdf_expand_label", "key_id", "load_spec", "open_record",
    "open_tls13_inner", "parse_keylog", "parse_records", "prove", "public_key_b64", "public_key_from_b64",
    "seal_parts", "suite_by_code", "suite_by_name", "tls12_prf", "tls12_server_write_keys",
    "tls13_traffic_keys", "verify_attestation", "verify_chain", "verify_handshake", "write_private",
]
