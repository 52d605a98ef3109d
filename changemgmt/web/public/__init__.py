"""The public routes no API key guards, each authenticated otherwise: SendGrid's signed
event webhook, and a contact's unsubscribe and preferences pages (a signed link).
`public_routers` gives them to whichever FastAPI application serves them; `public_app`
is one of its own, for create_app's `fallback`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, FastAPI
from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import Settings
from changemgmt.web.public.subscriptions import subscriptions_router
from changemgmt.web.public.webhook import MAX_BODY, webhook_router


def public_routers(
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: Callable[[], datetime],
    *,
    max_webhook_body: int = MAX_BODY,
) -> list[APIRouter]:
    return [
        webhook_router(settings, sessions, clock, max_webhook_body),
        subscriptions_router(settings, sessions, clock),
    ]


def public_app(
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: Callable[[], datetime],
    *,
    max_webhook_body: int = MAX_BODY,
) -> FastAPI:
    app = FastAPI(title="changemgmt public routes", docs_url=None, redoc_url=None)
    for router in public_routers(settings, sessions, clock, max_webhook_body=max_webhook_body):
        app.include_router(router)
    return app
