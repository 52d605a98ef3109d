"""/api/v1/inventory/import, and the inventory's lists: customers, contacts, services and
locations, filtered, a page at a time (inventory.listing)."""

from __future__ import annotations

import io

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from changemgmt.domain.errors import DomainError
from changemgmt.domain.text import one_line
from changemgmt.inventory import KIND_NAMES, import_inventory
from changemgmt.inventory.listing import FILTERS, KEYS, list_inventory
from changemgmt.web.api.context import ADMIN, VIEWER, Caller
from changemgmt.web.api.cursors import encode, key_of
from changemgmt.web.api.problems import described
from changemgmt.web.api.schemas import ImportReport, Page

router = APIRouter(prefix="/api/v1", tags=["Inventory"])
PAGE_MAX = 1000
VALUE_MAX = 254  # the longest column a filter compares (an email address)
_IMPORT_BODY = {
    "required": True,
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "object", "additionalProperties": {"type": "array"}}},
    },
}


@router.post(
    "/inventory/import",
    summary="Import inventory rows (CSV or JSON, as `changemgmt import`), all or nothing. Role: admin.",
    response_model=ImportReport,
    responses=described(401, 403, 413, 422),
    openapi_extra={"requestBody": _IMPORT_BODY, "x-role": "admin"},
)
async def import_rows(
    request: Request,
    kind: str | None = Query(None, description=f"One of {', '.join(KIND_NAMES)} (default: from the header or keys)."),
    format: str | None = Query(None, pattern="^(csv|json)$", description="Default: from the content."),
    dry_run: bool = Query(False, description="Check and count everything, write nothing."),
    caller: Caller = ADMIN,
) -> Response:
    raw = await request.body()

    def work() -> Response:
        result = import_inventory(
            caller.api.sessions,
            io.BytesIO(raw),
            settings=caller.api.settings,
            actor=caller.name,
            kind=one_line(kind, "kind", 20) if kind is not None else None,
            fmt=format,
            dry_run=dry_run,
            now=caller.api.clock(),
        )
        warnings = [str(w) for w in result.warnings]
        if result.more_warnings:
            warnings.append(f"... and {result.more_warnings} more")
        report = {
            "format": result.format,
            "dry_run": result.dry_run,
            "rows": result.rows,
            "new": result.new,
            "summary": result.summary(),
            "warnings": warnings,
        }
        return JSONResponse(report)

    return await run_in_threadpool(work)


def _lister(kind: str, summary: str):
    filters = FILTERS[kind]

    def endpoint(
        request: Request,
        caller: Caller = VIEWER,
        limit: int = Query(100, ge=1, le=PAGE_MAX),
        cursor: str | None = Query(None, max_length=2000),
    ) -> Response:
        given = {}
        for name in filters:
            value = request.query_params.get(name)
            if value is not None:
                given[name] = _filter_value(name, value)
        with caller.api.sessions() as session:
            page = list_inventory(session, kind, given, key_of(cursor, len(KEYS[kind])), limit)
        return JSONResponse({"items": page.rows, "next_cursor": encode(list(page.last_key)) if page.last_key else None})

    parameters = [
        {
            "name": name,
            "in": "query",
            "required": False,
            "schema": _filter_schema(name),
            "description": f"Only rows whose {name} is this.",
        }
        for name in filters
    ]
    router.add_api_route(
        f"/{kind}",
        endpoint,
        methods=["GET"],
        summary=summary,
        response_model=Page,
        responses=described(401, 403, 422),
        openapi_extra={"parameters": parameters, "x-role": "viewer"},
        name=f"list_{kind}",
        tags=["Inventory"],
    )


def _filter_schema(name: str) -> dict:
    return {"type": "boolean"} if name == "active" else {"type": "string", "maxLength": VALUE_MAX}


def _filter_value(name: str, value: str) -> object:
    if name == "active":
        if value.lower() not in ("true", "false"):
            raise DomainError("active", "must be true or false")
        return value.lower() == "true"
    return one_line(value, name, VALUE_MAX)


_lister("customers", "Customers, by account. Role: viewer.")
_lister("contacts", "Contacts, by account and email. Role: viewer.")
_lister("services", "Services, by service ID. Role: viewer.")
_lister("locations", "Locations, by code. Role: viewer.")
