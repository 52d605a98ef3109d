"""The `changemgmt` command end to end, as an operator types it."""

from __future__ import annotations

import email
import json
import sys
from email import policy

import pytest
import yaml
from sqlalchemy import func, select

from changemgmt.delivery.worker import SWITCH_INTERVAL
from changemgmt.store import models
from changemgmt.store.db import transaction
from world import build_world


@pytest.fixture
def world(db):
    with transaction(db) as session:
        build_world(session)


GCR_YAML = {
    "number": "GCR-8001",
    "title": "Fibre splice on the Dallas ring",
    "description": "Splicing damaged fibre.",
    "reason": "Road works cut the cable.",
    "time_zone": "America/Chicago",
    "windows": [{"start": "2026-12-01T01:00", "end": "2026-12-01T05:00"}],
    "impacts": [{"service": "ACME-ETH-1", "impact": "OUTAGE"}, {"service": "GLBX-WAVE-1", "impact": "DEGRADED"}],
}


def test_db_upgrade_reports_the_schema_revision(run):
    assert "database at revision" in run("db", "upgrade")


def test_a_gcr_goes_from_a_yaml_file_to_customers_mailboxes(run, world, tmp_path, home, db):
    document = tmp_path / "gcr.yaml"
    document.write_text(yaml.safe_dump(GCR_YAML))
    assert "GCR-8001: draft, revision 1" in run("gcr", "create", str(document))
    assert "GCR-8001: confirmed, revision 2" in run("gcr", "publish", "GCR-8001")
    assert "0 notice(s) would be queued" not in run("plan", "--dry-run")
    assert "sent or settled 2 deliveries" in run("worker", "--once")
    files = sorted((home / "var" / "outbox").glob("*.eml"))
    assert len(files) == 3
    parsed = [email.message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    assert all("GCR-8001" in m["Subject"] for m in parsed)
    shown = json.loads(run("gcr", "show", "GCR-8001", "--json"))
    assert (shown["status"], shown["revision"], shown["accounts_reached"]) == (
        "confirmed",
        2,
        ["ACC-1001", "ACC-2002", "ENT-100"],
    )
    assert [a["actor"] for a in shown["audit"]] == ["carol", "carol"]


def test_gcrs_can_be_written_with_flags(run, world):
    out = run(
        "gcr",
        "create",
        "--number",
        "GCR-8002",
        "--title",
        "Card swap",
        "--description",
        "Swap a card.",
        "--window",
        "2026-12-05T02:00Z/2026-12-05T03:00Z",
        "--impact",
        "GLBX-WAVE-1:DEGRADED:15",
        "--publish",
        "tentative",
    )
    assert "GCR-8002: tentative, revision 2" in out
    assert "revision 3" in run("gcr", "update", "GCR-8002", "--window", "2026-12-06T02:00Z/2026-12-06T03:00Z")
    assert "no new revision" in run("gcr", "update", "GCR-8002", "--internal-notes", "bring a spare")
    run("gcr", "publish", "GCR-8002")
    run("gcr", "start", "GCR-8002")
    assert "completed" in run("gcr", "complete", "GCR-8002")
    text = run("gcr", "show", "GCR-8002")
    assert "status: completed" in text and "GLBX-WAVE-1: DEGRADED, max outage 15 min" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "gcr",
                "create",
                "--number",
                "CHG-1",
                "--title",
                "t",
                "--description",
                "d",
                "--window",
                "2026-12-05T02:00Z/2026-12-05T03:00Z",
            ],
            "number: 'CHG-1' is not a GCR number",
        ),
        (
            [
                "gcr",
                "create",
                "--number",
                "GCR-9",
                "--title",
                "t",
                "--description",
                "d",
                "--window",
                "2026-12-05T03:00Z/2026-12-05T02:00Z",
            ],
            "windows[1].end: must be after the start",
        ),
        (
            [
                "gcr",
                "create",
                "--number",
                "GCR-9",
                "--title",
                "t",
                "--description",
                "d",
                "--window",
                "2026-12-05T02:00Z/2026-12-05T03:00Z",
                "--impact",
                "NOPE",
            ],
            "impacts[NOPE].service: no service with ID 'NOPE'",
        ),
        (["gcr", "publish", "GCR-404"], "no GCR GCR-404"),
    ],
)
def test_bad_input_is_named_and_changes_nothing(run, world, db, args, message):
    output = run(*args, expect=1)
    assert message in output
    with db() as session:
        assert session.scalars(select(models.Gcr)).all() == []


