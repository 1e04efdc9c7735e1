"""Per-source specs as data: where to send the request and where the proven values sit.

A spec (``tlsn/specs/<name>.toml``) says which host to ask, how to build and sign the request
(Binance: ``HMAC-SHA256(secret, query)`` in hex, API key in a header) and, for each field, the
literal bytes before it, a regex for the value and the literal bytes after it. Adding a source means
adding a file, not code — unless it signs requests in a new way.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from tlsn.errors import SpecError

SIGNATURES = ("hmac-sha256-hex", "none")


@dataclass(frozen=True)
class FieldSpec:
    """A value in the response: ``prefix`` ‖ value matching ``pattern`` ‖ ``suffix``.

    ``optional``: the response may lack the field (e.g. an asset the account never held);
    the value is then *missing* — a state of its own, never a number (see ``columns``).
    """

    name: str
    prefix: str
    pattern: str
    suffix: str
    optional: bool = False

    def regex(self) -> re.Pattern[bytes]:
        return re.compile(re.escape(self.prefix.encode()) + b"(" + self.pattern.encode() + b")"
                          + re.escape(self.suffix.encode()))


@dataclass(frozen=True)
class Credentials:
    """What the provider signs the request with; never leaves the provider's machine."""

    api_key: str
    secret: str


@dataclass(frozen=True)
class SourceSpec:
    name: str
    host: str
    port: int
    method: str
    path: str
    query: str
    recv_window: int
    api_key_header: str
    signature: str
    signature_param: str
    fields: dict[str, FieldSpec]
    description: str = ""
    #: The value fields a provider contributes, in order; the first is the primary value
    #: (the one every input has). Each is a column of the pool, one row per input.
    columns: tuple[str, ...] = ("balance",)

    @property
    def primary(self) -> str:
        return self.columns[0]

    def build_request(self, credentials: Credentials, *, host: str | None = None,
                      timestamp_ms: int | None = None) -> bytes:
        """The exact HTTP/1.1 request bytes: signed query, identity encoding, connection close."""
        ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
        query = self.query.format(timestamp=ts, recv_window=self.recv_window)
        if self.signature == "hmac-sha256-hex":
            sig = hmac.new(credentials.secret.encode(), query.encode(), hashlib.sha256).hexdigest()
            query = f"{query}&{self.signature_param}={sig}"
        return self._assemble(query, host or self.host, credentials.api_key)

    def _assemble(self, query: str, host: str, api_key: str) -> bytes:
        target = self.path + ("?" + query if query else "")
        headers = [
            f"{self.method} {quote(target, safe='/?=&%:.,-_~')} HTTP/1.1",
            f"Host: {host}",
            f"{self.api_key_header}: {api_key}",
            "Accept: application/json",
            "Accept-Encoding: identity",
            "User-Agent: mpcstats-notarize/1",
            "Connection: close",
        ]
        return ("\r\n".join(headers) + "\r\n\r\n").encode()

    def expected_request(self, *, host: str, timestamp_ms: int, signature: str | None,
                         api_key_length: int) -> tuple[bytes, tuple[int, int]]:
        """What :meth:`build_request` sent, as the servers rebuild it from public values: the
        request with the API key's ``api_key_length`` bytes zeroed, and their (offset, length).
        Inside MPC every other byte is known plaintext (the request line with the spec's path
        and query parameters, Host, the fixed headers)."""
        query = self.query.format(timestamp=timestamp_ms, recv_window=self.recv_window)
        if self.signature == "hmac-sha256-hex":
            query = f"{query}&{self.signature_param}={signature}"
        placeholder = "\0" * api_key_length
        request = self._assemble(query, host, placeholder)
        start = request.index(f"{self.api_key_header}: ".encode() + placeholder.encode()) + len(self.api_key_header) + 2
        return request, (start, api_key_length)

    def request_values(self, request: bytes) -> tuple[int, str | None, int]:
        """(timestamp, signature, API key length) of a request :meth:`build_request` made: the
        public values a registration names."""
        head = request.split(b"\r\n", 3)
        target = head[0].split(b" ")[1].decode()
        params = dict(p.partition("=")[::2] for p in target.partition("?")[2].split("&"))
        key_line = head[2].decode()
        key = key_line.partition(": ")[2]
        signature = params.get(self.signature_param) if self.signature == "hmac-sha256-hex" else None
        return int(params.get("timestamp", "0")), signature, len(key)


