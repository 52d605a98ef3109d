"""What a change manager types into a GCR (a YAML/JSON file or flags): every text field
is refused with control characters or beyond its limit, addresses and display names are
checked, and every problem of an input is reported at once, with nothing written."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import func, select

from changemgmt.domain.errors import DomainError
from changemgmt.domain.gcr import (
    LOCATION_CODE_MAX,
    MULTI_LINE_FIELDS,
    NUMBER_MAX,
    ONE_LINE_FIELDS,
    SERVICE_ID_MAX,
    check_title,
)
from changemgmt.domain.text import NAME_MAX, PHONE_MAX
from changemgmt.gcrs.input import parse_patch
from changemgmt.gcrs.service import Who
from changemgmt.store import models
from changemgmt.store.queries import get_gcr

DOCUMENT = {
    "number": "GCR-5001",
    "title": "Fibre splice on the Dallas ring",
    "description": "Splicing damaged fibre.",
    "reason": "Road works cut the cable.",
    "work_location": "Dallas Central POP",
    "locations": ["DLLSTX01"],
    "contact": {"name": "Dallas NOC", "email": "noc@example.net", "phone": "+1 800 555 0100"},
    "windows": [{"start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"}],
    "impacts": [{"service": "ACME-ETH-1", "impact": "OUTAGE"}],
}
HOSTILE = {
    "NUL": "\x00",
    "terminal escape": "\x1b]0;pwned\x07",
    "C1 control": "\x85",
    "DEL": "\x7f",
    "line separator": "\u2028",
    "bidi override": "\u202e",
}
ONE_LINE_ONLY = {"line feed": "\n", "carriage return": "\r", "tab": "\t"}


def with_value(field: str, value) -> dict:
    """DOCUMENT with `field` ("contact.name", "locations") set to `value`."""
    document = {**DOCUMENT, "contact": dict(DOCUMENT["contact"])}
    if field.startswith("contact."):
        document["contact"][field.split(".")[1]] = value
    elif field == "locations":
        document["locations"] = [value]
    else:
        document[field] = value
    return document


def gcr_count(db) -> int:
    with db() as session:
        return session.scalar(select(func.count()).select_from(models.Gcr))


def refused(desk, document) -> DomainError:
    with pytest.raises(DomainError) as error:
        desk.create(document)
    return error.value


ONE_LINE = [*ONE_LINE_FIELDS, "contact.name", "contact.phone", "locations"]


@pytest.mark.parametrize("char", [*HOSTILE.values(), *ONE_LINE_ONLY.values()], ids=[*HOSTILE, *ONE_LINE_ONLY])
@pytest.mark.parametrize("field", ONE_LINE)
def test_one_line_fields_refuse_every_control_character(desk, db, field, char):
    error = refused(desk, with_value(field, f"Dallas{char}POP"))
    assert [e.field for e in error.errors] == ["locations[1]" if field == "locations" else field]
    assert "control characters" in error.message
    assert gcr_count(db) == 0


@pytest.mark.parametrize("char", HOSTILE.values(), ids=HOSTILE)
@pytest.mark.parametrize("field", MULTI_LINE_FIELDS)
def test_multi_line_fields_refuse_control_characters_but_line_feed_and_tab(desk, db, field, char):
    error = refused(desk, with_value(field, f"First line\n{char}second line"))
    assert (error.field, gcr_count(db)) == (field, 0)


@pytest.mark.parametrize("field", MULTI_LINE_FIELDS)
def test_multi_line_fields_keep_line_feeds_and_tabs(desk, db, field):
    desk.create(with_value(field, "Step 1:\tsplice\r\nStep 2:\ttest\rDone"))
    with db() as session:
        assert getattr(get_gcr(session, "GCR-5001"), field) == "Step 1:\tsplice\nStep 2:\ttest\nDone"


LIMITS = {
    **ONE_LINE_FIELDS,
    **MULTI_LINE_FIELDS,
    "contact.name": NAME_MAX,
    "contact.phone": PHONE_MAX,
    "locations": LOCATION_CODE_MAX,
    "number": NUMBER_MAX,
}


@pytest.mark.parametrize(("field", "limit"), LIMITS.items(), ids=LIMITS)
def test_every_text_field_has_a_length_limit(field, limit):
    assert parse_patch(with_value(field, "x" * limit)).problems == ()
    problems = parse_patch(with_value(field, "x" * (limit + 1))).problems
    assert [p.field for p in problems] == ["locations[1]" if field == "locations" else field]
    assert f"the limit is {limit:,}" in problems[0].message


def test_a_service_id_has_a_length_limit():
    problems = parse_patch({"impacts": [{"service": "S" * (SERVICE_ID_MAX + 1)}]}).problems
    assert [p.field for p in problems] == ["impacts[1].service"]


@pytest.mark.parametrize("title", ["two\nlines", "carriage\rreturn", "   ", "bell\x07", "x" * 201])
def test_check_title_refuses_what_it_always_did_and_control_characters(title):
    with pytest.raises(DomainError) as error:
        check_title(title)
    assert error.value.field == "title"


@pytest.mark.parametrize(
    "address",
    [
        "noc@example.net\r\nX: y",
        "x,y@example.com",
        "noc",
        "noc@",
        "a@b@example.net",
        "Ops <noc@example.net>",
        "noc@example.net, evil@evil.example",
        "noc@exa mple.net",
        "",
    ],
)
def test_a_contact_email_that_is_not_one_address_is_refused(desk, db, address):
    error = refused(desk, with_value("contact.email", address))
    assert [e.field for e in error.errors] == ["contact.email"]
    assert gcr_count(db) == 0


def test_a_contact_email_is_stored_as_email_validator_normalises_it(desk, db):
    desk.create(with_value("contact.email", "noc@Example.NET"))
    with db() as session:
        assert get_gcr(session, "GCR-5001").contact_email == "noc@example.net"


@pytest.mark.parametrize("name", ["=?utf-8?b?ZXZpbEBldmlsLmV4YW1wbGUsIHg=?=", "NOC =?utf-8?q?evil=40evil.example?="])
def test_a_contact_name_in_encoded_word_syntax_is_refused(desk, db, name):
    error = refused(desk, with_value("contact.name", name))
    assert (error.field, gcr_count(db)) == ("contact.name", 0)
    assert "encoded-word" in error.message


def test_an_update_with_a_hostile_field_changes_nothing(desk, db):
    desk.create(DOCUMENT)
    with pytest.raises(DomainError) as error:
        desk.update("GCR-5001", {"title": "Splice\x1b[2J", "contact": {"name": "NOC", "email": "x,y@example.com"}})
    assert [e.field for e in error.value.errors] == ["title", "contact.email"]
    with db() as session:
        gcr = get_gcr(session, "GCR-5001")
        assert (gcr.title, gcr.contact_email, gcr.revision) == (DOCUMENT["title"], "noc@example.net", 1)


def test_the_actor_and_the_override_reason_are_one_line(desk, db, settings, now):
    with pytest.raises(DomainError) as error:
        Who("alice\x1b]0;x\x07", now, settings)
    assert error.value.field == "actor"
    desk.create(DOCUMENT)
    with pytest.raises(DomainError) as error:
        desk.update("GCR-5001", {"description": "More work."}, override_reason="urgent\nBcc: x")
    assert error.value.field == "override_reason"


def test_every_problem_of_a_document_is_reported_at_once(desk, db):
    document = {
        **DOCUMENT,
        "titel": "typo",
        "title": "Splice\x00",
        "locations": ["NOWHERE1", "DLLSTX01", "NOWHERE2"],
        "contact": {"name": "NOC", "email": "noc@example.net\r\nBcc: x@evil.example"},
        "windows": [{"start": "2026-12-01T07:00Z", "end": "2026-12-01T06:00Z"}, {"start": "2026-12-01", "end": "soon"}],
        "impacts": [{"service": "NOPE-1"}, {"service": "ACME-ETH-1", "impact": "SOME"}, {"service": "NOPE-2"}],
    }
    error = refused(desk, document)
    assert [e.field for e in error.errors] == [
        "titel",
        "title",
        "contact.email",
        "windows[2].end",
        "impacts[2].impact",
        "locations",
        "locations",
        "impacts[NOPE-1].service",
        "impacts[NOPE-2].service",
    ]
    assert "NOWHERE1" in error.errors[5].message and "NOWHERE2" in error.errors[6].message
    assert gcr_count(db) == 0


def test_every_problem_with_valid_fields_is_reported_at_once(desk, db):
    """Read correctly, but wrong against the inventory and the rules: all named together."""
    document = {
        **DOCUMENT,
        "locations": ["NOWHERE1", "NOWHERE2"],
        "windows": [
            {"start": "2026-12-01T07:00Z", "end": "2026-12-01T06:00Z"},
            {"start": "2026-12-03T07:00Z", "end": "2026-12-03T08:00Z"},
        ],
        "impacts": [{"service": "NOPE-1"}, {"service": "ACME-ETH-1"}, {"service": "NOPE-2"}],
    }
    error = refused(desk, document)
    assert [e.field for e in error.errors] == [
        "windows[1].end",
        "locations",
        "locations",
        "impacts[NOPE-1].service",
        "impacts[NOPE-2].service",
    ]
    valid = {**document, "windows": DOCUMENT["windows"]}
    error = refused(desk, valid)  # found as the GCR is written
    assert [e.field for e in error.errors] == [
        "locations",
        "locations",
        "impacts[NOPE-1].service",
        "impacts[NOPE-2].service",
    ]
    assert gcr_count(db) == 0


def test_a_long_list_of_unknown_services_is_cut(desk, db):
    impacts = [{"service": f"NOPE-{n:03d}"} for n in range(250)]
    error = refused(desk, {**DOCUMENT, "impacts": impacts})
    assert len(error.errors) == 21
    assert error.errors[-1].message == "and 230 more service IDs that do not exist"


def test_the_cli_prints_every_problem_on_its_own_line(run, desk, db, tmp_path):
    document = tmp_path / "gcr.yaml"
    document.write_text(
        yaml.safe_dump({**DOCUMENT, "titel": "typo", "impacts": [{"service": "NOPE-1"}, {"service": "NOPE-2"}]})
    )
    output = run(
        "gcr", "create", str(document), "--contact-email", "x,y@example.com", "--window", "2026-12-01T07:00Z", expect=1
    )
    lines = output.removeprefix("Error: ").splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "titel",
        "contact.email",
        "windows[1]",
        "impacts[NOPE-1].service",
        "impacts[NOPE-2].service",
    ]
    assert "Traceback" not in output and gcr_count(db) == 0


@pytest.mark.parametrize(
    ("flag", "value", "field"),
    [
        ("--contact-email", "noc@example.net\r\nX: y", "contact.email"),
        ("--contact-name", "=?utf-8?b?ZXZpbEBldmlsLmV4YW1wbGUsIHg=?=", "contact.name"),
        ("--title", "Splice \x1b]0;pwned\x07", "title"),
        ("--description", "Work\x00", "description"),
    ],
)
def test_flags_are_checked_as_files_are(run, desk, db, flag, value, field):
    output = run(
        "gcr",
        "create",
        "--number",
        "GCR-5002",
        "--title",
        "Card swap",
        "--description",
        "Swap a card.",
        "--window",
        "2026-12-05T02:00Z/2026-12-05T03:00Z",
        "--contact-name",
        "NOC",
        "--contact-email",
        "noc@example.net",
        flag,
        value,
        expect=1,
    )
    assert f"Error: {field}: " in output and "\x1b" not in output and "\x00" not in output
    assert gcr_count(db) == 0
