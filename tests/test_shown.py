"""What a customer is shown of a GCR now (delivery.shown): `changemgmt preview` composes
and renders it by the worker's own path, so a preview is the email the worker sends."""

from __future__ import annotations

import email
import re
from email import policy

import pytest
from click.testing import CliRunner
from sqlalchemy import delete

from changemgmt.cli.context import AppContext
from changemgmt.cli.main import cli
from changemgmt.config import load_settings
from changemgmt.store import models
from changemgmt.store.db import transaction
from world import build_world

GCR = [
    "--number",
    "GCR-8101",
    "--title",
    "Fibre splice on the Dallas ring",
    "--description",
    "Splicing fibre.",
    "--window",
    "2026-12-01T07:00Z/2026-12-01T11:00Z",
    "--window",
    "2026-12-08T07:00Z/2026-12-08T09:00Z",
    "--impact",
    "ACME-ETH-1:OUTAGE",
    "--impact",
    "ACME-DIA-2:DEGRADED",
    "--impact",
    "GLBX-WAVE-1:DEGRADED",
]


@pytest.fixture
def world(db):
    with transaction(db) as session:
        build_world(session)


@pytest.fixture
def operator_templates(env, home):
    """An operator's subject for `new` notices (TEMPLATES_DIR), which both must use."""
    (home / "mine" / "new").mkdir(parents=True)
    (home / "mine" / "new" / "subject.txt").write_text("Operator's word on {{ gcr_number }}: {{ title }}\n")
    env["TEMPLATES_DIR"] = "mine"


def preview(env, now, *args: str) -> tuple[bytes, str]:
    """`changemgmt preview ARGS`: its standard output as raw bytes (the `run` fixture's
    text has its line ends normalised), and its standard error."""
    app = AppContext(load_settings(env), "carol", lambda: now)
    result = CliRunner().invoke(cli, ["preview", *args], obj=app, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout_bytes, result.stderr


def identity(raw: bytes) -> tuple[bytes, bytes]:
    """(notice id, MIME boundary seed) of a message: what makes it one notice's copy."""
    notice = re.findall(rb"\r\nMessage-ID: <notice-(\d+)\.\d+@example\.net>\r\n", raw)
    seed = re.findall(rb'\r\nContent-Type: multipart/mixed; boundary="=_([0-9a-f]{24})\.0"\r\n', raw)
    assert len(notice) == len(seed) == 1
    return notice[0], seed[0]


@pytest.mark.parametrize("account", ["ACC-1001", "ACC-2002"])  # Chicago and UTC
def test_the_preview_of_a_published_gcr_is_the_email_the_worker_sent(
    run, world, operator_templates, env, home, now, account
):
    run("gcr", "create", *GCR, "--publish", "confirmed")
    run("worker", "--once")
    shown, _ = preview(env, now, "GCR-8101", "--account", account)
    contact = re.search(rb"\r\nMessage-ID: <notice-0\.(\d+)@", shown).group(1).decode()
    [sent_file] = (home / "var" / "outbox").glob(f"notice-*-contact-{contact}.eml")
    sent = sent_file.read_bytes()
    assert email.message_from_bytes(sent, policy=policy.default)["Subject"].startswith("Operator's word on GCR-8101")
    # A preview is no notice: its notice id is 0, and the boundaries are seeded by it.
    (notice, seed), (no_notice, preview_seed) = identity(sent), identity(shown)
    assert no_notice == b"0"
    as_previewed = sent.replace(b"<notice-" + notice + b".", b"<notice-0.").replace(seed, preview_seed)
    assert shown == as_previewed + b"\n"  # every other byte as sent; echo ends the line


def test_a_customer_without_contacts_is_shown_the_email_addressed_to_no_one(run, world, db, env, now):
    run("gcr", "create", *GCR)
    with transaction(db) as session:
        session.execute(delete(models.Contact).where(models.Contact.email == "ops@globex.example"))
    shown, note = preview(env, now, "GCR-8101", "--account", "ACC-2002")
    assert note == "ACC-2002 has no contacts: the email is shown addressed to no one\n"
    mail = email.message_from_bytes(shown, policy=policy.default)
    assert mail["Subject"].startswith("New: ") and mail["From"] and mail["Date"]
    assert [mail[name] for name in ("To", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post")] == [None] * 4
    assert "Dear Globex Corp team," in mail.get_body(("plain",)).get_content()
    assert "X-MAINTNOTE-ACCOUNT:ACC-2002" in run("preview", "GCR-8101", "--account", "ACC-2002", "--ics")
