"""A small factory of NoticeViews: one GCR, two windows, a customer with two services."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from changemgmt.content.view import CustomerView, NoticeView, Recipient, ServiceLine, WindowView
from changemgmt.domain.gcr import Contact
from changemgmt.domain.impact import Impact
from changemgmt.domain.notice import NoticeKind
from changemgmt.domain.status import Status

UTC = UTC
ISSUED = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
REVISED = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
CM = Contact("Change Management", "change-management@example.net", "+1 800 555 0100")


def window(number: int = 1, start: datetime | None = None, hours: int = 4, **changes) -> WindowView:
    start = start or datetime(2026, 12, 1, 7, 0, tzinfo=UTC) + timedelta(days=number - 1)
    base = WindowView(number=number, start=start, end=start + timedelta(hours=hours), sequence=2, last_modified=REVISED)
    return replace(base, **changes)


def services() -> tuple[ServiceLine, ...]:
    return (
        ServiceLine(
            "ETH-10G-0001",
            "Ethernet 10G",
            "10 Gbps",
            "DLLSTX01 (Dallas, TX) - FTWOTX02 (Fort Worth, TX)",
            Impact.OUTAGE,
            30,
        ),
        ServiceLine(
            "DIA-0042", "Dedicated Internet Access", "1 Gbps", "DLLSTX01 (Dallas, TX)", Impact.REDUCED_REDUNDANCY
        ),
    )


def customer(time_zone: str = "America/Chicago") -> CustomerView:
    return CustomerView(account="ACME-001", name="Acme Corp", time_zone=time_zone)


def notice(kind: NoticeKind = NoticeKind.NEW, **changes) -> NoticeView:
    """A confirmed two-window notice for Acme; keyword arguments replace fields."""
    base = NoticeView(
        kind=kind,
        notice_id=7,
        gcr_number="GCR-1001",
        title="Fibre splice on the Dallas ring",
        description="Splicing a new fibre pair into the Dallas metro ring.",
        reason="The current pair shows rising loss after construction damage.",
        work_location="Dallas, TX (DLLSTX01)",
        status=Status.CONFIRMED,
        emergency=False,
        revision=2,
        contact=CM,
        customer=customer(),
        services=services(),
        windows=(window(1), window(2)),
        issued_at=ISSUED,
    )
    return replace(base, **changes)


def recipients() -> tuple[Recipient, ...]:
    return (
        Recipient(contact_id=11, email="noc@acme.example", name="Acme NOC", unsubscribe_token="tok-noc-11"),
        Recipient(contact_id=12, email="ops@acme.example", name="Pat Ops", unsubscribe_token="tok-ops-12"),
    )
