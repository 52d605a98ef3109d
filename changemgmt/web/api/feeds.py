"""A customer's calendar feed URLs (its own, and its enterprise's when it has accounts
under it), created on first use as `changemgmt feeds url` does, and their rotation. A
feed URL is a bearer secret (STANDARDS F2): reading one needs change_manager, rotating
one admin."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from changemgmt.domain.errors import DomainError, NotFound
from changemgmt.domain.text import one_line
from changemgmt.feeds.manage import open_feed, rotate_feed
from changemgmt.feeds.registry import FeedToken, Scope, customer_by_account, feed_url, has_accounts, webcal_url
from changemgmt.web.api.context import ADMIN, CHANGE_MANAGER, Caller
from changemgmt.web.api.idempotency import idempotent_outside
from changemgmt.web.api.openapi import role
from changemgmt.web.api.problems import described
from changemgmt.web.api.schemas import FeedList, FeedOut

router = APIRouter(prefix="/api/v1/customers/{account}/feeds", tags=["Feeds"])


def _shown(caller: Caller, scope: Scope, feed: FeedToken) -> dict:
    url = feed_url(caller.api.settings, feed.token)
    return {"scope": scope.value, "url": url, "webcal_url": webcal_url(url)}


def _scopes(caller: Caller, account: str) -> list[Scope]:
    with caller.api.sessions() as session:
        customer = customer_by_account(session, account)
        if customer is None:
            raise NotFound(f"no customer with account {account}")
        return [Scope.CUSTOMER, *([Scope.ENTERPRISE] if has_accounts(session, customer.id) else [])]


@router.get(
    "",
    summary="The customer's feed URLs (https and webcal://), created on first use. Role: change_manager.",
    response_model=FeedList,
    responses=described(401, 403, 404, 422),
    openapi_extra=role("change_manager"),
)
def urls(account: str, caller: Caller = CHANGE_MANAGER) -> Response:
    account = one_line(account, "account", 64, required=True)
    api = caller.api
    feeds = [
        _shown(caller, scope, open_feed(api.sessions, api.settings, api.clock(), account, scope))
        for scope in _scopes(caller, account)
    ]
    return JSONResponse({"account": account, "feeds": feeds})


@router.post(
    "/rotate",
    summary="Give the customer's (or its enterprise's) feed a new URL; the old one answers 404 at once. Role: admin.",
    response_model=FeedOut,
    responses=described(401, 403, 404, 422),
    openapi_extra=role("admin"),
)
async def rotate(
    account: str,
    request: Request,
    scope: Scope = Query(Scope.CUSTOMER, description="customer or enterprise"),
    caller: Caller = ADMIN,
) -> Response:
    def work() -> Response:
        checked = one_line(account, "account", 64, required=True)
        if scope is Scope.INTERNAL:
            raise DomainError("scope", "must be customer or enterprise")
        api = caller.api
        feed = rotate_feed(api.sessions, api.settings, api.clock(), checked, scope, caller.name)
        return JSONResponse(_shown(caller, scope, feed))

    return await run_in_threadpool(idempotent_outside, request, caller, b"", work)
