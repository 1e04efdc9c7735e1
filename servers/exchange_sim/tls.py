"""Server-side TLS settings of the simulator: max version, TLS 1.2 ciphers, pinned TLS 1.3 suites.

TLS 1.3 suites are pinned with :func:`tlsn.openssl_pin.pin_tls13_suites` (Python's ``ssl`` has no API
for it), so tests can force TLS_AES_128_GCM_SHA256 or ChaCha20 on the server side.
"""

from __future__ import annotations

import ssl

from tlsn.openssl_pin import TLS13_SUITE_NAMES, pin_tls13_suites

__all__ = ["TLS13_SUITE_NAMES", "pin_tls13_suites", "server_context"]


def server_context(cert_file: str, key_file: str, *, max_version: str | None = None,
                   tls13_suites: list[str] | None = None, tls12_ciphers: str | None = None) -> ssl.SSLContext:
    """An HTTPS server context: TLS >= 1.2, ALPN http/1.1, optional version cap and suite pins."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if max_version in ("1.2", "TLSv1.2"):
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif max_version not in (None, "1.3", "TLSv1.3"):
        raise ValueError(f"unknown TLS version {max_version}")
    ctx.load_cert_chain(cert_file, key_file)
    ctx.set_alpn_protocols(["http/1.1"])
    if tls12_ciphers:
        ctx.set_ciphers(tls12_ciphers)
    if tls13_suites:
        pin_tls13_suites(ctx, tls13_suites)
    return ctx
