"""The shapes of the API's bodies, for /openapi.json and its readers (and schemathesis).
Requests are checked by the same code as the CLI's files (gcrs.input), not by these
models, so the API and the CLI name the same problems in the same words."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ImpactLevel = Literal["NO-IMPACT", "REDUCED-REDUNDANCY", "DEGRADED", "OUTAGE"]
StatusName = Literal["draft", "tentative", "confirmed", "in_progress", "completed", "cancelled"]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WindowIn(_Closed):
    number: int | None = Field(None, description="Give it to move that window; leave it out to add one.")
    start: str = Field(description="ISO 8601; without an offset, read in time_zone (the window's, else the GCR's).")
    end: str
    time_zone: str | None = None


class ImpactIn(_Closed):
    service: str = Field(max_length=100, description="A service ID (circuit ID).")
    impact: ImpactLevel = "OUTAGE"
    max_outage_minutes: int | None = Field(None, ge=0, le=525_600)


class ContactIn(_Closed):
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=50)


class GcrFields(_Closed):
    """The fields of a GCR, as in a GCR file (README, "Working with it")."""

    title: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    reason: str | None = Field(None, max_length=5_000)
    work_location: str | None = Field(None, max_length=500)
    internal_notes: str | None = Field(None, max_length=10_000, description="Never sent to customers.")
    locations: list[str] | None = Field(None, description="Location codes.")
    emergency: bool | None = None
    contact: ContactIn | None = None
    time_zone: str | None = Field(None, description="IANA zone for window times written without an offset.")
    windows: list[WindowIn | str] | None = Field(None, description="Objects, or START/END strings.")
    impacts: list[ImpactIn] | None = None
    override_reason: str | None = Field(
        None, max_length=500, description="Why the minimum notice may be overridden (recorded)."
    )
    blackout_override: str | None = Field(
        None, max_length=500, description="Why a window may be published or moved into a blackout (recorded)."
    )


class GcrCreate(GcrFields):
    number: str = Field(max_length=64, description="Matching GCR_NUMBER_PATTERN, e.g. GCR-1001.")
    title: str = Field(max_length=200)
    description: str = Field(max_length=10_000)
    windows: list[WindowIn | str] = Field(min_length=1)
    publish: Literal["tentative", "confirmed"] | None = Field(
        None, description="Publish at once, in the same transaction (else the GCR is a draft)."
    )


class Publish(_Closed):
    tentative: bool = False
    override_reason: str | None = Field(None, max_length=500)
    blackout_override: str | None = Field(
        None, max_length=500, description="Why the GCR may be published into a blackout (recorded)."
    )


class StatusChange(_Closed):
    reason: str | None = Field(None, max_length=500, description="Recorded in the audit trail.")


class Cancel(_Closed):
    reason: str = Field(min_length=1, max_length=500, description="Why the work is cancelled (recorded).")


class Retry(_Closed):
    ids: list[int] | None = Field(
        None, max_length=1000, description="The deliveries to retry; none given: every failed one of the GCR."
    )


class RetriedOut(BaseModel):
    id: int
    notice_id: int
    gcr: str
    account: str
    kind: str
    recipients: int = Field(description="Recipients it goes to again (those that had not received it).")


class RetriedList(BaseModel):
    retried: list[RetriedOut]


class WindowOut(BaseModel):
    number: int
    start: str
    end: str
    dropped_at: str | None = None


class ImpactOut(BaseModel):
    service_id: str
    impact: ImpactLevel
    max_outage_minutes: int | None


class GcrSummaryOut(BaseModel):
    number: str
    title: str
    status: StatusName
    emergency: bool
    revision: int
    windows: list[WindowOut]
    services: int
    customers: int
    updated_at: str


class GcrPage(BaseModel):
    items: list[GcrSummaryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")


class AuditOut(BaseModel):
    at: str
    actor: str
    action: str
    details: dict[str, Any]


class GcrOut(BaseModel):
    """A GCR as `changemgmt gcr show --json` prints it."""

    model_config = ConfigDict(extra="allow")

    number: str
    title: str
    description: str
    status: StatusName
    revision: int
    emergency: bool
    time_zone: str | None
    windows: list[WindowOut]
    impacts: list[ImpactOut]
    impacted_customers: list[dict[str, Any]]
    audit: list[AuditOut]


class WindowPairOut(BaseModel):
    window: int = Field(description="This GCR's window number.")
    other_window: int = Field(description="The other GCR's window it overlaps.")


class SharedOut(BaseModel):
    items: list[str] = Field(description="The first 20 names, in order.")
    total: int


class ConflictOut(BaseModel):
    """Another published GCR whose windows overlap, and what both impact."""

    gcr: str
    title: str
    status: StatusName
    windows: list[WindowPairOut]
    services: SharedOut
    customers: SharedOut = Field(description="Account numbers.")
    locations: SharedOut = Field(description="Location codes.")


class BlackoutOut(BaseModel):
    id: int
    account: str | None = Field(description="The customer's; null for a global blackout.")
    start: str
    end: str
    reason: str
    removed_at: str | None


class ChangeOut(BaseModel):
    """What a change did, and the GCR after it."""

    revision: int | None = Field(description="The revision it made; null for an internal change.")
    changes: list[str]
    notices_planned: dict[str, int]
    conflicts: list[ConflictOut] = Field(
        description="Published GCRs it conflicts with, reported on create, publish and a change of windows,"
        " impacts or locations (else empty)."
    )
    blackouts_overridden: list[BlackoutOut] = Field(description="Blackouts the change was allowed into, by override.")
    gcr: GcrOut


class PreviewOut(BaseModel):
    account: str
    to: list[str]
    subject: str
    text: str
    html: str
    ics: str
    ics_filename: str
    email: str = Field(description="The whole email (RFC 5322) the first contact would get.")


class RecipientOut(BaseModel):
    contact_id: int
    email: str
    state: str


class DeliveryOut(BaseModel):
    id: int
    state: str
    attempts: int
    next_attempt_at: str | None
    sent_at: str | None
    last_error: str | None
    provider_message_id: str | None
    recipients: list[RecipientOut]


class NoticeOut(BaseModel):
    id: int
    account: str
    kind: str
    revision: int
    window_number: int | None
    state: str
    due_at: str
    skip_reason: str | None
    deliveries: list[DeliveryOut]


class AuditPage(BaseModel):
    items: list[AuditOut]


class NoticeList(BaseModel):
    items: list[NoticeOut]
    next_cursor: str | None


class Page(BaseModel):
    """One page of inventory rows, in key order."""

    items: list[dict[str, Any]]
    next_cursor: str | None


class ImportReport(BaseModel):
    format: str
    dry_run: bool
    rows: dict[str, int]
    new: dict[str, int]
    summary: list[str]
    warnings: list[str]


class FeedOut(BaseModel):
    scope: Literal["customer", "enterprise"]
    url: str
    webcal_url: str


class FeedList(BaseModel):
    account: str
    feeds: list[FeedOut]


class ConflictPairOut(BaseModel):
    gcr: str
    conflicts_with: ConflictOut


class ConflictList(BaseModel):
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    items: list[ConflictPairOut]


class BlackoutIn(_Closed):
    account: str | None = Field(None, max_length=64, description="A customer's (and its accounts'); none: global.")
    start: str = Field(description="ISO 8601; without an offset, read in time_zone (default UTC).")
    end: str = Field(description="As start; a date alone ends with that day.")
    reason: str = Field(min_length=1, max_length=500, description="Shown when a change is refused.")
    time_zone: str | None = Field(None, description="IANA zone for times written without an offset.")


class BlackoutList(BaseModel):
    items: list[BlackoutOut]
