"""Reading JSON request bodies safely: a hard size cap and typed field getters.

Why a streaming read: ``Content-Length`` is a client claim. A chunked body has none, and a lying one can
be smaller than what follows; ``await request.json()`` would buffer all of it. We count the bytes as they
arrive and stop at the cap. Field getters raise :class:`InvalidField` (422) naming the field, so a client
learns exactly what was wrong and route code stays free of ``isinstance`` ladders.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, TypeVar

from starlette.requests import Request

from servers.common.errors import BadRequest, InvalidField, PayloadTooLarge

DEFAULT_MAX_BODY = 64 * 1024
_MISSING: Any = object()
T = TypeVar("T")


async def read_body(request: Request, max_bytes: int = DEFAULT_MAX_BODY) -> bytes:
    """The raw body, or :class:`PayloadTooLarge` as soon as it exceeds ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes:
                raise PayloadTooLarge(message=f"body larger than {max_bytes} bytes")
        except ValueError:
            raise BadRequest(code="bad_content_length", message="Content-Length is not a number") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(message=f"body larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, max_bytes: int = DEFAULT_MAX_BODY) -> dict[str, Any]:
    """The body as a JSON object; 400 ``malformed_json`` if it is not valid JSON, 422 if not an object."""
    raw = await read_body(request, max_bytes)
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise BadRequest(code="malformed_json", message=f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidField("body", "must be a JSON object")
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _get(body: Mapping[str, Any], name: str, default: Any) -> Any:
    if name in body and body[name] is not None:
        return body[name]
    if default is _MISSING:
        raise InvalidField(name, "is required", code="missing_field")
    return default


def get_str(body: Mapping[str, Any], name: str, *, default: Any = _MISSING, min_len: int = 0,
            max_len: int = 4096) -> str:
    value = _get(body, name, default)
    if value is default and default is not _MISSING:
        return value  # type: ignore[no-any-return]
    if not isinstance(value, str):
        raise InvalidField(name, "must be a string")
    if not min_len <= len(value) <= max_len:
        raise InvalidField(name, f"length must be between {min_len} and {max_len}")
    return value


def get_int(body: Mapping[str, Any], name: str, *, default: Any = _MISSING, min_value: int | None = None,
            max_value: int | None = None) -> int:
    value = _get(body, name, default)
    if value is default and default is not _MISSING:
        return value  # type: ignore[no-any-return]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidField(name, "must be an integer")
    _check_range(name, value, min_value, max_value)
    return value


def get_float(body: Mapping[str, Any], name: str, *, default: Any = _MISSING,
              min_value: float | None = None, max_value: float | None = None) -> float:
    value = _get(body, name, default)
    if value is default and default is not _MISSING:
        return value  # type: ignore[no-any-return]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidField(name, "must be a finite number")
    _check_range(name, value, min_value, max_value)
    return float(value)


def get_bool(body: Mapping[str, Any], name: str, *, default: Any = _MISSING) -> bool:
    value = _get(body, name, default)
    if value is default and default is not _MISSING:
        return value  # type: ignore[no-any-return]
    if not isinstance(value, bool):
        raise InvalidField(name, "must be true or false")
    return value


def get_hex(body: Mapping[str, Any], name: str, *, default: Any = _MISSING, length: int | None = None,
            max_len: int = 1 << 20) -> bytes:
    """A hex string field decoded to bytes; ``length`` is the exact decoded length, if given."""
    if default is not _MISSING and body.get(name) is None:
        return default  # type: ignore[no-any-return]
    text = get_str(body, name, max_len=2 * max_len)
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise InvalidField(name, "must be hex") from None
    if length is not None and len(value) != length:
        raise InvalidField(name, f"must be {length} bytes")
    return value


def get_list(body: Mapping[str, Any], name: str, *, default: Any = _MISSING, max_items: int = 10_000,
             item_type: type[T] | None = None) -> list[Any]:
    value = _get(body, name, default)
    if value is default and default is not _MISSING:
        return value  # type: ignore[no-any-return]
    if not isinstance(value, list):
        raise InvalidField(name, "must be a list")
    if len(value) > max_items:
        raise InvalidField(name, f"must have at most {max_items} items")
    if item_type is not None:
        for i, item in enumerate(value):
            if isinstance(item, bool) and item_type is not bool or not isinstance(item, item_type):
                raise InvalidField(f"{name}[{i}]", f"must be {item_type.__name__}")
    return value


def get_dict(body: Mapping[str, Any], name: str, *, default: Any = _MISSING) -> dict[str, Any]:
    value = _get(body, name, default)
    if value is default and default is not _MISSING:
        return value  # type: ignore[no-any-return]
    if not isinstance(value, dict):
        raise InvalidField(name, "must be an object")
    return value


def _check_range(name: str, value: float, lo: float | None, hi: float | None) -> None:
    if lo is not None and value < lo:
        raise InvalidField(name, f"must be >= {lo}")
    if hi is not None and value > hi:
        raise InvalidField(name, f"must be <= {hi}")
