"""What the CLI (and later the API and portal) do with one feed: name it from an
account, get its URL (creating the feed on first use), rotate its token."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import Settings
from changemgmt.domain.errors import DomainError, NotFound
from changemgmt.feeds.feed_tokens import SealError
from changemgmt.feeds.publisher import Written, publish
from changemgmt.feeds.registry import (
    INTERNAL_KEY,
    FeedToken,
    Scope,
    customer_by_account,
    ensure_feed,
    feed_key,
    has_accounts,
    rotate,
    with_token,
)
from changemgmt.feeds.stores import store_of
from changemgmt.store.db import transaction


def key_for(session: Session, account: str | None, scope: Scope) -> str:
    """The key of ACCOUNT's customer or enterprise feed, or of the internal feed."""
    if scope is Scope.INTERNAL:
        return INTERNAL_KEY
    if not account:
        raise DomainError("account", "an account is needed for a customer or enterprise feed")
    customer = customer_by_account(session, account)
    if customer is None:
        raise NotFound(f"no customer with account {account}")
    if scope is Scope.ENTERPRISE and not has_accounts(session, customer.id):
        raise DomainError("account", f"{account} has no accounts below it, so it has no enterprise feed")
    return feed_key(scope, customer.id)


def open_feed(
    sessions: sessionmaker[Session], settings: Settings, now: datetime, account: str | None, scope: Scope
) -> FeedToken:
    """The feed, created on first use, written and current. SealError
    (a DomainError) when its token does not open with this SECRET_KEY."""
    with transaction(sessions) as session:
        feed = ensure_feed(session, key_for(session, account, scope), settings, now)
        try:
            opened = with_token(feed, settings)
        except SealError:
            raise _seal_error(account, scope) from None
    _write(sessions, settings, now, opened)
    return opened


def _seal_error(account: str | None, scope: Scope) -> SealError:
    """SealError naming the feed as the operator does, with the command that rotates it."""
    if scope is Scope.INTERNAL:
        return SealError("the internal feed's token", "changemgmt feeds rotate --internal")
    flag = " --enterprise" if scope is Scope.ENTERPRISE else ""
    return SealError(f"the token of {account}'s {scope.value} feed", f"changemgmt feeds rotate {account}{flag}")


def rotate_feed(
    sessions: sessionmaker[Session], settings: Settings, now: datetime, account: str | None, scope: Scope, actor: str
) -> FeedToken:
    """Gives the feed a new token: the old URL answers 404 at once, the new one serves."""
    with transaction(sessions) as session:
        feed = ensure_feed(session, key_for(session, account, scope), settings, now)
        old, _ = rotate(session, feed, settings, now, actor)
        fresh = with_token(feed, settings)
    store = store_of(settings, sessions)
    if old is not None:
        store.remove(old)
    _write(sessions, settings, now, fresh)
    return fresh


def _write(sessions: sessionmaker[Session], settings: Settings, now: datetime, feed: FeedToken) -> Written:
    with sessions() as session:
        return publish(session, settings, now, [feed])
