"""RFC 9457 problem+json for every error, including FastAPI's own validation errors (as 400)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from meridian.errors import DomainError

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://meridian.dev/problems/"


def problem(status: int, title: str, detail: str = "", *, type_: str = "about:blank",
            errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_ if type_ == "about:blank" or type_.startswith("http") else TYPE_BASE + type_,
        "title": title,
        "status": status,
        "detail": detail or title,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


# the body ``problem`` writes, as an OpenAPI schema (for operations whose document is written by hand)
PROBLEM_SCHEMA: dict[str, Any] = {"type": "object", "required": ["type", "title", "status", "detail"], "properties": {
    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
    "detail": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object"}}}}


def problem_response(description: str) -> dict[str, Any]:
    """An OpenAPI response with a problem+json body (``PROBLEM_SCHEMA`` under components as ``Problem``)."""
    return {"description": description, "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        out.append({"field": ".".join(loc) or "body", "message": err.get("msg", "invalid"),
                    "code": err.get("type", "")})
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return problem(exc.status, exc.title, exc.detail, type_=exc.type, errors=exc.errors)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        malformed = any(e["code"] in ("json_invalid", "json_type") for e in errors)
        title = "Malformed JSON" if malformed else "Request is invalid"
        return problem(400, title, "; ".join(f"{e['field']}: {e['message']}" for e in errors),
                       type_="malformed-json" if malformed else "validation-error", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail) if exc.detail else "Error", str(exc.detail or ""),
                       headers=getattr(exc, "headers", None))
