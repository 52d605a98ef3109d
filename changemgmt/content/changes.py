"""'What changed' lines for updated and rescheduled notices: only what this customer's
notice says (its own services), old -> new, times in its zone and UTC."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping

from changemgmt.domain.digests import own_impacts
from changemgmt.domain.gcr import GcrState, ServiceImpact
from changemgmt.domain.notice import status_label
from changemgmt.domain.timefmt import local_and_utc

TEXT_FIELDS = (
    ("title", "Title"),
    ("description", "Description of the work"),
    ("reason", "Reason"),
    ("work_location", "Work location"),
)


def change_lines(
    before: GcrState, after: GcrState, owned: Collection[str], zone: str, numbers: Mapping[int, int] | None = None
) -> Iterator[str]:
    """`numbers`: the number the customer knows each window by (view.shown_numbers);
    a window missing from it keeps its own."""
    yield from _windows(before, after, zone, numbers or {})
    yield from _services(before, after, owned)
    if before.status is not after.status:
        yield f"Status: {status_label(before.status)} -> {status_label(after.status)}"
    for name, label in TEXT_FIELDS:
        if getattr(before, name) != getattr(after, name):
            yield f"{label} updated"
    if before.contact != after.contact:
        yield "Contact for questions updated"
    if before.emergency != after.emergency and after.emergency:
        yield "Now declared an emergency maintenance"


def _windows(before: GcrState, after: GcrState, zone: str, numbers: Mapping[int, int]) -> Iterator[str]:
    old = {w.number: w for w in before.windows}
    new = {w.number: w for w in after.windows}
    for number in sorted(old.keys() | new.keys()):
        was, now = old.get(number), new.get(number)
        name = f"Window {numbers.get(number, number)}"
        if was and now and (was.start, was.end) != (now.start, now.end):
            yield (
                f"{name} moved: {local_and_utc(was.start, zone)} - {local_and_utc(was.end, zone)} -> "
                f"{local_and_utc(now.start, zone)} - {local_and_utc(now.end, zone)}"
            )
        elif now and not was:
            yield f"{name} added: {local_and_utc(now.start, zone)} - {local_and_utc(now.end, zone)}"
        elif was and not now:
            yield f"{name} cancelled (was {local_and_utc(was.start, zone)})"


def _services(before: GcrState, after: GcrState, owned: Collection[str]) -> Iterator[str]:
    old = {i.service_id: i for i in own_impacts(before, owned)}
    new = {i.service_id: i for i in own_impacts(after, owned)}
    for service_id in sorted(old.keys() | new.keys()):
        was, now = old.get(service_id), new.get(service_id)
        if now is None:  # the id is in one of the two, at least
            yield f"{service_id}: no longer affected"
        elif was is None:
            yield f"{service_id}: now affected ({now.impact.value})"
        elif was != now:
            yield f"{service_id}: {_impact(was)} -> {_impact(now)}"


def _impact(item: ServiceImpact) -> str:
    outage = f", up to {item.max_outage_minutes} min" if item.max_outage_minutes is not None else ""
    return f"{item.impact.value}{outage}"
