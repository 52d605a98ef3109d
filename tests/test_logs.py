"""Logs: one set-up for every process (changemgmt/logs.py, made by the CLI's root
command), text by default and JSON lines with LOG_FORMAT=json, the facts of each event
as keys of their own; a failed delivery attempt and a delivery failed for good each one
line naming the delivery, its GCR and account, the error and the next try; feed tokens
never logged, in either format."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime

import httpx
import pytest
from sqlalchemy import select

from changemgmt.config import ConfigError, load_settings
from changemgmt.logs import StderrHandler, configure_logging
from changemgmt.store import models
from support.sendgrid_server import FakeSendGrid
from support.web import web_process

GCR = {
    "number": "GCR-6001",
    "title": "Fibre splice",
    "description": "Splicing fibre.",
    "windows": [{"start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"}],
    "impacts": [{"service": "ACME-ETH-1"}, {"service": "GLBX-WAVE-1"}],
}


@pytest.fixture(autouse=True)
def logging_as_it_was():
    """Each test configures logging as a process would; the handler goes afterwards."""
    root = logging.getLogger()
    level = root.level
    yield
    for handler in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def sendgrid():
    with FakeSendGrid() as fake:
        yield fake


@pytest.fixture
def env(env, sendgrid):
    """The CLI's environment, mailing through the loopback SendGrid."""
    return {**env, "EMAIL_BACKEND": "sendgrid", "SENDGRID_API_KEY": "SG.test-key", "SENDGRID_API_HOST": sendgrid.url}


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_json_lines_carry_time_level_logger_message_and_every_extra_field(capsys):
    configure_logging("json")
    logging.getLogger("changemgmt.jobs.clock").warning(
        "job %s failed", "tick", extra={"event": "clock_job_failed", "job": "tick"}
    )
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("changemgmt.jobs.clock").exception("with its traceback")
    first, second = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert {k: first[k] for k in ("level", "logger", "message", "event", "job")} == {
        "level": "WARNING",
        "logger": "changemgmt.jobs.clock",
        "message": "job tick failed",
        "event": "clock_job_failed",
        "job": "tick",
    }
    assert datetime.fromisoformat(first["time"]).utcoffset().total_seconds() == 0
    assert second["level"] == "ERROR" and "RuntimeError: boom" in second["exc_info"]


def test_text_is_one_line_per_record_in_utc(capsys):
    configure_logging()
    configure_logging()  # again, as a second command in one process would: still one handler
    logging.getLogger("changemgmt.jobs.clock").info("took the lead", extra={"event": "leader"})
    (line,) = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO changemgmt\.jobs\.clock: took the lead", line)


def test_log_format_is_text_or_json():
    assert load_settings({}).log_format == "text"
    assert load_settings({"LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigError, match="LOG_FORMAT: 'xml' is not one of text, json"):
        load_settings({"LOG_FORMAT": "xml"})


def deliveries(db) -> dict[int, models.Delivery]:
    with db() as session:
        return {d.id: d for d in session.scalars(select(models.Delivery))}


def test_a_failed_attempt_and_a_delivery_failed_for_good_are_json_lines(desk, run, env, sendgrid, db, monkeypatch):
    monkeypatch.setitem(env, "LOG_FORMAT", "json")
    desk.publish(GCR)
    sendgrid.answer_next(500, body={"errors": [{"message": "try later", "field": None}]})
    sendgrid.answer_next(400, body={"errors": [{"message": "bad from", "field": "from"}]})
    output = run("worker", "--once")
    lines = {line["event"]: line for line in json_lines(output) if line.get("event", "").startswith("delivery")}
    assert set(lines) == {"delivery_attempt_failed", "delivery_failed"}
    rows = deliveries(db)
    retried, failed = lines["delivery_attempt_failed"], lines["delivery_failed"]
    assert rows[retried["delivery_id"]].state == "pending" and rows[failed["delivery_id"]].state == "failed"
    accounts = {"ACC-1001", "ACC-2002"}
    assert {retried["account"], failed["account"]} == accounts
    for line in (retried, failed):
        delivery = rows[line["delivery_id"]]
        assert (line["gcr"], line["attempt"], line["error"]) == ("GCR-6001", 1, delivery.last_error)
        assert line["logger"] == "changemgmt.delivery.outcomes"
    assert retried["level"] == "WARNING" and "500" in retried["error"]
    assert datetime.fromisoformat(retried["next_try"]) == rows[retried["delivery_id"]].next_attempt_at
    assert failed["level"] == "ERROR" and failed["permanent"] is True and "400" in failed["error"]
    assert "next_try" not in failed


def test_the_same_facts_read_as_text_by_default(desk, run, sendgrid, db):
    desk.publish({**GCR, "impacts": [{"service": "GLBX-WAVE-1"}]})
    sendgrid.answer_next(503)
    output = run("worker", "--once")
    (delivery,) = deliveries(db).values()
    said = f"delivery {delivery.id} (GCR-6001 to ACC-2002) attempt 1 failed: {delivery.last_error}; next try at "
    assert f"WARNING changemgmt.delivery.outcomes: {said}{delivery.next_attempt_at.isoformat()}" in output


def test_a_batch_sent_without_fault_logs_nothing(desk, run, sendgrid):
    desk.publish(GCR)
    assert run("worker", "--once").splitlines()[0] == "sent or settled 2 deliveries"
    assert "changemgmt.delivery" not in run("worker", "--once")


def test_json_logs_of_the_web_process_keep_feed_tokens_out(env, published_feeds):
    token = published_feeds.token("ACC-1001").file_name.removesuffix(".ics")
    with web_process({**env, "LOG_FORMAT": "json"}) as (url, stop):
        assert httpx.get(f"{url}/calendars/{token}.ics").status_code == 200
        logged = stop()
    assert token not in logged
    lines = [json.loads(line) for line in logged.splitlines()]  # every line is one JSON object
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert any('"GET /calendars/<redacted> HTTP/1.1" 200' in line["message"] for line in access)
    assert all("color_message" not in line for line in lines)
