"""Errors as RFC 9457 problem details (`application/problem+json`), each naming the field
at fault: the same DomainErrors the CLI prints, one entry per problem. Bad input is never
a 500: every error a client can cause has its status here."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa
from starlette.exceptions import HTTPException

from changemgmt.domain.conflicts import BlackoutRefused
from changemgmt.domain.errors import DomainError, NotFound, TransitionError
from changemgmt.inventory import ImportFailed

PROBLEM = "application/problem+json"
log = logging.getLogger(__name__)


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """What went wrong: `errors` names each field at fault (`detail` says it in one line)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] = []
    blackouts: list[dict[str, Any]] | None = Field(
        None, description="On a 409 for a blackout: the blackouts the change falls in (override with a reason)."
    )


class ApiProblem(Exception):
    """An error an endpoint answers with its own status (401, 403, 409, 412, 413, ...)."""

    def __init__(self, status: int, field: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.status, self.field, self.message, self.headers = status, field, message, headers or {}


def problem(
    status: int,
    errors: list[tuple[str, str]],
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or "; ".join(f"{field}: {message}" if field else message for field, message in errors),
        "errors": [{"field": field, "message": message} for field, message in errors],
        **(extra or {}),
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def described(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entries for these error statuses."""
    return {
        status: {"model": Problem, "description": HTTPStatus(status).phrase, "content": {PROBLEM: {}}}
        for status in statuses
    }


def install(app: FastAPI) -> None:
    """Answers every error as a problem."""

    @app.exception_handler(ApiProblem)
    async def api_problem(_request: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, [(exc.field, exc.message)], headers=exc.headers)

    @app.exception_handler(ImportFailed)
    async def import_failed(_request: Request, exc: ImportFailed) -> JSONResponse:
        errors = [(str(p.where) + (f": {p.field}" if p.field else ""), p.message) for p in exc.problems]
        if exc.more:
            errors.append(("file", f"... and {exc.more} more problems"))
        return problem(422, errors, detail=exc.message)

    @app.exception_handler(DomainError)
    async def domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        errors = [(e.field, e.message) for e in exc.errors]
        if isinstance(exc, BlackoutRefused):
            return problem(409, errors, extra={"blackouts": [b.to_json() for b in exc.blackouts]})
        return problem(409 if isinstance(exc, TransitionError) else 422, errors)

    @app.exception_handler(NotFound)
    async def not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return problem(404, [("", str(exc))])

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(
            422, [(_field(error.get("loc", ())), str(error.get("msg", "is not valid"))) for error in exc.errors()]
        )

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, [("", str(exc.detail))], headers=dict(exc.headers or {}))

    @app.exception_handler(sa.IntegrityError)
    async def raced(_request: Request, exc: sa.IntegrityError) -> JSONResponse:
        # Two requests made the same new row at the same moment (two creates of one GCR
        # number): the second's transaction rolled back, and it may look again.
        log.info("a request lost a race: %s", str(exc.orig or exc).splitlines()[0])
        return problem(409, [("", "another request made the same change at the same moment; read again, then retry")])

    @app.exception_handler(sa.OperationalError)
    async def database_down(_request: Request, exc: sa.OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", str(exc.orig or exc).splitlines()[0])
        return problem(503, [("", "the database is not available; try again shortly")], headers={"retry-after": "5"})


def _field(location: tuple | list) -> str:
    """A pydantic error location as a field name: ("query", "limit") -> "limit"."""
    parts = [str(p) for p in location if p not in ("query", "path", "header", "body")]
    return ".".join(parts) or "body"
