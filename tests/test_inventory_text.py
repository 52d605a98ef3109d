"""Text in inventory files follows the rules of `changemgmt.domain.text`: addresses checked by
email-validator, names that cannot pass for encoded words, no control character in any
cell (LF and TAB only in a location's address), and a length limit on every text column."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy import text as sql

from changemgmt.domain import text as rules
from changemgmt.domain.errors import DomainError
from changemgmt.inventory import ImportFailed, cells, import_inventory
from changemgmt.inventory.cells import BadValue
from changemgmt.store.models import Contact

# Every text column, the rule it follows and its limit (README, "Inventory files").
TEXT_COLUMNS = [
    ("locations", "code", rules.one_line, 64),
    ("locations", "name", rules.one_line, 200),
    ("locations", "address", rules.multi_line, 300),
    ("locations", "city", rules.one_line, 100),
    ("locations", "region", rules.one_line, 100),
    ("customers", "account", rules.one_line, 64),
    ("customers", "name", rules.display_name, 200),
    ("contacts", "name", rules.display_name, 200),
    ("contacts", "role", rules.one_line, 100),
    ("services", "service_id", rules.one_line, 100),
    ("services", "product", rules.one_line, 100),
    ("services", "bandwidth", rules.one_line, 50),
]
HOSTILE = [
    "\x00",
    "\x01",
    "\x08",
    "\x0b",
    "\x0c",
    "\x1b]0;owned\x07",
    "\x1b[2J",
    "\x7f",
    "\x85",
    "\x9b31m",
    "\u2028",
    "\u2029",
    "\u202e",
    "\u2066",
    "\u2069",
]
ENCODED_WORD = "=?utf-8?b?ZXZpbEBldmlsLmV4YW1wbGUsIHg=?="


def base_document() -> dict[str, list[dict]]:
    return {
        "locations": [{"code": "L-1", "name": "Dallas", "address": "1 Main St", "city": "Dallas", "region": "TX"}],
        "customers": [{"account": "A-1", "name": "Acme"}],
        "contacts": [{"account": "A-1", "email": "noc@acme.example", "name": "Acme NOC", "role": "NOC"}],
        "services": [{"service_id": "S-1", "account": "A-1", "product": "Ethernet", "bandwidth": "1G", "a_end": "L-1"}],
    }


def with_value(kind: str, column: str, value: str) -> dict[str, list[dict]]:
    """The base document with `value` in one column, and in the cells that refer to it."""
    document = base_document()
    document[kind][0][column] = value
    if (kind, column) == ("customers", "account"):
        document["contacts"][0]["account"] = document["services"][0]["account"] = value
    if (kind, column) == ("locations", "code"):
        document["services"][0]["a_end"] = value
    return document


def load(db, settings, document: dict) -> None:
    stream = io.BytesIO(json.dumps(document).encode())
    import_inventory(db, stream, settings=settings, actor="alice", fmt="json")


def problems(db, settings, document: dict) -> list[str]:
    with pytest.raises(ImportFailed) as caught:
        load(db, settings, document)
    return caught.value.lines()


def stored(db, kind: str, column: str) -> list[str]:
    with db() as session:
        return list(session.execute(sql(f"SELECT {column} FROM {kind}")).scalars())  # noqa: S608 (names above)


@pytest.mark.parametrize("kind, column, rule, limit", TEXT_COLUMNS)
@pytest.mark.parametrize("hostile", HOSTILE)
def test_control_characters_are_refused_in_every_text_column(db, settings, kind, column, rule, limit, hostile):
    lines = problems(db, settings, with_value(kind, column, f"x{hostile}y"))
    assert lines[0].startswith(f"{kind}[0]: {column}: must ")
    assert all(f": {column}: " in line or ": a_end: " in line for line in lines)
    assert stored(db, "locations", "code") == []


@pytest.mark.parametrize("kind, column, rule, limit", TEXT_COLUMNS)
def test_every_text_column_has_its_limit(db, settings, kind, column, rule, limit):
    lines = problems(db, settings, with_value(kind, column, "x" * (limit + 1)))
    assert lines[0] == f"{kind}[0]: {column}: is {limit + 1} characters long; the limit is {limit}"
    load(db, settings, with_value(kind, column, "x" * limit))
    assert "x" * limit in stored(db, kind, column)


def test_a_lone_surrogate_in_a_cell_is_refused_not_stored_as_a_question_mark(db, settings):
    document = with_value("customers", "name", "a\ud800b")
    column = json.dumps(document).index("\\ud800") + 1
    assert problems(db, settings, document) == [
        f'line 1, column {column}: "\\ud800" is half of a UTF-16 surrogate pair, alone: it stands for no character'
    ]
    assert stored(db, "customers", "name") == []


def test_a_surrogate_pair_is_the_character_it_stands_for(db, settings):
    load(db, settings, with_value("customers", "name", "Acme \U0001f680"))
    assert stored(db, "customers", "name") == ["Acme \U0001f680"]


def test_an_address_keeps_line_breaks_and_tabs_and_reads_cr_as_lf(db, settings):
    load(db, settings, with_value("locations", "address", "1 Main St\r\nSuite 2\rFloor 3\n\tRoom 4"))
    assert stored(db, "locations", "address") == ["1 Main St\nSuite 2\nFloor 3\n\tRoom 4"]


@pytest.mark.parametrize("kind, column", [("locations", "name"), ("locations", "city"), ("services", "product")])
def test_one_line_cells_refuse_line_breaks_and_tabs(db, settings, kind, column):
    for value in ("a\nb", "a\rb", "a\tb"):
        assert problems(db, settings, with_value(kind, column, value))[0].startswith(
            f"{kind}[0]: {column}: must be one line of text without control characters"
        )


@pytest.mark.parametrize("kind", ["customers", "contacts"])
def test_names_shown_beside_an_address_cannot_be_encoded_words(db, settings, kind):
    assert problems(db, settings, with_value(kind, "name", ENCODED_WORD)) == [
        f"{kind}[0]: name: must not contain '=?...?=' (email encoded-word syntax)"
    ]


def test_other_cells_may_hold_what_looks_like_an_encoded_word(db, settings):
    load(db, settings, with_value("locations", "name", ENCODED_WORD))
    assert stored(db, "locations", "name") == [ENCODED_WORD]


@pytest.mark.parametrize(
    "address",
    [
        "noc@example.net\r\nX: y",
        "x,y@example.com",
        "noc@example.net>, <x@y.example",
        "Noc <noc@example.net>",
        "noc@localhost",
        "noc@example.test",
        "é@example.net",
    ],
)
def test_an_address_that_email_validator_refuses_is_refused_with_its_line_and_field(db, settings, tmp_path, address):
    load(db, settings, base_document())
    quoted = address.replace('"', '""')
    file = tmp_path / "contacts.csv"
    file.write_text(f'account,email\nA-1,ok@acme.example\nA-1,"{quoted}"\n', encoding="utf-8", newline="")
    with pytest.raises(ImportFailed) as caught:
        import_inventory(db, file, settings=settings, actor="alice")
    [line] = caught.value.lines()
    assert line.startswith("line 3: email: ") and " is not an email address: " in line
    assert stored(db, "contacts", "email") == ["noc@acme.example"]


@pytest.mark.parametrize(
    "address, kept",
    [
        ("Bob@Example.COM", "Bob@example.com"),
        ("NOC@Acme.Example", "NOC@acme.example"),  # email-validator would write "noc"
        ("o'brien+maint@sub.example.co.uk", "o'brien+maint@sub.example.co.uk"),
        ("x@bücher.example", "x@xn--bcher-kva.example"),
    ],
)
def test_an_address_is_stored_as_written_but_for_its_domain_in_lower_case(address, kept):
    assert cells.email(address) == kept


def test_the_same_address_with_its_domain_in_another_case_updates_the_same_contact(db, settings):
    load(db, settings, base_document())
    document = base_document()
    document["contacts"][0].update(email="noc@ACME.Example", name="Renamed")
    load(db, settings, document)
    with db() as session:
        assert session.execute(select(Contact.email, Contact.name)).all() == [("noc@acme.example", "Renamed")]


def outcome(parse, *args, **options) -> tuple[str, object]:
    try:
        return "stored", parse(*args, **options)
    except (BadValue, DomainError) as exc:
        return "refused", getattr(exc, "message", str(exc))


TEXT = st.lists(
    st.one_of(
        st.text(max_size=4),
        st.sampled_from(
            HOSTILE
            + [
                " ",
                "\t",
                "\n",
                "\r\n",
                "\r",
                "\ud800",
                "\udfff",
                "=?",
                "?=",
                "=?utf-8?q?x?=",
                "\xa0",
                "\u200b",
                "'",
            ]
        ),
    ),
    max_size=6,
).map("".join)


@hypothesis_settings(max_examples=400, deadline=None)
@given(
    raw=st.one_of(TEXT, st.integers(), st.floats(allow_nan=False), st.none(), st.booleans()),
    limit=st.integers(min_value=1, max_value=12),
    required=st.booleans(),
    mode=st.sampled_from(["one_line", "multi_line", "display_name"]),
)
def test_text_cells_follow_the_domain_rules_exactly(raw, limit, required, mode):
    options = {"multiline": mode == "multi_line", "name": mode == "display_name"}
    rule = getattr(rules, mode)
    assert outcome(cells.text(limit, required=required, **options), raw) == outcome(
        rule, raw, "", limit, required=required
    )


LOCAL = st.text(alphabet="aZ09_+-.!#'\"(),:;<>@[] \t\r\néß\x00", min_size=0, max_size=8)
LABEL = st.one_of(st.text(alphabet="aZ09-_ü", min_size=0, max_size=8), st.sampled_from(["xn--bcher-kva", "ab--cd"]))
DOMAIN = st.lists(LABEL, min_size=1, max_size=4).map(".".join) | st.sampled_from(
    ["example.com", "EXAMPLE.Net", "x.test", "localhost", "a.localhost", "arpa", "b.onion", "example.c0m", "a.b"]
)


@hypothesis_settings(max_examples=600, deadline=None)
@given(local=LOCAL, domain=DOMAIN, long_label=st.integers(min_value=0, max_value=70))
def test_email_cells_follow_email_validator_exactly(local, domain, long_label):
    address = f"{local}@{domain}" + ("." + "a" * long_label if long_label > 60 else "")
    expected = outcome(rules.email_address, address, "email")
    if expected[0] == "stored":
        expected = ("stored", address.strip().rpartition("@")[0] + "@" + expected[1].rpartition("@")[2])
    assert outcome(cells.email, address) == expected


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(column=st.sampled_from(TEXT_COLUMNS), value=TEXT.filter(lambda value: value.strip()))
def test_hostile_text_in_any_column_is_refused_by_name_or_stored_as_the_rule_keeps_it(db, settings, column, value):
    kind, name, rule, limit = column
    value = json.loads(json.dumps(value))  # as JSON carries it: a high and a low surrogate make one character
    expected = outcome(rule, value, name, limit)
    document = with_value(kind, name, value)
    if expected[0] == "refused":
        lines = problems(db, settings, document)
        if any("\ud800" <= char <= "\udfff" for char in value):  # refused before parsing, by line and column
            assert all(line.startswith("line 1, column ") for line in lines), lines
        else:
            assert all(f"]: {name}: " in line or "]: a_end: " in line for line in lines), lines
    else:
        load(db, settings, document)
        assert expected[1] in stored(db, kind, name)
    with db.begin() as session:
        for model in ("services", "contacts", "customers", "locations"):
            session.execute(sql(f"DELETE FROM {model}"))  # noqa: S608
