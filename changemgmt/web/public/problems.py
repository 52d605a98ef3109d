"""Errors as RFC 9457 problem details (`application/problem+json`), naming the field at fault."""

from __future__ import annotations

from http import HTTPStatus

from starlette.responses import JSONResponse


def problem(status: int, field: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail, "field": field},
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )
