"""Entry point of the packaged provider app (the PyInstaller bundle, see ``packaging/``).

    mpcstats-app                          the desktop app (``provider_app.gui.app.main``)
    mpcstats-app --self-test              offscreen GUI + offline checks (crypto, sharing, TLS); exit 0 = good
    mpcstats-app provide [--deployment FILE] --yes --json
                                          one contribution, headless (``provider_app.commands.provide``)

The deployment the installer was built for is the bundle's ``provider_app/deployment.json``
(``packaging/build --config deploy.toml`` writes it); the GUI loads it as its built-in settings and
``provide`` uses it when no ``--deployment`` is given. Everything is imported lazily so that
``provide`` never loads Qt and the GUI starts as fast as ``mpcstats-app`` from a checkout.
"""

from __future__ import annotations

import os
import ssl
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

PROG = "mpcstats-app"


def baked_deployment() -> Path:
    """The deployment file shipped inside the bundle (or the package default in a checkout)."""
    return Path(str(resources.files("provider_app").joinpath("deployment.json")))


def _use_bundled_ca_roots() -> None:
    """Trust roots for a frozen app: the system's if OpenSSL finds them, else certifi's.

    The bundle carries the OpenSSL of the build machine, whose compiled-in certificate paths
    (e.g. Debian's ``/usr/lib/ssl``) may not exist on the user's system (Fedora, macOS). An
    explicit ``SSL_CERT_FILE``/``SSL_CERT_DIR`` always wins.
    """
    if os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
        return
    paths = ssl.get_default_verify_paths()
    if (paths.cafile and os.path.isfile(paths.cafile)) or (paths.capath and os.path.isdir(paths.capath)
                                                              and os.listdir(paths.capath)):
        return
    try:
        import certifi
    except ImportError:  # pragma: no cover — certifi comes with requests
        return
    os.environ["SSL_CERT_FILE"] = certifi.where()


def _provide(argv: list[str]) -> int:
    import argparse

    from provider_app.commands import provide

    if not any(a == "--deployment" or a.startswith("--deployment=") for a in argv):
        argv = ["--deployment", str(baked_deployment()), *argv]
    parser = argparse.ArgumentParser(
        prog=f"{PROG} provide",
        description="Contribute one balance headless, to the deployment this app was built for "
                    "(or --deployment FILE). Credentials: MPCSTATS_API_KEY / MPCSTATS_API_SECRET "
                    "or the OS keyring.")
    provide.add_arguments(parser)
    return provide.run(parser.parse_args(argv))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if getattr(sys, "frozen", False):
        _use_bundled_ca_roots()
    if args[:1] == ["provide"]:
        return _provide(args[1:])
    if "--self-test" in args:
        from provider_app.gui.selftest import run_self_test
        return run_self_test()
    from provider_app.gui.app import main as gui_main
    return gui_main(args)


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()
    sys.exit(main())
