"""The one iCalendar event builder behind email attachments and feeds (SPEC §5).

One VEVENT per (GCR, window, customer), with the BCOP (draft-gunter-calext-maintenance-
notifications) X-MAINTNOTE properties that customers' tools, such as
circuit-maintenance-parser, read. Pure: the same input gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from icalendar import STATUS, Calendar, Event, vCalAddress, vDuration, vText

from changemgmt.content.ical_lines import (
    escape_icalendar_text,
    escape_text,
    fold,
    parameter_prefix,
    raw_line,
    stamp_text,
    text_line,
)
from changemgmt.content.view import NoticeView, ServiceLine, WindowView
from changemgmt.domain.gcr import Contact
from changemgmt.domain.impact import worst
from changemgmt.domain.status import Status
from changemgmt.domain.timefmt import duration_text, local_and_utc, require_aware

PRODID = "-//changemgmt//Maintenance notices//EN"


class Text(vText):
    """TEXT escaped as RFC 5545 §3.3.11 says, and nothing else. icalendar's own escaping
    first reads a backslash and an "N" as a line break, so `C:\\Network` would be written
    as "C:", a line break and "etwork"; for any other text the two write the same bytes."""

    encoding: str  # set by vText.__new__, which does not declare it

    def to_ical(self) -> bytes:
        return escape_text(str(self)).encode(self.encoding)


UTC = UTC


@dataclass(frozen=True)
class EventFacts:
    """What every window's event of one GCR says to one customer."""

    gcr_number: str
    title: str
    description: str
    reason: str
    work_location: str
    status: Status
    emergency: bool
    organizer: Contact  # Change Management: whom to ask, quoting the GCR
    account: str  # "" for the internal all-customer event (no X-MAINTNOTE-ACCOUNT)
    time_zone: str  # the customer's zone, for the local times in DESCRIPTION
    services: tuple[ServiceLine, ...]

    @classmethod
    def from_view(cls, view: NoticeView, fallback_organizer: Contact | None = None) -> EventFacts:
        organizer = view.contact if view.contact.email or fallback_organizer is None else fallback_organizer
        return cls(
            gcr_number=view.gcr_number,
            title=view.title,
            description=view.description,
            reason=view.reason,
            work_location=view.work_location,
            status=view.status,
            emergency=view.emergency,
            organizer=organizer,
            account=view.customer.account,
            time_zone=view.customer.time_zone,
            services=view.services,
        )


def event_uid(gcr_number: str, window_number: int, account: str, provider_domain: str) -> str:
    """Stable for ever: `<GCR>-W<n>-<account>@<provider domain>`; `<GCR>-W<n>@<provider
    domain>` for the internal feed's event, which covers every account."""
    if not account:
        return f"{gcr_number}-W{window_number}@{provider_domain}"
    return f"{gcr_number}-W{window_number}-{account}@{provider_domain}"


def maintenance_id(gcr_number: str, window_number: int) -> str:
    """Window 1 is the GCR itself; window n > 1 is `<GCR>-<n>`."""
    return gcr_number if window_number == 1 else f"{gcr_number}-{window_number}"


def is_cancelled(facts: EventFacts, window: WindowView) -> bool:
    return window.cancelled or facts.status is Status.CANCELLED


def summary_text(facts: EventFacts, window: WindowView) -> str:
    kind = "Emergency maintenance" if facts.emergency else "Planned maintenance"
    text = f"[{facts.gcr_number}] {facts.title} — {kind}"
    if window.number > 1:
        text += f" (window {window.number})"
    return f"CANCELLED: {text}" if is_cancelled(facts, window) else text


def service_text(line: ServiceLine) -> str:
    """'ETH-1: Ethernet 10G 10 Gbps, DLLSTX01 (Dallas, TX). Impact: OUTAGE, max outage 30 min'."""
    what = " ".join(x for x in (line.product, line.bandwidth) if x)
    text = ", ".join(x for x in (what, line.location) if x)
    impact = f"Impact: {line.impact.value}"
    if line.max_outage_minutes is not None:
        impact += f", max outage {line.max_outage_minutes} min"
    return f"{line.service_id}: {text}. {impact}" if text else f"{line.service_id}. {impact}"


