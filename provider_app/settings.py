"""What the provider app remembers, and where: deployment settings, the API key, the history.

No Qt here (the app, the CLI and the installer's self-test share it):

* **Deployment** — which coordinator, notary and results API to use. The app ships a default
  (``provider_app/deployment.json``, replaced by the installer build); ``--deployment FILE`` or the
  settings dialog override it, the latter saved as ``deployment.json`` in the app-data dir. A file
  is either ``{"provider": {...DeploymentConfig...}, "results_url": ...}`` or the ``deployment.json``
  that ``mpcstats up`` writes (``{"provider": {...}, "consumer": {"results_url": ...}}``).
* **Credentials** — the exchange API key and secret live in the OS keyring (``keyring``) under the
  service :data:`KEYRING_SERVICE`, one entry per data source. They are never written to a file or a log.
* **History** — ``history.json`` in the app-data dir: which accounts (source, uid) were contributed
  and when. Never the balance.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

KEYRING_SERVICE = "mpcstats"
SETTINGS_FILE = "deployment.json"
HISTORY_FILE = "history.json"
#: The fields of ``provider_app.client.DeploymentConfig`` (kept here so loading settings does not
#: import the client library, which pulls in the MPC sharing code and slows the app's start-up).
PROVIDER_FIELDS = ("coordinator_url", "notary_url", "source", "exchange_host", "exchange_ca_file",
                   "party_urls", "timeout")
REQUIRED_PROVIDER_FIELDS = ("coordinator_url", "notary_url")


class SettingsError(ValueError):
    """A deployment file that cannot be used; the message says why, for a person."""


@dataclass
class AppSettings:
    provider: dict[str, Any]
    results_url: str = ""
    #: where these settings came from (shown in the settings dialog)
    origin: str = "built-in"

    @classmethod
    def from_dict(cls, data: Any, origin: str = "") -> AppSettings:
        if not isinstance(data, dict):
            raise SettingsError("the deployment file must hold a JSON object")
        if "provider" in data:
            provider = data["provider"]
            results_url = data.get("results_url") or (data.get("consumer") or {}).get("results_url", "")
        else:
            provider = {k: v for k, v in data.items() if k != "results_url"}
            results_url = data.get("results_url", "")
        if not isinstance(provider, dict):
            raise SettingsError("'provider' must be an object")
        unknown = set(provider) - set(PROVIDER_FIELDS)
        if unknown:
            raise SettingsError(f"unknown deployment setting(s): {', '.join(sorted(unknown))}")
        for name in REQUIRED_PROVIDER_FIELDS:
            value = provider.get(name)
            if value in (None, ""):
                raise SettingsError(f"{name} is missing (an http:// or https:// URL)")
            if not isinstance(value, str) or not value.startswith(("http://", "https://")):
                raise SettingsError(f"{name} must be an http:// or https:// URL")
        parties = provider.get("party_urls")
        if parties is not None and (
                not isinstance(parties, list) or len(parties) != 3
                or not all(isinstance(u, str) and u.startswith(("http://", "https://"))
                           for u in parties)):
            raise SettingsError("party_urls must list the three parties' http(s) URLs")
        if results_url and not str(results_url).startswith(("http://", "https://")):
            raise SettingsError("results_url must be an http:// or https:// URL")
        clean = {k: v for k, v in provider.items() if v not in (None, "")}
        return cls(clean, str(results_url or ""), origin)

    def to_dict(self) -> dict[str, Any]:
        return {"provider": dict(self.provider), "results_url": self.results_url}

    def deployment_config(self):  # -> provider_app.client.DeploymentConfig (imported lazily)
        from provider_app.client import DeploymentConfig
        return DeploymentConfig.from_dict(self.provider)


def load_file(path: str | Path) -> AppSettings:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise SettingsError(f"{path} is not valid JSON: {exc}") from exc
    return AppSettings.from_dict(data, origin=str(path))


def builtin_settings() -> AppSettings:
    text = resources.files("provider_app").joinpath(SETTINGS_FILE).read_text(encoding="utf-8")
    return AppSettings.from_dict(json.loads(text), origin="built-in")


def load_settings(data_dir: Path, deployment_file: str | Path | None = None) -> AppSettings:
    """``--deployment FILE`` wins, then the user's saved override, then the shipped default."""
    if deployment_file:
        return load_file(deployment_file)
    override = data_dir / SETTINGS_FILE
    if override.exists():
        return load_file(override)
    return builtin_settings()


def save_settings(data_dir: Path, settings: AppSettings) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SETTINGS_FILE
    _atomic_write(path, json.dumps(settings.to_dict(), indent=1))
    settings.origin = str(path)
    return path


def reset_settings(data_dir: Path) -> None:
    try:
        (data_dir / SETTINGS_FILE).unlink()
    except FileNotFoundError:
        pass


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# -- credentials (OS keyring) ------------------------------------------------------------------
class KeyringUnavailable(RuntimeError):
    """No usable keyring on this system; the key is kept in memory for this session only."""


@dataclass(frozen=True)
class StoredKey:
    api_key: str
    secret: str = field(repr=False)

    def hint(self) -> str:
        """What the app may show of the key: its first and last 4 characters, never the secret."""
        k = self.api_key
        return f"{k[:4]}…{k[-4:]}" if len(k) > 8 else "…"


def load_key(source: str) -> StoredKey | None:
    import keyring
    from keyring.errors import KeyringError
    try:
        text = keyring.get_password(KEYRING_SERVICE, source)
    except (KeyringError, RuntimeError):
        return None
    if not text:
        return None
    try:
        data = json.loads(text)
        return StoredKey(str(data["api_key"]), str(data["secret"]))
    except (ValueError, KeyError, TypeError):
        return None


def save_key(source: str, key: StoredKey) -> None:
    import keyring
    from keyring.errors import KeyringError
    try:
        keyring.set_password(KEYRING_SERVICE, source,
                             json.dumps({"api_key": key.api_key, "secret": key.secret}))
    except (KeyringError, RuntimeError) as exc:
        raise KeyringUnavailable(type(exc).__name__) from None


def forget_key(source: str) -> bool:
    """Delete the stored key; True if there was one."""
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError
    try:
        keyring.delete_password(KEYRING_SERVICE, source)
        return True
    except PasswordDeleteError:
        return False
    except (KeyringError, RuntimeError):
        return False


# -- history -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class HistoryEntry:
    source: str
    uid: str
    contributed_at: float
    session_id: str = ""


def load_history(data_dir: Path) -> list[HistoryEntry]:
    try:
        data = json.loads((data_dir / HISTORY_FILE).read_text(encoding="utf-8"))
        return [HistoryEntry(str(e["source"]), str(e["uid"]), float(e["contributed_at"]),
                             str(e.get("session_id", ""))) for e in data.get("contributions", [])]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def add_history(data_dir: Path, source: str, uid: str, session_id: str = "",
                when: float | None = None) -> HistoryEntry:
    entry = HistoryEntry(source, uid, time.time() if when is None else when, session_id)
    entries = load_history(data_dir) + [entry]
    data_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write(data_dir / HISTORY_FILE, json.dumps({"contributions": [
        {"source": e.source, "uid": e.uid, "contributed_at": e.contributed_at,
         "session_id": e.session_id} for e in entries]}, indent=1))
    return entry
