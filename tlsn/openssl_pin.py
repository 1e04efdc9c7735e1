"""Pin TLS 1.3 cipher suites on an ``ssl.SSLContext`` — something Python's ``ssl`` API cannot do.

Why: a default Python TLS 1.3 handshake picks TLS_AES_256_GCM_SHA384, and AES-256 costs the MPC
verification 14 rounds instead of 10. Offering only TLS_AES_128_GCM_SHA256 (every mainstream server
supports it) keeps the in-MPC work on AES-128. The exchange simulator uses the same call to force a
suite in tests (including ChaCha20, to see it refused).

How: OpenSSL's ``SSL_CTX_set_ciphersuites`` is called through ``ctypes`` on the context's ``SSL_CTX*``,
read from CPython's object layout (PyObject_HEAD, then the pointer). The result is verified with
``get_ciphers()``, and any mismatch raises instead of silently leaving the defaults in place.
"""

from __future__ import annotations

import ctypes
import ssl
import sys

TLS13_SUITE_NAMES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")


def pin_tls13_suites(ctx: ssl.SSLContext, suites: list[str]) -> None:
    """Restrict the TLS 1.3 suites of ``ctx`` (IANA/OpenSSL names, preference order)."""
    if not suites or any(s not in TLS13_SUITE_NAMES for s in suites):
        raise ValueError(f"TLS 1.3 suites must be among {TLS13_SUITE_NAMES}")
    if sys.implementation.name != "cpython":
        raise RuntimeError("pinning TLS 1.3 suites needs CPython")
    import _ssl

    lib = ctypes.CDLL(_ssl.__file__)
    fn = lib.SSL_CTX_set_ciphersuites
    fn.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    fn.restype = ctypes.c_int
    ptr = ctypes.c_void_p.from_address(id(ctx) + 2 * ctypes.sizeof(ctypes.c_void_p)).value
    if not ptr or fn(ptr, ":".join(suites).encode()) != 1:
        raise RuntimeError("SSL_CTX_set_ciphersuites failed")
    offered = [c["name"] for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.3"]
    if offered != list(suites):
        raise RuntimeError(f"TLS 1.3 suites not pinned (context offers {offered})")
