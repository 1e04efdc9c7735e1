"""Test certificates: a throwaway CA, and server certificates that pass strict Web PKI checks.

Made with ``cryptography`` alone (no test-only dependency: ``mpcstats demo`` runs on a plain
install). The leaf's subjectAltName is non-critical (it has a subject), as ``cryptography``'s
RFC 5280 verifier (used by the notary) requires.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _new_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mpcstats exchange simulator"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "mpcstats test CA")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=9), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


@dataclass
class ExchangeCA:
    """A throwaway certificate authority; ``cert_pem`` is what clients and the notary trust."""

    _pair: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] = field(default_factory=_new_ca, repr=False)

    @property
    def cert_pem(self) -> str:
        return self._pair[1].public_bytes(serialization.Encoding.PEM).decode()

    def write_cert(self, path: str | Path) -> Path:
        Path(path).write_text(self.cert_pem)
        return Path(path)

    def issue(self, names: list[str], *, days: int = 30, key_type: str = "ec") -> tuple[bytes, bytes]:
        """A server certificate for ``names`` with an ``"ec"`` (P-256) or ``"rsa"`` (2048) key:
        (cert chain PEM, private key PEM)."""
        ca_key, ca_cert = self._pair
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
        if key_type == "ec":
            key = ec.generate_private_key(ec.SECP256R1())
        elif key_type == "rsa":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            raise ValueError(f"key_type must be 'ec' or 'rsa', not {key_type!r}")
        now = dt.datetime.now(dt.timezone.utc)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=days))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                               critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),  # type: ignore[arg-type]
                    critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))  # type: ignore[arg-type]
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return cert.public_bytes(serialization.Encoding.PEM), key_pem

    def issue_files(self, names: list[str], directory: str | None = None, key_type: str = "ec") -> tuple[str, str]:
        """Like :meth:`issue` but written to files (``ssl`` loads chains from paths only)."""
        cert_pem, key_pem = self.issue(names, key_type=key_type)
        d = Path(directory or tempfile.mkdtemp(prefix="exchange-sim-"))
        (d / "server.pem").write_bytes(cert_pem)
        (d / "server.key").write_bytes(key_pem)
        (d / "server.key").chmod(0o600)
        return str(d / "server.pem"), str(d / "server.key")
