"""A notice as a rendered triple (subject, text, html) from `templates/email/<kind>/`.

Templates get only the plain dict `notice_context()` builds: no ORM objects, settings or
secrets. Operators may override any template by putting a file of the same name in
TEMPLATES_DIR, which is searched before the built-in folder.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

import changemgmt
from changemgmt.domain.status import Status
from changemgmt.domain.timefmt import duration_text, local_and_utc, utc_text
from changemgmt.notify.headers import header_safe
from changemgmt.notify.view import NoticeView, ServiceLine, WindowView

STATUS_LABELS = {
    Status.DRAFT: "Draft",
    Status.TENTATIVE: "Tentative",
    Status.CONFIRMED: "Confirmed",
    Status.IN_PROGRESS: "In progress",
    Status.COMPLETED: "Completed",
    Status.CANCELLED: "Cancelled",
}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def default_template_dir() -> Path:
    return Path(changemgmt.__file__).resolve().parents[1] / "templates" / "email"


def template_dirs(override: str | Path | None = None) -> list[Path]:
    """The search path: the operator's folder (if any) first, then the built-in one."""
    dirs = [Path(override)] if override else []
    return dirs + [default_template_dir()]


def nl2br(value: object) -> Markup:
    """Escapes the text and keeps its line breaks in HTML."""
    return Markup("<br>\n").join(escape(line) for line in str(value).splitlines())


def _environment(dirs: Sequence[Path], autoescape: bool) -> ImmutableSandboxedEnvironment:
    # Sandboxed because operators edit these templates (STANDARDS F11).
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader([str(d) for d in dirs]),
        undefined=StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["nl2br"] = nl2br
    return env


def _window(window: WindowView, zone: str) -> dict:
    moved = window.previous_start is not None and window.previous_end is not None
    return {
        "number": window.number,
        "start": local_and_utc(window.start, zone),
        "end": local_and_utc(window.end, zone),
        "start_utc": utc_text(window.start),
        "end_utc": utc_text(window.end),
        "duration": duration_text(window.start, window.end),
        "cancelled": window.cancelled,
        "moved": moved,
        "previous_start": local_and_utc(window.previous_start, zone) if moved else "",
        "previous_end": local_and_utc(window.previous_end, zone) if moved else "",
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


def notice_context(view: NoticeView, *, provider_name: str) -> dict:
    """Everything the templates may show, as plain values, times already formatted."""
    zone = view.customer.time_zone
    reminder = None
    if view.reminder_window is not None:
        reminder = {"window": view.reminder_window, "hours": view.reminder_offset_hours}
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
        "status_label": STATUS_LABELS[view.status],
        "emergency": view.emergency,
        "customer": {"account": view.customer.account, "name": view.customer.name, "time_zone": zone},
        "contact": {"name": view.contact.name, "email": view.contact.email, "phone": view.contact.phone},
        "windows": [_window(w, zone) for w in sorted(view.windows, key=lambda w: w.number)],
        "services": [_service(s) for s in view.services],
        "worst_impact": view.worst_impact.value,
        "changes": list(view.changes),
        "note": view.note,
        "reminder": reminder,
        "issued": utc_text(view.issued_at),
    }


class Renderer:
    """Renders notices from the template folders; reusable and thread-safe."""

    def __init__(self, dirs: Sequence[Path] | None = None) -> None:
        self.dirs = list(dirs) if dirs else template_dirs()
        self._text = _environment(self.dirs, autoescape=False)
        self._html = _environment(self.dirs, autoescape=True)

    @classmethod
    def from_settings(cls, settings: object, env: Mapping[str, str] | None = None) -> "Renderer":
        """Override folder from `settings.templates_dir` or TEMPLATES_DIR, if set."""
        env = os.environ if env is None else env
        override = getattr(settings, "templates_dir", None) or env.get("TEMPLATES_DIR") or None
        return cls(template_dirs(override))

    def render_context(self, kind: str, context: Mapping[str, object]) -> RenderedEmail:
        subject = self._text.get_template(f"{kind}/subject.txt").render(context)
        text = self._text.get_template(f"{kind}/body.txt").render(context)
        html = self._html.get_template(f"{kind}/body.html").render(context)
        return RenderedEmail(subject=header_safe(subject), text=text, html=html)

    def render(self, view: NoticeView, *, provider_name: str) -> RenderedEmail:
        return self.render_context(view.kind.value, notice_context(view, provider_name=provider_name))
