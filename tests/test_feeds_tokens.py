"""Feed tokens (STANDARDS F1-F4): 256 random bits, never stored in clear."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select, text

from changemgmt.feeds.feed_tokens import SealError, is_token, new_token, seal, token_hash, unseal
from changemgmt.feeds.registry import Scope, ensure_feed, feed_by_token, feed_key, token_of
from changemgmt.store import models
from changemgmt.store.db import transaction
from world import build_world


def test_a_token_is_256_random_bits_in_43_url_safe_characters():
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert is_token(token) and len(base64.urlsafe_b64decode(token + "=")) == 32


@pytest.mark.parametrize("name", ["", "a" * 42, "a" * 44, "a" * 42 + "/", "a" * 42 + ".", "../" + "a" * 40])
def test_anything_else_is_not_a_token(name):
    assert not is_token(name)


def test_a_sealed_token_opens_only_with_its_key():
    token = new_token()
    sealed = seal(token, b"key one")
    assert token not in sealed and sealed != seal(token, b"key one")  # a fresh salt each time
    assert unseal(sealed, b"key one", token_hash(token)) == token
    with pytest.raises(SealError):
        unseal(sealed, b"key two", token_hash(token))


def test_the_database_holds_no_token_in_clear(db, settings, now):
    with transaction(db) as session:
        acme = build_world(session)["acme"]
        feed = ensure_feed(session, feed_key(Scope.CUSTOMER, acme.id), settings, now)
        token = token_of(feed, settings)
    with db() as session:
        dump = " ".join(str(v) for row in session.execute(text("SELECT * FROM feeds")) for v in row)
        assert token not in dump and token_hash(token) in dump
        assert feed_by_token(session, token).id == feed.id
        assert feed_by_token(session, new_token()) is None
        assert session.scalar(select(models.Feed.scope)) == "customer"
