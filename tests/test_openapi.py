"""OpenAPI documents built from the routes (``servers/common/openapi.py``) and the generated ``docs/api.md``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import requests
from results_fixtures import FakeParty, api, fake_parties, parties, party_keys  # noqa: F401
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute

from servers.common.openapi import (OPENAPI_VERSION, add_openapi_route, app_schema, build_schema,
                                    error_response, json_response, operation)
from servers.common.serve import BackgroundServer, serve_in_thread

REPO = Path(__file__).resolve().parent.parent


def public_routes(app: Starlette) -> set[tuple[str, str]]:
    """(method, path) of every HTTP route the app answers, HEAD aside."""
    found = set()
    for route in app.routes:
        if isinstance(route, Route) and route.include_in_schema:
            for method in route.methods or {"GET"}:
                if method != "HEAD":
                    found.add((method.lower(), route.path))
    return found


def test_results_api_schema_lists_every_public_route(api: BackgroundServer) -> None:
    r = requests.get(f"{api.url}/openapi.json", timeout=5)
    assert r.status_code == 200
    schema = r.json()
    assert schema["openapi"] == OPENAPI_VERSION == "3.1.0"
    assert schema["info"]["title"] == "MPCStats results API"
    listed = {(m, path) for path, methods in schema["paths"].items() for m in methods}
    routes = public_routes(api.app)
    assert listed == routes
    assert {("get", "/"), ("get", "/stats"), ("get", "/stats/history"), ("get", "/health"),
            ("get", "/openapi.json")} <= routes
    for path, methods in schema["paths"].items():
        for op in methods.values():
            assert op["summary"] and op["responses"], path
            for response in op["responses"].values():
                for content in response.get("content", {}).values():
                    ref = content.get("schema", {}).get("$ref")
                    if ref:
                        assert ref.split("/")[-1] in schema["components"]["schemas"]
    assert schema == app_schema(api.app)


def test_build_schema_on_a_small_app() -> None:
    @operation("Get a thing", responses={200: json_response("the thing", {"type": "object"}),
                                         404: error_response("no such thing")})
    async def thing(request: Request) -> JSONResponse:
        return JSONResponse({})

    async def undocumented(request: Request) -> Response:
        """Delete everything.

        Longer text that is not the summary.
        """
        return Response()

    async def hidden(request: Request) -> Response:
        return Response()

    async def ws(websocket: Any) -> None:
        return None

    app = Starlette(routes=[
        Route("/things/{thing_id:int}", thing, methods=["GET"]),
        Mount("/admin", routes=[Route("/wipe", undocumented, methods=["POST", "DELETE"])]),
        Route("/internal", hidden, include_in_schema=False),
        WebSocketRoute("/ws", ws),
    ])
    add_openapi_route(app, "Toy", "1.2.3", "a toy")
    schema = build_schema(app, "Toy", "1.2.3")
    assert set(schema["paths"]) == {"/things/{thing_id}", "/admin/wipe", "/openapi.json"}
    get = schema["paths"]["/things/{thing_id}"]["get"]
    assert get["parameters"] == [{"name": "thing_id", "in": "path", "required": True,
                                  "schema": {"type": "string"}}]
    assert get["responses"]["404"]["content"]["application/json"]["schema"]["$ref"] == \
        "#/components/schemas/Error"
    assert set(schema["paths"]["/admin/wipe"]) == {"post", "delete"}
    assert schema["paths"]["/admin/wipe"]["post"]["summary"] == "Delete everything."
    with serve_in_thread(app) as server:
        served = requests.get(f"{server.url}/openapi.json", timeout=5).json()
    assert served["info"] == {"title": "Toy", "version": "1.2.3", "description": "a toy"}
    assert served["paths"] == schema["paths"]


def test_docs_api_md_is_up_to_date() -> None:
    done = subprocess.run([sys.executable, "-m", "servers.common.openapi_docs"], capture_output=True,
                          text=True, cwd=REPO, timeout=60, check=True)
    assert "### `GET /stats`" in done.stdout
    assert (REPO / "docs" / "api.md").read_text() == done.stdout, \
        "docs/api.md is stale: run `python -m servers.common.openapi_docs > docs/api.md`"
