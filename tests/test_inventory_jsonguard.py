"""The lexical check of JSON bytes that runs before ijson's C backend: numbers too long to
convert (which crash it), lone surrogate escapes (which it turns into "?"), strings too
long; the same findings whatever the size of the blocks it reads."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from changemgmt.inventory import jsonguard
from changemgmt.inventory.readers import JSON


def check(document: bytes) -> list[tuple[str, str]]:
    found = []
    jsonguard.check(io.BytesIO(document), lambda where, message: found.append((where, message)))
    return found


def lone(escape: str) -> str:
    return f'"{escape}" is half of a UTF-16 surrogate pair, alone: it stands for no character'


def test_inventory_json_passes():
    document = json.dumps({"services": [{"service_id": "S-1", "bandwidth": 100, "note": "naïve ✓ 😀"}]})
    assert check(document.encode()) == []
    assert check(document.encode().replace(b"\\u00ef", "ï".encode())) == []


@pytest.mark.parametrize("digits", [101, 4301, 100_000])
@pytest.mark.parametrize("sign", ["", "-"])
def test_numbers_longer_than_the_limit_are_refused_with_their_line_and_column(digits, sign):
    number = sign + "7" * digits
    assert check(f'{{"services": [\n  {{"bandwidth": {number}}}]}}'.encode()) == [
        ("line 2, column 17", "a number of more than 100 characters; no inventory field is that long")
    ]


@pytest.mark.parametrize("number", ["7" * 100, "-" + "7" * 99, "0." + "5" * 98, "1.5e300", "-0.25E-7"])
def test_numbers_up_to_the_limit_pass(number):
    assert check(f"[{number}]".encode()) == []


def test_digits_inside_a_string_are_text_not_a_number():
    assert check(('["' + "7" * 5000 + '"]').encode()) == []


@pytest.mark.parametrize(
    "text, escapes",
    [
        (r"a\ud800b", [r"\ud800"]),
        (r"a\uDBFF", [r"\uDBFF"]),
        (r"a\udc00b", [r"\udc00"]),
        (r"\ud800\u0041", [r"\ud800"]),  # yajl would read this as U+10041
        (r"\ud800\ud800", [r"\ud800", r"\ud800"]),  # and this as U+10000
        (r"\udc00\ud800", [r"\udc00", r"\ud800"]),  # a pair the wrong way round
        (r"\\\ud800", [r"\ud800"]),  # an escaped backslash, then the escape
    ],
)
def test_lone_surrogate_escapes_are_refused(text, escapes):
    assert [message for _, message in check(f'["{text}"]'.encode())] == [lone(escape) for escape in escapes]


@pytest.mark.parametrize(
    "text", [r"\ud83d\ude00", r"\uD83D\uDE00 and \udbff\udfff", r"\\ud800", r"\\\\ud800", r"\u0041\u00e9"]
)
def test_pairs_and_escaped_backslashes_pass(text):
    assert check(f'["{text}"]'.encode()) == []


def test_every_lone_surrogate_is_listed_with_its_line_and_column():
    document = b'{"locations": [\n {"name": "a\\ud800"},\n {"name": "ok", "city": "\\udfff"}\n]}'
    assert check(document) == [("line 2, column 13", lone(r"\ud800")), ("line 3, column 26", lone(r"\udfff"))]


def test_a_string_longer_than_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(jsonguard, "MAX_STRING", 1000)
    monkeypatch.setattr(jsonguard, "BLOCK", 256)
    assert check(b'["' + b"x" * 999 + b'"]') == []
    assert check(b'\n ["' + b"x" * 5000 + b'"]') == [
        ("line 2, column 3", "a string of more than 1,000 bytes; no inventory field is that long")
    ]


@pytest.mark.parametrize(
    "document", [b'["unfinished', b"[1 2 tru", b"{'single': 1}", b"[NaN, Infinity]", b"\x00", b"[truefalse]", b"[+.5]"]
)
def test_what_is_not_json_is_left_to_the_parser(document):
    assert check(document) == []


@pytest.mark.parametrize("before", [b"\v", b"\f", b"\xc2\xa0", b"\x00", b"'", b"NaN", b"+", b"\\"])
def test_what_follows_bytes_that_are_not_json_is_checked_too(before):
    # yajl reads \v and \f as spaces, the pure-Python backend every Unicode space.
    found = check(b"[" + before + b' "a\\ud800", ' + b"1" * 101 + b"]")
    assert [message for _, message in found] == [
        lone(r"\ud800"),
        "a number of more than 100 characters; no inventory field is that long",
    ]


def test_a_number_longer_than_a_whole_block_is_reported_once(monkeypatch):
    monkeypatch.setattr(jsonguard, "BLOCK", 64)
    assert check(b"[" + b"9" * 1000 + b"]") == [
        ("line 1, column 2", "a number of more than 100 characters; no inventory field is that long")
    ]


TOKENS = st.sampled_from(
    [
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        " ",
        "\n",
        "\v",
        "true",
        "null",
        '"plain"',
        '"\\"quoted\\""',
        '"\\\\"',
        '"\\ud800"',
        '"\\udc00"',
        '"\\ud83d\\ude00"',
        '"a\\\\ud800"',
        '"é✓"',
        "-",
        "0.5e-3",
        "e",
        "x",
        "+",
        "é",
    ]
)
NUMBERS = st.integers(min_value=1, max_value=150).map(lambda digits: "9" * digits)


@hypothesis_settings(max_examples=150, deadline=None)
@given(tokens=st.lists(st.one_of(TOKENS, NUMBERS), max_size=40), block=st.integers(min_value=1, max_value=40))
def test_the_findings_do_not_depend_on_where_blocks_end(tokens, block):
    document = " ".join(tokens).encode()
    whole = check(document)
    original = jsonguard.BLOCK
    jsonguard.BLOCK = block
    try:
        assert check(document) == whole
    finally:
        jsonguard.BLOCK = original


SURROGATES = st.sampled_from(["\ud800", "\udc00", "\ud83d\ude00", "\udbff\udfff", "\\ud800"])
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**120), max_value=10**120),
    st.lists(st.one_of(st.text(max_size=3), SURROGATES), max_size=4).map("".join),
)
DOCUMENTS = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)


def hazards(value) -> bool:
    """Whether `value` holds what the check refuses: a lone surrogate, a long number."""
    if isinstance(value, str):
        return _has_lone_surrogate(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return len(str(value)) > jsonguard.MAX_NUMBER
    if isinstance(value, list):
        return any(hazards(item) for item in value)
    if isinstance(value, dict):
        return any(hazards(item) for item in value.values())
    return False


def _has_lone_surrogate(text: str) -> bool:
    index = 0
    while index < len(text):
        if "\ud800" <= text[index] <= "\udbff" and "\udc00" <= text[index + 1 : index + 2] <= "\udfff":
            index += 2
        elif "\ud800" <= text[index] <= "\udfff":
            return True
        else:
            index += 1
    return False


@hypothesis_settings(max_examples=300, deadline=None)
@given(value=DOCUMENTS)
def test_what_passes_the_check_is_read_by_the_c_parser_exactly_as_written(value):
    document = json.dumps(value).encode()  # ASCII: every other character as \u escapes
    found = check(document)
    assert bool(found) == hazards(value)
    if not found:
        assert next(JSON.items(io.BytesIO(document), "")) == json.loads(document, parse_float=Decimal)
