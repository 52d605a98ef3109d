"""A GCR as the change manager reads it: JSON for tools, text for the terminal."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from changemgmt.delivery.operations import failed_deliveries, notice_counts
from changemgmt.store import models
from changemgmt.store.gcr_state import state_of
from changemgmt.store.queries import accounts_reached, impacted_customers


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def gcr_document(session: Session, gcr: models.Gcr) -> dict:
    """The GCR's current state, its windows (dropped ones too), who it affects, its notices
    (counts by kind and state, failed deliveries with their reasons) and its history."""
    impacted = impacted_customers(session, gcr.id)
    audit = session.scalars(
        select(models.AuditEntry)
        .where(models.AuditEntry.entity == "gcr", models.AuditEntry.entity_key == gcr.number)
        .order_by(models.AuditEntry.id)
    )
    document = state_of(gcr).to_json()
    document["revision"] = gcr.revision
    document["windows"] = [
        {"number": w.number, "start": _iso(w.starts_at), "end": _iso(w.ends_at), "dropped_at": _iso(w.dropped_at)}
        for w in gcr.windows
    ]
    document["impacted_customers"] = [
        {
            "account": c.customer.account,
            "name": c.customer.name,
            "services": list(c.service_ids),
            "enterprise": [p.account for p in c.enterprise],
        }
        for c in impacted
    ]
    document["accounts_reached"] = accounts_reached(impacted)
    document["revisions"] = [
        {"number": r.number, "at": _iso(r.created_at), "actor": r.actor, "changes": r.changes} for r in gcr.revisions
    ]
    document["notices"] = notice_counts(session, gcr.id)
    document["failed_deliveries"] = [d.to_json() for d in failed_deliveries(session, gcr.id)]
    document["audit"] = [{"at": _iso(a.at), "actor": a.actor, "action": a.action, "details": a.details} for a in audit]
    return document


def gcr_text(document: dict) -> str:
    lines = [
        f"{document['number']}  {document['title']}",
        f"status: {document['status']}   revision: {document['revision']}"
        + ("   EMERGENCY" if document["emergency"] else ""),
        f"time zone: {document['time_zone'] or 'none (window times need a UTC offset)'}",
        "",
        "windows:",
    ]
    for w in document["windows"]:
        dropped = f"  (dropped {w['dropped_at']})" if w["dropped_at"] else ""
        lines.append(f"  {w['number']}: {w['start']} -> {w['end']}{dropped}")
    lines.append(f"impacts ({len(document['impacts'])} services):")
    for i in document["impacts"]:
        outage = f", max outage {i['max_outage_minutes']} min" if i["max_outage_minutes"] is not None else ""
        lines.append(f"  {i['service_id']}: {i['impact']}{outage}")
    lines.append(f"impacted customers ({len(document['impacted_customers'])}):")
    for c in document["impacted_customers"]:
        parents = f" (enterprise: {', '.join(c['enterprise'])})" if c["enterprise"] else ""
        lines.append(f"  {c['account']} {c['name']}: {len(c['services'])} services{parents}")
    lines += _notices_text(document)
    lines.append("history:")
    for a in document["audit"]:
        revision = f" -> revision {a['details'].get('revision')}" if a["details"].get("revision") else ""
        changes = ", ".join(a["details"].get("changes", []))
        lines.append(f"  {a['at']} {a['actor']}: {a['action']} ({changes}){revision}")
    return "\n".join(lines)


def _notices_text(document: dict) -> list[str]:
    counts = document["notices"]
    lines = [f"notices ({sum(sum(by_state.values()) for by_state in counts.values())}):"]
    for kind, by_state in counts.items():
        lines.append(f"  {kind}: " + ", ".join(f"{state} {count}" for state, count in sorted(by_state.items())))
    failed = document["failed_deliveries"]
    if failed:
        lines.append(f"failed deliveries ({len(failed)}; `changemgmt deliveries retry ID` sends one again):")
    for d in failed:
        error = " ".join((d["last_error"] or "no reason recorded").split())
        lines.append(f"  {d['id']}: {d['kind']} to {d['account']}, {d['attempts']} attempts: {error}")
    return lines
