"""Build the provider app's installer for one deployment: ``packaging/build --config deploy.toml``.

1. Read the operator's TOML (see ``packaging/deploy.example.toml``), check it with the app's own
   settings loader, and write it as the JSON the app reads (``provider_app/deployment.json``).
2. Run PyInstaller on ``packaging/mpcstats-app.spec``: a one-folder bundle whose
   ``_internal/provider_app/deployment.json`` is that file (the app's built-in settings, and the
   default of ``mpcstats-app provide``).
3. Pack it: Linux ``.deb`` (``/opt/<name>``, ``/usr/bin/<name>``, a desktop entry); macOS ``.dmg``
   of ``MPCStats.app`` (``hdiutil``); Windows ``setup.exe`` (Inno Setup, ``windows/mpcstats-app.iss``).

Reproducible: ``SOURCE_DATE_EPOCH`` (default: the checkout's last commit time) and a fixed
``PYTHONHASHSEED``; every file's mtime is set to ``SOURCE_DATE_EPOCH`` and the ``.deb`` is built
with ``--root-owner-group``. The last line printed is the path of the built executable.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_SRC = HERE.parent
APP = "mpcstats-app"
PACKAGE_DEFAULTS = {"name": APP, "version": "0.1.0", "maintainer": "MPCStats operators <ops@example.org>",
                    "description": "MPCStats provider app: contribute a proven balance to private statistics"}


class BuildError(RuntimeError):
    pass


def log(text: str) -> None:
    print(f"==> {text}", flush=True)


# -- the deployment ----------------------------------------------------------------------------
def deployment_document(config: dict[str, Any], src: Path) -> dict[str, Any]:
    """TOML ``[provider]`` + ``results_url`` → the JSON of ``provider_app/deployment.json``.

    Checked with the app's own loader (``provider_app.settings.AppSettings``), so a file that the
    app would refuse at start-up never gets baked into an installer.
    """
    unknown = set(config) - {"provider", "results_url", "package"}
    if unknown:
        raise BuildError(f"unknown section(s) or key(s) in the config: {', '.join(sorted(unknown))}")
    if not isinstance(config.get("provider"), dict):
        raise BuildError("the config needs a [provider] table (coordinator_url, notary_url, ...)")
    document = {"provider": dict(config["provider"]), "results_url": config.get("results_url", "")}
    sys.path.insert(0, str(src))
    try:
        from provider_app.settings import AppSettings, SettingsError
        try:
            settings = AppSettings.from_dict(document, origin="build")
        except SettingsError as exc:
            raise BuildError(f"deployment config: {exc}") from None
    finally:
        sys.path.remove(str(src))
    ca = settings.provider.get("exchange_ca_file")
    if ca and not Path(ca).is_absolute():
        raise BuildError("provider.exchange_ca_file must be an absolute path on the users' machines "
                         "(leave it out to use the system's trust roots)")
    return settings.to_dict()


def package_info(config: dict[str, Any], src: Path) -> dict[str, str]:
    info = dict(PACKAGE_DEFAULTS)
    pyproject = tomllib.loads((src / "pyproject.toml").read_text())
    info["version"] = pyproject["project"]["version"]
    extra = config.get("package", {})
    unknown = set(extra) - set(PACKAGE_DEFAULTS)
    if unknown:
        raise BuildError(f"unknown [package] key(s): {', '.join(sorted(unknown))}")
    info.update({k: str(v) for k, v in extra.items()})
    if not info["name"].replace("-", "").isalnum() or info["name"] != info["name"].lower():
        raise BuildError("[package] name must be lower-case letters, digits and '-'")
    return info


def source_date_epoch(src: Path) -> int:
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    try:
        out = subprocess.run(["git", "-C", str(src), "log", "-1", "--format=%ct"],
                             capture_output=True, text=True, check=True).stdout.strip()
        return int(out)
    except (OSError, subprocess.CalledProcessError, ValueError):
        return 315532800  # 1980-01-01: the earliest time a zip (PYZ, Windows installers) can hold


def set_mtimes(root: Path, epoch: int) -> None:
    """Every file and dir gets the same mtime: the bundle does not depend on when pip ran."""
    for path in [root, *root.rglob("*")]:
        os.utime(path, (epoch, epoch), follow_symlinks=False)


# -- PyInstaller -------------------------------------------------------------------------------
def run_pyinstaller(src: Path, out: Path, deployment_json: Path, version: str, epoch: int,
                    full_qt: bool) -> Path:
    env = dict(os.environ, MPCSTATS_SRC_ROOT=str(src), MPCSTATS_DEPLOYMENT_JSON=str(deployment_json),
               MPCSTATS_APP_VERSION=version, SOURCE_DATE_EPOCH=str(epoch), PYTHONHASHSEED="0",
               PYTHONDONTWRITEBYTECODE="1", MPCSTATS_FULL_QT="1" if full_qt else "0")
    # the checkout being built comes first, before an editable install of another checkout
    env["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [os.environ.get("PYTHONPATH")])])
    dist, work = out / "dist", out / "work"
    shutil.rmtree(dist, ignore_errors=True)
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
               "--distpath", str(dist), "--workpath", str(work), str(HERE / "mpcstats-app.spec")]
    log_file = out / "pyinstaller.log"
    with log_file.open("w") as stream:
        result = subprocess.run(command, check=False, cwd=src, env=env, stdout=stream,
                                stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = log_file.read_text().splitlines()[-40:]
        raise BuildError("PyInstaller failed (log: {}):\n{}".format(log_file, "\n".join(tail)))
    if sys.platform == "darwin":
        return dist / "MPCStats.app" / "Contents" / "MacOS" / APP
    return dist / APP / (APP + (".exe" if sys.platform == "win32" else ""))


# -- .deb --------------------------------------------------------------------------------------
DEB_DEPENDS = ("libc6 (>= 2.31), libfontconfig1, libfreetype6, libxkbcommon0, libxkbcommon-x11-0, "
               "libegl1, libgl1, libdbus-1-3, libx11-xcb1, libxcb-cursor0, libxcb-icccm4, "
               "libxcb-keysyms1, libxcb-shape0")


def strip_python_runtime(bundle: Path) -> None:
    """Linux: drop the debug sections of the Python runtime (pyenv-style builds keep them: -23 MiB).

    Only libpython and the stdlib's extension modules: the wheels' libraries come stripped, and
    stripping libraries that auditwheel patched can break them.
    """
    if shutil.which("strip") is None:
        return
    internal = bundle / "_internal"
    files = [p for p in internal.glob("libpython3*.so*") if not p.is_symlink()]
    files += sorted(internal.glob("python3*/lib-dynload/*.so"))
    if files:
        subprocess.run(["strip", "--strip-debug", *map(str, files)], check=True)


def build_deb(bundle_dir: Path, out: Path, info: dict[str, str], epoch: int,
              compression: str = "xz") -> Path:
    if shutil.which("dpkg-deb") is None:
        raise BuildError("dpkg-deb not found (apt-get install dpkg) — or pass --no-deb")
    name = info["name"]
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    stage = out / "deb" / name
    shutil.rmtree(out / "deb", ignore_errors=True)
    opt = stage / "opt" / name
    shutil.copytree(bundle_dir, opt, symlinks=True)
    if name != APP:
        (opt / APP).rename(opt / name)
    (stage / "usr" / "bin").mkdir(parents=True)
    (stage / "usr" / "bin" / name).symlink_to(f"/opt/{name}/{name}")
    apps = stage / "usr" / "share" / "applications"
    apps.mkdir(parents=True)
    desktop = (HERE / "linux" / "mpcstats-app.desktop").read_text().replace("@NAME@", name)
    (apps / f"{name}.desktop").write_text(desktop)
    icons = stage / "usr" / "share" / "icons" / "hicolor" / "scalable" / "apps"
    icons.mkdir(parents=True)
    shutil.copyfile(HERE / "linux" / "mpcstats-app.svg", icons / f"{name}.svg")
    size_kib = sum(p.lstat().st_size for p in stage.rglob("*") if not p.is_dir()) // 1024 + 1
    control = stage / "DEBIAN" / "control"
    control.parent.mkdir()
    control.write_text(
        f"Package: {name}\nVersion: {info['version']}\nArchitecture: {arch}\n"
        f"Maintainer: {info['maintainer']}\nInstalled-Size: {size_kib}\nSection: utils\n"
        f"Priority: optional\nDepends: {DEB_DEPENDS}\nDescription: {info['description']}\n"
        " The desktop app (and `" + name + " provide` for scripts) of an MPCStats deployment,\n"
        " with the deployment's coordinator and notary built in.\n")
    for path in [stage, *stage.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    set_mtimes(stage, epoch)
    deb = out / f"{name}_{info['version']}_{arch}.deb"
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch))
    level = {"xz": "-z6", "gzip": "-z6", "zstd": "-z12"}[compression]
    subprocess.run(["dpkg-deb", "--root-owner-group", f"-Z{compression}", level, "--build", str(stage),
                    str(deb)],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    return deb


# -- macOS .dmg, Windows setup.exe (recipes: run on those systems; not exercised by CI) ---------
def build_dmg(app: Path, out: Path, info: dict[str, str]) -> Path:
    """``MPCStats.app`` → a compressed disk image with the app and a link to /Applications."""
    if shutil.which("hdiutil") is None:
        raise BuildError("hdiutil not found (macOS only) — or pass --no-installer")
    stage = out / "dmg"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    subprocess.run(["ditto", str(app), str(stage / app.name)], check=True)
    (stage / "Applications").symlink_to("/Applications")
    dmg = out / f"{info['name']}-{info['version']}.dmg"
    dmg.unlink(missing_ok=True)
    subprocess.run(["hdiutil", "create", "-volname", "MPCStats", "-srcfolder", str(stage), "-ov",
                    "-format", "UDZO", "-fs", "HFS+", str(dmg)], check=True, stdout=subprocess.DEVNULL)
    return dmg


def build_windows_setup(bundle_dir: Path, out: Path, info: dict[str, str], epoch: int) -> Path:
    """The one-folder bundle → ``<name>-<version>-setup.exe`` with Inno Setup 6 (``ISCC.exe``)."""
    iscc = shutil.which("ISCC") or shutil.which("iscc")
    program_files = Path(os.environ.get("ProgramFiles(x86)", "C:/Program Files (x86)"))
    default = program_files / "Inno Setup 6" / "ISCC.exe"
    if iscc is None and default.is_file():
        iscc = str(default)
    if iscc is None:
        raise BuildError("Inno Setup 6 (ISCC.exe) not found — install it, or pass --no-installer")
    touch = time.strftime("%Y-%m-%d", time.gmtime(epoch))
    subprocess.run([iscc, "/Q", f"/DAppVersion={info['version']}", f"/DDistDir={bundle_dir}",
                    f"/DOutputDir={out}", f"/DPackageName={info['name']}", f"/DTouchDate={touch}",
                    str(HERE / "windows" / "mpcstats-app.iss")], check=True)
    return out / f"{info['name']}-{info['version']}-setup.exe"


def du(path: Path) -> str:
    total = sum(p.lstat().st_size for p in ([path] if path.is_file() else path.rglob("*"))
                if not p.is_dir())
    return f"{total / 2**20:.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="packaging/build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, type=Path,
                        help="deployment TOML (see packaging/deploy.example.toml)")
    parser.add_argument("--out", type=Path, help="output dir (default: <checkout>/build/installer)")
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC,
                        help="the checkout to bundle (default: the one holding this script)")
    parser.add_argument("--no-installer", "--no-deb", action="store_true",
                        help="the bundle only: no .deb (Linux), .dmg (macOS) or setup.exe (Windows)")
    parser.add_argument("--deb-compression", choices=("xz", "gzip", "zstd"), default="xz",
                        help="xz: smallest, ~4 min here; gzip: +30%% size, ~20 s; zstd: dpkg >= 1.21.18")
    parser.add_argument("--full-qt", action="store_true",
                        help="keep every Qt library/plugin the hooks collect (to measure the excludes)")
    args = parser.parse_args(argv)
    src = args.src.resolve()
    out = (args.out or src / "build" / "installer").resolve()
    started = time.monotonic()
    try:
        config = tomllib.loads(args.config.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        print(f"packaging/build: cannot read {args.config}: {exc}", file=sys.stderr)
        return 2
    try:
        document = deployment_document(config, src)
        info = package_info(config, src)
        epoch = source_date_epoch(src)
        out.mkdir(parents=True, exist_ok=True)
        deployment_json = out / "deployment" / "deployment.json"
        deployment_json.parent.mkdir(parents=True, exist_ok=True)
        deployment_json.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
        log(f"deployment: {document['provider']['coordinator_url']} (baked from {args.config})")
        log(f"PyInstaller ({platform.system()}, SOURCE_DATE_EPOCH={epoch}) ...")
        executable = run_pyinstaller(src, out, deployment_json, info["version"], epoch, args.full_qt)
        bundle = executable.parent if sys.platform != "darwin" else executable.parents[2]
        if sys.platform.startswith("linux"):
            strip_python_runtime(bundle)
        set_mtimes(bundle, epoch)
        log(f"bundle: {bundle} ({du(bundle)})")
        if sys.platform.startswith("linux") and not args.no_installer:
            deb = build_deb(bundle, out, info, epoch, args.deb_compression)
            log(f"deb: {deb} ({du(deb)})")
        elif sys.platform == "darwin" and not args.no_installer:
            log(f"dmg: {build_dmg(bundle, out, info)}")
        elif sys.platform == "win32" and not args.no_installer:
            log(f"setup: {build_windows_setup(bundle, out, info, epoch)}")
    except BuildError as exc:
        print(f"packaging/build: {exc}", file=sys.stderr)
        return 1
    log(f"built in {time.monotonic() - started:.0f} s")
    print(executable)
    return 0


if __name__ == "__main__":
    sys.exit(main())