def _require(table: dict, key: str, kind: type, where: str):  # type: ignore[no-untyped-def]
    value = table.get(key)
    if not isinstance(value, kind):
        raise SpecError("spec_invalid", f"{where}: '{key}' must be a {kind.__name__}")
    return value


#: Column names are query identifiers: short, lower case.
COLUMN_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
MAX_COLUMNS = 4


def _parse_columns(data: dict, fields: dict[str, FieldSpec]) -> tuple[str, ...]:
    columns = data.get("columns", ["balance"])
    if (not isinstance(columns, list) or not 1 <= len(columns) <= MAX_COLUMNS
            or not all(isinstance(c, str) for c in columns) or len(set(columns)) != len(columns)):
        raise SpecError("spec_invalid", f"'columns' must list 1 to {MAX_COLUMNS} distinct field names")
    for name in columns:
        if name not in fields or name == "uid":
            raise SpecError("spec_invalid", f"column {name!r} must name a value field "
                                            f"(define fields.{name})")
        if COLUMN_NAME.fullmatch(name) is None:
            raise SpecError("spec_invalid", f"column name {name!r}: use a-z, 0-9 and _")
    if fields[columns[0]].optional:
        raise SpecError("spec_invalid", f"the first column ({columns[0]}) cannot be optional")
    return tuple(columns)


def parse_spec(data: dict) -> SourceSpec:
    """Validate a parsed TOML spec; every missing or ill-typed key is a :class:`SpecError`."""
    req = _require(data, "request", dict, "spec")
    fields_table = _require(data, "fields", dict, "spec")
    fields: dict[str, FieldSpec] = {}
    for fname, f in fields_table.items():
        if not isinstance(f, dict):
            raise SpecError("spec_invalid", f"fields.{fname} must be a table")
        optional = f.get("optional", False)
        if not isinstance(optional, bool):
            raise SpecError("spec_invalid", f"fields.{fname}.optional must be true or false")
        field = FieldSpec(fname, _require(f, "prefix", str, f"fields.{fname}"),
                          _require(f, "pattern", str, f"fields.{fname}"),
                          _require(f, "suffix", str, f"fields.{fname}"), optional)
        try:
            field.regex()
        except re.error as exc:
            raise SpecError("spec_invalid", f"fields.{fname}.pattern: {exc}") from None
        fields[fname] = field
    if "uid" not in fields or fields["uid"].optional:
        raise SpecError("spec_invalid", "spec must define a required fields.uid")
    columns = _parse_columns(data, fields)
    signature = req.get("signature", "none")
    if signature not in SIGNATURES:
        raise SpecError("spec_invalid", f"request.signature must be one of {SIGNATURES}")
    return SourceSpec(
        name=_require(data, "name", str, "spec"), host=_require(data, "host", str, "spec"),
        port=int(data.get("port", 443)), method=req.get("method", "GET"),
        path=_require(req, "path", str, "request"), query=req.get("query", ""),
        recv_window=int(req.get("recv_window", 5000)), api_key_header=req.get("api_key_header", ""),
        signature=signature, signature_param=req.get("signature_param", "signature"),
        fields=fields, description=data.get("description", ""), columns=columns)


def load_spec(name_or_path: str | Path) -> SourceSpec:
    """Load a bundled spec by name (``"binance_eth"``) or any spec file by path."""
    path = Path(name_or_path)
    try:
        if path.suffix == ".toml" or path.exists():
            text = path.read_text()
        else:
            text = resources.files("tlsn").joinpath("specs", f"{name_or_path}.toml").read_text()
    except (OSError, FileNotFoundError) as exc:
        raise SpecError("spec_not_found", f"no spec {name_or_path}: {exc}") from None
    try:
        return parse_spec(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError("spec_invalid", f"{name_or_path}: {exc}") from None
