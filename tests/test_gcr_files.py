"""GCR files an attacker or a slip of the hand could write: a YAML alias bomb, a file
too large, nesting too deep, numbers too long, bytes that are not text. Each is refused
quickly, in bounded memory, with one line naming the file (and the line)."""

from __future__ import annotations

import json
import time
import tracemalloc

import pytest
from sqlalchemy import func, select

from changemgmt.domain.errors import DomainError
from changemgmt.gcrs.documents import MAX_FILE_BYTES, load_document
from changemgmt.store import models

# Nine levels of nine aliases inside `locations`: its last item stands for 9**8 (43
# million) codes, gigabytes once expanded (as str() of the item does), from 500 bytes.
BOMB = (
    "\n".join(
        [
            "number: GCR-6001",
            "title: Fibre splice",
            "description: Splicing.",
            "windows: [{start: '2026-12-01T07:00Z', end: '2026-12-01T11:00Z'}]",
            "locations:",
            "  - &a [" + ",".join(['"DLLSTX01"'] * 9) + "]",
            *(f"  - &{b} [*{a},*{a},*{a},*{a},*{a},*{a},*{a},*{a},*{a}]" for a, b in zip("abcdefgh", "bcdefghi")),
        ]
    )
    + "\n"
)
REFUSED = "line 7: not valid YAML: aliases (*name) are not allowed in a GCR file; write the values out"


def test_a_yaml_alias_bomb_is_refused_at_its_first_alias_without_expanding_it(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    assert len(BOMB) < 700
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(DomainError) as error:
            load_document(bomb)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(error.value) == f"file: {bomb}, {REFUSED}"
    assert peak < 2 * 1024 * 1024  # the expansion would take gigabytes
    assert elapsed < 2  # generous: it takes milliseconds


def test_the_cli_refuses_the_bomb_in_one_line_and_writes_nothing(run, desk, db, tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    output = run("gcr", "create", str(bomb), expect=1)
    assert output.splitlines() == [f"Error: file: {bomb}, {REFUSED}"]
    with db() as session:
        assert session.scalar(select(func.count()).select_from(models.Gcr)) == 0


def test_anchors_without_aliases_are_still_read(tmp_path):
    document = tmp_path / "gcr.yaml"
    document.write_text("number: GCR-6002\nlocations: &sites [DLLSTX01]\n")
    assert load_document(document) == {"number": "GCR-6002", "locations": ["DLLSTX01"]}


def test_a_file_larger_than_the_cap_is_refused_before_it_is_parsed(tmp_path):
    big = tmp_path / "big.yaml"
    with big.open("w") as handle:
        handle.write("description: |\n")
        line = "  " + "x" * 1021 + "\n"
        for _ in range(MAX_FILE_BYTES // len(line) + 1):
            handle.write(line)
    with pytest.raises(DomainError, match="is larger than 16 MB"):
        load_document(big)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("deep.json", "[" * 100_000 + "]" * 100_000, "not valid JSON: nested too deeply"),
        ("deep.yaml", "a: " + "[" * 100_000 + "]" * 100_000, "not valid YAML: nested too deeply"),
        ("long.json", '{"impacts": [{"service": "S", "max_outage_minutes": ' + "9" * 5000 + "}]}", "not valid JSON"),
        ("long.yaml", "impacts: [{service: S, max_outage_minutes: " + "9" * 5000 + "}]", "not valid YAML"),
        ("broken.yaml", "title: [unclosed\nnumber: GCR-1\n", "line 2: not valid YAML: expected ',' or ']'"),
        ("latin1.yaml", "title: Caf\xe9\n", "byte 10 is not UTF-8 text"),
        ("nul.yaml", "title: a\x00b\n", "not valid YAML: unacceptable character"),
        ("list.json", json.dumps(["not", "a", "mapping"]), "must hold one mapping of GCR fields"),
    ],
)
def test_a_file_that_is_not_a_gcr_document_is_one_clear_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content.encode("latin-1" if name.startswith("latin1") else "utf-8"))
    started = time.perf_counter()
    with pytest.raises(DomainError) as error:
        load_document(path)
    assert time.perf_counter() - started < 60  # a guard against a hang, not a speed target
    assert error.value.field == "file"
    assert message in str(error.value) and len(str(error.value).splitlines()) == 1
