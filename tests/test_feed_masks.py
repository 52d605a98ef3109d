"""The database store keeps no feed token: the token's characters in SOURCE are masked
wherever the line folds split them, and put back exactly."""

from __future__ import annotations

import pytest

from changemgmt.config import load_settings
from changemgmt.feeds.blocks import assemble
from changemgmt.feeds.feed_tokens import new_token
from changemgmt.feeds.headers import header
from changemgmt.feeds.registry import FeedToken
from changemgmt.feeds.stores.masks import mask, token_spans, unmask
from changemgmt.store.models import Feed
from support.feeds import parse


def feed_bytes(base_url: str, token: str) -> bytes:
    settings = load_settings({"BASE_URL": base_url, "SECRET_KEY": "k" * 32})
    feed = FeedToken(Feed(key="internal", scope="internal", customer_id=None), token)
    return assemble(header(feed, None, settings), [])


def unfolded(data: bytes) -> bytes:
    return data.replace(b"\r\n ", b"")


@pytest.mark.parametrize("host_length", range(1, 80, 3))
def test_the_token_is_masked_wherever_the_folds_fall_and_put_back_exactly(host_length):
    token = new_token()
    data = feed_bytes("https://" + "m" * host_length + ".example", token)
    spans = token_spans(data, token)
    masked = mask(data, spans)
    assert token.encode() in unfolded(data)
    assert token.encode() not in unfolded(masked) and len(masked) == len(data)
    assert sum(spans[1::2]) == len(token)
    assert unmask(masked, spans, token) == data
    assert str(parse(unmask(masked, spans, token))["SOURCE"]).endswith(f"/calendars/{token}.ics")


def test_a_token_split_by_a_fold_is_masked_in_two_runs():
    token = new_token()
    data = feed_bytes("https://maintenance.example.net", token)
    assert token.encode() not in data  # the SOURCE line folds inside the token
    spans = token_spans(data, token)
    assert len(spans) == 4
    assert mask(data, spans).count(b"*") == len(token)


def test_events_are_not_searched():
    """A GCR's text is not ours to rewrite, even if someone pasted a URL into it."""
    token = new_token()
    head = feed_bytes("https://feeds.example", token)
    event = f"BEGIN:VEVENT\r\nUID:x\r\nDESCRIPTION:{token}\r\nEND:VEVENT\r\n".encode()
    data = head.replace(b"END:VCALENDAR\r\n", event + b"END:VCALENDAR\r\n")
    spans = token_spans(data, token)
    assert sum(spans[1::2]) == len(token)
    assert f"DESCRIPTION:{token}".encode() in mask(data, spans)
