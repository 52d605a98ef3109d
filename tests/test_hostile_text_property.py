"""Whatever text the input rules let into a GCR or the inventory (domain/text.py), and
whatever names an older database already holds, every email built from it parses from
its raw bytes with exactly one To (the recipient, its literal name), From and Reply-To,
the literal subject, only the headers a notice carries, and an .ics that icalendar reads
without errors; the SendGrid request stays valid."""

from __future__ import annotations

import re

import icalendar
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from changemgmt.config import load_settings
from changemgmt.content.view import CustomerView, Recipient, ServiceLine
from changemgmt.delivery.headers import header_safe
from changemgmt.delivery.message import build_email, sendgrid_body
from changemgmt.domain.errors import DomainError
from changemgmt.domain.gcr import Contact
from changemgmt.domain.notice import NoticeKind
from changemgmt.domain.text import (
    DESCRIPTION_MAX,
    NAME_MAX,
    REASON_MAX,
    TITLE_MAX,
    WORK_LOCATION_MAX,
    multi_line,
    one_line,
)
from support.mail import NOTICE_HEADERS, mailboxes, raw_field, raw_fields, subjects
from support.sendgrid_server import extra_problems, load_validator
from support.views import notice, window

SETTINGS = load_settings({"PROVIDER_DOMAIN": "example.net", "BASE_URL": "https://cm.example.net"})
VALIDATOR = load_validator()
SNIPPETS = [
    "=?utf-8?b?ZXZpbEBldmlsLmV4YW1wbGUsIHg=?=",
    "=?utf-8?q?evil=40evil=2Eexample?=",
    "=?",
    "?=",
    '"',
    "\\",
    "<",
    ">",
    ",",
    ";",
    ":",
    "@",
    "(",
    ")",
    "[",
    "]",
    "é",
    "中文",
    "😀",
    "END:VEVENT",
    "BEGIN:VCALENDAR",
    "\n",
    "\t",
    "\r\n",
    " ",
    "  ",
    "x" * 120,
    "Ünïcödé" * 12,
    "-org-0123456789abcdef-",
    "%",
    "&amp;",
    "<b>",
]
# What the input rules refuse anywhere: C0/C1 controls (but LF and TAB in multi-line text),
# surrogates, line and paragraph separators, bidirectional controls.
CHARACTERS = st.characters(
    blacklist_categories=("Cc", "Cs"),
    blacklist_characters="\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
)
PIECES = st.one_of(st.text(CHARACTERS, max_size=40), st.sampled_from(SNIPPETS))
RAW = st.lists(PIECES, max_size=8).map("".join)


def accepted(rule, limit: int):
    """Text the rule lets in (normalised as it stores it), at most `limit` long."""

    def check(value: str) -> str | None:
        try:
            return rule(value, "field", limit)
        except DomainError:
            return None

    return RAW.map(check).filter(lambda value: value is not None)


ONE_LINE = accepted(one_line, NAME_MAX)
WINDOW_SETS = [(window(1),), (window(2), window(3)), (window(1, cancelled=True),)]
people = st.lists(st.tuples(ONE_LINE, ONE_LINE), min_size=1, max_size=3)


@st.composite
def notices(draw):
    services = tuple(
        ServiceLine(f"SVC-{i}", draw(ONE_LINE), "10G", draw(ONE_LINE), line.impact, 30)
        for i, line in enumerate(notice().services)
    )
    view = notice(
        kind=draw(st.sampled_from(list(NoticeKind))),
        title=draw(accepted(one_line, TITLE_MAX)) or "t",
        description=draw(accepted(multi_line, DESCRIPTION_MAX)),
        reason=draw(accepted(multi_line, REASON_MAX)),
        work_location=draw(accepted(one_line, WORK_LOCATION_MAX)),
        contact=Contact(draw(ONE_LINE), "cm@example.net", draw(ONE_LINE)),
        customer=CustomerView("ACC-1", draw(ONE_LINE), draw(st.sampled_from(["UTC", "America/Chicago"]))),
        services=services,
        windows=draw(st.sampled_from(WINDOW_SETS)),
        changes=(draw(ONE_LINE),),
        note=draw(ONE_LINE),
        reminder_window=1,
        reminder_offset_hours=72,
    )
    recipients = [
        Recipient(10 + i, f"c{i}@acme.example", name, f"tok-{i}", delivery_id=500 + i, organisation=org)
        for i, (name, org) in enumerate(draw(people))
    ]
    return view, recipients


UNSUBSCRIBE = re.compile(
    r"<mailto:unsubscribe@example\.net\?subject=unsubscribe-tok-\d+>, "
    r"<https://cm\.example\.net/unsubscribe/tok-\d+>"
)


def literal(name: str) -> str:
    return header_safe(name)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=notices())
def test_every_email_from_hostile_text_parses_with_one_literal_recipient_and_its_calendar(case):
    view, recipients = case
    message = build_email(view, recipients, SETTINGS)
    for recipient in message.recipients:
        raw = message.email_for(recipient).as_bytes()
        fields = raw_fields(raw)
        assert {name for name, _, _ in fields} == NOTICE_HEADERS and len(fields) == len(NOTICE_HEADERS)
        assert all(len(line) <= 998 for _, _, lines in fields for line in lines)
        to = mailboxes(raw, "To")
        assert to["compat32"] == [(literal(recipient.name), recipient.email)]
        [(shown, address)] = to["default"]  # policy.default keeps spaces between encoded words
        assert address == recipient.email and shown.replace(" ", "") == literal(recipient.name).replace(" ", "")
        assert [a for _, a in mailboxes(raw, "From")["compat32"]] == ["change-management@example.net"]
        assert [a for _, a in mailboxes(raw, "Reply-To")["default"]] == ["change-management@example.net"]
        subject = header_safe(message.rendered_for(recipient).subject)
        assert subjects(raw) == {"default": subject, "compat32": subject}
        assert UNSUBSCRIBE.fullmatch(raw_field(raw, "List-Unsubscribe"))
        greeted = literal(recipient.organisation or view.customer.name)
        assert f"Dear {greeted} team," in message.rendered_for(recipient).text
    calendar = icalendar.Calendar.from_ical(message.ics)
    assert all(component.errors == [] for component in calendar.walk())
    assert len(calendar.walk("VEVENT")) == len(view.windows)
    body = sendgrid_body(message)
    assert list(VALIDATOR.iter_errors(body)) == [] and extra_problems(body) == []
