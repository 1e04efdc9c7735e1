"""``mpcstats-app --self-test``: prove an installed bundle works, offline, without a display.

Starts Qt offscreen and builds the real main window (with a throw-away app-data dir), then runs
the client library's offline checks: Shamir sharing of a balance round-trips and a committed dealing
of it and of an AES key verifies (the generator table is in the bundle),
AES-GCM through ``cryptography`` (including a rejected tampered tag), Ed25519 signatures, and the
TLS client context the prover uses. Prints one line per check; exit status 0 only if all pass.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _gui() -> str:
    from provider_app.gui.app import build_window, ensure_application
    from provider_app.settings import builtin_settings
    app = ensure_application()
    with tempfile.TemporaryDirectory() as tmp:
        window = build_window(Path(tmp))
        window.show()
        app.processEvents()
        image = window.grab()
        ok = not image.isNull() and image.width() > 0
        window.close()
    builtin_settings()
    assert ok, "the main window did not render"
    return f"main window rendered ({app.platformName()})"


def _sharing() -> str:
    from mpc_programs.shares import dealing, pedersen
    from mpc_programs.shares.encoding import one_hot, to_units
    assert len(pedersen.table()) == pedersen.TABLE_SIZE, "the commitment generators' table is missing"
    from mpc_programs.shares.sharing import reconstruct_value, share_value
    for value in ("0", "1.23456789", "999999999.99999999"):
        rows = share_value(value)
        assert reconstruct_value(dict(enumerate(rows))) == to_units(value), value
        assert reconstruct_value({0: rows[0], 2: rows[2]}) == to_units(value), value
    dealt = dealing.deal_rows({dealing.LAYOUT: one_hot(to_units("1.5")),
                               dealing.KEY: dealing.key_bits(secrets.token_bytes(32))})
    for x in (1, 2, 3):
        rows, part = dealt.rows[x - 1], dealt.parts[x - 1]
        texts = {n: dealing.encode_elements(r) for n, r in rows.items()}
        dealing.check_signature(x, dealt.public, texts, part)
        assert dealing.own_shares_hold(x, [dealt.public], [rows], [part]) == [True], "dealing"
    return "balance sharing round-trips; a committed dealing of it and a key verifies"


def _aes_gcm() -> str:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    for bits in (128, 256):
        key, nonce = AESGCM.generate_key(bits), secrets.token_bytes(12)
        box = AESGCM(key).encrypt(nonce, b"HTTP/1.1 200 OK\r\n", b"aad")
        assert AESGCM(key).decrypt(nonce, box, b"aad") == b"HTTP/1.1 200 OK\r\n"
        try:
            AESGCM(key).decrypt(nonce, box[:-1] + bytes([box[-1] ^ 1]), b"aad")
        except InvalidTag:
            pass
        else:
            raise AssertionError("a tampered tag was accepted")
    return "AES-128/256-GCM encrypt, decrypt, tamper rejected"


def _ed25519() -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    key = Ed25519PrivateKey.generate()
    key.public_key().verify(key.sign(b"attestation"), b"attestation")
    return "Ed25519 sign and verify"


def _tls() -> str:
    import ssl

    from tlsn import client_context
    ctx = client_context()
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    return f"TLS client context ({ssl.OPENSSL_VERSION})"


def _client() -> str:
    from provider_app.client import DeploymentConfig, ProviderClient
    from provider_app.settings import builtin_settings
    client = ProviderClient(DeploymentConfig.from_dict(builtin_settings().provider))
    return f"client library loaded (source {client.spec.name})"


CHECKS: list[tuple[str, Callable[[], str]]] = [
    ("gui", _gui), ("sharing", _sharing), ("aes-gcm", _aes_gcm), ("ed25519", _ed25519),
    ("tls", _tls), ("client", _client)]


def run_self_test(say: Callable[[str], None] = print) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    failed = 0
    for name, check in CHECKS:
        started = time.perf_counter()
        try:
            text = check()
        except Exception as exc:  # noqa: BLE001 — report every failure, keep going
            failed += 1
            say(f"FAIL {name}: {type(exc).__name__}: {exc}")
        else:
            say(f"ok   {name}: {text} ({(time.perf_counter() - started) * 1000:.0f} ms)")
    say("self-test passed" if not failed else f"self-test FAILED ({failed} of {len(CHECKS)})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_self_test())
