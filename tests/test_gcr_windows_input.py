"""Windows as a change manager enters them: never set in the past when a GCR is created
or changed, and read in the GCR's own time zone when written without an offset, on
update as on create. The clock is the fixed `now` (2026-11-02 15:00 UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from alembic import command
from sqlalchemy import func, inspect, select, text

from changemgmt.domain.errors import DomainError
from changemgmt.domain.policy import check_windows_ahead
from changemgmt.domain.status import Status
from changemgmt.domain.windows import Window
from changemgmt.store import models
from changemgmt.store.db import make_engine
from changemgmt.store.migrate import alembic_config, upgrade
from changemgmt.store.queries import get_gcr

UTC = UTC
NOW = datetime(2026, 11, 2, 15, tzinfo=UTC)
DOCUMENT = {
    "number": "GCR-7001",
    "title": "Fibre splice on the Dallas ring",
    "description": "Splicing damaged fibre.",
    "windows": [{"start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"}],
    "impacts": [{"service": "ACME-ETH-1", "impact": "OUTAGE"}],
}


def window(number: int, start_hours: float, end_hours: float) -> Window:
    return Window(number, NOW + timedelta(hours=start_hours), NOW + timedelta(hours=end_hours))


@pytest.mark.parametrize(
    ("before", "after", "refused"),
    [
        ((), (window(1, 1, 5),), []),
        ((), (window(1, 0, 5),), []),  # starting this minute is not past
        ((), (window(1, -1, 5),), ["windows[1].start"]),  # under way already: still a past start
        ((), (window(1, -30, -26), window(2, -5, -1)), ["windows[1].start", "windows[2].start"]),
        ((window(1, -2, 2),), (window(1, -2, 2),), []),  # in progress, left as it is
        ((window(1, -30, -26),), (window(1, -30, -26), window(2, 24, 28)), []),  # a past window kept, one added
        ((window(1, -2, 2),), (window(1, -2, 6),), []),  # the work overruns: its end moves later
        ((window(1, -2, 2),), (window(1, -2, -1),), ["windows[1].end"]),
        ((window(1, 24, 28),), (window(1, -24, -20),), ["windows[1].start"]),  # moved into the past
        ((window(1, -2, 2),), (window(1, -3, 2),), ["windows[1].start"]),
    ],
)
def test_only_windows_a_change_sets_in_the_past_are_refused(before, after, refused):
    if not refused:
        check_windows_ahead(before, after, NOW)
        return
    with pytest.raises(DomainError) as error:
        check_windows_ahead(before, after, NOW)
    assert [e.field for e in error.value.errors] == refused


def test_a_gcr_created_with_a_past_window_is_refused_with_what_to_do(desk, db):
    past = {**DOCUMENT, "windows": [{"start": "2026-11-01T07:00Z", "end": "2026-11-01T11:00Z"}]}
    with pytest.raises(DomainError) as error:
        desk.create(past)
    assert str(error.value) == (
        "windows[1].start: 2026-11-01 07:00 UTC is already past (it is now 2026-11-02 15:00 UTC): a new or moved "
        "window must start from now on; check its date, time and time zone or UTC offset"
    )
    with db() as session:
        assert session.scalar(select(func.count()).select_from(models.Gcr)) == 0


def test_an_update_may_not_move_or_add_a_window_into_the_past_even_as_an_emergency(desk, db):
    desk.publish(DOCUMENT)
    moved = {"emergency": True, "windows": [{"number": 1, "start": "2026-11-02T14:00Z", "end": "2026-11-02T18:00Z"}]}
    with pytest.raises(DomainError, match="already past") as error:
        desk.update("GCR-7001", moved, override_reason="the card is failing")
    assert error.value.field == "windows[1].start"
    added = {
        "windows": [
            {"number": 1, "start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"},
            {"start": "2026-10-30T07:00Z", "end": "2026-10-30T11:00Z"},
        ]
    }
    with pytest.raises(DomainError, match="already past") as error:
        desk.update("GCR-7001", added)
    assert error.value.field == "windows[2].start"
    with db() as session:
        gcr = get_gcr(session, "GCR-7001")
        assert [(w.number, w.starts_at) for w in gcr.windows] == [(1, datetime(2026, 12, 1, 7, tzinfo=UTC))]


def test_a_gcr_in_progress_can_still_be_edited_and_its_window_extended(desk, db, clock):
    desk.publish(DOCUMENT)
    clock.now = datetime(2026, 12, 1, 8, tzinfo=UTC)
    desk.status("GCR-7001", Status.IN_PROGRESS)
    desk.update("GCR-7001", {"description": "Splicing two fibres."})
    desk.update("GCR-7001", {"windows": [{"number": 1, "start": "2026-12-01T07:00Z", "end": "2026-12-01T13:00Z"}]})
    with pytest.raises(DomainError, match="to end the work now, complete the GCR") as error:
        desk.update("GCR-7001", {"windows": [{"number": 1, "start": "2026-12-01T07:00Z", "end": "2026-12-01T07:30Z"}]})
    assert error.value.field == "windows[1].end"
    with db() as session:
        assert get_gcr(session, "GCR-7001").windows[0].ends_at == datetime(2026, 12, 1, 13, tzinfo=UTC)


def test_update_reads_window_times_in_the_gcrs_own_zone(run, desk, db):
    run(
        "gcr",
        "create",
        "--number",
        "GCR-7002",
        "--title",
        "Card swap",
        "--description",
        "Swap a card.",
        "--time-zone",
        "America/Chicago",
        "--window",
        "2026-12-05T02:00/2026-12-05T03:00",
    )
    assert "revision 2" in run("gcr", "update", "GCR-7002", "--window", "2026-12-06T02:00/2026-12-06T03:00")
    with db() as session:
        gcr = get_gcr(session, "GCR-7002")
        active = [(w.starts_at, w.ends_at) for w in gcr.windows if w.dropped_at is None]
        assert active == [(datetime(2026, 12, 6, 8, tzinfo=UTC), datetime(2026, 12, 6, 9, tzinfo=UTC))]
        assert gcr.time_zone == "America/Chicago"
    assert "time zone: America/Chicago" in run("gcr", "show", "GCR-7002")


def test_an_update_file_without_a_zone_uses_the_gcrs_and_one_with_a_zone_changes_it(run, desk, db, tmp_path):
    desk.create(
        {
            **DOCUMENT,
            "time_zone": "America/Chicago",
            "windows": [{"start": "2026-12-01T01:00", "end": "2026-12-01T05:00"}],
        }
    )
    document = tmp_path / "update.yaml"
    document.write_text(
        yaml.safe_dump({"windows": [{"number": 1, "start": "2026-12-02T01:00", "end": "2026-12-02T05:00"}]})
    )
    run("gcr", "update", "GCR-7001", str(document))
    document.write_text(
        yaml.safe_dump(
            {
                "time_zone": "Europe/Paris",
                "windows": [{"number": 1, "start": "2026-12-02T01:00", "end": "2026-12-02T05:00"}],
            }
        )
    )
    run("gcr", "update", "GCR-7001", str(document))
    with db() as session:
        gcr = get_gcr(session, "GCR-7001")
        assert (gcr.time_zone, gcr.windows[0].starts_at) == ("Europe/Paris", datetime(2026, 12, 2, 0, tzinfo=UTC))
        assert [r.changes for r in gcr.revisions] == [["created"], ["windows"], ["time_zone", "windows"]]
        audit = session.scalars(select(models.AuditEntry.details).order_by(models.AuditEntry.id)).all()
        assert audit[-1]["changes"] == ["time_zone", "windows"]


def test_a_gcr_created_without_a_zone_keeps_requiring_offsets(run, desk, db):
    desk.create(DOCUMENT)
    output = run("gcr", "update", "GCR-7001", "--window", "2026-12-06T02:00/2026-12-06T03:00", expect=1)
    assert "windows[1].start: 2026-12-06 02:00:00 has no UTC offset; give one or a time zone" in output
    assert "time zone: none (window times need a UTC offset)" in run("gcr", "show", "GCR-7001")


def test_a_window_given_its_own_zone_is_read_in_it(desk, db):
    desk.create(
        {
            **DOCUMENT,
            "time_zone": "America/Chicago",
            "windows": [{"start": "2026-12-01T01:00", "end": "2026-12-01T05:00", "time_zone": "Asia/Tokyo"}],
        }
    )
    with db() as session:
        assert get_gcr(session, "GCR-7001").windows[0].starts_at == datetime(2026, 11, 30, 16, tzinfo=UTC)


def test_migration_0004_adds_the_gcr_time_zone_and_takes_it_away(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0003")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO gcrs (id, number, title, description, reason, work_location, emergency, internal_notes, "
                "status, revision, created_at, updated_at, created_by) "
                "VALUES (1, 'GCR-1', 't', 'd', '', '', false, '', 'draft', 1, :at, :at, 'x')"
            ),
            {"at": NOW.isoformat()},
        )
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT number, time_zone FROM gcrs")).all() == [("GCR-1", None)]
    command.downgrade(alembic_config(engine), "0003")
    assert "time_zone" not in {c["name"] for c in inspect(engine).get_columns("gcrs")}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT number FROM gcrs")).all() == [("GCR-1",)]
