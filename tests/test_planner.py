"""The planner, as a table of (what the customer was told, the change, now) -> notices."""

from datetime import UTC, datetime, timedelta

import pytest

from changemgmt.domain.digests import Digest
from changemgmt.domain.impact import Impact
from changemgmt.domain.notice import NoticeKind as K
from changemgmt.domain.planner import (
    NO_LONGER_AFFECTED,
    CustomerChange,
    PendingNotice,
    Policy,
    Standing,
    first_notice_kind,
    plan_change,
    plan_reminders,
)
from changemgmt.domain.recipients import ContactPrefs, pick_recipients, receives
from changemgmt.domain.status import Status as S
from changemgmt.domain.windows import Window

UTC = UTC
NOW = datetime(2026, 11, 2, 15, tzinfo=UTC)
W1 = Window(1, datetime(2026, 12, 1, 7, tzinfo=UTC), datetime(2026, 12, 1, 11, tzinfo=UTC))
W2 = Window(2, datetime(2026, 12, 8, 7, tzinfo=UTC), datetime(2026, 12, 8, 11, tzinfo=UTC))
A = Digest("windows-a", "content-a")
SHOWN = Standing(
    in_scope=True, notified=True, notified_at=NOW - timedelta(days=1), delivered=True, shown_revision=2, shown=A
)
NEVER = Standing()
PENDING_NEW = Standing(
    in_scope=True,
    notified=True,
    notified_at=NOW,
    delivered=False,
    shown_revision=2,
    shown=A,
    pending=(PendingNotice(7, K.NEW),),
)


def change(before, after, digest=A, in_scope=True, emergency=False, windows=(W1,), short_notice=False):
    return CustomerChange(
        before=before,
        after=after,
        revision=3,
        in_scope=in_scope,
        digest=digest,
        windows=windows,
        emergency=emergency,
        short_notice=short_notice,
        now=NOW,
    )


NOT_NOTIFIED = Standing(in_scope=True, notified=False, shown=A, shown_revision=2)  # no eligible contact yet


CASES = [
    # (name, standing, change, expected kinds, expected skipped ids)
    ("a draft sends nothing", NEVER, change(None, S.DRAFT), [], []),
    ("publishing sends new", NEVER, change(S.DRAFT, S.CONFIRMED), [K.NEW], []),
    ("publishing tentative sends new", NEVER, change(S.DRAFT, S.TENTATIVE), [K.NEW], []),
    ("an emergency publish sends emergency", NEVER, change(S.DRAFT, S.CONFIRMED, emergency=True), [K.EMERGENCY], []),
    ("a customer added later gets new", NEVER, change(S.CONFIRMED, S.CONFIRMED), [K.NEW], []),
    (
        "a customer added to an emergency gets emergency",
        NEVER,
        change(S.CONFIRMED, S.CONFIRMED, emergency=True),
        [K.EMERGENCY],
        [],
    ),
    (
        "publishing within the minimum notice (after an override) sends emergency",
        NEVER,
        change(S.DRAFT, S.CONFIRMED, short_notice=True),
        [K.EMERGENCY],
        [],
    ),
    (
        "a customer added to a routine GCR within the minimum notice gets new",
        NEVER,
        change(S.CONFIRMED, S.CONFIRMED, short_notice=True),
        [K.NEW],
        [],
    ),
    (
        "a customer re-added to a routine GCR within the minimum notice gets new",
        Standing(in_scope=False, delivered=True),
        change(S.TENTATIVE, S.TENTATIVE, short_notice=True),
        [K.NEW],
        [],
    ),
    (
        "moved windows send rescheduled",
        SHOWN,
        change(S.CONFIRMED, S.CONFIRMED, Digest("windows-b", "content-a")),
        [K.RESCHEDULED],
        [],
    ),
    (
        "other changes send updated",
        SHOWN,
        change(S.CONFIRMED, S.CONFIRMED, Digest("windows-a", "content-b")),
        [K.UPDATED],
        [],
    ),
    (
        "tentative to confirmed sends updated",
        SHOWN,
        change(S.TENTATIVE, S.CONFIRMED, Digest("windows-a", "c2")),
        [K.UPDATED],
        [],
    ),
    ("another customer's change sends nothing", SHOWN, change(S.CONFIRMED, S.CONFIRMED), [], []),
    ("starting sends started", SHOWN, change(S.CONFIRMED, S.IN_PROGRESS, Digest("windows-a", "c2")), [K.STARTED], []),
    (
        "completing sends completed",
        SHOWN,
        change(S.IN_PROGRESS, S.COMPLETED, Digest("windows-a", "c2")),
        [K.COMPLETED],
        [],
    ),
    (
        "starting tells a customer never notified too",
        NOT_NOTIFIED,
        change(S.CONFIRMED, S.IN_PROGRESS, Digest("windows-a", "c2")),
        [K.STARTED],
        [],
    ),
    (
        "completing tells a customer never notified too",
        NOT_NOTIFIED,
        change(S.IN_PROGRESS, S.COMPLETED, Digest("windows-a", "c2")),
        [K.COMPLETED],
        [],
    ),
    (
        "starting tells nobody dropped",
        Standing(in_scope=False, delivered=True),
        change(S.CONFIRMED, S.IN_PROGRESS, in_scope=False),
        [],
        [],
    ),
    ("cancelling tells the notified", SHOWN, change(S.CONFIRMED, S.CANCELLED), [K.CANCELLED], []),
    (
        "cancelling before new went out skips it and sends nothing",
        PENDING_NEW,
        change(S.CONFIRMED, S.CANCELLED),
        [],
        [7],
    ),
    ("cancelling tells nobody who never heard", NEVER, change(S.CONFIRMED, S.CANCELLED), [], []),
    (
        "a dropped customer is told it no longer affects it",
        SHOWN,
        change(S.CONFIRMED, S.CONFIRMED, in_scope=False),
        [K.CANCELLED],
        [],
    ),
    (
        "a dropped customer not yet told gets nothing and its pending new is skipped",
        PENDING_NEW,
        change(S.CONFIRMED, S.CONFIRMED, in_scope=False),
        [],
        [7],
    ),
    ("a customer never in scope gets nothing", NEVER, change(S.CONFIRMED, S.CONFIRMED, in_scope=False), [], []),
    (
        "a re-added customer gets new",
        Standing(in_scope=False, delivered=True),
        change(S.CONFIRMED, S.CONFIRMED),
        [K.NEW],
        [],
    ),
    (
        "a no-recipient customer is not chased on every change",
        Standing(in_scope=True, notified=False, shown=A, shown_revision=2),
        change(S.CONFIRMED, S.CONFIRMED, Digest("windows-b", "content-a")),
        [],
        [],
    ),
]


