"""Impacts given as lists (gcrs.impact_lists): pasted service IDs, a CSV file, every
service at a location; each problem names its line."""

from __future__ import annotations

import pytest

from changemgmt.domain.errors import DomainError
from changemgmt.domain.impact import Impact
from changemgmt.gcrs.impact_lists import csv_impacts, flag_impact, location_impacts, pasted_impacts
from changemgmt.store.db import transaction


def test_pasted_ids_are_split_on_lines_commas_and_semicolons_with_the_chosen_level():
    items = pasted_impacts("SVC-1, SVC-2\n\nSVC-3:DEGRADED:20; SVC-4", Impact.REDUCED_REDUNDANCY)
    assert [(i["service"], i["impact"], i["max_outage_minutes"]) for i in items] == [
        ("SVC-1", "REDUCED-REDUNDANCY", None),
        ("SVC-2", "REDUCED-REDUNDANCY", None),
        ("SVC-3", "DEGRADED", "20"),
        ("SVC-4", "REDUCED-REDUNDANCY", None),
    ]


def test_every_bad_pasted_line_is_named_at_once():
    with pytest.raises(DomainError) as error:
        pasted_impacts("SVC-1:BROKEN\nSVC-2\nSVC-3:OUTAGE:soon", Impact.OUTAGE)
    assert [e.field for e in error.value.errors] == ["services line 1", "services line 3"]
    assert "'BROKEN' is not an impact level" in error.value.errors[0].message


def test_a_flag_is_read_as_the_cli_reads_it():
    assert flag_impact("SVC-1") == {"service": "SVC-1", "impact": "OUTAGE", "max_outage_minutes": None}
    assert flag_impact("SVC-1:DEGRADED:30")["max_outage_minutes"] == "30"


def test_a_csv_file_with_or_without_a_header():
    with_header = csv_impacts(b"service,impact,max_outage_minutes\r\nSVC-1,DEGRADED,15\r\nSVC-2,,\r\n", Impact.OUTAGE)
    without = csv_impacts(b"\xef\xbb\xbfSVC-1,DEGRADED,15\nSVC-2\n", Impact.OUTAGE)  # a BOM, as Excel writes
    assert with_header == without
    assert [(i["service"], i["impact"]) for i in without] == [("SVC-1", "DEGRADED"), ("SVC-2", "OUTAGE")]


def test_a_bad_csv_file_names_each_line():
    with pytest.raises(DomainError) as error:
        csv_impacts(b"SVC-1,NOPE\nSVC-2,OUTAGE,1,extra\n", Impact.OUTAGE)
    assert [e.field for e in error.value.errors] == ["impacts_csv line 1", "impacts_csv line 2"]
    with pytest.raises(DomainError, match="not UTF-8"):
        csv_impacts(b"\xff\xfe", Impact.OUTAGE)


def test_a_location_gives_every_service_with_an_end_there(desk, db):
    with transaction(db) as session:
        items = location_impacts(session, "DLLSTX01", Impact.DEGRADED)
        assert [i["service"] for i in items] == ["ACME-DIA-2", "ACME-ETH-1", "GLBX-WAVE-1"]
        with pytest.raises(DomainError, match="no location with code 'NOWHERE'"):
            location_impacts(session, "NOWHERE", Impact.DEGRADED)
