"""One cell at a time: what an inventory file may hold, and what we store for it."""

from __future__ import annotations

import pytest

from changemgmt.inventory import cells
from changemgmt.inventory.cells import BadValue


@pytest.mark.parametrize(
    "raw, stored",
    [
        ("noc@example.net", "noc@example.net"),
        ("  NOC@Example.NET ", "NOC@example.net"),
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
    ],
)
def test_it_accepts_email_addresses_and_lowers_their_domain(raw, stored):
    assert cells.email(raw) == stored


@pytest.mark.parametrize(
    "raw",
    [
        "noc",
        "noc@",
        "@example.net",
        "noc@example",
        "noc@@example.net",
        "a@b@example.net",
        "no c@example.net",
        "noc@exa mple.net",
        "noc@example.net\r\nBcc: x@y.z",
        "noc@example..net",
        "noc@.example.net",
        "",
        "a@" + "b" * 250 + ".net",
        "x,y@example.com",
        "noc@example.net\r\nX: y",
        "a@b.test",
    ],
)
def test_it_refuses_what_is_not_an_email_address(raw):
    with pytest.raises(BadValue):
        cells.email(raw)


@pytest.mark.parametrize(
    "raw, flag",
    [
        ("true", True),
        ("YES", True),
        ("1", True),
        ("", True),
        (None, True),
        (True, True),
        (1, True),
        ("false", False),
        ("No", False),
        ("0", False),
        (False, False),
        (0, False),
    ],
)
def test_flags_are_true_unless_they_say_otherwise(raw, flag):
    assert cells.flag(raw) is flag


def test_a_flag_must_be_recognisable():
    with pytest.raises(BadValue, match="'maybe' is not true or false"):
        cells.flag("maybe")


@pytest.mark.parametrize(
    "raw, kinds",
    [
        ("", None),
        (None, None),
        ("  ", None),
        ("new", ["new"]),
        ("reminder; NEW,updated  cancelled", ["new", "updated", "reminder", "cancelled"]),
        ("new;new", ["new"]),
        (["emergency", "New"], ["new", "emergency"]),
    ],
)
def test_notice_kinds_blank_means_every_kind(raw, kinds):
    assert cells.notice_kinds(raw) == kinds


@pytest.mark.parametrize(
    "raw, stored",
    [
        ("", "NO-IMPACT"),
        ("outage", "OUTAGE"),
        ("reduced redundancy", "REDUCED-REDUNDANCY"),
    ],
)
def test_the_minimum_impact_defaults_to_everything(raw, stored):
    assert cells.impact(raw) == stored


@pytest.mark.parametrize("default", ["UTC", "America/New_York"])
def test_a_blank_zone_takes_the_default(default):
    assert cells.zone(default)("") == default
    assert cells.zone(default)("Asia/Kolkata") == "Asia/Kolkata"


@pytest.mark.parametrize("raw", ["Mars/Base", "../etc/passwd", "EST 5", "x" * 65])
def test_a_zone_must_be_an_iana_name(raw):
    with pytest.raises(BadValue):
        cells.zone("UTC")(raw)


@pytest.mark.parametrize("raw, stored", [("us", "US"), ("", ""), (" fr ", "FR")])
def test_countries_are_two_letters_in_capitals(raw, stored):
    assert cells.country(raw) == stored


@pytest.mark.parametrize("raw", ["USA", "U", "1A", "Ü S"])
def test_other_countries_are_refused(raw):
    with pytest.raises(BadValue):
        cells.country(raw)


def test_text_is_trimmed_limited_and_one_line_unless_multiline():
    name = cells.text(5, required=True)
    assert name("  Acme ") == "Acme"
    assert name(42) == "42"
    assert cells.text(50, multiline=True)("1 Main St\nSuite 2") == "1 Main St\nSuite 2"
    for raw, message in [
        ("", "must not be empty"),
        ("Acme Corp", "is 9 characters long; the limit is 5"),
        ("A\nB", "one line .* a line break"),
        ("A\x00", "control characters"),
        (True, "must be text"),
        ({"a": 1}, "must be text"),
    ]:
        with pytest.raises(BadValue, match=message):
            name(raw)


@pytest.mark.parametrize("value", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_formula_looking_cells_are_neutralised_and_restored(value):
    assert cells.neutralise(value) == "'" + value
    assert cells.unescape(cells.neutralise(value)) == value


@pytest.mark.parametrize("value", ["Acme", "", "'quoted'", "a=b", "'"])
def test_other_cells_are_left_alone(value):
    assert cells.neutralise(value) == value
    assert cells.unescape(value) == value
