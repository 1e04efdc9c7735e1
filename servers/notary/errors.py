"""The notary's HTTP errors: one exception type, one JSON shape ``{"error": {"code", "message"}}``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from tlsn import HandshakeError, TLSNError, UnsupportedCipherError


class NotaryError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


async def handle_notary_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotaryError)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def handle_tlsn_error(request: Request, exc: Exception) -> JSONResponse:
    """Handshake refusals are the client's fault (422) with the library's machine-readable reason."""
    assert isinstance(exc, TLSNError)
    status = 422 if isinstance(exc, HandshakeError | UnsupportedCipherError) else 400
    return error_response(status, exc.reason, exc.message)


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    status = getattr(exc, "status_code", 500)
    codes = {404: "not_found", 405: "method_not_allowed"}
    return error_response(status, codes.get(status, "http_error"), str(getattr(exc, "detail", "")))


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    return error_response(500, "internal_error", "internal error")
