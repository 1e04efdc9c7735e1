"""Notarize one account response through a notary; write the attestation and the private session data.

The attestation (public) goes to ``--out``; the prover's session data — server write key, IV, the
response plaintext and field positions — goes to ``--secrets-out`` with mode 0600: it must stay on
this machine. The API key and secret come from ``--api-key``/``--api-secret`` or from the
``MPCSTATS_API_KEY`` / ``MPCSTATS_API_SECRET`` environment variables (preferred: flags show up in
process lists).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from provider_app.notary_client import NotaryClient, NotaryClientError
from tlsn import Credentials, TLSNError, client_context, load_spec, write_private


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--notary", required=True, help="notary base URL, e.g. http://127.0.0.1:8700")
    parser.add_argument("--spec", default="binance_eth", help="source spec name or TOML path")
    parser.add_argument("--host", help="server name to ask for (default: the spec's host)")
    parser.add_argument("--cafile", help="CA bundle to trust for the exchange (default: system store)")
    parser.add_argument("--tls-max", choices=["1.2", "1.3"], default="1.3", help="highest TLS version offered")
    parser.add_argument("--aes128-only", action="store_true",
                        help="offer only AES-128-GCM suites (cheaper MPC verification than AES-256)")
    parser.add_argument("--api-key", default=os.environ.get("MPCSTATS_API_KEY"))
    parser.add_argument("--api-secret", default=os.environ.get("MPCSTATS_API_SECRET"))
    parser.add_argument("--out", default="attestation.json", help="where to write the signed attestation")
    parser.add_argument("--secrets-out", default="session.private.json",
                        help="where to write the private session data (mode 0600)")


def run(args: argparse.Namespace) -> int:
    if not args.api_key or not args.api_secret:
        print("error: API key and secret are required (--api-key/--api-secret or MPCSTATS_API_KEY/"
              "MPCSTATS_API_SECRET)", file=sys.stderr)
        return 2
    try:
        spec = load_spec(args.spec)
        ctx = client_context(cafile=args.cafile, max_version="TLSv1.2" if args.tls_max == "1.2" else None,
                             aes128_only=args.aes128_only)
        result = NotaryClient(args.notary).notarize(spec, Credentials(args.api_key, args.api_secret),
                                                    host=args.host, context=ctx)
    except (NotaryClientError, TLSNError) as exc:
        code = getattr(exc, "code", None) or getattr(exc, "reason", "error")
        print(json.dumps({"error": {"code": code, "message": str(exc)}}), file=sys.stderr)
        return 1
    Path(args.out).write_text(result.attestation.to_json())
    write_private(args.secrets_out, result.session.to_json())
    s = result.session
    print(json.dumps({"attestation": args.out, "session": args.secrets_out, "server": s.server_name,
                      "tls_version": s.tls_version, "cipher_suite": s.cipher_suite, "uid": s.uid,
                      "seconds": round(s.seconds, 4), "bytes": result.bytes_relayed}))
    return 0
