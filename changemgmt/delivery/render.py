"""A notice as a rendered triple (subject, text, html) from `templates/email/<kind>/`.

Templates get only the plain dict `notice_context()` builds: no ORM objects, settings or
secrets. Operators may override any template by putting a file of the same name in
TEMPLATES_DIR, which is searched before the built-in folder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, Template
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

import changemgmt
from changemgmt.config import Settings
from changemgmt.content.view import CustomerView, NoticeView, ServiceLine, WindowView, shown_numbers
from changemgmt.delivery.headers import header_safe
from changemgmt.domain.notice import NoticeKind, status_label
from changemgmt.domain.status import Status
from changemgmt.domain.timefmt import duration_text, local_and_utc, local_day, time_left, utc_text

ENTERPRISE_LINES_KEPT = 4096  # enterprises' feed lines a renderer keeps (then it starts again)
ORGANISATION_MAX = 1000  # a name stored before the input limits, cut to fit a substitution
# Zones whose times local_and_utc() writes in UTC alone (their abbreviation is UTC).
UTC_ZONES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Zulu", "Zulu", "Etc/Universal", "Universal"})


@dataclass(frozen=True)
class RecipientLinks:
    """A recipient's own links in the footer: its preferences and unsubscribe pages, and
    (for an enterprise's contact) its enterprise feed's lines, as text and as HTML."""

    preferences: str = ""
    unsubscribe: str = ""
    enterprise_text: str = ""
    enterprise_html: str = ""


# What a copy addressed to no one (a preview for a customer without contacts) shows.
NO_LINKS = RecipientLinks("(each recipient's own preferences link)", "(each recipient's own unsubscribe link)")


@dataclass(frozen=True)
class OrganisationKeys:
    """Where each copy of one rendering shows what is its recipient's own: the
    organisation its greeting names, its preferences and unsubscribe links, and its
    enterprise feed. Each is a key in the text part and one in the HTML part, which every
    transport replaces per recipient (file and SMTP copies, SendGrid `substitutions`). A
    key is derived from the notice's identity, so no text a user typed holds it; were one
    to, it would show only that copy's own recipient's values."""

    text: str
    html: str
    preferences_text: str = ""
    preferences_html: str = ""
    unsubscribe_text: str = ""
    unsubscribe_html: str = ""
    enterprise_text: str = ""
    enterprise_html: str = ""

    @classmethod
    def for_notice(cls, view: NoticeView) -> OrganisationKeys:
        seed = f"{view.gcr_number}\n{view.notice_id}\n{view.customer.account}\n{view.issued_at.isoformat()}"
        digest = hashlib.sha256(seed.encode()).hexdigest()[:16]
        names = ("org", "orghtml", "prefs", "prefshtml", "unsub", "unsubhtml", "ent", "enthtml")
        return cls(*(f"-{name}-{digest}-" for name in names))

    def text_context(self) -> dict[str, str]:
        return {
            "organisation": self.text,
            "preferences_url": self.preferences_text,
            "unsubscribe_url": self.unsubscribe_text,
            "enterprise_feed": self.enterprise_text,
        }

    def html_context(self) -> dict[str, str]:
        return {
            "organisation": self.html,
            "preferences_url": self.preferences_html,
            "unsubscribe_url": self.unsubscribe_html,
            "enterprise_feed": self.enterprise_html,
        }

    def values(self, organisation: str, links: RecipientLinks = NO_LINKS) -> dict[str, str]:
        """What each key becomes in a copy for a recipient of `organisation` with these
        links (the name at most ORGANISATION_MAX characters: SendGrid takes 10,000 bytes of
        substitutions)."""
        name = header_safe(organisation)[:ORGANISATION_MAX]
        values = {self.text: name, self.html: str(escape(name))}
        if self.preferences_text:
            values |= {
                self.preferences_text: links.preferences,
                self.preferences_html: str(escape(links.preferences)),
                self.unsubscribe_text: links.unsubscribe,
                self.unsubscribe_html: str(escape(links.unsubscribe)),
                self.enterprise_text: links.enterprise_text,
                self.enterprise_html: links.enterprise_html,
            }
        return values


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    keys: OrganisationKeys | None = None  # None: rendered for one organisation, nothing to replace


def default_template_dir() -> Path:
    return Path(changemgmt.__file__).resolve().parents[1] / "templates" / "email"


def template_dirs(override: str | Path | None = None) -> list[Path]:
    """The search path: the operator's folder (if any) first, then the built-in one."""
    dirs = [Path(override)] if override else []
    return dirs + [default_template_dir()]


def nl2br(value: object) -> Markup:
    """Escapes the text and keeps its line breaks in HTML."""
    return Markup("<br>\n").join(escape(line) for line in str(value).splitlines())


# What `a.b` finds as an attribute of a dict: anything else is the key "b".
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with `a.b` on the context's plain dicts read as the key it always
    resolves to, without first failing to find the attribute: the templates do this a
    few hundred times a notice, and the failed lookup (an exception each time) was a
    tenth of the worker's time (bench/fanout.py). Anything else goes through the
    sandbox's checks as before."""

    def getattr(self, obj: object, attribute: str) -> object:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def _environment(dirs: Sequence[Path], autoescape: bool, reload: bool) -> ImmutableSandboxedEnvironment:
    # Sandboxed because operators edit these templates (STANDARDS F11).
    env = _Sandbox(
        loader=FileSystemLoader([str(d) for d in dirs]),
        undefined=StrictUndefined,
        autoescape=autoescape,
        # Without reload, Jinja2 would stat every template file on every get_template.
        auto_reload=reload,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["nl2br"] = nl2br
    return env


def _window(window: WindowView, zone: str, shown: int, numbered: bool) -> dict:
    moved, previous_start, previous_end = False, "", ""
    if window.previous_start is not None and window.previous_end is not None:
        moved = True
        previous_start = local_and_utc(window.previous_start, zone)
        previous_end = local_and_utc(window.previous_end, zone)
    return {
        "number": shown,  # as the customer knows it (view.shown_numbers)
        "label": f"Window {shown}" if numbered else "",
        "start": local_and_utc(window.start, zone),
        "end": local_and_utc(window.end, zone),
        "start_utc": utc_text(window.start),
        "end_utc": utc_text(window.end),
        "duration": duration_text(window.start, window.end),
        "cancelled": window.cancelled,
        "moved": moved,
        "previous_start": previous_start,
        "previous_end": previous_end,
    }


def _service(line: ServiceLine) -> dict:
    minutes = line.max_outage_minutes
    return {
        "service_id": line.service_id,
        "product": line.product,
        "bandwidth": line.bandwidth,
        "location": line.location,
        "impact": line.impact.value,
        "impact_label": line.impact.label,
        "max_outage": f"{minutes} min" if minutes is not None else "",
    }


def _reminder(view: NoticeView, numbers: dict[int, int]) -> dict | None:
    """The window a reminder is about, and the time left until it from the notice's
    issue (a reminder sent late says so: '5 h', not its offset's '72 h')."""
    number = view.reminder_window
    if number is None:
        return None
    window = next((w for w in view.windows if w.number == number), None)
    short, long = time_left(view.issued_at, window.start) if window and window.start > view.issued_at else ("", "")
    label = f"window {numbers[number]}" if len(numbers) > 1 and number in numbers else ""
    return {
        "window": numbers.get(number, number),
        "window_label": label,
        "starts_in": long,
        "starts_in_short": short,
        "hours": view.reminder_offset_hours,
    }


def _first_day(view: NoticeView) -> str:
    """The local day of the first window still planned (of the first one, if none is)."""
    ordered = sorted(view.windows, key=lambda w: w.start)
    first = next((w for w in ordered if not w.cancelled), ordered[0] if ordered else None)
    return local_day(first.start, view.customer.time_zone) if first else ""


def _lead(customer: CustomerView) -> dict[str, str] | None:
    """The customer's account lead, when it has one (named under Questions)."""
    if not (customer.lead_name or customer.lead_email):
        return None
    return {"name": customer.lead_name, "email": customer.lead_email, "phone": customer.lead_phone}


def notice_context(
    view: NoticeView, *, provider_name: str, organisation: str | None = None, feed: Mapping[str, str] | None = None
) -> dict:
    """Everything the templates may show, as plain values, times already formatted.
    `organisation`: whom the greeting addresses (default: the notice's customer); `feed`:
    the customer's calendar feed URLs ({"https", "webcal"}), None when it has none."""
    zone = view.customer.time_zone
    numbers = shown_numbers(view.windows)
    cancelled = view.kind is NoticeKind.CANCELLED
    return {
        "provider_name": provider_name,
        "kind": view.kind.value,
        "kind_word": view.kind.subject_word,
        "notice_id": view.notice_id,
        "gcr_number": view.gcr_number,
        "title": view.title,
        "description": view.description,
        "reason": view.reason,
        "work_location": view.work_location,
        "status": view.status.value,
        # A cancelled notice is the end of it for this customer, whatever the others see.
        "status_label": status_label(Status.CANCELLED if cancelled else view.status),
        "cancelled": cancelled,
        "emergency": view.emergency,
        "customer": {"account": view.customer.account, "name": view.customer.name, "time_zone": zone},
        "zone_note": "times in UTC" if zone in UTC_ZONES else f"times in {zone}, with UTC",
        "recipient": {
            "organisation": view.customer.name if organisation is None else organisation,
            "preferences_url": "",
            "unsubscribe_url": "",
            "enterprise_feed": "",
        },
        "feed": dict(feed) if feed else None,
        "contact": {"name": view.contact.name, "email": view.contact.email, "phone": view.contact.phone},
        "lead": _lead(view.customer),
        "windows": [
            _window(w, zone, numbers[w.number], len(numbers) > 1) for w in sorted(view.windows, key=lambda w: w.number)
        ],
        "first_day": _first_day(view),
        "services": [_service(s) for s in view.services],
        "worst_impact": view.worst_impact.value,
        "changes": list(view.changes),
        "note": view.note,
        "reminder": _reminder(view, numbers),
        "issued": utc_text(view.issued_at),
    }


class Renderer:
    """Renders notices from the template folders; reusable and thread-safe. Each template
    is read once, when first used; `reload=True` (for editing templates) re-reads a
    template whose file has changed."""

    def __init__(self, dirs: Sequence[Path] | None = None, *, reload: bool = False) -> None:
        self.dirs = list(dirs) if dirs else template_dirs()
        self.reload = reload
        self._text = _environment(self.dirs, autoescape=False, reload=reload)
        self._html = _environment(self.dirs, autoescape=True, reload=reload)
        self._loaded: dict[str, Template] = {}
        self._enterprise_lines: dict[tuple, RecipientLinks] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Renderer:
        """The operator's folder (`settings.templates_dir`, if set) before the built-in one."""
        return cls(template_dirs(settings.templates_dir))

    def render_context(
        self, kind: str, context: Mapping[str, object], html_context: Mapping[str, object] | None = None
    ) -> RenderedEmail:
        subject = self._template(self._text, f"{kind}/subject.txt").render(context)
        text = self._template(self._text, f"{kind}/body.txt").render(context)
        html = self._template(self._html, f"{kind}/body.html").render(html_context or context)
        return RenderedEmail(subject=header_safe(subject), text=text, html=html)

    def _template(self, env: ImmutableSandboxedEnvironment, name: str) -> Template:
        if self.reload:
            return env.get_template(name)
        key = f"{'html' if env is self._html else 'text'}:{name}"
        template = self._loaded.get(key)
        if template is None:  # two threads may both load it: either copy is the same
            template = self._loaded[key] = env.get_template(name)
        return template

    def render(self, view: NoticeView, *, provider_name: str, feed: Mapping[str, str] | None = None) -> RenderedEmail:
        """One rendering for every recipient of the notice, what is each recipient's own
        (organisation, links) left as keys (RenderedEmail.keys) for each copy to fill in."""
        keys = OrganisationKeys.for_notice(view)
        context = notice_context(view, provider_name=provider_name, feed=feed)
        text_context = {**context, "recipient": keys.text_context()}
        rendered = self.render_context(view.kind.value, text_context, {**context, "recipient": keys.html_context()})
        return replace(rendered, keys=keys)

    def render_for(
        self, view: NoticeView, *, provider_name: str, organisation: str, links: RecipientLinks = NO_LINKS
    ) -> RenderedEmail:
        """The notice as a recipient of `organisation` reads it."""
        rendered = self.render(view, provider_name=provider_name)
        return personalised(rendered, organisation, links)

    def enterprise_feed(self, name: str, feed: Mapping[str, str]) -> RecipientLinks:
        """The lines naming an enterprise's feed, for its contacts' footers (text, HTML):
        rendered once per enterprise and feed (a fan-out names each in many notices)."""
        key = (name, *sorted(feed.items()))
        lines = self._enterprise_lines.get(key)
        if lines is None or self.reload:
            context = {"enterprise": {"name": name, **feed}}
            lines = RecipientLinks(
                enterprise_text=self._template(self._text, "enterprise_feed.txt").render(context),
                enterprise_html=self._template(self._html, "enterprise_feed.html").render(context),
            )
            if len(self._enterprise_lines) >= ENTERPRISE_LINES_KEPT:
                self._enterprise_lines.clear()
            self._enterprise_lines[key] = lines
        return lines


def personalised(rendered: RenderedEmail, organisation: str, links: RecipientLinks = NO_LINKS) -> RenderedEmail:
    """A rendering with its recipient keys replaced for one recipient."""
    if rendered.keys is None:
        return rendered
    values = rendered.keys.values(organisation, links)
    return RenderedEmail(
        subject=_fill(rendered.subject, values), text=_fill(rendered.text, values), html=_fill(rendered.html, values)
    )


def _fill(text: str, values: Mapping[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(key, value)
    return text
