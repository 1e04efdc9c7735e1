"""``mpcstats provide``: contribute one exchange balance, headless.

Runs the same client library as the desktop app: notarize through the notary, show
the balance and uid locally and ask for confirmation (``--yes`` skips the question),
register, send one share to each computation party, wait for the verdict.
The API key and secret come from the environment (``MPCSTATS_API_KEY``,
``MPCSTATS_API_SECRET``) or from the OS keyring entry the desktop app keeps (service
``mpcstats``) — never flags, so they stay out of shell history and process listings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from provider_app.client import DeploymentConfig, ProviderClient
from provider_app.errors import ContributionError
from provider_app.settings import SettingsError, load_file, load_key
from tlsn import Credentials, TLSNError, load_spec

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--deployment", required=True, type=Path,
                        help="the deployment's provider file (docs/deployment.md, 'Files you hand out'; "
                             "`mpcstats deployment export` writes it), or mpcstats up's deployment.json")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.add_argument("--timeout", type=float, default=600.0)


def load_deployment(path: Path) -> DeploymentConfig:
    """The provider file, checked like the app checks it; :class:`SettingsError` names the field to fix."""
    settings = load_file(path)
    if not settings.provider.get("party_urls"):
        raise SettingsError(f"{path}: party_urls is missing: the three computation parties' URLs, in "
                            f"party order (the app sends shares there and nowhere else)")
    try:
        config = settings.deployment_config()
        load_spec(config.source)
    except (TypeError, ValueError, TLSNError) as exc:
        raise SettingsError(f"{path}: {exc}") from None
    if config.exchange_ca_file and not Path(config.exchange_ca_file).is_file():
        raise SettingsError(f"{path}: exchange_ca_file {config.exchange_ca_file} does not exist")
    return config


def credentials_from_environment(source: str) -> Credentials:
    """The API key from the environment, else the one the desktop app keeps in the keyring."""
    key, secret = os.environ.get("MPCSTATS_API_KEY"), os.environ.get("MPCSTATS_API_SECRET")
    if key and secret:
        return Credentials(key, secret)
    stored = load_key(source)  # None when there is none or no usable keyring
    if stored is None:
        raise SystemExit("error: set MPCSTATS_API_KEY and MPCSTATS_API_SECRET, or save the key "
                         "in the desktop app (it keeps it in the system keyring)")
    return Credentials(stored.api_key, stored.secret)


def run(args: argparse.Namespace) -> int:
    try:
        client = ProviderClient(load_deployment(args.deployment))
    except SettingsError as exc:
        print(f"mpcstats provide: bad deployment file: {exc}", file=sys.stderr)
        return 2
    credentials = credentials_from_environment(client.spec.name)

    def confirm(notarized) -> bool:  # type: ignore[no-untyped-def]
        if args.yes:
            return True
        print(f"Your ETH balance: {notarized.balance}   account uid: {notarized.uid}")
        print("Only shares of it will leave this computer; the uid and the number of digits "
              "are revealed. Contribute? [y/N] ", end="", flush=True)
        return sys.stdin.readline().strip().lower() in ("y", "yes")

    def progress(step: str, text: str) -> None:
        if not args.json:
            print(f"[{step}] {text}", flush=True)

    try:
        outcome = client.contribute(credentials, confirm=confirm, progress=progress,
                                    timeout=args.timeout)
    except ContributionError as exc:
        if args.json:
            print(json.dumps({"status": "failed", "code": exc.code, "message": exc.sentence,
                              "next_step": exc.next_step}))
        else:
            cause = f"\nCause: {exc.detail}" if exc.code == "waiting_for_party" and exc.detail else ""
            print(f"{exc.sentence}{cause}\n{exc.next_step}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"status": outcome.status, "session_id": outcome.session_id,
                          "uid": outcome.uid, "seconds": round(outcome.seconds, 3)}))
    return 0