def test_an_invalid_transition_is_refused_with_the_reason(run, world):
    run(
        "gcr",
        "create",
        "--number",
        "GCR-8003",
        "--title",
        "t",
        "--description",
        "d",
        "--window",
        "2026-12-05T02:00Z/2026-12-05T03:00Z",
        "--impact",
        "GLBX-WAVE-1",
    )
    assert "cannot change draft -> completed" in run("gcr", "complete", "GCR-8003", expect=1)


def test_preview_prints_the_email_and_its_calendar(run, world, tmp_path):
    document = tmp_path / "gcr.json"
    document.write_text(json.dumps(GCR_YAML))
    run("gcr", "create", str(document))
    mail = email.message_from_string(run("preview", "GCR-8001", "--account", "ACC-2002"), policy=policy.default)
    assert "GCR-8001" in mail["Subject"]
    ics = run("preview", "GCR-8001", "--account", "ACC-2002", "--ics")
    assert "X-MAINTNOTE-ACCOUNT:ACC-2002" in ics and "ACME" not in ics
    assert "does not affect" in run("preview", "GCR-8001", "--account", "ACC-3003", expect=1)


def test_plan_at_a_moment_shows_what_falls_due(run, world, tmp_path):
    document = tmp_path / "gcr.yaml"
    document.write_text(yaml.safe_dump(GCR_YAML))
    run("gcr", "create", str(document), "--publish", "confirmed")
    run("worker", "--once")
    out = run("plan", "--at", "2026-11-29T08:00Z", "--dry-run")
    assert "2 notice(s) would be queued" in out and "ACC-1001  reminder" in out and "ACC-2002  reminder" in out
    assert "2 notice(s) would be queued" in run("plan", "--at", "2026-11-29T08:00Z", "--dry-run")
    assert "2 notice(s) queued" in run("plan", "--at", "2026-11-29T08:00Z")
    assert "4 notice(s) queued" in run("plan", "--at", "2026-11-30T08:00Z")


def test_demo_loads_a_realistic_sample(run, db, home):
    out = run("demo", "--customers", "40", "--services", "200")
    assert "services: 200 rows" in out
    with db() as session:
        feeds = session.scalar(select(func.count()).select_from(models.Feed))
    assert feeds > 40  # one per customer, the enterprises' and the internal one
    assert len(list((home / "calendars").glob("*.ics"))) == feeds
    assert f"feeds: {feeds} written" in out
    with db() as session:
        statuses = {g.status for g in session.scalars(select(models.Gcr))}
        zones = {c.time_zone for c in session.scalars(select(models.Customer))}
    assert statuses == {"draft", "tentative", "confirmed", "in_progress", "completed", "cancelled"}
    assert len(zones) > 5
    assert "exists, left as it is" in run("demo", "--customers", "40", "--services", "200")


def test_preview_of_a_draft_shows_what_publishing_it_now_would_send(run, world, tmp_path):
    document = tmp_path / "gcr.json"
    document.write_text(json.dumps(GCR_YAML))
    run("gcr", "create", str(document))

    def preview(*options: str) -> tuple[str, str]:
        mail = email.message_from_string(
            run("preview", "GCR-8001", "--account", "ACC-2002", *options), policy=policy.default
        )
        return mail["Subject"], mail.get_body(("plain",)).get_content()

    subject, text = preview()
    assert subject.startswith("New: ") and "Status: Confirmed" in text and "Draft" not in text
    assert "STATUS:CONFIRMED" in run("preview", "GCR-8001", "--account", "ACC-2002", "--ics")
    subject, text = preview("--tentative")
    assert "Status: Tentative" in text
    assert "STATUS:TENTATIVE" in run("preview", "GCR-8001", "--account", "ACC-2002", "--ics", "--tentative")
    run("gcr", "publish", "GCR-8001")
    assert "--tentative" in run("preview", "GCR-8001", "--account", "ACC-2002", "--tentative", expect=1)
    assert "Status: Confirmed" in preview()[1]


def test_a_worker_process_hands_the_gil_on_within_a_millisecond(run, world):
    """Its send threads and recorder, woken by the network, wait at most that for the renderer."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # Python's default
    try:
        run("worker", "--once")
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL) and SWITCH_INTERVAL < 0.005
    finally:
        sys.setswitchinterval(before)
