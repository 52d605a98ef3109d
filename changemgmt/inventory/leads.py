"""Setting a customer's account lead (its single point of contact at the provider) by
hand, with the rules the inventory import applies to the same columns, recorded in the
audit trail. The next notice names the new lead; no feed shows it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from changemgmt.domain.errors import NotFound, Problems
from changemgmt.inventory import cells
from changemgmt.inventory.fields import kinds
from changemgmt.store.models import AuditEntry, Customer

LEAD_FIELDS = ("lead_name", "lead_email", "lead_phone")


def set_account_lead(session: Session, account: str, given: dict[str, str], actor: str, now: datetime) -> Customer:
    """Sets the lead of customer `account` from `given` (lead_name, lead_email,
    lead_phone; blank clears). Raises NotFound, or DomainError naming every bad field,
    having changed nothing."""
    customer = session.scalar(select(Customer).where(Customer.account == account))
    if customer is None:
        raise NotFound(f"no customer with account {account}")
    parsers = dict(kinds("UTC")["customers"].parsers)
    problems, values = Problems(), {}
    for name in LEAD_FIELDS:
        try:
            values[name] = parsers[name](given.get(name, ""))
        except cells.BadValue as exc:
            problems.add(name, str(exc))
    problems.raise_any()
    before = {name: getattr(customer, name) for name in LEAD_FIELDS}
    if before != values:
        for name, value in values.items():
            setattr(customer, name, value)
        details = {"before": before, "after": values}
        session.add(
            AuditEntry(at=now, actor=actor, entity="customer", entity_key=account, action="set lead", details=details)
        )
    return customer
