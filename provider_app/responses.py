"""Reading a server's JSON answer, shared by the provider's HTTP clients.

Every MPCStats server answers errors as ``{"error": {"code": ..., "message": ...}}``; a
proxy in between may answer anything. This turns either into (body, code, message).
"""

from __future__ import annotations

from typing import Any

import requests


def decode(response: requests.Response) -> tuple[dict[str, Any], str | None, str | None]:
    """The JSON object body ({} if none), and for a 4xx/5xx the error's code and message."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if response.status_code < 400:
        return body, None, None
    error = body.get("error")
    error = error if isinstance(error, dict) else {}
    return body, error.get("code", "http_error"), error.get("message")
