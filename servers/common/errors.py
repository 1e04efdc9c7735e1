"""One error type for every server, and the Starlette handlers that turn any failure into one JSON shape.

Every error response is ``{"error": {"code": <machine-readable>, "message": <human-readable>}}``. Route code
raises :class:`APIError` (or a subclass) and never builds error responses itself, so the shape and the
status codes stay the same across the notary, coordinator, parties and results API. An unexpected exception
becomes a bare 500 ``internal_error``: its text and traceback go to the log, never to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("mpcstats.errors")

# Default machine-readable codes for statuses that Starlette itself raises (HTTPException).
STATUS_CODES: dict[int, str] = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
    422: "invalid_field", 429: "rate_limited", 500: "internal_error", 502: "bad_gateway",
    503: "unavailable", 504: "timeout",
}


class APIError(Exception):
    """An error the client should see, with its HTTP status and a stable machine-readable ``code``."""

    status: int = 400
    default_code: str = "bad_request"

    def __init__(self, status: int | None = None, code: str | None = None, message: str = "",
                 headers: Mapping[str, str] | None = None) -> None:
        self.status = status if status is not None else type(self).status
        self.code = code or type(self).default_code
        self.message = message or self.code.replace("_", " ")
        self.headers = dict(headers or {})
        super().__init__(f"{self.status} {self.code}: {self.message}")


class BadRequest(APIError):
    status, default_code = 400, "bad_request"


class Unauthorized(APIError):
    status, default_code = 401, "unauthorized"


class Forbidden(APIError):
    status, default_code = 403, "forbidden"


class NotFound(APIError):
    status, default_code = 404, "not_found"


class Conflict(APIError):
    status, default_code = 409, "conflict"


class PayloadTooLarge(APIError):
    status, default_code = 413, "payload_too_large"


class InvalidField(APIError):
    """A JSON field is missing, of the wrong type or out of range; ``field`` names it."""

    status, default_code = 422, "invalid_field"

    def __init__(self, field: str, message: str, code: str | None = None) -> None:
        self.field = field
        super().__init__(code=code, message=f"{field}: {message}")


class RateLimited(APIError):
    status, default_code = 429, "rate_limited"

    def __init__(self, retry_after: float, message: str = "too many requests") -> None:
        self.retry_after = retry_after
        super().__init__(message=message, headers={"Retry-After": str(max(1, int(retry_after + 0.999)))})


class ServiceUnavailable(APIError):
    status, default_code = 503, "unavailable"


def error_response(status: int, code: str, message: str,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=dict(headers or {}))


async def _handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    if exc.status >= 500:
        log.error("api error", extra={"path": request.url.path, "code": exc.code})
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    code = STATUS_CODES.get(status, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(status, code, detail, exc.headers)


async def _handle_unexpected(request: Request, exc: Exception) -> Response:
    # Starlette's ServerErrorMiddleware re-raises after sending this, so the traceback still reaches the
    # server log; the client only learns that something failed.
    log.error("unhandled exception", extra={"path": request.url.path, "exc_type": type(exc).__name__})
    return error_response(500, "internal_error", "internal server error")


Handler = Callable[[Request, Exception], Coroutine[Any, Any, Response]]


def exception_handlers() -> dict[Any, Handler]:
    """Pass to ``Starlette(exception_handlers=...)``."""
    return {
        APIError: _handle_api_error,
        HTTPException: _handle_http_exception,
        Exception: _handle_unexpected,
    }