@pytest.mark.parametrize(("name", "standing", "the_change", "kinds", "skipped"), CASES, ids=[c[0] for c in CASES])
def test_plan_change(name, standing, the_change, kinds, skipped):
    plan = plan_change(standing, the_change)
    assert [n.kind for n in plan.notices] == kinds
    assert [s.notice_id for s in plan.skips] == skipped
    for notice in plan.notices:
        assert notice.due_at == NOW
        assert notice.key.endswith(":r3")


def test_a_started_notice_to_a_customer_never_notified_leaves_it_unnotified():
    plan = plan_change(NOT_NOTIFIED, change(S.CONFIRMED, S.IN_PROGRESS, Digest("windows-a", "c2")))
    assert (plan.standing.notified, plan.standing.in_scope, plan.standing.shown_revision) == (False, True, 3)


@pytest.mark.parametrize(
    ("publishing", "emergency", "short_notice", "kind"),
    [
        (True, False, False, K.NEW),
        (True, True, False, K.EMERGENCY),
        (True, False, True, K.EMERGENCY),
        (False, False, False, K.NEW),
        (False, True, False, K.EMERGENCY),
        (False, False, True, K.NEW),
    ],
)
def test_the_first_notice_is_emergency_for_an_emergency_gcr_or_a_publish_at_short_notice(
    publishing, emergency, short_notice, kind
):
    assert first_notice_kind(publishing=publishing, emergency=emergency, short_notice=short_notice) is kind


def test_a_drop_notice_says_it_no_longer_affects_the_customer_and_resets_its_standing():
    plan = plan_change(SHOWN, change(S.CONFIRMED, S.CONFIRMED, in_scope=False))
    assert plan.notices[0].note == NO_LONGER_AFFECTED
    assert (plan.standing.in_scope, plan.standing.notified, plan.standing.shown) == (False, False, None)


def test_follow_ups_name_the_revision_the_customer_last_saw():
    plan = plan_change(SHOWN, change(S.CONFIRMED, S.CONFIRMED, Digest("windows-b", "content-a")))
    assert plan.notices[0].previous_revision == 2
    assert (plan.standing.shown_revision, plan.standing.shown) == (3, Digest("windows-b", "content-a"))


def test_a_moved_or_dropped_window_makes_its_pending_reminder_stale():
    pending = (
        PendingNotice(8, K.REMINDER, 2, W2.start - timedelta(hours=72)),
        PendingNotice(9, K.REMINDER, 1, W1.start - timedelta(hours=24)),
    )
    standing = Standing(**{**SHOWN.__dict__, "pending": pending})
    plan = plan_change(standing, change(S.CONFIRMED, S.CONFIRMED, Digest("windows-b", "content-a"), windows=(W1,)))
    assert [(s.notice_id, s.reason) for s in plan.skips] == [(8, "its window was dropped")]


