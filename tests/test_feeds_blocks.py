"""Feed files are assembled from, and split back into, serialized VEVENT blocks by
content lines, never by substring: no text a user can store (an "END:VEVENT" in a
location, a line break and "UID:" in a description) moves a block's edges or changes
what is read from it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from changemgmt.content.ical import EventFacts, build_event, feed_calendar
from changemgmt.content.view import ServiceLine
from changemgmt.domain import text as rules
from changemgmt.feeds.blocks import assemble, block_of, parse_block, split_feed
from support.feeds import parse
from support.hostile import as_written, display_name, multi_line, one_line, texts
from support.views import notice, window

DOMAIN = "example.net"


def header():
    return feed_calendar(
        [],
        uid="feed-test@example.net",
        name="A feed",
        refresh=timedelta(hours=1),
        source="https://example.net/calendars/x.ics",
    )


def facts(**changes) -> EventFacts:
    return replace(EventFacts.from_view(notice()), **changes)


def blocks_of(the_facts: EventFacts, cancelled_second: bool = False):
    windows = [window(1), window(2, cancelled=cancelled_second)]
    return [block_of(build_event(the_facts, w, provider_domain=DOMAIN, stamp=w.last_modified)) for w in windows]


def test_a_location_of_end_vevent_does_not_end_the_event():
    blocks = blocks_of(facts(work_location="END:VEVENT"))
    data = assemble(header(), blocks)
    assert split_feed(data) == blocks
    assert [len(parse(b.data).walk("VEVENT")) for b in split_feed(data)] == [1, 1]


@pytest.mark.parametrize("title", ["BEGIN:VEVENT", "x" * 60 + "END:VEVENT", "END:VCALENDAR"])
def test_delimiters_anywhere_in_a_value_are_not_delimiters(title):
    blocks = blocks_of(facts(title=title, description=f"a\n{title}\nb", work_location=title))
    assert split_feed(assemble(header(), blocks)) == blocks


def test_a_line_break_and_uid_in_a_description_cannot_become_a_property():
    """Escaping writes a line break as the two characters \\n, so no CRLF, and no
    content line, can come from a text value."""
    block = blocks_of(facts(description="x\r\nUID:evil@example.org\r\nEND:VEVENT\nDTEND:19700101T000000Z"))[0]
    assert block.uid == "GCR-1001-W1-ACME-001@example.net"
    assert block.end == window(1).end
    assert block.data.count(b"\r\nUID:") == 1


def test_a_block_with_two_uids_or_a_nested_event_is_refused():
    data = blocks_of(facts())[0].data
    with pytest.raises(ValueError, match="two UID"):
        parse_block(data.replace(b"\r\nUID:", b"\r\nUID:evil@example.org\r\nUID:", 1))
    with pytest.raises(ValueError, match="inside"):
        parse_block(data.replace(b"\r\nUID:", b"\r\nEND:VEVENT\r\nUID:", 1))


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data.replace(b"\r\nEND:VEVENT\r\n", b"\r\n", 1),  # an event without its end
        lambda data: data.replace(b"\r\nBEGIN:VEVENT\r\n", b"\r\n", 1),  # an end without its event
        lambda data: data.replace(b"\r\nEND:VEVENT\r\n", b"\r\nEND:VEVENT\r\n ", 1),  # folded into the next line
    ],
)
def test_a_damaged_feed_is_refused_rather_than_split_wrongly(damage):
    data = assemble(header(), blocks_of(facts()) + blocks_of(facts(gcr_number="GCR-1002")))
    with pytest.raises(ValueError):
        split_feed(damage(data))


@settings(max_examples=150, deadline=None)
@given(
    title=one_line(rules.TITLE_MAX, required=True),
    description=multi_line(rules.DESCRIPTION_MAX),
    reason=multi_line(rules.REASON_MAX),
    location=one_line(rules.WORK_LOCATION_MAX),
    contact=display_name(),
    product=one_line(rules.NAME_MAX),
    cancelled=st.booleans(),
)
def test_blocks_read_back_exactly_what_the_builder_wrote(
    title, description, reason, location, contact, product, cancelled
):
    stored = facts(
        title=rules.one_line(title, "title", rules.TITLE_MAX),
        description=rules.multi_line(description, "description", rules.DESCRIPTION_MAX),
        reason=rules.multi_line(reason, "reason", rules.REASON_MAX),
        work_location=rules.one_line(location, "work_location", rules.WORK_LOCATION_MAX),
        organizer=replace(facts().organizer, name=rules.display_name(contact, "contact.name")),
        services=(
            ServiceLine(
                "SVC-1", rules.one_line(product, "product", rules.NAME_MAX), "1G", product, notice().services[0].impact
            ),
        ),
    )
    blocks = blocks_of(stored, cancelled_second=cancelled)
    data = assemble(header(), reversed(blocks))
    assert split_feed(data) == blocks
    events = parse(data).walk("VEVENT")
    assert len(events) == 2
    for event, block in zip(events, blocks):
        assert block.uid == str(event["UID"])
        assert (block.end, block.modified) == (event["DTEND"].dt, event["LAST-MODIFIED"].dt)
        assert block.cancelled == (str(event["STATUS"]) == "CANCELLED")
        text = texts(data)[block.uid]
        assert stored.title in text["SUMMARY"]
        assert f"Work: {stored.description}" in text["DESCRIPTION"]
        assert text.get("LOCATION", "") == as_written(stored.work_location)
    assert [b.cancelled for b in blocks] == [False, cancelled]
