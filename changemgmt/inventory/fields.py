"""The four kinds of inventory rows, their columns, and how one row is validated.

A row describes its record whole: a column left out or blank takes its default, so
importing a file always leaves the same values behind whatever was there before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter

from changemgmt.domain.errors import DomainError
from changemgmt.domain.text import NAME_MAX
from changemgmt.inventory import cells

Parser = Callable[[object], object]
Problems = list[tuple[str, str]]


@dataclass(frozen=True)
class Kind:
    """One kind of row. `key` names the columns an upsert matches on; `key_of(row)`
    gives a row's key."""

    name: str
    key: tuple[str, ...]
    required: tuple[str, ...]
    parsers: tuple[tuple[str, Parser], ...]
    check: Callable[[dict], Problems] | None = None
    key_of: Callable[[Mapping[str, object]], object] = field(init=False, repr=False, compare=False)

    @property
    def singular(self) -> str:
        return self.name.removesuffix("s")

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.parsers)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_of", itemgetter(*self.key))

    def parse(self, raw: Mapping[str, object], problems: Problems, formulas: list[str]) -> dict:
        """Returns the row as stored; adds (field, message) to `problems` for each bad
        field (the row then lacks that field and must not be written), and to `formulas`
        the name of each field that looks like a spreadsheet formula."""
        row = {}
        get = raw.get
        starts = cells.FORMULA_STARTS
        for name, parse in self.parsers:
            try:
                value = row[name] = parse(get(name))
            except cells.BadValue as exc:
                problems.append((name, str(exc)))
                continue
            if value.__class__ is str and value[:1] in starts:
                formulas.append(name)
        if self.check is not None:
            problems.extend(self.check(row))
        return row

    def key_in(self, row: Mapping[str, object]) -> object | None:
        """The row's key, or None when a field of it is not known (it was bad)."""
        for name in self.key:
            if row.get(name) is None:
                return None
        return self.key_of(row)


# Checks across fields see the fields that were good; a bad one is missing from `row`.
def _customer_check(row: dict) -> Problems:
    account = row.get("account")
    if account and row.get("parent_account") == account:
        return [("parent_account", "an account cannot be its own parent")]
    return []


def _service_check(row: dict) -> Problems:
    if row.get("z_end") and "a_end" in row and not row["a_end"]:
        return [("z_end", "is given without an a_end")]
    return []


@lru_cache(maxsize=8)
def kinds(default_time_zone: str) -> dict[str, Kind]:
    """Every kind, in the order an import writes them (what a row refers to comes first)."""
    account = cells.text(64, required=True)
    locations = Kind(
        "locations",
        key=("code",),
        required=("code",),
        parsers=(
            ("code", cells.text(64, required=True)),
            ("name", cells.text(NAME_MAX)),
            ("address", cells.text(300, multiline=True)),
            ("city", cells.text(100)),
            ("region", cells.text(100)),
            ("country", cells.country),
            ("time_zone", cells.zone(None)),
        ),
    )
    customers = Kind(
        "customers",
        key=("account",),
        required=("account", "name"),
        parsers=(
            ("account", account),
            ("name", cells.text(NAME_MAX, required=True, name=True)),
            ("parent_account", cells.optional_key(64)),
            ("time_zone", cells.zone(default_time_zone)),
            ("active", cells.flag),
            ("lead_name", cells.text(NAME_MAX, name=True)),
            ("lead_email", cells.optional_email),
            ("lead_phone", cells.text(50)),
        ),
        check=_customer_check,
    )
    contacts = Kind(
        "contacts",
        key=("account", "email"),
        required=("account", "email"),
        parsers=(
            ("account", account),
            ("email", cells.email),
            ("name", cells.text(NAME_MAX, name=True)),
            ("role", cells.text(100)),
            ("notice_kinds", cells.notice_kinds),
            ("min_impact", cells.impact),
            ("reminders", cells.flag),
        ),
    )
    services = Kind(
        "services",
        key=("service_id",),
        required=("service_id", "account"),
        parsers=(
            ("service_id", cells.text(100, required=True)),
            ("account", account),
            ("product", cells.text(100)),
            ("bandwidth", cells.text(50)),
            ("a_end", cells.optional_key(64)),
            ("z_end", cells.optional_key(64)),
        ),
        check=_service_check,
    )
    return {kind.name: kind for kind in (locations, customers, contacts, services)}


KIND_NAMES = ("locations", "customers", "contacts", "services")


def infer_kind(columns: set[str]) -> str | None:
    """The kind a CSV header (or a JSON object's keys) describes, by its key column."""
    for column, name in (("service_id", "services"), ("email", "contacts"), ("code", "locations")):
        if column in columns:
            return name
    return "customers" if "account" in columns else None


def check_kind_name(name: str) -> str:
    if name not in KIND_NAMES:
        raise DomainError("kind", f"{name!r} is not a kind of inventory ({', '.join(KIND_NAMES)})")
    return name
