"""The packaged provider app: build the Linux bundle and .deb from a clean checkout, then run them.

One build per session (module fixture; about 40 s of PyInstaller and 45 s of xz for the .deb on
the 2-core machine): a local deployment is started first so that its URLs are what the installer bakes
in, exactly as an operator runs ``packaging/build --config deploy.toml`` for theirs. Then the bundle
proves itself offline (``--self-test``) and contributes headless twice: once with
``--deployment FILE``, once with the baked-in deployment. A second bundle-only build checks that
the build is reproducible (same checkout, same config: the same bytes).

The checkout is ``git clone`` of this repository's HEAD. ``MPCSTATS_INSTALLER_SOURCE=worktree``
builds from the working tree instead (tracked and untracked, not ignored, files), for trying
uncommitted work.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from mpcstats.local_deployment import start_local_deployment

pytestmark = [pytest.mark.installer, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
APP = "mpcstats-app"
NEEDED = ("packaging/build", "packaging/mpcstats-app.spec", "provider_app/bundle_main.py",
          "provider_app/gui/selftest.py")
DROPPED_QT = ("Qml", "Quick", "Network", "WebEngine", "3D", "Multimedia", "Pdf", "WaylandClient",
              "OpenGL", "VirtualKeyboard")


def _have_pyinstaller() -> bool:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        return False
    return True


if not _have_pyinstaller():
    if os.environ.get("CI"):
        raise RuntimeError("PyInstaller is missing: pip install -e '.[packaging]' (scripts/_venv.sh)")
    pytest.skip("PyInstaller not installed (pip install -e '.[packaging]')", allow_module_level=True)


def _checkout(dest: Path) -> Path:
    if os.environ.get("MPCSTATS_INSTALLER_SOURCE") == "worktree":
        files = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others",
                                "--exclude-standard"], capture_output=True, check=True).stdout
        for name in filter(None, files.decode().split("\0")):
            source = REPO / name
            if source.is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest / name)
    else:
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(dest)], check=True)
    missing = [n for n in NEEDED if not (dest / n).exists()]
    if missing:
        pytest.fail(f"the checkout lacks {missing}: commit them, or set MPCSTATS_INSTALLER_SOURCE=worktree")
    return dest


def _toml(config: dict[str, object], results_url: str) -> str:
    lines = [f"results_url = {json.dumps(results_url)}", "", "[provider]"]
    for key, value in config.items():
        if value is not None:
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def _build(src: Path, config: Path, out: Path, *extra: str) -> tuple[Path, str, float]:
    started = time.monotonic()
    result = subprocess.run([str(src / "packaging" / "build"), "--config", str(config), "--out", str(out),
                             *extra], check=False, env=dict(os.environ, PYTHON=sys.executable), cwd=src,
                            capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return Path(result.stdout.strip().splitlines()[-1]), result.stdout, seconds


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    """What a user's shell would have: no venv, no PYTHONPATH, no key in the environment."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "MPCSTATS_", "QT_"))}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_CONFIG_HOME=str(home / ".config"), QT_QPA_PLATFORM="offscreen", **extra)
    return env


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            digest.update(f"L {rel} {os.readlink(path)}\n".encode())
        elif path.is_file():
            digest.update(f"F {rel} {oct(path.stat().st_mode)} {int(path.stat().st_mtime)} ".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    d = start_local_deployment(tmp_path_factory.mktemp("installer-deployment"), accounts=2, seed=11)
    yield d
    d.stop()


@pytest.fixture(scope="module")
def build(tmp_path_factory, deployment):
    tmp = tmp_path_factory.mktemp("installer")
    src = _checkout(tmp / "checkout")
    config = tmp / "deploy.toml"
    config.write_text(_toml(deployment.provider_config(), deployment.results_url))
    deb_args = [] if shutil.which("dpkg-deb") else ["--no-installer"]
    executable, stdout, seconds = _build(src, config, tmp / "out", *deb_args)
    print(f"\ninstaller build: {seconds:.0f} s\n{stdout}")
    return {"src": src, "config": config, "out": tmp / "out", "executable": executable,
            "stdout": stdout, "home": tmp / "home", "tmp": tmp}


def test_build_prints_the_executable_and_bakes_the_deployment(build, deployment):
    executable = build["executable"]
    assert executable == build["out"] / "dist" / APP / APP
    assert executable.is_file() and os.access(executable, os.X_OK)
    baked = json.loads((executable.parent / "_internal" / "provider_app" / "deployment.json").read_text())
    assert baked["provider"]["coordinator_url"] == deployment.coordinator_url
    assert baked["provider"]["notary_url"] == deployment.notary_url
    assert baked["results_url"] == deployment.results_url


def test_only_the_needed_qt_is_bundled(build):
    internal = build["executable"].parent / "_internal"
    names = [p.name for p in internal.rglob("*")]
    for module in ("Core", "Gui", "Widgets"):
        assert f"libQt6{module}.so.6" in names
    bad = [n for n in names if n.startswith("libQt6") and any(m in n for m in DROPPED_QT)]
    assert not bad, bad
    assert not any(n.startswith(("libgtk-3", "libQt6Quick")) for n in names)
    assert not (internal / "PySide6" / "Qt" / "translations").exists()
    assert not (internal / "PySide6" / "Qt" / "qml").exists()


def test_the_bundle_holds_the_app_and_not_the_servers(build):
    """What PyInstaller put in the archive: every lazily imported piece of the app, no server code."""
    toc = (build["out"] / "work" / APP / "PYZ-00.toc").read_text()
    for module in ("provider_app.gui.app", "provider_app.gui.selftest", "provider_app.gui.window",
                   "provider_app.commands.provide", "provider_app.client", "provider_app.pool",
                   "servers.results.statistics_view", "tlsn.prover", "mpc_programs.shares.sharing",
                   "mpc_programs.shares.dealing", "mpc_programs.shares.pedersen", "gmpy2",
                   "keyring.backends.SecretService", "certifi"):
        assert f"'{module}'" in toc, module
    for module in ("starlette", "uvicorn", "servers.coordinator", "servers.party", "mpcstats.cli",
                   "PySide6.QtNetwork", "PySide6.QtQml", "tkinter"):
        assert f"'{module}'" not in toc, module
    # built from the checkout, not from an editable install of another one
    assert f"'{build['src'] / 'provider_app' / 'client.py'}'" in toc


def test_self_test_passes_offscreen(build):
    home = build["home"]
    home.mkdir(exist_ok=True)
    result = subprocess.run([str(build["executable"]), "--self-test"], check=False, env=_clean_env(home),
                            cwd=home, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-test passed" in result.stdout
    assert "FAIL" not in result.stdout


def _provide(build, account, *args: str) -> dict:
    home = build["home"]
    home.mkdir(exist_ok=True)
    env = _clean_env(home, MPCSTATS_API_KEY=account.api_key, MPCSTATS_API_SECRET=account.secret)
    result = subprocess.run([str(build["executable"]), "provide", *args, "--yes", "--json"],
                            check=False, env=env, cwd=home, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == "accepted", outcome
    assert outcome["uid"] == str(account.uid)
    return outcome


def test_provide_headless_with_a_deployment_file(build, deployment):
    _provide(build, deployment.accounts[0], "--deployment", str(deployment.root / "deployment.json"))


def test_provide_headless_with_the_baked_deployment(build, deployment):
    _provide(build, deployment.accounts[1])
    inputs = [requests.get(u + "/health", timeout=5).json()["inputs"] for u in deployment.party_urls]
    assert len(set(inputs)) == 1 and inputs[0] >= 1, inputs


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb not available")
def test_deb_installs_the_bundle(build, tmp_path):
    debs = sorted(build["out"].glob(f"{APP}_*.deb"))
    assert len(debs) == 1, debs
    info = subprocess.run(["dpkg-deb", "--field", str(debs[0]), "Package", "Version", "Depends"],
                          capture_output=True, text=True, check=True).stdout
    assert f"Package: {APP}" in info
    listing = subprocess.run(["dpkg-deb", "--contents", str(debs[0])], capture_output=True, text=True,
                             check=True).stdout
    assert f"./usr/bin/{APP} -> /opt/{APP}/{APP}" in listing
    assert f"./usr/share/applications/{APP}.desktop" in listing
    assert "root/root" in listing
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "--extract", str(debs[0]), str(root)], check=True)
    result = subprocess.run([str(root / "opt" / APP / APP), "--self-test"], check=False,
                            env=_clean_env(tmp_path),
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_build_is_reproducible(build):
    """A second build of the same checkout and config gives the same files, bit for bit."""
    again = build["tmp"] / "out-again"
    executable, _, _ = _build(build["src"], build["config"], again, "--no-installer")
    assert _tree_digest(executable.parent) == _tree_digest(build["executable"].parent)