def description_text(facts: EventFacts, window: WindowView) -> str:
    contact = facts.organizer
    reach = ", ".join(x for x in (contact.name, contact.email, contact.phone) if x)
    lines = [f"{facts.gcr_number}: {facts.title}", ""]
    if is_cancelled(facts, window):
        lines += ["This maintenance window is CANCELLED.", ""]
    lines += [f"Work: {facts.description}"]
    if facts.reason:
        lines.append(f"Why: {facts.reason}")
    lines += [
        f"Start: {local_and_utc(window.start, facts.time_zone)}",
        f"End: {local_and_utc(window.end, facts.time_zone)}",
        f"Duration: {duration_text(window.start, window.end)}",
    ]
    if facts.work_location:
        lines.append(f"Location: {facts.work_location}")
    lines += ["", f"Your services (account {facts.account}):" if facts.account else "Impacted services:"]
    lines += [f"- {service_text(line)}" for line in facts.services]
    lines += ["", f"Questions: {reach}, quoting {facts.gcr_number}."]
    return "\n".join(lines)


def _organizer(contact: Contact) -> vCalAddress:
    address = vCalAddress(f"mailto:{contact.email}")
    if contact.name:
        address.params["CN"] = contact.name
    return address


def _utc(value: datetime, what: str) -> datetime:
    return require_aware(value, what).astimezone(UTC)


def _add_bcop(event: Event, facts: EventFacts, window: WindowView, provider_domain: str) -> None:
    # Plain str X- values would be written unescaped (STANDARDS B6): always Text (a vText).
    event.add("X-MAINTNOTE-PROVIDER", Text(provider_domain))
    if facts.account:
        event.add("X-MAINTNOTE-ACCOUNT", Text(facts.account))
    event.add("X-MAINTNOTE-MAINTENANCE-ID", Text(maintenance_id(facts.gcr_number, window.number)))
    per_object = len(facts.services) > 1
    for line in facts.services:
        params = {"X-MAINTNOTE-OBJECT-IMPACT": line.impact.value} if per_object else {}
        event.add("X-MAINTNOTE-OBJECT-ID", Text(line.service_id), parameters=params)
    event.add("X-MAINTNOTE-IMPACT", Text(worst(s.impact for s in facts.services).value))
    status = "CANCELLED" if is_cancelled(facts, window) else facts.status.maintnote_status
    event.add("X-MAINTNOTE-STATUS", Text(status))


def build_event(facts: EventFacts, window: WindowView, *, provider_domain: str, stamp: datetime) -> Event:
    """One VEVENT. `stamp` is DTSTAMP: the time of issue for an email attachment, the
    revision time (window.last_modified) for a feed (SPEC §3.1)."""
    status = "CANCELLED" if is_cancelled(facts, window) else facts.status.ical_status
    event = Event.new(
        uid=event_uid(facts.gcr_number, window.number, facts.account, provider_domain),
        stamp=_utc(stamp, "DTSTAMP"),
        last_modified=_utc(window.last_modified, "LAST-MODIFIED"),
        sequence=window.sequence,
        start=_utc(window.start, "DTSTART"),
        end=_utc(window.end, "DTEND"),
        summary=summary_text(facts, window),
        description=description_text(facts, window),
        location=facts.work_location or None,
        organizer=_organizer(facts.organizer) if facts.organizer.email else None,
        status=STATUS(status),
    )
    for name in ("SUMMARY", "DESCRIPTION", "LOCATION"):
        if name in event:  # replaced in place: the properties keep their order
            event[name] = Text(str(event[name]))
    _add_bcop(event, facts, window, provider_domain)
    return event


