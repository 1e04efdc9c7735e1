"""Typed server configuration from a TOML file plus ``MPCSTATS_<SECTION>_<KEY>`` environment overrides.

Why one loader for every server: operators learn one rule. Each server describes its settings as a
dataclass; :func:`load_config` reads the file's ``[section]`` table into it, converting and checking every
value against the field's type, then applies environment overrides (a container or systemd unit sets
``MPCSTATS_RESULTS_PORT=9000`` without editing the file). Unknown keys are errors, not silently ignored:
a typo like ``pol_seconds`` must not leave a default in force unnoticed.

Supported field types: ``str``, ``int``, ``float``, ``bool``, ``pathlib.Path``, ``X | None``,
``list[X]``, ``dict[str, X]``, and nested dataclasses (TOML tables / arrays of tables). Environment values
are parsed by the field's type; lists, dicts and dataclasses take JSON. Relative paths are resolved
against the config file's directory. A dataclass may define ``validate(self) -> None`` that raises
``ValueError``; it becomes a :class:`ConfigError`, and a ``RETIRED`` mapping of replaced setting names to
what to write instead (file or environment, the old name is refused with that text).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
ENV_PREFIX = "MPCSTATS"
#: Shortest accepted bearer token between servers: 32 characters of ``secrets.token_urlsafe`` carry
#: 192 bits, beyond guessing through any rate limit.
MIN_TOKEN_CHARS = 32


class ConfigError(Exception):
    """A configuration value is missing, unknown or invalid; ``key`` is its dotted path."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.message = message


def load_config(cls: type[T], section: str, path: str | Path | None = None, *,
                environ: Mapping[str, str] | None = None) -> T:
    """Build ``cls`` from ``[section]`` of the TOML file at ``path`` (optional) and the environment."""
    data: dict[str, Any] = {}
    base_dir = Path.cwd()
    if path is not None:
        p = Path(path)
        try:
            with p.open("rb") as fh:
                document = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError("", f"config file {p} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("", f"{p} is not valid TOML: {exc}") from None
        table = document.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(section, "must be a table")
        data = dict(table)
        base_dir = p.resolve().parent
    env = os.environ if environ is None else environ
    prefix = f"{ENV_PREFIX}_{section.upper()}_"
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for name, value in env.items():
        if not name.startswith(prefix):
            continue
        key = name[len(prefix):].lower()
        _refuse_retired(cls, key, name)
        if key not in fields:
            raise ConfigError(name, f"unknown setting (known: {', '.join(sorted(fields))})")
        data[key] = _parse_env(f"{section}.{key}", value, hints[key])
    return _build(cls, data, section, base_dir)


def from_dict(cls: type[T], data: Mapping[str, Any], section: str = "", base_dir: Path | None = None) -> T:
    """Build ``cls`` from an already-parsed mapping (tests, programmatic deployments)."""
    return _build(cls, dict(data), section, base_dir or Path.cwd())


def _build(cls: type[T], data: dict[str, Any], where: str, base_dir: Path) -> T:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in sorted(data):
        _refuse_retired(cls, name, _join(where, name))
    unknown = set(data) - set(fields)
    if unknown:
        raise ConfigError(_join(where, min(unknown)),
                          f"unknown setting (known: {', '.join(sorted(fields))})")
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        key = _join(where, name)
        if name in data:
            kwargs[name] = _convert(key, data[name], hints[name], base_dir)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(key, "is required")
    try:
        obj = cls(**kwargs)
        validate = getattr(obj, "validate", None)
        if callable(validate):
            validate()
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(where, str(exc)) from None
    return obj


def _refuse_retired(cls: type, name: str, key: str) -> None:
    """A setting that was replaced fails with what to write instead, never with a silent fallback.

    A dataclass lists them as ``RETIRED: ClassVar[dict[str, str]]`` (old name → instruction); "unknown
    setting" alone would leave an operator guessing, and reading the old value would keep in force what
    the replacement exists to end (e.g. one token shared by the three parties).
    """
    retired: Mapping[str, str] = getattr(cls, "RETIRED", {})
    if name in retired:
        raise ConfigError(key, f"is no longer supported: {retired[name]}")


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _convert(key: str, value: Any, hint: Any, base_dir: Path) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if value is None and len(inner) < len(args):
            return None
        if len(inner) != 1:
            raise TypeError(f"{key}: unsupported union type {hint}")
        return _convert(key, value, inner[0], base_dir)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(key, "must be a table")
        return _build(hint, value, key, base_dir)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(key, "must be a list")
        return [_convert(f"{key}[{i}]", v, args[0] if args else Any, base_dir) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(key, "must be a table")
        vt = args[1] if len(args) == 2 else Any
        return {str(k): _convert(f"{key}.{k}", v, vt, base_dir) for k, v in value.items()}
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, "must be true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, f"must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"must be a string, got {value!r}")
        return value
    if hint is Path:
        if not isinstance(value, str | Path):
            raise ConfigError(key, f"must be a path string, got {value!r}")
        p = Path(value).expanduser()
        return p if p.is_absolute() else base_dir / p
    raise TypeError(f"{key}: unsupported config type {hint}")


def _parse_env(key: str, text: str, hint: Any) -> Any:
    """Turn an environment string into the raw (TOML-like) value that :func:`_convert` expects."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if text == "" and len(inner) < len(typing.get_args(hint)):
            return None
        hint = inner[0] if len(inner) == 1 else hint
        origin = typing.get_origin(hint)
    if hint is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(key, f"must be true or false, got {text!r}")
    if hint is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(key, f"must be an integer, got {text!r}") from None
    if hint is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(key, f"must be a number, got {text!r}") from None
    if hint in (str, Path):
        return text
    if origin in (list, dict) or dataclasses.is_dataclass(hint):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(key, f"must be JSON: {exc}") from None
    raise ConfigError(key, f"cannot be set from the environment (type {hint})")
