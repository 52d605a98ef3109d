"""Creating and editing a GCR from the browser (/manage/gcrs/new, /manage/gcrs/{n}/edit):
the form's fields become a GCR document (web.ui.gcr_form) that gcrs.service creates or
applies, as the API's and the CLI's do. A refused form comes back with every problem
named and nothing saved; an edit carries the version it was read at and is refused when
the GCR changed since."""

from __future__ import annotations

import html
from dataclasses import replace
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from starlette.datastructures import UploadFile

from changemgmt.domain.errors import DomainError, NotFound
from changemgmt.domain.impact import Impact
from changemgmt.domain.timefmt import utc_text
from changemgmt.gcrs.input import parse_patch
from changemgmt.gcrs.service import create_gcr, update_gcr
from changemgmt.gcrs.state import next_window_number
from changemgmt.store.models import Location
from changemgmt.store.queries import find_gcr, gcr_version, lock_gcr
from changemgmt.web.ui.context import finish, form_with_csrf, not_found, redirect, refused, ui_of
from changemgmt.web.ui.gcr_form import GcrForm, WindowRow, blank_form, document_of, form_of, posted_form, read_row
from changemgmt.web.ui.signin import STALE_FORM
from changemgmt.web.ui.staff import Answer, changer, staff_page, staff_user, who

router = APIRouter(prefix="/manage/gcrs")
LOCATIONS_LISTED = 2000  # offered as suggestions; any code can be typed


class Stale(Exception):
    """The GCR changed since the form was read."""


def stale_message(number: str) -> DomainError:
    return DomainError(
        "version",
        f"{number} was changed by someone else since you opened this form. Nothing was saved. "
        "Open the GCR again to see what changed, then make your change again.",
    )


@router.get("/window-utc")
def window_utc(request: Request) -> Response:
    """A window row's times in UTC, or why they cannot be read (htmx asks as they are
    typed; without JavaScript the form shows them once posted)."""
    with ui_of(request).transaction() as session:
        try:
            time_zone = staff_user(request, session).time_zone
        except Answer as refusal:
            return refusal.response
    given = request.query_params
    start = next((v for k, v in given.items() if k.endswith("_start")), "")
    end = next((v for k, v in given.items() if k.endswith("_end")), "")
    row = WindowRow(0, None, start[:64], end[:64])
    try:
        read_row(row, time_zone)
    except DomainError as error:
        return finish(request, HTMLResponse(_escaped("; ".join(e.message for e in error.errors), "error-text")))
    text = f"{utc_text(row.utc[0])} – {utc_text(row.utc[1])}" if row.utc else ""
    return finish(request, HTMLResponse(_escaped(text, "")))


def _escaped(text: str, css_class: str) -> str:
    return f'<span class="{css_class}">{html.escape(text)}</span>'


@router.get("/new")
def new_form(request: Request) -> Response:
    return _form_page(request, None, blank_form(), "")


@router.post("/new")
async def create(request: Request) -> Response:
    fields = await form_with_csrf(request)
    if fields is None:
        return refused(request, STALE_FORM)
    upload = await _upload(request)
    form = posted_form(fields, 1)
    ui = ui_of(request)
    try:
        with ui.transaction() as session:
            user = changer(request, session)
            document, errors = document_of(session, form, user.time_zone, upload, creating=True)
            patch = parse_patch(document)
            change = create_gcr(session, replace(patch, problems=tuple(errors) + patch.problems), who(request, user))
            number = change.gcr.number
    except Answer as refusal:
        return refusal.response
    except DomainError as error:
        form.errors = error.errors
        return _form_page(request, None, form, "", 422)
    return redirect(request, f"/manage/gcrs/{quote(number)}?done=created")


@router.get("/{number}/edit")
def edit_form(request: Request, number: str) -> Response:
    with ui_of(request).transaction() as session:
        try:
            user = changer(request, session)
        except Answer as refusal:
            return refusal.response
        gcr = find_gcr(session, number)
        if gcr is None:
            return not_found(request)
        form, version = form_of(session, gcr, user.time_zone), gcr_version(session, gcr)
    return _form_page(request, number, form, version)


@router.post("/{number}/edit")
async def edit(request: Request, number: str) -> Response:
    fields = await form_with_csrf(request)
    if fields is None:
        return refused(request, STALE_FORM)
    upload = await _upload(request)
    ui = ui_of(request)
    form = posted_form(fields, 1)
    try:
        with ui.transaction() as session:
            user = changer(request, session)
            gcr = lock_gcr(session, number)
            form = posted_form(fields, next_window_number(gcr))
            if fields.get("version") != gcr_version(session, gcr):
                raise Stale()
            document, errors = document_of(session, form, user.time_zone, upload, creating=False)
            patch = parse_patch(document)
            patch = replace(patch, problems=tuple(errors) + patch.problems)
            override, blackout = fields.get("override_reason") or None, fields.get("blackout_override") or None
            update_gcr(session, number, patch, who(request, user), override, blackout)
    except Answer as refusal:
        return refusal.response
    except NotFound:
        return not_found(request)
    except Stale:
        form.errors = [stale_message(number)]
        return _form_page(request, number, form, fields.get("version", ""), 409)
    except DomainError as error:
        form.errors = error.errors
        return _form_page(request, number, form, fields.get("version", ""), 422)
    return redirect(request, f"/manage/gcrs/{quote(number)}?done=saved")


async def _upload(request: Request) -> bytes | None:
    """The CSV file posted with the form, if one was chosen."""
    posted = (await request.form()).get("impacts_csv")
    if isinstance(posted, UploadFile) and posted.filename:
        return await posted.read()
    return None


def _form_page(request: Request, number: str | None, form: GcrForm, version: str, status: int = 200) -> Response:
    with ui_of(request).transaction() as session:
        try:
            user = changer(request, session)
        except Answer as refusal:
            return refusal.response
        gcr = find_gcr(session, number) if number else None
        context = {
            "title": f"Edit {number}" if number else "New GCR",
            "number": number,
            "published": gcr is not None and gcr.status != "draft",
            "form": form,
            "version": version,
            "levels": list(Impact),
            "locations": list(session.scalars(select(Location.code).order_by(Location.code).limit(LOCATIONS_LISTED))),
            "errors": form.errors,
            "error_fields": form.error_fields(),
            "time_zone": user.time_zone,
        }
        return staff_page(request, user, "manage_gcr_form.html", context, status)
