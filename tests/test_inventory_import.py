"""Importing inventory files (SPEC §1): upserts, all or nothing, every bad row listed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from changemgmt.inventory import ImportFailed, import_inventory, importer, refs
from changemgmt.store.models import AuditEntry, Contact, Customer, Location, Service

DATA = Path(__file__).parent / "data" / "inventory"
ORDER = ("locations.csv", "customers.csv", "contacts.csv", "services.csv")


def load(db, settings, file, **options):
    options.setdefault("actor", "alice")
    return import_inventory(db, file, settings=settings, **options)


def load_sample(db, settings):
    for name in ORDER:
        load(db, settings, DATA / name)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def snapshot(db) -> dict[str, list[tuple]]:
    """Every inventory row, ids included."""
    with db() as session:
        return {
            model.__tablename__: [tuple(row) for row in session.execute(select(model.__table__).order_by("id"))]
            for model in (Location, Customer, Contact, Service)
        }


def failure(db, settings, file, **options) -> list[str]:
    with pytest.raises(ImportFailed) as caught:
        load(db, settings, file, **options)
    return caught.value.lines()


def test_it_imports_each_kind_of_row_from_csv(db, settings):
    load_sample(db, settings)
    with db() as session:
        acme = session.scalars(select(Customer).where(Customer.account == "ACC-1001")).one()
        initech = session.scalars(select(Customer).where(Customer.account == "ACC-3003")).one()
        noc = session.scalars(select(Contact).where(Contact.name == "Acme NOC")).one()
        it = session.scalars(select(Contact).where(Contact.name == "Acme Holdings IT")).one()
        eth = session.scalars(select(Service).where(Service.service_id == "ACME-ETH-1")).one()
        houston = session.scalars(select(Location).where(Location.code == "HSTNTX02")).one()
        assert (acme.parent.account, acme.time_zone, acme.active) == ("ENT-100", "America/Chicago", True)
        assert (initech.time_zone, initech.active) == (settings.default_time_zone, False)
        assert (noc.email, noc.notice_kinds, noc.min_impact, noc.reminders) == (
            "NOC@acme.example",
            ["new", "updated", "cancelled"],
            "OUTAGE",
            False,
        )
        assert (it.notice_kinds, it.min_impact, it.reminders) == (None, "NO-IMPACT", True)
        assert (eth.customer.account, eth.a_end.code, eth.z_end.code) == ("ACC-1001", "DLLSTX01", "HSTNTX02")
        assert (houston.country, houston.time_zone) == ("US", None)


def test_it_reports_rows_per_kind_and_how_many_are_new(db, settings, tmp_path):
    load(db, settings, DATA / "locations.csv")
    more = write(tmp_path, "more.csv", "code,name\nDLLSTX01,Dallas Central\nCHCGIL01,Chicago Loop\n")
    assert load(db, settings, more).summary() == ["locations: 2 rows (1 new, 1 updated)"]


def test_importing_the_same_file_twice_changes_nothing(db, settings):
    load_sample(db, settings)
    before = snapshot(db)
    results = [load(db, settings, DATA / name) for name in ORDER]
    assert snapshot(db) == before
    assert [sum(result.new.values()) for result in results] == [0, 0, 0, 0]


def test_it_links_a_parent_account_that_comes_later_in_the_file(db, settings, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK_ROWS", 2)
    file = write(
        tmp_path,
        "customers.csv",
        "account,name,parent_account\n"
        "A-1,Child one,ENT-9\nA-2,Child two,ENT-9\nA-3,Grandchild,A-2\nENT-9,Enterprise,\n",
    )
    load(db, settings, file)
    with db() as session:
        parents = dict(session.execute(select(Customer.account, Customer.parent_id)).all())
        ids = dict(session.execute(select(Customer.account, Customer.id)).all())
    assert parents == {"A-1": ids["ENT-9"], "A-2": ids["ENT-9"], "A-3": ids["A-2"], "ENT-9": None}


def test_a_bad_file_writes_nothing_and_lists_every_bad_row_with_its_line_and_field(db, settings, tmp_path):
    file = write(
        tmp_path,
        "contacts.csv",
        (
            "account,email,name,notice_kinds,min_impact,reminders\n"
            "ACC-1001,ok@acme.example,Fine,,,\n"
            "ACC-1001,not-an-address,Bad email,,,\n"
            'ACC-1001,two@acme.example,"Two\nlines",,,\n'
            "ACC-1001,three@acme.example,Bad kind,new;sometimes,,\n"
            "ACC-1001,four@acme.example,Bad impact,,catastrophic,maybe\n"
            ",five@acme.example,No account,,,\n"
        ),
    )
    load(db, settings, DATA / "customers.csv")
    before = snapshot(db)
    assert failure(db, settings, file) == [
        "line 3: email: 'not-an-address' is not an email address: An email address must have an @-sign.",
        "line 4: name: must be one line of text without control characters; it contains a line break",
        "line 6: notice_kinds: 'sometimes' is not a notice kind "
        "(new, updated, rescheduled, reminder, started, completed, cancelled, emergency)",
        "line 7: min_impact: 'catastrophic' is not an impact level (NO-IMPACT, REDUCED-REDUNDANCY, DEGRADED, OUTAGE)",
        "line 7: reminders: 'maybe' is not true or false (true/false, yes/no, 1/0)",
        "line 8: account: must not be empty",
    ]
    assert snapshot(db) == before


def test_it_checks_time_zones_countries_and_lengths(db, settings, tmp_path):
    file = write(
        tmp_path,
        "locations.csv",
        (f"code,name,country,time_zone\nL-1,One,USA,\nL-2,Two,US,Mars/Olympus_Mons\nL-3,{'x' * 201},US,UTC\n"),
    )
    assert failure(db, settings, file) == [
        "line 2: country: 'USA' is not a two-letter country code (ISO 3166, e.g. US)",
        "line 3: time_zone: 'Mars/Olympus_Mons' is not an IANA time zone (e.g. Europe/Paris)",
        "line 4: name: is 201 characters long; the limit is 200",
    ]


def test_it_reports_references_to_rows_that_do_not_exist(db, settings, tmp_path):
    load(db, settings, DATA / "locations.csv")
    load(db, settings, DATA / "customers.csv")
    file = write(
        tmp_path,
        "services.csv",
        (
            "service_id,account,a_end,z_end\n"
            "S-1,ACC-1001,DLLSTX01,NOWHERE\n"
            "S-2,ACC-9999,DLLSTX01,\n"
            "S-3,ACC-1001,,DLLSTX01\n"
        ),
    )
    assert failure(db, settings, file) == [
        "line 2: z_end: no location has code 'NOWHERE'",
        "line 3: account: no customer has account 'ACC-9999'",
        "line 4: z_end: is given without an a_end",
    ]


def test_a_parent_that_never_comes_is_reported(db, settings, tmp_path):
    file = write(tmp_path, "customers.csv", "account,name,parent_account\nA-1,One,GHOST\n")
    assert failure(db, settings, file) == ["line 2: parent_account: no customer has account 'GHOST'"]


def test_rows_that_refer_to_a_rejected_row_are_not_reported_again(db, settings, tmp_path):
    file = write(
        tmp_path,
        "inventory.json",
        """{
        "customers": [{"account": "A-1", "name": "One", "time_zone": "Nowhere/Land"}],
        "contacts": [{"account": "A-1", "email": "noc@one.example"}],
        "services": [{"service_id": "S-1", "account": "A-1"}]
    }""",
    )
    assert failure(db, settings, file) == [
        "customers[0]: time_zone: 'Nowhere/Land' is not an IANA time zone (e.g. Europe/Paris)"
    ]


def test_an_account_cannot_be_its_own_parent(db, settings, tmp_path):
    file = write(tmp_path, "customers.csv", "account,name,parent_account\nA-1,One,A-1\n")
    assert failure(db, settings, file) == ["line 2: parent_account: an account cannot be its own parent"]


def test_a_cycle_of_parents_is_refused(db, settings, tmp_path):
    load(db, settings, write(tmp_path, "first.csv", "account,name,parent_account\nA-1,One,\nA-2,Two,A-1\n"))
    before = snapshot(db)
    cycle = write(tmp_path, "cycle.csv", "account,name,parent_account\nA-3,Three,A-2\nA-1,One,A-3\n")
    assert failure(db, settings, cycle) == [
        "line 2: parent_account: 'A-2' makes a cycle: 'A-3' would be its own ancestor",
        "line 3: parent_account: 'A-3' makes a cycle: 'A-1' would be its own ancestor",
    ]
    assert snapshot(db) == before


def test_the_line_of_a_row_is_where_it_starts_even_after_a_multiline_cell(db, settings, tmp_path):
    file = write(tmp_path, "locations.csv", 'code,address,country\nL-1,"1 Main St\nFloor 2\nRoom 3",US\n\nL-2,,XYZ\n')
    assert failure(db, settings, file) == [
        "line 6: country: 'XYZ' is not a two-letter country code (ISO 3166, e.g. US)"
    ]


def test_the_list_of_bad_rows_is_capped(db, settings, tmp_path):
    body = "".join(f"L-{n},ZZZ\n" for n in range(1205))
    lines = failure(db, settings, write(tmp_path, "locations.csv", "code,country\n" + body))
    assert len(lines) == 1001
    assert lines[-1] == "... and 205 more"


def test_it_rejects_unknown_and_missing_columns_and_still_checks_the_rows(db, settings, tmp_path):
    file = write(tmp_path, "contacts.csv", "account,emial,name,name\nACC-1,a@b.example,A,B\n,c@d.example,C,D\n")
    assert failure(db, settings, file, kind="contacts") == [
        "line 1: emial: is not a column of contacts (account, email, name, role, notice_kinds, min_impact, reminders)",
        "line 1: email: column is missing",
        "line 1: name: column appears twice",
        "line 2: account: no customer has account 'ACC-1'",
        "line 3: account: must not be empty",
    ]


def test_a_missing_key_column_is_reported_once_and_its_rows_are_not_written(db, settings, tmp_path):
    load(db, settings, DATA / "customers.csv")
    file = write(tmp_path, "contacts.csv", "account,name\nACC-1001,One\nACC-2002,Two\n")
    assert failure(db, settings, file, kind="contacts") == ["line 1: email: column is missing"]
    assert snapshot(db)["contacts"] == []


def test_it_needs_a_kind_when_the_header_does_not_say(db, settings, tmp_path):
    file = write(tmp_path, "mystery.csv", "name,colour\nx,blue\n")
    assert failure(db, settings, file) == [
        "line 1: header: does not say which kind of rows follow (it has no service_id, email, code or account "
        "column); name the kind with --kind locations|customers|contacts|services"
    ]


@pytest.mark.parametrize("delimiter, named", [(";", "';'"), ("\t", "tabs"), ("|", "'|'")])
@pytest.mark.parametrize("kind", [None, "customers"])
def test_a_header_from_a_spreadsheet_export_says_which_delimiter_it_seems_to_use(
    db, settings, tmp_path, delimiter, named, kind
):
    header = delimiter.join(["account", "name", "time_zone"])
    file = write(tmp_path, "customers.csv", f"{header}\nA-1{delimiter}One{delimiter}UTC\n")
    assert failure(db, settings, file, kind=kind) == [
        f"line 1: header: this file seems to use {named} between columns; changemgmt reads comma-separated files"
    ]


def test_it_reads_utf8_with_a_byte_order_mark_and_spreadsheet_headers(db, settings, tmp_path):
    path = tmp_path / "locations.csv"
    path.write_bytes("\ufeffCode,Name,Time Zone\nZRH1,Zürich Binz,Europe/Zurich\n".encode())
    load(db, settings, path)
    with db() as session:
        assert session.execute(select(Location.code, Location.name, Location.time_zone)).one() == (
            "ZRH1",
            "Zürich Binz",
            "Europe/Zurich",
        )


def test_formula_looking_cells_are_stored_as_text_with_a_warning(db, settings, tmp_path):
    file = write(tmp_path, "customers.csv", 'account,name\nA-1,=HYPERLINK("http://x")\nA-2,\'@SUM(1)\nA-3,Plain\n')
    result = load(db, settings, file)
    tail = "like a spreadsheet formula; stored as text, and CSV exports prefix it with a quote"
    assert [str(warning) for warning in result.warnings] == [
        f"line 2: name: starts with '=' {tail}",
        f"line 3: name: starts with '@' {tail}",
    ]
    with db() as session:
        names = session.scalars(select(Customer.name).order_by(Customer.account)).all()
    assert names == ['=HYPERLINK("http://x")', "@SUM(1)", "Plain"]


@pytest.mark.parametrize("chunk_rows", [2, 2000])
def test_a_key_repeated_in_a_file_is_reported_with_both_lines(db, settings, tmp_path, monkeypatch, chunk_rows):
    monkeypatch.setattr(importer, "CHUNK_ROWS", chunk_rows)
    file = write(tmp_path, "locations.csv", "code,name\nL-1,First\nL-1,Second\nL-2,Other\nL-1,Third\n")
    assert failure(db, settings, file) == [
        "line 3: code: 'L-1' is also on line 2; each location may appear once in a file",
        "line 5: code: 'L-1' is also on line 2; each location may appear once in a file",
    ]
    assert snapshot(db)["locations"] == []


def test_a_contact_is_its_account_and_its_address_with_the_domain_in_any_case(db, settings, tmp_path):
    load(db, settings, DATA / "customers.csv")
    file = write(
        tmp_path,
        "contacts.csv",
        (
            "account,email\n"
            "ACC-1001,Bob@Example.COM\n"
            "ACC-2002,Bob@example.com\n"
            "ACC-1001,bob@example.com\n"
            "ACC-1001,Bob@example.com\n"
        ),
    )
    assert failure(db, settings, file) == [
        "line 5: email: 'Bob@example.com' of account 'ACC-1001' is also on line 2; each contact may appear once in "
        "a file",
    ]


def test_repeated_keys_are_found_in_files_of_every_size_keeping_keys_not_rows(db, settings, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK_ROWS", 7)
    rows = "".join(f"S-{n % 95},A-1,,\n" for n in range(100))
    load(db, settings, write(tmp_path, "customers.csv", "account,name\nA-1,One\n"))
    lines = failure(db, settings, write(tmp_path, "services.csv", "service_id,account,a_end,z_end\n" + rows))
    assert lines == [
        f"line {n + 2}: service_id: 'S-{n % 95}' is also on line {n % 95 + 2}; each service may appear once in a file"
        for n in range(95, 100)
    ]


def test_a_reimport_never_resubscribes_a_contact(db, settings, now):
    load_sample(db, settings)
    with db.begin() as session:
        session.execute(Contact.__table__.update().values(unsubscribed_at=now, suppressed_at=now))
    load(db, settings, DATA / "contacts.csv")
    with db() as session:
        assert set(session.execute(select(Contact.unsubscribed_at, Contact.suppressed_at)).all()) == {(now, now)}


def test_each_import_is_recorded_in_the_audit_trail(db, settings, now):
    load(db, settings, DATA / "locations.csv", actor="bob", now=now)
    with db() as session:
        entry = session.scalars(select(AuditEntry)).one()
    assert (entry.at, entry.actor, entry.entity, entry.entity_key, entry.action) == (
        now,
        "bob",
        "inventory",
        "locations.csv",
        "import",
    )
    assert entry.details == {"file": "locations.csv", "format": "csv", "counts": {"locations": {"rows": 3, "new": 3}}}


def test_a_dry_run_checks_and_counts_but_writes_nothing(db, settings):
    result = load(db, settings, DATA / "locations.csv", dry_run=True)
    assert (result.dry_run, result.summary()) == (True, ["locations: 3 rows (3 new, 0 updated)"])
    assert snapshot(db)["locations"] == []
    with db() as session:
        assert session.scalars(select(AuditEntry)).all() == []


def test_a_dry_run_of_a_bad_file_still_lists_its_bad_rows(db, settings, tmp_path):
    file = write(tmp_path, "locations.csv", "code,country\nL-1,ZZZ\n")
    assert failure(db, settings, file, dry_run=True) == [
        "line 2: country: 'ZZZ' is not a two-letter country code (ISO 3166, e.g. US)"
    ]


def test_it_reports_progress_by_bytes_until_the_whole_file_is_read(db, settings):
    seen = []
    load(db, settings, DATA / "inventory.json", progress=lambda done, total: seen.append((done, total)))
    size = (DATA / "inventory.json").stat().st_size
    assert seen[-1] == (size, size)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris"])
def test_a_blank_customer_time_zone_takes_the_configured_default(db, env, tmp_path, zone):
    from changemgmt.config import load_settings

    settings = load_settings({**env, "DEFAULT_TIME_ZONE": zone})
    load(db, settings, write(tmp_path, "customers.csv", "account,name,time_zone\nA-1,One,\n"))
    with db() as session:
        assert session.scalars(select(Customer.time_zone)).one() == zone


def test_the_import_time_defaults_to_now(db, settings):
    load(db, settings, DATA / "locations.csv")
    with db() as session:
        at = session.scalars(select(AuditEntry.at)).one()
    assert abs(at - datetime.now(UTC)).total_seconds() < 60


def test_a_row_with_more_cells_than_the_header_is_refused(db, settings, tmp_path):
    file = write(tmp_path, "locations.csv", "code,name\nL-1,One,\nL-2,Two,extra\n")
    assert failure(db, settings, file) == ["line 3: row: has 3 cells; the header has 2"]


def test_bytes_that_are_not_utf8_are_reported_with_their_line(db, settings, tmp_path):
    path = tmp_path / "locations.csv"
    path.write_bytes(b"code,name\nL-1,One\nL-2,Caf\xe9\n")
    assert failure(db, settings, path) == ["line 3: is not UTF-8 text"]


def test_references_resolve_across_chunks_and_a_small_id_cache(db, settings, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK_ROWS", 3)
    monkeypatch.setattr(refs, "ID_CACHE_LIMIT", 2)
    load(db, settings, write(tmp_path, "locations.csv", "code\n" + "".join(f"L-{n}\n" for n in range(5))))
    load(db, settings, write(tmp_path, "customers.csv", "account,name\n" + "".join(f"A-{n},N{n}\n" for n in range(7))))
    services = "".join(f"S-{n},A-{n % 7},L-{n % 5},L-{(n + 1) % 5}\n" for n in range(40))
    load(db, settings, write(tmp_path, "services.csv", "service_id,account,a_end,z_end\n" + services))
    with db() as session:
        query = (
            select(Service.service_id, Customer.account, Location.code)
            .join(Service.customer)
            .join(Service.a_end)
            .order_by(Service.id)
        )
        found = session.execute(query).all()
    assert found == [(f"S-{n}", f"A-{n % 7}", f"L-{n % 5}") for n in range(40)]


def test_every_problem_of_a_file_is_listed_at_once(db, settings, tmp_path):
    load(db, settings, DATA / "locations.csv")
    file = write(
        tmp_path,
        "inventory.json",
        """{
      "services": [
        {"service_id": "S-1", "account": "A-1", "a_end": "DLLSTX01"},
        {"service_id": "S-2", "account": "A-9", "a_end": "NOWHERE", "bandwidth": "\\u001b[2J"},
        {"service_id": "S-1", "account": "A-2", "a_end": "GONE"},
        {"service_id": "S-3", "account": "A-3"}
      ],
      "customers": [
        {"account": "A-1", "name": "One", "parent_account": "GHOST"},
        {"account": "A-2", "name": "=?utf-8?b?ZXZpbEBldmlsLmV4YW1wbGUsIHg=?="},
        {"account": "A-1", "name": "One again"},
        {"account": "A-4", "name": "Four", "time_zone": "Mars/Base", "parent_account": "PHANTOM"}
      ],
      "contacts": [
        {"account": "A-1", "email": "noc@one.example"},
        {"account": "A-1", "email": "NOC@ONE.example"},
        {"account": "A-1", "email": "noc@One.Example"},
        {"account": "A-7", "email": "x,y@seven.example"},
        {"account": "A-2", "email": "noc@two.example"}
      ],
      "locations": [
        {"code": "L-1", "country": "USA"},
        {"code": "DLLSTX01", "name": "Dallas"},
        {"code": "L-1"}
      ]
    }""",
    )
    assert failure(db, settings, file) == [
        "locations[0]: country: 'USA' is not a two-letter country code (ISO 3166, e.g. US)",
        "locations[2]: code: 'L-1' is also at locations[0]; each location may appear once in a file",
        "customers[0]: parent_account: no customer has account 'GHOST'",
        "customers[1]: name: must not contain '=?...?=' (email encoded-word syntax)",
        "customers[2]: account: 'A-1' is also at customers[0]; each customer may appear once in a file",
        "customers[3]: time_zone: 'Mars/Base' is not an IANA time zone (e.g. Europe/Paris)",
        "customers[3]: parent_account: no customer has account 'PHANTOM'",
        "contacts[2]: email: 'noc@one.example' of account 'A-1' is also at contacts[0]; each contact may appear once "
        "in a file",
        "contacts[3]: email: 'x,y@seven.example' is not an email address: The email address contains invalid "
        "characters before the @-sign: ','.",
        "contacts[3]: account: no customer has account 'A-7'",
        "services[1]: bandwidth: must be one line of text without control characters; it contains U+001B (a control "
        "character)",
        "services[1]: account: no customer has account 'A-9'",
        "services[1]: a_end: no location has code 'NOWHERE'",
        "services[2]: service_id: 'S-1' is also at services[0]; each service may appear once in a file",
        "services[2]: a_end: no location has code 'GONE'",
        "services[3]: account: no customer has account 'A-3'",
    ]
    assert [len(rows) for rows in snapshot(db).values()] == [3, 0, 0, 0]


def test_a_csv_file_lists_its_bad_rows_before_a_line_that_is_not_utf8(db, settings, tmp_path):
    path = tmp_path / "locations.csv"
    path.write_bytes(b"code,country\nL-1,USA\nL-1,US\nL-3,Caf\xe9\n")
    assert failure(db, settings, path) == [
        "line 2: country: 'USA' is not a two-letter country code (ISO 3166, e.g. US)",
        "line 3: code: 'L-1' is also on line 2; each location may appear once in a file",
        "line 4: is not UTF-8 text",
    ]