POLICY = Policy(reminder_offsets=(timedelta(hours=72), timedelta(hours=24)))
SET_EARLY = {1: NOW - timedelta(days=10), 2: NOW - timedelta(days=10)}


def reminders(now, standing=SHOWN, status=S.CONFIRMED, windows=(W1, W2), times_set_at=SET_EARLY):
    planned = plan_reminders(
        standing, status=status, windows=windows, times_set_at=times_set_at, policy=POLICY, now=now
    )
    return [(n.window_number, int(n.offset.total_seconds() // 3600)) for n in planned]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (W1.start - timedelta(hours=73), []),
        (W1.start - timedelta(hours=72), [(1, 72)]),
        (W1.start - timedelta(hours=23), [(1, 72), (1, 24)]),
        (W2.start - timedelta(hours=24), [(2, 72), (2, 24)]),  # window 1 has started: its reminders are over
    ],
)
def test_each_window_gets_a_reminder_at_each_offset(now, expected):
    assert reminders(now) == expected


def test_a_reminder_whose_moment_passed_because_its_window_moved_is_never_sent():
    moved_at = W1.start - timedelta(hours=48)  # moved into 48 h: the 72 h moment had passed
    assert reminders(W1.start - timedelta(hours=23), windows=(W1,), times_set_at={1: moved_at}) == [(1, 24)]


def test_a_reminder_missed_while_down_is_sent_late_while_its_window_has_not_started():
    late = W1.start - timedelta(hours=1)
    assert reminders(late, windows=(W1,)) == [(1, 72), (1, 24)]
    assert reminders(W1.start, windows=(W1,)) == []


def test_reminders_only_reach_customers_notified_before_their_moment():
    late_notice = Standing(**{**SHOWN.__dict__, "notified_at": W1.start - timedelta(hours=30)})
    assert reminders(W1.start - timedelta(hours=23), standing=late_notice, windows=(W1,)) == [(1, 24)]
    assert reminders(W1.start - timedelta(hours=23), standing=NEVER, windows=(W1,)) == []


@pytest.mark.parametrize("status", [S.DRAFT, S.COMPLETED, S.CANCELLED])
def test_no_reminders_outside_tentative_confirmed_and_in_progress(status):
    assert reminders(W1.start - timedelta(hours=23), status=status) == []


def test_an_in_progress_gcr_reminds_of_its_later_windows():
    assert reminders(W2.start - timedelta(hours=71), status=S.IN_PROGRESS) == [(2, 72)]


ANNA = ContactPrefs(1, "anna@acme.example")


@pytest.mark.parametrize(
    ("contact", "kind", "impact", "heard", "expected"),
    [
        (ANNA, K.NEW, Impact.NO_IMPACT, False, True),
        (ContactPrefs(1, "a@x", unsubscribed_at=NOW), K.EMERGENCY, Impact.OUTAGE, True, False),
        (ContactPrefs(1, "a@x", suppressed_at=NOW), K.CANCELLED, Impact.OUTAGE, True, False),
        (ContactPrefs(1, "a@x", reminders=False), K.REMINDER, Impact.OUTAGE, True, False),
        (ContactPrefs(1, "a@x", notice_kinds=frozenset({K.NEW})), K.STARTED, Impact.OUTAGE, True, False),
        (ContactPrefs(1, "a@x", notice_kinds=frozenset({K.NEW})), K.RESCHEDULED, Impact.OUTAGE, True, True),
        (ContactPrefs(1, "a@x", notice_kinds=frozenset({K.NEW})), K.RESCHEDULED, Impact.OUTAGE, False, False),
        (ContactPrefs(1, "a@x", min_impact=Impact.OUTAGE), K.NEW, Impact.DEGRADED, False, False),
        (ContactPrefs(1, "a@x", min_impact=Impact.OUTAGE), K.NEW, Impact.OUTAGE, False, True),
        (ContactPrefs(1, "a@x", min_impact=Impact.OUTAGE), K.UPDATED, Impact.DEGRADED, True, True),
        (ContactPrefs(1, "a@x", min_impact=Impact.OUTAGE), K.STARTED, Impact.DEGRADED, True, True),
    ],
)
def test_contact_preferences(contact, kind, impact, heard, expected):
    assert receives(contact, kind, impact, heard) is expected


def test_each_address_is_picked_once():
    contacts = [ANNA, ContactPrefs(2, "ANNA@acme.example"), ContactPrefs(3, "noc@acme.example")]
    assert [c.id for c in pick_recipients(contacts, K.NEW, Impact.OUTAGE, set())] == [1, 3]


def test_a_customer_notified_at_the_reminder_moment_gets_no_reminder_for_it():
    moment = W1.start - timedelta(hours=72)
    at_the_moment = Standing(**{**SHOWN.__dict__, "notified_at": moment})
    assert reminders(moment, standing=at_the_moment, windows=(W1,)) == []
