"""Enterprise hierarchy for feeds: an enterprise (parent account) feed shows its own
events and those of every account below it, at any depth."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from changemgmt.store.bulk import among
from changemgmt.store.chunks import chunks
from changemgmt.store.models import Customer


def enterprise_ancestors(session: Session, customer_ids: Collection[int]) -> set[int]:
    """Every parent, grandparent, ... of the given customers (one query per level)."""
    found: set[int] = set()
    frontier = set(customer_ids)
    while frontier:
        parents = {
            parent
            for chunk in chunks(frontier)
            for parent in session.scalars(
                select(Customer.parent_id).where(among(Customer.id, chunk), Customer.parent_id.is_not(None))
            )
            if parent is not None  # as the WHERE has it; for the type
        }
        frontier = parents - found
        found |= parents
    return found


def enterprises_among(session: Session, customer_ids: Collection[int]) -> set[int]:
    """Those of the given customers that have accounts below them."""
    return {
        parent
        for chunk in chunks(customer_ids)
        for parent in session.scalars(select(Customer.parent_id).where(among(Customer.parent_id, chunk)))
        if parent is not None  # as the WHERE has it; for the type
    }


def members(session: Session, enterprise_ids: Collection[int]) -> dict[int, set[int]]:
    """Each enterprise with every account below it, itself included."""
    children: dict[int, set[int]] = defaultdict(set)
    frontier = set(enterprise_ids)
    seen = set(frontier)
    while frontier:
        rows = [
            row
            for chunk in chunks(frontier)
            for row in session.execute(select(Customer.id, Customer.parent_id).where(among(Customer.parent_id, chunk)))
        ]
        for child, parent in rows:
            if parent is not None:  # as the WHERE has it; for the type
                children[parent].add(child)
        frontier = {child for child, _ in rows} - seen
        seen |= frontier
    return {eid: _below(eid, children) for eid in enterprise_ids}


def _below(root: int, children: dict[int, set[int]]) -> set[int]:
    found = {root}
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def enterprises(session: Session) -> list[int]:
    """Customers that are the parent of at least one account."""
    return sorted(set(session.scalars(select(Customer.parent_id).where(Customer.parent_id.is_not(None)))))
