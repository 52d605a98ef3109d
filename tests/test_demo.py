"""`changemgmt demo` looks like real operations: routine work announced with proper notice,
one emergency, work started at its window and completed hours later, and every email
in the outbox dated when it went out, in the order a customer would have received it."""

from __future__ import annotations

import email
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from changemgmt.cli.context import AppContext
from changemgmt.cli.main import cli
from changemgmt.config import Settings, load_settings
from changemgmt.domain.states import NoticeState
from changemgmt.store import models
from changemgmt.store.db import make_engine, session_factory
from changemgmt.users.access import context_for
from changemgmt.users.accounts import find_user
from changemgmt.users.passwords import verify_password
from changemgmt.users.portal import maintenance
from conftest import NOW
from support.blank import blank_database

SMALL = ("--customers", "60", "--services", "400")
STATUSES = {
    "GCR-5001": "completed",
    "GCR-5002": "in_progress",
    "GCR-5003": "confirmed",
    "GCR-5004": "tentative",
    "GCR-5005": "draft",
    "GCR-5006": "confirmed",
    "GCR-5007": "cancelled",
}
KINDS = {
    "GCR-5001": {"new", "reminder", "started", "completed"},
    "GCR-5002": {"new", "reminder", "started"},
    "GCR-5003": {"new", "updated", "rescheduled"},
    "GCR-5004": {"new"},
    "GCR-5005": set(),
    "GCR-5006": {"emergency"},
    "GCR-5007": {"new", "cancelled"},
}


@dataclass
class Demo:
    home: Path
    db: sessionmaker
    output: str
    settings: Settings

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(
            cli, list(args), obj=AppContext(self.settings, "carol", lambda: NOW), catch_exceptions=False
        )


@pytest.fixture(scope="module")
def demo(database_url, tmp_path_factory) -> Iterator[Demo]:
    """The demo, run once at `now` in a database and home of its own."""
    home = tmp_path_factory.mktemp("demo")
    with blank_database(database_url, home) as url:
        settings = load_settings({"CHANGEMGMT_HOME": str(home), "DATABASE_URL": url})
        engine = make_engine(url)
        world = Demo(home, session_factory(engine), "", settings)
        result = world.run("demo", *SMALL)
        assert result.exit_code == 0, result.output
        world.output = result.output
        yield world
        engine.dispose()


def sent_notices(db) -> list[tuple[str, models.Notice]]:
    with db() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(models.Gcr.number, models.Notice)
                .join(models.Gcr, models.Gcr.id == models.Notice.gcr_id)
                .where(models.Notice.state == NoticeState.SENT)
                .order_by(models.Notice.id)
            )
        ]


def audit(db, number: str, action: str) -> datetime:
    with db() as session:
        return session.scalars(
            select(models.AuditEntry.at).where(
                models.AuditEntry.entity_key == number, models.AuditEntry.action == action
            )
        ).one()


def test_the_demo_leaves_a_gcr_in_every_state_and_exactly_one_emergency(demo):
    with demo.db() as session:
        gcrs = {g.number: g for g in session.scalars(select(models.Gcr))}
    assert {number: g.status for number, g in gcrs.items()} == STATUSES
    assert [number for number, g in gcrs.items() if g.emergency] == ["GCR-5006"]
    assert all(f"{number}: {status}" in demo.output.splitlines() for number, status in STATUSES.items())


def test_each_gcr_sent_the_notices_its_history_calls_for(demo):
    kinds = defaultdict(set)
    for number, notice in sent_notices(demo.db):
        kinds[number].add(notice.kind)
    assert {number: kinds[number] for number in STATUSES} == KINDS


def test_routine_work_was_announced_with_at_least_the_minimum_notice(demo):
    with demo.db() as session:
        first_window = {
            (r.gcr_id, r.number): min(datetime.fromisoformat(w["start"]) for w in r.state["windows"])
            for r in session.scalars(select(models.Revision))
        }
    firsts = [(number, n) for number, n in sent_notices(demo.db) if n.kind in ("new", "emergency")]
    assert {number for number, _ in firsts} == {n for n, kinds in KINDS.items() if kinds}
    for number, notice in firsts:
        notice_given = first_window[notice.gcr_id, notice.revision] - notice.created_at
        if number == "GCR-5006":
            assert timedelta(hours=1) < notice_given < timedelta(hours=4)
        else:
            assert notice_given >= demo.settings.minimum_notice, number


