"""The digests planning stores per customer (audiences.shown_windows, shown_content): a
change of formula would make every customer's notice look changed after an upgrade, so
their values are pinned here."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from changemgmt.domain.digests import customer_digest, own_digest
from changemgmt.domain.gcr import Contact, GcrState, ServiceImpact
from changemgmt.domain.impact import Impact
from changemgmt.domain.status import Status
from changemgmt.domain.windows import Window

T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)

STATE = GcrState(
    number="GCR-2026-0001",
    title="Fibre re-splice ☎",
    description='Line one\nline "two" \\ three',
    status=Status.CONFIRMED,
    reason="Damage",
    work_location="Dallas",
    location_codes=("DLLSTX01", "AUSTTX02"),
    contact=Contact("Change Desk", "cm@example.net", "+1 555 0100"),
    emergency=False,
    windows=(
        Window(1, T0, T0 + timedelta(hours=4)),
        Window(2, T0 + timedelta(days=1), T0 + timedelta(days=1, hours=2)),
    ),
    impacts=(
        ServiceImpact("SVC-1", Impact.OUTAGE, 30),
        ServiceImpact("SVC-2", Impact.DEGRADED, None),
        ServiceImpact("SVC-3", Impact.NO_IMPACT, 0),
    ),
)


def test_digests_keep_the_values_earlier_releases_stored():
    digest = customer_digest(STATE, {"SVC-1", "SVC-3"})
    assert (digest.windows, digest.content) == ("94e718143eaa2608bcf01e93a1804975", "81ea6086a57da078ab97a8fb9d664e20")


def test_a_digest_of_the_customers_own_impacts_is_the_digest_of_its_services():
    # Planning digests each customer with the impacts it read for it (own_digest).
    assert own_digest(STATE, (STATE.impacts[0], STATE.impacts[2])) == customer_digest(STATE, {"SVC-1", "SVC-3"})
    assert own_digest(STATE, ()) == customer_digest(STATE, set())
    assert own_digest(replace(STATE, impacts=()), STATE.impacts[:1]) == customer_digest(STATE, {"SVC-1"})


def test_the_content_digest_follows_only_the_customers_own_impacts():
    mine = customer_digest(STATE, {"SVC-1"})
    others_changed = replace(STATE, impacts=(STATE.impacts[0], ServiceImpact("SVC-2", Impact.OUTAGE, 90)))
    assert customer_digest(others_changed, {"SVC-1"}) == mine
    mine_changed = replace(STATE, impacts=(ServiceImpact("SVC-1", Impact.DEGRADED, 30), *STATE.impacts[1:]))
    assert customer_digest(mine_changed, {"SVC-1"}).content != mine.content
    assert customer_digest(replace(STATE, title="Other"), {"SVC-1"}).content != mine.content
    assert customer_digest(replace(STATE, contact=None), {"SVC-1"}).content != mine.content


def test_the_windows_digest_changes_only_when_a_window_moves():
    moved = replace(
        STATE, windows=(STATE.windows[0], Window(2, T0 + timedelta(days=2), T0 + timedelta(days=2, hours=2)))
    )
    assert customer_digest(replace(STATE, title="Other"), set()).windows == customer_digest(STATE, set()).windows
    assert customer_digest(moved, set()).windows != customer_digest(STATE, set()).windows
