"""Feed stores, chosen by FEED_STORE (files | database): see base.py."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import ConfigError, Settings
from changemgmt.feeds.stores.base import FeedStore, FeedWriter
from changemgmt.feeds.stores.database import DatabaseStore
from changemgmt.feeds.stores.folder import FileStore

__all__ = ["DatabaseStore", "FeedStore", "FeedWriter", "FileStore", "make_feed_store", "store_of"]


def make_feed_store(settings: Settings, engine: Engine) -> FeedStore:
    """The store `settings.feed_store` names; `engine` is the database's (the one the
    feeds table is in)."""
    if settings.feed_store == "files":
        return FileStore(settings.calendars_dir)
    if settings.feed_store == "database":
        return DatabaseStore(engine)
    raise ConfigError(f"FEED_STORE: {settings.feed_store!r} is not one of files, database")


def store_of(settings: Settings, sessions: Session | sessionmaker[Session]) -> FeedStore:
    """The configured store, on the database these sessions use."""
    if isinstance(sessions, sessionmaker):
        with sessions() as session:
            return store_of(settings, session)
    bind = sessions.get_bind()
    return make_feed_store(settings, bind if isinstance(bind, Engine) else bind.engine)
