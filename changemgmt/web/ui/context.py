"""What every page needs: the settings, the database, the clock, the templates, and the
request's session and user. An app serving these routers holds one `Ui` as
`app.state.ui` (web.ui.app.build_ui makes one)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import Settings
from changemgmt.domain.errors import DomainError
from changemgmt.domain.timefmt import local_and_utc, utc_text
from changemgmt.store.db import transaction
from changemgmt.store.models import User
from changemgmt.web.ui import sessions
from changemgmt.web.ui.sessions import WebSession

HERE = Path(__file__).parent


def _templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
    )
    env.filters["local_and_utc"] = local_and_utc
    env.filters["utc"] = utc_text
    return Jinja2Templates(env=env)


@dataclass
class Ui:
    settings: Settings
    db: sessionmaker[Session]
    clock: Callable[[], datetime]
    templates: Jinja2Templates = field(default_factory=_templates)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.db) as session:
            yield session


def ui_of(request: Request) -> Ui:
    return request.app.state.ui


def web_session(request: Request) -> WebSession:
    """The request's session, read once: its cookie's, or a new anonymous one."""
    if not hasattr(request.state, "web_session"):
        ui = ui_of(request)
        now = ui.clock()
        request.state.web_session = sessions.decode(
            ui.settings, request.cookies.get(sessions.COOKIE), now
        ) or sessions.anonymous(now)
    return request.state.web_session


def current_user(request: Request, session: Session) -> User | None:
    """The signed-in user, while its account is enabled and its epoch is the session's."""
    web = web_session(request)
    if web.user_id is None:
        return None
    user = session.get(User, web.user_id)
    if user is None or user.disabled_at is not None or user.session_epoch != web.epoch:
        return None
    return user


def finish(request: Request, response: Response) -> Response:
    """Sets the session cookie on the response when the session is new, and keeps pages
    out of shared caches (they hold a customer's data and a CSRF token)."""
    web = web_session(request)
    if web.fresh:
        ui = ui_of(request)
        response.set_cookie(value=sessions.encode(ui.settings, web), **sessions.cookie_options(ui.settings))
    response.headers["cache-control"] = "no-store"
    response.headers["x-frame-options"] = "DENY"
    response.headers["referrer-policy"] = "same-origin"
    response.headers["x-content-type-options"] = "nosniff"
    return response


def start_session(request: Request, web: WebSession) -> None:
    request.state.web_session = web


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    ui = ui_of(request)
    web = web_session(request)
    base = {"provider_name": ui.settings.provider_name, "csrf": web.csrf, "user": None, "cm": ui.settings}
    response = ui.templates.TemplateResponse(request, name, {**base, **context}, status_code=status)
    return finish(request, response)


def redirect(request: Request, url: str) -> Response:
    return finish(request, RedirectResponse(url, status_code=303))


def not_found(request: Request) -> Response:
    return page(request, "error.html", {"title": "Not found", "message": "There is nothing here."}, 404)


def refused(request: Request, message: str) -> Response:
    return page(request, "error.html", {"title": "Refused", "message": message}, 403)


async def form_with_csrf(request: Request) -> dict[str, str] | None:
    """The posted form's fields, or None when its CSRF token is missing or not this
    session's (the caller refuses the request: nothing is changed)."""
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    web = web_session(request)
    if web.fresh or not web.csrf_matches(fields.get("csrf")):
        return None
    return fields


def problems_text(error: DomainError) -> str:
    """Every problem of a bad input, each naming its field, on one line."""
    return "; ".join(str(e) for e in error.errors)


async def form_values_with_csrf(request: Request) -> dict[str, list[str]] | None:
    """As form_with_csrf, with every value of each field (checkbox groups repeat one name)."""
    form = await request.form()
    values: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(key, []).append(value)
    web = web_session(request)
    if web.fresh or not web.csrf_matches(next(iter(values.get("csrf", [])), None)):
        return None
    return values


HTML = HTMLResponse
