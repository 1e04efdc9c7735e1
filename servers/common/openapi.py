"""OpenAPI 3.1 documents built from a Starlette app's own routes.

Why not Starlette's YAML docstrings: they need PyYAML at run time and put a second language into every
docstring. Instead Starlette's :class:`~starlette.schemas.SchemaGenerator` walks the routes (so a route can
never be missing from the schema), and each endpoint may carry an operation object attached by the
:func:`operation` decorator — plain Python dicts, checked by the tests. An endpoint without one still
appears, summarized by the first line of its docstring.

Usage::

    @operation("Latest statistics", responses={200: json_response("The result", STATS_SCHEMA),
                                                404: error_response("No result yet")})
    async def stats(request): ...

    add_openapi_route(app, "MPCStats results API", "0.1.0")   # serves GET /openapi.json
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.schemas import SchemaGenerator

OPENAPI_VERSION = "3.1.0"
OPENAPI_PATH = "/openapi.json"
ATTRIBUTE = "__openapi_operation__"

F = TypeVar("F", bound=Callable[..., Any])

# The one error shape every server returns (servers/common/errors.py).
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "string", "description": "machine-readable, stable"},
                       "message": {"type": "string", "description": "for humans"}},
    }},
}

_PATH_PARAM = re.compile(r"{(\w+)}")


def operation(summary: str, *, description: str | None = None,
              parameters: Sequence[Mapping[str, Any]] = (),
              request_body: Mapping[str, Any] | None = None,
              responses: Mapping[int | str, Mapping[str, Any] | str] | None = None,
              tags: Sequence[str] = ()) -> Callable[[F], F]:
    """Attach an OpenAPI operation object to an endpoint; returns the endpoint unchanged."""
    op: dict[str, Any] = {"summary": summary}
    if description:
        op["description"] = description
    if tags:
        op["tags"] = list(tags)
    if parameters:
        op["parameters"] = [dict(p) for p in parameters]
    if request_body is not None:
        op["requestBody"] = dict(request_body)
    op["responses"] = {str(status): ({"description": r} if isinstance(r, str) else dict(r))
                       for status, r in (responses or {200: "OK"}).items()}

    def attach(endpoint: F) -> F:
        setattr(endpoint, ATTRIBUTE, op)
        return endpoint

    return attach


def json_response(description: str, schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": dict(schema or {})}}}


def html_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def error_response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def json_body(schema: Mapping[str, Any], description: str = "", required: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"required": required, "content": {"application/json": {"schema": dict(schema)}}}
    if description:
        body["description"] = description
    return body


def query_parameter(name: str, schema: Mapping[str, Any], description: str = "",
                    required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": dict(schema),
            "description": description}


def build_schema(routes: Sequence[BaseRoute] | Starlette, title: str, version: str,
                 description: str = "") -> dict[str, Any]:
    """The OpenAPI document of every route with ``include_in_schema`` (the Starlette default)."""
    if isinstance(routes, Starlette):
        routes = routes.routes
    info: dict[str, Any] = {"title": title, "version": version}
    if description:
        info["description"] = description
    generator = SchemaGenerator({"openapi": OPENAPI_VERSION, "info": info})
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in generator.get_endpoints(list(routes)):
        op = dict(getattr(endpoint.func, ATTRIBUTE, None) or _from_docstring(endpoint.func))
        declared = {p.get("name") for p in op.get("parameters", []) if p.get("in") == "path"}
        missing = [name for name in _PATH_PARAM.findall(endpoint.path) if name not in declared]
        if missing:
            op["parameters"] = [*op.get("parameters", []),
                                *({"name": m, "in": "path", "required": True, "schema": {"type": "string"}}
                                  for m in missing)]
        op.setdefault("operationId", f"{endpoint.http_method}_{_slug(endpoint.path)}")
        paths.setdefault(endpoint.path, {})[endpoint.http_method] = op
    return {"openapi": OPENAPI_VERSION, "info": info,
            "paths": dict(sorted(paths.items())),
            "components": {"schemas": {"Error": ERROR_SCHEMA}}}


def add_openapi_route(app: Starlette, title: str, version: str, description: str = "",
                      path: str = OPENAPI_PATH) -> None:
    """Serve ``GET /openapi.json`` on ``app``; the document is built on first request (all routes in).

    :func:`app_schema` returns the same document without a request.
    """
    cache: dict[str, Any] = {}
    app.state.openapi_info = {"title": title, "version": version, "description": description}

    @operation("This API's OpenAPI 3.1 document",
               responses={200: json_response("OpenAPI document", {"type": "object"})})
    async def openapi(request: Request) -> JSONResponse:
        if "schema" not in cache:
            cache["schema"] = build_schema(app, title, version, description)
        return JSONResponse(cache["schema"])

    app.router.routes.append(Route(path, openapi, methods=["GET"]))


def app_schema(app: Starlette) -> dict[str, Any]:
    """The document an app set up with :func:`add_openapi_route` serves."""
    info = getattr(app.state, "openapi_info", None)
    if info is None:
        raise LookupError("the app has no OpenAPI route; call add_openapi_route(app, title, version)")
    return build_schema(app, **info)


def _from_docstring(func: Callable[..., Any]) -> dict[str, Any]:
    doc = (func.__doc__ or "").strip()
    summary = doc.splitlines()[0] if doc else func.__name__.replace("_", " ")
    return {"summary": summary, "responses": {"200": {"description": "OK"}}}


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_") or "root"