def test_work_started_at_its_window_and_completed_hours_later(demo):
    with demo.db() as session:
        window = session.scalars(select(models.Window).join(models.Gcr).where(models.Gcr.number == "GCR-5001")).one()
    started, completed = audit(demo.db, "GCR-5001", "start"), audit(demo.db, "GCR-5001", "complete")
    assert started == window.starts_at and completed - started >= timedelta(hours=3)
    assert completed < window.ends_at < NOW - timedelta(days=2)
    assert audit(demo.db, "GCR-5002", "start") < NOW < audit(demo.db, "GCR-5002", "start") + timedelta(hours=4)
    notices = {(number, n.kind): n.created_at for number, n in sent_notices(demo.db)}
    assert (notices["GCR-5001", "started"], notices["GCR-5001", "completed"]) == (started, completed)


def test_every_email_is_dated_when_it_went_out_in_the_order_it_went_out(demo):
    notices = {n.id: (number, n) for number, n in sent_notices(demo.db)}
    with demo.db() as session:
        sent_at = dict(session.execute(select(models.Delivery.notice_id, models.Delivery.sent_at)).all())
        recipients = session.scalar(select(func.count()).select_from(models.Recipient))
    files = sorted((demo.home / "var" / "outbox").glob("*.eml"))
    assert len(files) == recipients > 100
    received = defaultdict(list)  # (GCR, contact) -> [(Date, kind)]
    for path in files:
        mail = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        notice_id, contact = map(int, re.fullmatch(r"<notice-(\d+)\.(\d+)@.+>", mail["Message-ID"]).groups())
        number, notice = notices[notice_id]
        assert mail["Date"].datetime == sent_at[notice_id] == notice.created_at
        received[number, contact].append((mail["Date"].datetime, notice.kind))
    assert min(date for mails in received.values() for date, _ in mails) < NOW - timedelta(days=19)
    order = ["new", "emergency", "updated", "rescheduled", "reminder", "started", "completed", "cancelled"]
    for (number, _), mails in received.items():
        kinds = [kind for _, kind in sorted(mails)]
        assert kinds == sorted(kinds, key=order.index), number
    assert {
        tuple(kind for _, kind in sorted(mails)) for (number, _), mails in received.items() if number == "GCR-5001"
    } == {("new", "reminder", "reminder", "started", "completed")}


def test_running_the_demo_again_changes_nothing(demo):
    files = sorted((demo.home / "var" / "outbox").iterdir())
    with demo.db() as session:
        notices = session.scalar(select(func.count()).select_from(models.Notice))
    again = demo.run("demo", *SMALL)
    assert again.exit_code == 0, again.output
    assert [line for line in again.output.splitlines() if "exists, left as it is" in line] == [
        f"{number}: exists, left as it is" for number in STATUSES
    ]
    assert sorted((demo.home / "var" / "outbox").iterdir()) == files
    with demo.db() as session:
        assert session.scalar(select(func.count()).select_from(models.Notice)) == notices


@pytest.mark.parametrize("backend", ["sendgrid", "smtp"])
def test_the_demo_never_mails_its_made_up_contacts_through_a_real_backend(env, db, now, backend):
    settings = load_settings({**env, "EMAIL_BACKEND": backend, "SENDGRID_API_KEY": "SG.x"})
    result = CliRunner().invoke(cli, ["demo", *SMALL], obj=AppContext(settings, "carol", lambda: now))
    assert result.exit_code == 1
    assert f"EMAIL_BACKEND is {backend}" in result.output and "EMAIL_BACKEND=file" in result.output
    with db() as session:
        assert session.scalar(select(func.count()).select_from(models.Customer)) == 0


def test_the_demo_makes_a_change_manager_and_a_customer_user_and_prints_how_to_sign_in(demo):
    lines = demo.output.splitlines()
    assert "sign in at http://localhost:8000/signin (demo users; their passwords are for this demo only):" in lines
    printed = dict(re.findall(r"^  .*?: (\S+@demo\.example)  password: (demo-\S+)$", demo.output, re.M))
    assert set(printed) == {"manager@demo.example", "customer@demo.example"}
    with demo.db() as session:
        for address, password in printed.items():
            assert verify_password(find_user(session, address).password_hash, password)
        customer = find_user(session, "customer@demo.example")
        [grant] = session.scalars(select(models.AccessGrant).where(models.AccessGrant.user_id == customer.id))
        assert grant.scope == "enterprise" and grant.permissions == ["contacts", "users", "view"]
        assert customer.default_enterprise_id == grant.customer_id
        assert find_user(session, "manager@demo.example").role == "change_manager"
        context = context_for(session, customer)
        upcoming, recent = maintenance(session, demo.settings, context, NOW)
    assert upcoming and recent  # the portal has maintenance to show


def test_a_second_run_prints_no_password_again(demo):
    again = demo.run("demo", *SMALL)
    assert "manager@demo.example  password: as printed when the demo first made it" in again.output
    assert "password: demo-" not in again.output
