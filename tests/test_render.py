"""Rendering a notice into subject, text and HTML from the template folders (SPEC §4)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from jinja2 import UndefinedError
from jinja2.exceptions import SecurityError

from changemgmt.config import Settings, load_settings
from changemgmt.delivery.render import Renderer, default_template_dir, header_safe, notice_context
from changemgmt.domain.notice import NoticeKind
from changemgmt.domain.status import Status
from support.views import customer, notice, window

UTC = UTC
PROVIDER = "Example Networks"


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def render(renderer, **changes):
    """The notice as a recipient at its customer reads it."""
    return renderer.render_for(notice(**changes), provider_name=PROVIDER, organisation="Acme Corp")


def html_text(html: str) -> str:
    """The words a reader of the HTML part sees."""
    text = re.sub(r"<[^>]+>", " ", html)
    text = text.replace("&middot;", "·").replace("&amp;", "&").replace("&#39;", "'").replace("&#34;", '"')
    return " ".join(text.split())


def spring_forward_window():
    # 2026-03-08 02:00 America/Chicago does not exist: CST before, CDT after.
    return window(1, start=datetime(2026, 3, 8, 7, 0, tzinfo=UTC), hours=2)


@pytest.mark.parametrize(
    "zone, start, end",
    [
        ("America/Chicago", "Sun 8 Mar 2026 01:00 CST (07:00 UTC)", "Sun 8 Mar 2026 04:00 CDT (09:00 UTC)"),
        ("UTC", "Sun 8 Mar 2026 07:00 UTC", "Sun 8 Mar 2026 09:00 UTC"),
        ("Europe/Berlin", "Sun 8 Mar 2026 08:00 CET (07:00 UTC)", "Sun 8 Mar 2026 10:00 CET (09:00 UTC)"),
    ],
)
def test_it_shows_window_times_in_the_customer_zone_and_utc_across_dst(renderer, zone, start, end):
    email = render(renderer, customer=customer(zone), windows=(spring_forward_window(),))
    for part in (email.text, html_text(email.html)):
        assert start in part
        assert end in part
        assert "2 h" in part


def test_a_local_day_other_than_the_utc_day_names_both(renderer):
    late = window(1, start=datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    email = render(renderer, windows=(late,))
    assert "Mon 30 Nov 2026 21:00 CST (Tue 1 Dec 2026 03:00 UTC)" in email.text


def key_facts() -> list[str]:
    return [
        "GCR-1001",
        "Fibre splice on the Dallas ring",
        "Splicing a new fibre pair",
        "rising loss after construction damage",
        "Dallas, TX (DLLSTX01)",
        "Confirmed",
        "ETH-10G-0001",
        "Ethernet 10G",
        "DLLSTX01 (Dallas, TX) - FTWOTX02 (Fort Worth, TX)",
        "OUTAGE",
        "30 min",
        "DIA-0042",
        "Dedicated Internet Access",
        "REDUCED-REDUNDANCY",
        "Tue 1 Dec 2026 01:00 CST (07:00 UTC)",
        "Wed 2 Dec 2026 05:00 CST (11:00 UTC)",
        "change-management@example.net",
        "+1 800 555 0100",
        "quoting GCR-1001",
        "ACME-001",
    ]


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_both_parts_carry_the_same_key_information(renderer, kind):
    email = render(renderer, kind=kind)
    seen = html_text(email.html)
    facts = (
        key_facts()
        if kind is not NoticeKind.CANCELLED
        else ["Cancelled" if fact == "Confirmed" else fact for fact in key_facts()]
    )
    for fact in facts:
        assert fact in email.text, fact
        assert fact in seen, fact


@pytest.mark.parametrize(
    "kind, word",
    [
        (NoticeKind.NEW, "New"),
        (NoticeKind.UPDATED, "Updated"),
        (NoticeKind.RESCHEDULED, "Rescheduled"),
        (NoticeKind.REMINDER, "Reminder"),
        (NoticeKind.STARTED, "Started"),
        (NoticeKind.COMPLETED, "Completed"),
        (NoticeKind.CANCELLED, "Cancelled"),
        (NoticeKind.EMERGENCY, "EMERGENCY"),
    ],
)
def test_the_subject_names_the_kind_the_gcr_and_the_title(renderer, kind, word):
    subject = render(renderer, kind=kind).subject
    assert subject.startswith(f"{word}: ")
    assert "GCR-1001" in subject
    assert "Fibre splice on the Dallas ring" in subject


def test_a_reminder_says_when_its_window_starts(renderer):
    email = render(
        renderer,
        kind=NoticeKind.REMINDER,
        reminder_window=2,
        reminder_offset_hours=24,
        issued_at=window(2).start - timedelta(hours=24),
    )
    assert "(starts in 24 h)" in email.subject
    assert "window 2 starts in about 24 hours" in email.text
    assert "window 2 starts in about 24 hours" in html_text(email.html)


@pytest.mark.parametrize(
    "left, short, long",
    [
        (timedelta(hours=5, minutes=10), "5 h", "about 5 hours"),
        (timedelta(hours=1, minutes=35), "1 h 35 min", "1 h 35 min"),
        (timedelta(minutes=20), "20 min", "20 min"),
    ],
)
def test_a_reminder_sent_late_says_the_true_time_left_from_its_issue(renderer, left, short, long):
    email = render(
        renderer,
        kind=NoticeKind.REMINDER,
        reminder_window=1,
        reminder_offset_hours=72,
        issued_at=window(1).start - left,
    )
    assert f"(starts in {short})" in email.subject
    for part in (email.text, html_text(email.html)):
        assert f"window 1 starts in {long} " in part
        assert "72" not in part


def test_a_rescheduled_notice_states_the_change_once(renderer):
    moved = window(
        1,
        previous_start=datetime(2026, 11, 28, 7, 0, tzinfo=UTC),
        previous_end=datetime(2026, 11, 28, 11, 0, tzinfo=UTC),
    )
    changes = (
        "Window 1 moved: Sat 28 Nov 2026 01:00 CST (07:00 UTC) - Sat 28 Nov 2026 05:00 CST (11:00 UTC) -> "
        "Tue 1 Dec 2026 01:00 CST (07:00 UTC) - Tue 1 Dec 2026 05:00 CST (11:00 UTC)",
    )
    email = render(renderer, kind=NoticeKind.RESCHEDULED, windows=(moved, window(2)), changes=changes)
    for part in (email.text, html_text(email.html)):
        assert part.count("Sat 28 Nov 2026 01:00 CST (07:00 UTC)") == 1
        assert part.count("Tue 1 Dec 2026 01:00 CST (07:00 UTC)") == 2  # what changed, and when


def test_a_rescheduled_notice_shows_the_old_and_the_new_times(renderer):
    moved = window(
        1,
        previous_start=datetime(2026, 11, 28, 7, 0, tzinfo=UTC),
        previous_end=datetime(2026, 11, 28, 11, 0, tzinfo=UTC),
    )
    email = render(renderer, kind=NoticeKind.RESCHEDULED, windows=(moved, window(2)))
    for part in (email.text, html_text(email.html)):
        assert "What changed".upper() in part.upper()
        assert "Sat 28 Nov 2026 01:00 CST (07:00 UTC)" in part
        assert "Tue 1 Dec 2026 01:00 CST (07:00 UTC)" in part


def test_an_updated_notice_lists_what_changed(renderer):
    changes = ("Impact of ETH-10G-0001: DEGRADED -> OUTAGE", "Status: Tentative -> Confirmed")
    email = render(renderer, kind=NoticeKind.UPDATED, changes=changes)
    for line in changes:
        assert line in email.text
        assert line.replace(">", "&gt;") in email.html


def test_a_cancelled_notice_carries_its_note_and_marks_cancelled_windows(renderer):
    note = "This maintenance no longer affects your services."
    email = render(
        renderer,
        kind=NoticeKind.CANCELLED,
        note=note,
        status=Status.CONFIRMED,
        windows=(window(1, cancelled=True), window(2, cancelled=True)),
    )
    assert note in email.text and note in email.html
    assert "Window 1 - CANCELLED" in email.text and "Window 2 - CANCELLED" in email.text
    assert "CANCELLED" in html_text(email.html)


@pytest.mark.parametrize(
    "status, note", [(Status.CANCELLED, ""), (Status.CONFIRMED, "This maintenance no longer affects your services.")]
)
def test_a_cancelled_notice_says_what_was_planned_as_cancelled_not_as_an_impact_to_come(renderer, status, note):
    email = render(renderer, kind=NoticeKind.CANCELLED, status=status, note=note, windows=(window(1, cancelled=True),))
    seen = html_text(email.html)
    for part in (email.text, seen):
        assert "Status: Cancelled" in part
        assert "Worst expected impact" not in part and "max outage" not in part.lower()
        assert "Planned before the cancellation: OUTAGE, up to 30 min" in part
        assert "will not affect" in part
    assert "#b3261e" not in email.html  # no red: nothing is coming


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_every_subject_carries_the_first_windows_date_in_the_customers_zone(renderer, kind):
    early = window(1, start=datetime(2026, 12, 1, 3, 0, tzinfo=UTC))  # Mon 30 Nov 21:00 in Chicago
    email = render(renderer, kind=kind, windows=(window(2), early), issued_at=early.start - timedelta(hours=30))
    assert "Mon 30 Nov 2026" in email.subject
    assert "Tue 1 Dec" not in email.subject


def test_when_comes_before_work(renderer):
    email = render(renderer)
    assert email.text.index("WHEN") < email.text.index("WORK")
    seen = html_text(email.html)
    assert seen.index("When (times in") < seen.index("Work Splicing")


def test_windows_are_numbered_as_the_customer_saw_them(renderer):
    email = render(renderer, windows=(window(2), window(3)))
    for part in (email.text, html_text(email.html)):
        assert "Window 1" in part and "Window 2" in part and "Window 3" not in part


def test_a_single_window_seen_is_not_numbered(renderer):
    email = render(
        renderer,
        kind=NoticeKind.REMINDER,
        reminder_window=2,
        windows=(window(2),),
        issued_at=window(2).start - timedelta(hours=24),
    )
    for part in (email.subject, email.text, html_text(email.html)):
        assert "window 2" not in part.lower()
    assert "starts in about 24 hours" in email.text


def test_html_escapes_what_users_typed(renderer):
    email = render(renderer, title="<script>alert(1)</script>", description="a & b <b>bold</b>\nline two")
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert "a &amp; b &lt;b&gt;bold&lt;/b&gt;<br>\nline two" in email.html
    assert "<script>alert(1)</script>" in email.text


def test_the_subject_is_one_line_whatever_the_title(renderer):
    email = render(renderer, title="Splice\r\nBcc: victim@example.org")
    assert "\r" not in email.subject and "\n" not in email.subject
    assert header_safe(" a\r\n b\tc \n") == "a b c"


def test_rendering_is_deterministic(renderer):
    assert render(renderer) == render(renderer)


def test_the_context_is_plain_data():
    context = notice_context(notice(), provider_name=PROVIDER)

    def plain(value) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, str | int | bool)

    assert plain(context)


def test_every_kind_has_its_three_templates():
    for kind in NoticeKind:
        for name in ("subject.txt", "body.txt", "body.html"):
            assert (default_template_dir() / kind.value / name).is_file()


def test_an_operator_folder_overrides_single_templates(tmp_path):
    (tmp_path / "mine" / "new").mkdir(parents=True)
    (tmp_path / "mine" / "new" / "subject.txt").write_text("Heads up {{ gcr_number }}\n")
    renderer = Renderer.from_settings(load_settings({"CHANGEMGMT_HOME": str(tmp_path), "TEMPLATES_DIR": "mine"}))
    email = renderer.render(notice(), provider_name=PROVIDER)
    assert email.subject == "Heads up GCR-1001"
    assert "Splicing a new fibre pair" in email.text  # the body still comes from the built-in folder


def test_a_missing_variable_fails_loudly(tmp_path):
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "subject.txt").write_text("{{ no_such_thing }}\n")
    with pytest.raises(UndefinedError):
        Renderer.from_settings(Settings(templates_dir=tmp_path)).render(notice(), provider_name=PROVIDER)


def _subject_from(tmp_path, template: str) -> str:
    (tmp_path / "new").mkdir(exist_ok=True)
    (tmp_path / "new" / "subject.txt").write_text(template)
    return Renderer.from_settings(Settings(templates_dir=tmp_path)).render(notice(), provider_name=PROVIDER).subject


@pytest.mark.parametrize(
    "template",
    [
        "{{ customer.__class__ }}",
        "{{ customer.update({'name': 'x'}) }}",
        "{{ windows.append(1) }}",
        "{{ gcr_number.__class__.__mro__ }}",
        "{{ customer.items.__self__ }}",
    ],
)
def test_an_operator_template_cannot_reach_past_the_sandbox(tmp_path, template):
    """STANDARDS F11: an operator's template reads the context and nothing else, through
    the dicts it is made of as through anything else."""
    with pytest.raises((SecurityError, UndefinedError)):
        _subject_from(tmp_path, template + "\n")


def test_an_operator_template_reads_the_contexts_dicts_by_key_and_by_method(tmp_path):
    subject = _subject_from(
        tmp_path, "{{ customer.name }} {{ customer['account'] }} {{ customer.items() | list | length }}\n"
    )
    assert subject == f"{notice().customer.name} {notice().customer.account} 3"
    with pytest.raises(UndefinedError):
        _subject_from(tmp_path, "{{ customer.no_such_key }}\n")


def test_the_templates_come_from_the_settings_alone_never_from_the_environment(tmp_path, monkeypatch):
    """TEMPLATES_DIR is read once, by load_settings: settings without it render the
    built-in templates, whatever the process environment says."""
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "subject.txt").write_text("From the environment {{ gcr_number }}\n")
    monkeypatch.setenv("TEMPLATES_DIR", str(tmp_path))
    email = Renderer.from_settings(Settings()).render(notice(), provider_name=PROVIDER)
    assert email.subject == Renderer().render(notice(), provider_name=PROVIDER).subject
    assert "From the environment" not in email.subject


def test_a_customer_in_utc_reads_its_times_once(renderer):
    email = render(renderer, customer=customer("UTC"))
    assert "WHEN (times in UTC)" in email.text and "with UTC" not in email.text


def test_a_cancelled_notice_keeps_a_blank_line_before_what_changed(renderer):
    email = render(
        renderer, kind=NoticeKind.CANCELLED, status=Status.CANCELLED, changes=("Status: Confirmed -> Cancelled",)
    )
    assert "listed below.\n\nWHAT CHANGED\n" in email.text
