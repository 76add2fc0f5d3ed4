"""One error model for every error the dashboards answer: RFC 9457 problem details.

Scripts and BI tools reading the API meet errors from several layers: the
Host allow-list (400), access control (401/403), routing (404), parameter
validation (FastAPI's 422 and our own), and an unreachable source (503).
Without one shape each layer spoke its own dialect (`{"detail": "text"}`
where the OpenAPI schema promised a list), so a client could not read an
error without knowing which layer sent it. Here every one of them is
``application/problem+json`` with `type`, `title`, `status`, `detail` and,
for validation, `errors`; the OpenAPI document declares it on every operation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

__all__ = ["PROBLEM_TYPE", "Problem", "install_problems", "problem_body"]

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
_DOCUMENTED = {
    422: "The parameters are invalid (`errors` lists each one).",
    503: "A source (PostgreSQL or the warehouse) cannot answer now.",
}
_DOCUMENTED_WITH_AUTH = {
    401: "No valid credentials: send `Authorization: Bearer <token>` or sign in.",
    403: "The signed-in role may not open this.",
}


class FieldError(BaseModel):
    """One invalid parameter."""

    loc: list[str | int] = Field(description="Where: e.g. ['query', 'date'].")
    msg: str
    type: str


class Problem(BaseModel):
    """An error response (RFC 9457 problem details)."""

    type: str = Field("about:blank", description="A URI naming the kind of problem.")
    title: str = Field(description="The HTTP status phrase, e.g. 'Unprocessable Content'.")
    status: int = Field(description="The HTTP status code, repeated.")
    detail: str = Field(description="What went wrong, for a person, in one sentence.")
    errors: list[FieldError] | None = Field(None, description="Invalid parameters (422 only).")


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The problem document as a dict (what every error body holds)."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _title(status),
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return body


def problem_body(status: int, detail: str) -> bytes:
    """Encoded problem document, for the pure ASGI layers (host check, access control)."""
    return json.dumps(problem(status, detail)).encode()


def _response(status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> Any:
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_TYPE)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [x if isinstance(x, int) else str(x) for x in err.get("loc", ())]
        out.append({"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))})
    return out


async def _http_error(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else _title(exc.status_code)
    if exc.status_code == 422 and isinstance(exc.detail, str):
        # our own parameter checks: the message names the parameter; one entry, no location
        errors: list[dict[str, Any]] | None = [{"loc": [], "msg": detail, "type": "value_error"}]
    else:
        errors = None
    return _response(exc.status_code, problem(exc.status_code, detail, errors), exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(exc)
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(x) for x in first["loc"][1:]) or "request"
    return _response(422, problem(422, f"invalid {where}: {first['msg']}", errors))


async def _server_error(request: Request, exc: Exception) -> Any:
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    return _response(500, problem(500, "internal error; the server log has the details"))


def _document(app: FastAPI, auth_on: bool) -> dict[str, Any]:
    """The OpenAPI document with the problem model on every operation."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = components["Problem"].pop("$defs", {})
    components.update(defs)
    ref = {"content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    if auth_on:  # say how to authenticate, so clients (and schemathesis's auth check) know
        schema["components"]["securitySchemes"] = {
            "token": {"type": "http", "scheme": "bearer", "description": "An API token (sst_...)."}
        }
        schema["security"] = [{"token": []}]
    documented = _DOCUMENTED | (_DOCUMENTED_WITH_AUTH if auth_on else {})
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            for status, description in documented.items():
                responses[str(status)] = {"description": description, **ref}
    app.openapi_schema = schema
    return schema


def install_problems(app: FastAPI, auth_on: bool) -> None:
    """Answer every error as a problem document and declare it in the OpenAPI schema."""
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _server_error)
    app.openapi = lambda: _document(app, auth_on)  # type: ignore[method-assign]  # FastAPI documents overriding it