def notice_events(
    facts: EventFacts, windows: Iterable[WindowView], *, provider_domain: str, stamp: datetime
) -> list[Event]:
    """All windows of one notice, in window order, sharing one DTSTAMP."""
    ordered = sorted(windows, key=lambda w: w.number)
    return [build_event(facts, w, provider_domain=provider_domain, stamp=stamp) for w in ordered]


def build_calendar(events: Iterable[Event], *, uid: str, name: str | None = None, prodid: str = PRODID) -> Calendar:
    """A calendar for an email attachment: VERSION, PRODID, UID, no METHOD (the BCOP
    default; a METHOD would have to match a MIME method parameter we do not send)."""
    return _exact_names(Calendar.new(prodid=prodid, uid=uid, name=name, subcomponents=list(events)))


def _exact_names(calendar: Calendar) -> Calendar:
    for name in ("NAME", "X-WR-CALNAME"):
        if name in calendar:  # replaced in place: the properties keep their order
            calendar[name] = Text(str(calendar[name]))
    return calendar


def feed_calendar(
    events: Iterable[Event], *, uid: str, name: str, refresh: timedelta, source: str | None = None, prodid: str = PRODID
) -> Calendar:
    """A subscription feed: NAME and X-WR-CALNAME once each (Calendar.new writes both),
    REFRESH-INTERVAL with its required VALUE=DURATION (STANDARDS A31-A34), no METHOD."""
    calendar = _exact_names(Calendar.new(prodid=prodid, uid=uid, name=name, subcomponents=list(events)))
    calendar.add("REFRESH-INTERVAL", refresh, parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", vDuration(refresh))
    if source:
        calendar.add("SOURCE", source, parameters={"VALUE": "URI"})
    return calendar


def event_bytes(facts: EventFacts, window: WindowView, *, provider_domain: str, stamp: datetime) -> bytes:
    """`build_event(...).to_ical()`, byte for byte, from the lines every customer of the
    GCR shares (built by icalendar once) and the customer's own lines, written here."""
    own_stamp = raw_line("DTSTAMP", stamp_text(_utc(stamp, "DTSTAMP")))
    modified = raw_line("LAST-MODIFIED", stamp_text(_utc(window.last_modified, "LAST-MODIFIED")))
    shared = _shared_lines(
        _SharedKey(
            facts.gcr_number,
            facts.title,
            facts.work_location,
            facts.status,
            facts.emergency,
            facts.organizer,
            window.number,
            _utc(window.start, "DTSTART"),
            _utc(window.end, "DTEND"),
            window.cancelled,
            provider_domain,
        )
    )
    uid = event_uid(facts.gcr_number, window.number, facts.account, provider_domain)
    per_object = len(facts.services) > 1
    return b"".join(
        (
            b"BEGIN:VEVENT\r\n",
            shared.head,
            own_stamp,
            _icalendar_text_line("UID", uid),
            raw_line("SEQUENCE", str(window.sequence)),
            text_line("DESCRIPTION", description_text(facts, window)),
            modified,
            shared.middle,
            text_line("X-MAINTNOTE-ACCOUNT", facts.account) if facts.account else b"",
            text_line("X-MAINTNOTE-IMPACT", worst(s.impact for s in facts.services).value),
            shared.maintenance_id,
            *(_object_line(line, per_object) for line in facts.services),
            shared.tail,
            b"END:VEVENT\r\n",
        )
    )


def _object_line(line: ServiceLine, per_object: bool) -> bytes:
    if not per_object:
        return text_line("X-MAINTNOTE-OBJECT-ID", line.service_id)
    prefix = parameter_prefix("X-MAINTNOTE-OBJECT-ID", (("X-MAINTNOTE-OBJECT-IMPACT", line.impact.value),))
    return fold(f"{prefix}{escape_text(line.service_id).removeprefix(chr(0xFEFF))}".encode())


@dataclass(frozen=True)
class _SharedKey:
    """What the lines every customer's event of one GCR window shares depend on."""

    gcr_number: str
    title: str
    work_location: str
    status: Status
    emergency: bool
    organizer: Contact
    window_number: int
    start: datetime  # in UTC: equal keys are equal instants
    end: datetime
    cancelled: bool
    provider_domain: str


@dataclass(frozen=True)
class _SharedLines:
    head: bytes  # SUMMARY, DTSTART, DTEND
    middle: bytes  # LOCATION, ORGANIZER, STATUS
    maintenance_id: bytes
    tail: bytes  # X-MAINTNOTE-PROVIDER, X-MAINTNOTE-STATUS


# One entry per GCR window (and revision of what it shows): a fan-out uses a handful, a
# full feed rebuild one per window of every GCR still shown.
@lru_cache(maxsize=8192)
def _shared_lines(key: _SharedKey) -> _SharedLines:
    facts = EventFacts(
        key.gcr_number, key.title, "", "", key.work_location, key.status, key.emergency, key.organizer, "", "UTC", ()
    )
    window = WindowView(key.window_number, key.start, key.end, 0, key.start, cancelled=key.cancelled)
    event = build_event(facts, window, provider_domain=key.provider_domain, stamp=key.start)

    def lines(*names: str) -> bytes:
        return b"".join(event.content_line(n, event[n]).to_ical() + b"\r\n" for n in names if n in event)

    return _SharedLines(
        head=lines("SUMMARY", "DTSTART", "DTEND"),
        middle=lines("LOCATION", "ORGANIZER", "STATUS"),
        maintenance_id=lines("X-MAINTNOTE-MAINTENANCE-ID"),
        tail=lines("X-MAINTNOTE-PROVIDER", "X-MAINTNOTE-STATUS"),
    )


def notice_calendar_bytes(
    facts: EventFacts, windows: Iterable[WindowView], *, uid: str, provider_domain: str, stamp: datetime
) -> bytes:
    """`calendar_bytes(build_calendar(notice_events(...), uid=uid))`, byte for byte: the
    email attachment."""
    ordered = sorted(windows, key=lambda w: w.number)
    events = [event_bytes(facts, w, provider_domain=provider_domain, stamp=stamp) for w in ordered]
    header = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + _icalendar_text_line("PRODID", PRODID)
    return b"".join((header, _icalendar_text_line("UID", uid), *events, b"END:VCALENDAR\r\n"))


def feed_calendar_bytes(
    *, uid: str, name: str, refresh: timedelta, source: str | None = None, prodid: str = PRODID
) -> bytes:
    """`calendar_bytes(feed_calendar([], ...))`, byte for byte: a feed's header, written
    for each of thousands of feeds without icalendar's per-character folding."""
    return b"".join(
        (
            b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n",
            _icalendar_text_line("PRODID", prodid),
            text_line("NAME", name),
            text_line("X-WR-CALNAME", name),
            _refresh_lines(refresh)[0],
            raw_line("SOURCE;VALUE=URI", source) if source else b"",
            _icalendar_text_line("UID", uid),
            _refresh_lines(refresh)[1],
            b"END:VCALENDAR\r\n",
        )
    )


def _icalendar_text_line(name: str, value: str) -> bytes:
    return raw_line(name, escape_icalendar_text(value).removeprefix("\ufeff"))


@lru_cache(maxsize=16)
def _refresh_lines(refresh: timedelta) -> tuple[bytes, bytes]:
    """REFRESH-INTERVAL and X-PUBLISHED-TTL, as icalendar writes them."""
    calendar = feed_calendar([], uid="-", name="-", refresh=refresh)
    return tuple(
        calendar.content_line(n, calendar[n]).to_ical() + b"\r\n" for n in ("REFRESH-INTERVAL", "X-PUBLISHED-TTL")
    )


def calendar_bytes(calendar: Calendar) -> bytes:
    """The serialized calendar: UTF-8, CRLF, folded at 75 octets."""
    data: bytes = calendar.to_ical()  # Component.to_ical has no return annotation
    return data
