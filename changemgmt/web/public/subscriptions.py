"""A contact's own pages, reached through the signed link in every email (SPEC §7):

- `POST /unsubscribe/<token>` with the form field `List-Unsubscribe=One-Click` unsubscribes
  at once, as a mailbox provider's one-click unsubscribe does it (RFC 8058 §3.2: no
  cookie, no redirect, nothing else asked);
- `GET /unsubscribe/<token>` only shows a page with a button that posts that form: a link
  scanner fetching the URL never unsubscribes anyone (STANDARDS D9);
- `GET /preferences/<token>` shows, and `POST` changes, which notices the contact gets
  (kinds, least impact, reminders), and resubscribes it. Changes apply to notices planned
  from then on.

The token (signing.unsubscribe_token) names the contact and cannot be forged; the access
log prints these paths redacted (web.paths)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from changemgmt.config import Settings
from changemgmt.domain.errors import DomainError, NotFound
from changemgmt.inventory.preferences import (
    Preferences,
    contact_of,
    preference_choices,
    preferences_from_form,
    resubscribe,
    set_preferences,
    unsubscribe,
)
from changemgmt.signing import contact_from_unsubscribe_token
from changemgmt.store.db import transaction
from changemgmt.store.models import Contact
from changemgmt.web.public.bodies import BodyTooLarge, form_fields, read_body
from changemgmt.web.public.pages import page
from changemgmt.web.public.problems import problem

MAX_FORM = 16 * 1024
MAX_TOKEN = 100
ONE_CLICK = ("List-Unsubscribe", "One-Click")


def subscriptions_router(
    settings: Settings, sessions: sessionmaker[Session], clock: Callable[[], datetime]
) -> APIRouter:
    router = APIRouter(tags=["subscriptions"])

    def contact(session: Session, token: str) -> Contact:
        contact_id = contact_from_unsubscribe_token(settings, token) if len(token) <= MAX_TOKEN else None
        return contact_of(session, contact_id)

    def common(found: Contact, token: str) -> dict:
        return {
            "provider_name": settings.provider_name,
            "email": found.email,
            "customer": found.customer.name,
            "unsubscribe_url": f"../unsubscribe/{token}",
            "preferences_url": f"../preferences/{token}",
        }

    def not_found() -> HTMLResponse:
        return page("invalid.html", 404, provider_name=settings.provider_name)

    @router.get("/unsubscribe/{token}", response_class=HTMLResponse, summary="Unsubscribe confirmation page")
    def unsubscribe_page(token: str) -> Response:
        """Shows a button that unsubscribes; the GET itself changes nothing."""
        with sessions() as session:
            try:
                found = contact(session, token)
            except NotFound:
                return not_found()
            return page("unsubscribe.html", done=found.unsubscribed_at is not None, **common(found, token))

    def one_click(token: str) -> Response:
        with transaction(sessions) as session:
            try:
                found = contact(session, token)
            except NotFound:
                return not_found()
            unsubscribe(session, found, clock(), via="one-click")
            return page("unsubscribe.html", done=True, **common(found, token))

    @router.post("/unsubscribe/{token}", response_class=HTMLResponse, summary="One-click unsubscribe (RFC 8058)")
    async def unsubscribe_now(token: str, request: Request) -> Response:
        """With the form field List-Unsubscribe=One-Click: unsubscribes at once."""
        try:
            fields = form_fields(request.headers.get("content-type", ""), await read_body(request, MAX_FORM))
        except BodyTooLarge:
            return problem(413, "body", f"is larger than {MAX_FORM} bytes")
        if ONE_CLICK not in fields:
            return problem(400, "List-Unsubscribe", "the form must hold List-Unsubscribe=One-Click")
        return await run_in_threadpool(one_click, token)

    def preferences_page(session: Session, found: Contact, token: str, status: int = 200, **extra) -> Response:
        shown: Preferences = extra.pop("shown", None) or Preferences.of(found)
        return page(
            "preferences.html",
            status,
            unsubscribed=found.unsubscribed_at is not None,
            **preference_choices(shown),
            message=extra.pop("message", ""),
            errors=extra.pop("errors", []),
            **common(found, token),
        )

    @router.get("/preferences/{token}", response_class=HTMLResponse, summary="A contact's notification preferences")
    def show_preferences(token: str) -> Response:
        with sessions() as session:
            try:
                found = contact(session, token)
            except NotFound:
                return not_found()
            return preferences_page(session, found, token)

    def change(token: str, fields: list[tuple[str, str]]) -> Response:
        values: dict[str, list[str]] = {}
        for name, value in fields:
            values.setdefault(name, []).append(value)
        with transaction(sessions) as session:
            try:
                found = contact(session, token)
            except NotFound:
                return not_found()
            action = (values.get("action") or ["save"])[0]
            if action == "resubscribe":
                resubscribe(session, found, clock())
                return preferences_page(session, found, token, message="You are subscribed again.")
            try:
                chosen = preferences_from_form(values)
            except DomainError as error:
                return preferences_page(session, found, token, 422, errors=[str(e) for e in error.errors])
            set_preferences(session, found, chosen, clock())
            return preferences_page(session, found, token, message="Saved: notices planned from now on follow these.")

    @router.post("/preferences/{token}", response_class=HTMLResponse, summary="Change notification preferences")
    async def save_preferences(token: str, request: Request) -> Response:
        try:
            fields = form_fields(request.headers.get("content-type", ""), await read_body(request, MAX_FORM))
        except BodyTooLarge:
            return problem(413, "body", f"is larger than {MAX_FORM} bytes")
        return await run_in_threadpool(change, token, fields)

    return router
