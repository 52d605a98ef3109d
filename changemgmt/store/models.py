"""SQLAlchemy 2 models: the inventory (SPEC §1) and GCRs with their history (SPEC §2).

Times are stored in UTC and always come back timezone-aware, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator):
    """A timestamp that refuses naive values and is returned as aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} given; times must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON(), list[str]: JSON()}

    if TYPE_CHECKING:
        # Each model here maps to one Table; SQLAlchemy types `__table__` as any FromClause.
        __table__: ClassVar[Table]


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The account lead: the customer's single point of contact at the provider (SPEC §1).
    lead_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    lead_email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    lead_phone: Mapped[str] = mapped_column(String(50), default="", server_default="")

    parent: Mapped[Customer | None] = relationship(remote_side=[id])
    contacts: Mapped[list[Contact]] = relationship(back_populates="customer")


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("customer_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(100), default="")
    # Notice kinds this contact receives; None means all of them.
    notice_kinds: Mapped[list[str] | None] = mapped_column(JSON)
    min_impact: Mapped[str] = mapped_column(String(32), default="NO-IMPACT")
    reminders: Mapped[bool] = mapped_column(Boolean, default=True)
    unsubscribed_at: Mapped[datetime | None]
    suppressed_at: Mapped[datetime | None]

    customer: Mapped[Customer] = relationship(back_populates="contacts")


class Location(Base):
    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    time_zone: Mapped[str | None] = mapped_column(String(64))


class Service(Base):
    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[str] = mapped_column(String(100), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    product: Mapped[str] = mapped_column(String(100), default="")
    bandwidth: Mapped[str] = mapped_column(String(50), default="")
    a_end_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"), index=True)
    z_end_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"), index=True)

    customer: Mapped[Customer] = relationship()
    a_end: Mapped[Location | None] = relationship(foreign_keys=[a_end_id])
    z_end: Mapped[Location | None] = relationship(foreign_keys=[z_end_id])


class Gcr(Base):
    """A planned maintenance (global change request), as it stands now."""

    __tablename__ = "gcrs"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text, default="")
    work_location: Mapped[str] = mapped_column(Text, default="")
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(50))
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    internal_notes: Mapped[str] = mapped_column(Text, default="")
    time_zone: Mapped[str | None] = mapped_column(String(64))  # reads window times given without an offset
    status: Mapped[str] = mapped_column(String(20), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))

    windows: Mapped[list[Window]] = relationship(
        back_populates="gcr", order_by="Window.number", cascade="all, delete-orphan"
    )
    impacts: Mapped[list[Impact]] = relationship(back_populates="gcr", cascade="all, delete-orphan")
    locations: Mapped[list[Location]] = relationship(secondary="gcr_locations", order_by="Location.code")
    revisions: Mapped[list[Revision]] = relationship(
        back_populates="gcr", order_by="Revision.number", cascade="all, delete-orphan"
    )


class GcrLocation(Base):
    __tablename__ = "gcr_locations"

    gcr_id: Mapped[int] = mapped_column(ForeignKey("gcrs.id"), primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), primary_key=True)


class Window(Base):
    """A window keeps its number for ever; a removed window is marked dropped, not deleted."""

    __tablename__ = "windows"
    __table_args__ = (UniqueConstraint("gcr_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gcr_id: Mapped[int] = mapped_column(ForeignKey("gcrs.id"))
    number: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    dropped_at: Mapped[datetime | None]
    # When the times were last set: a reminder whose moment passed before then was
    # superseded by the move, and is never sent late.
    times_set_at: Mapped[datetime]

    gcr: Mapped[Gcr] = relationship(back_populates="windows")


class Impact(Base):
    __tablename__ = "impacts"
    __table_args__ = (UniqueConstraint("gcr_id", "service_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gcr_id: Mapped[int] = mapped_column(ForeignKey("gcrs.id"))
    service_pk: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    level: Mapped[str] = mapped_column(String(32))
    max_outage_minutes: Mapped[int | None] = mapped_column(Integer)

    gcr: Mapped[Gcr] = relationship(back_populates="impacts")
    service: Mapped[Service] = relationship()


class Revision(Base):
    """One customer-visible version of a GCR (SPEC §2): `state` is GcrState.to_json()
    without its impacts, which are RevisionImpact rows."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("gcr_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gcr_id: Mapped[int] = mapped_column(ForeignKey("gcrs.id"))
    number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    changes: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)

    gcr: Mapped[Gcr] = relationship(back_populates="revisions")


class RevisionImpact(Base):
    """An impact as the GCR's revisions from_revision up to (not including) until_revision
    had it; None: the GCR has it still. A revision that leaves the impacts alone (a status
    change) writes none, and a few customers' impacts at a revision are a few rows."""

    __tablename__ = "revision_impacts"
    __table_args__ = (UniqueConstraint("gcr_id", "service_pk", "from_revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gcr_id: Mapped[int] = mapped_column(ForeignKey("gcrs.id"))
    service_pk: Mapped[int] = mapped_column(ForeignKey("services.id"))
    level: Mapped[str] = mapped_column(String(32))
    max_outage_minutes: Mapped[int | None] = mapped_column(Integer)
    from_revision: Mapped[int] = mapped_column(Integer)
    until_revision: Mapped[int | None] = mapped_column(Integer)


class AuditEntry(Base):
    """Who changed what, when: every change, customer-visible or not (SPEC §8)."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_entity", "entity", "entity_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    entity: Mapped[str] = mapped_column(String(32))
    entity_key: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class Audience(Base):
    """One customer's standing on one GCR: in scope or not, and what it was last told.

    `shown_windows` and `shown_content` are digests of the last notice planned for it;
    comparing them with the current digests says whether it needs `rescheduled` or
    `updated`, so a change to another customer's services sends it nothing.
    """

    __tablename__ = "audiences"
    __table_args__ = (UniqueConstraint("gcr_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gcr_id: Mapped[int] = mapped_column(ForeignKey("gcrs.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    in_scope: Mapped[bool] = mapped_column(Boolean)
    notified: Mapped[bool] = mapped_column(Boolean, default=False)
    notified_at: Mapped[datetime | None]
    shown_revision: Mapped[int | None] = mapped_column(Integer)
    shown_windows: Mapped[str | None] = mapped_column(String(64))
    shown_content: Mapped[str | None] = mapped_column(String(64))
    changed_at: Mapped[datetime]


class Event(Base):
    """One window of one GCR as one customer's calendar shows it (one UID, SPEC §5)."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("gcr_id", "customer_id", "window_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gcr_id: Mapped[int] = mapped_column(ForeignKey("gcrs.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    window_number: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(Integer)
    modified_at: Mapped[datetime]
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)


class Notice(Base):
    """One message about one GCR to one customer (SPEC §3), planned once, by its key."""

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("gcr_id", "key"),
        Index("ix_notices_gcr_customer", "gcr_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gcr_id: Mapped[int] = mapped_column(ForeignKey("gcrs.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    revision: Mapped[int] = mapped_column(Integer)
    previous_revision: Mapped[int | None] = mapped_column(Integer)
    window_number: Mapped[int | None] = mapped_column(Integer)
    offset_minutes: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[datetime]
    # a domain.states.NoticeState, stored as its string; its machine is the table there
    state: Mapped[str] = mapped_column(String(20), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    skip_reason: Mapped[str | None] = mapped_column(Text)
    # {window number: [sequence, modified_at ISO, cancelled]} for the attachment
    events: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]


class Delivery(Base):
    """Sending one notice to its recipients (one SendGrid request); retried until settled."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "state", "priority", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    # a domain.states.DeliveryState, stored as its string; its machine is the table there
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    priority: Mapped[int] = mapped_column(SmallInteger, default=1)  # NoticeKind.priority: 0 first
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    provider_message_id: Mapped[str | None] = mapped_column(String(200), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    # An operator's retry of a failed delivery: when, and the attempts made before it
    # (the give-up budget counts the attempts since; attempt numbers go on).
    retried_at: Mapped[datetime | None]
    attempts_before_retry: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Recipient(Base):
    """A contact a notice goes to, and what became of it (SendGrid events update it)."""

    __tablename__ = "recipients"
    __table_args__ = (Index("ix_recipients_contact", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    email: Mapped[str] = mapped_column(String(254))
    # a domain.states.RecipientState, stored as its string; its machine is the table there
    state: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime]
    error: Mapped[str | None] = mapped_column(Text)  # why it failed alone (refused, unaddressable)
    # When the provider event that set `state` happened: events are applied in the order
    # they happened, whatever order they arrive in (None: no event applied yet).
    event_at: Mapped[datetime | None]


class DeliveryAttempt(Base):
    """Every attempt, recorded before the send and completed after it (STYLE 6)."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # None while the attempt is open, then a domain.states.AttemptOutcome, for good
    outcome: Mapped[str | None] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)


class DeliveryEvent(Base):
    """A provider event (SendGrid webhook), stored once per event id."""

    __tablename__ = "delivery_events"
    __table_args__ = (UniqueConstraint("provider_event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_event_id: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(40))
    email: Mapped[str] = mapped_column(String(254))
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class Feed(Base):
    """A calendar feed (SPEC §5): a customer's, an enterprise's (a parent account with all
    its accounts' events) or the internal all-GCR one. Its file is calendars/<token>.ics.
    The token is kept only as a SHA-256 (to find the feed from a URL) and sealed with
    SECRET_KEY (to name the file when rebuilding); docs/serving-feeds.md says why."""

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)  # customer:<id>, enterprise:<id>, internal
    scope: Mapped[str] = mapped_column(String(12))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_sealed: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]


class FeedDocument(Base):
    """A feed's bytes when FEED_STORE=database (calendars/<token>.ics otherwise), written
    only when they change. Found by the SHA-256 of the URL's token, and served only while
    that is still the feed's token. The token itself is not kept: its characters in the
    feed's SOURCE line are masked, at the `token_at` offsets, and put back by the web
    process from the URL, so a copy of the database still reveals no feed URL. `body` is
    the last column: reading the others (ETag first) never reads it."""

    __tablename__ = "feed_documents"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id"), index=True)
    etag: Mapped[str] = mapped_column(String(64))  # strong, quoted, of the bytes served
    modified_at: Mapped[datetime]  # when the bytes last changed: Last-Modified
    size: Mapped[int] = mapped_column(Integer)
    token_at: Mapped[list[int]] = mapped_column(JSON)  # [offset, length, ...] of the masked token
    body: Mapped[bytes] = mapped_column(LargeBinary)


class FeedRebuild(Base):
    """A feed whose file must be rewritten, recorded in the transaction of the GCR change."""

    __tablename__ = "feed_rebuilds"

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_key: Mapped[str] = mapped_column(String(40))
    gcr_id: Mapped[int | None] = mapped_column(ForeignKey("gcrs.id"))
    requested_at: Mapped[datetime]


class Process(Base):
    """A running clock, worker, web or serve process, with its heartbeat: written at its
    start, every few seconds while it lives, and at its stop. `changemgmt status`,
    /readyz and /metrics read them, and a worker's claims are its while it beats."""

    __tablename__ = "processes"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # <kind>-<host>-<pid>-<start>
    kind: Mapped[str] = mapped_column(String(16))  # clock | worker | web | serve
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime] = mapped_column(index=True)
    current_job: Mapped[str | None] = mapped_column(String(100))
    leader: Mapped[bool] = mapped_column(Boolean, default=False)  # a clock holding the leadership
    stopped_at: Mapped[datetime | None]


class ClockJob(Base):
    """The last run of each of the clock's jobs (its due dates live in the other tables:
    APScheduler only wakes the clock up)."""

    __tablename__ = "clock_jobs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_duration_ms: Mapped[int | None] = mapped_column(Integer)
    last_process_id: Mapped[str | None] = mapped_column(String(100))


class Blackout(Base):
    """A freeze period (SPEC §8): no GCR is published or moved into it unless a change
    manager overrides it with a reason. Global when `customer_id` is None; a customer's
    covers the accounts below it too. Removed blackouts stay, marked, for the record."""

    __tablename__ = "blackouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    removed_at: Mapped[datetime | None]
    removed_by: Mapped[str | None] = mapped_column(String(200))


class WebhookReceipt(Base):
    """A signed webhook request taken, by the SHA-256 of its signature: the same signed
    request again is a replay. Kept as long as its timestamp would be accepted."""

    __tablename__ = "webhook_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    signature_hash: Mapped[str] = mapped_column(String(64), unique=True)
    signed_at: Mapped[datetime] = mapped_column(index=True)
    received_at: Mapped[datetime]


class ApiKey(Base):
    """A key for the HTTP API: its name (the actor the audit trail records), its role, and
    the SHA-256 of its secret (the secret itself is shown once, never stored)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))  # a domain.roles.Role
    prefix: Mapped[str] = mapped_column(String(20))  # the key's first characters, not secret: to tell keys apart
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]


class IdempotentRequest(Base):
    """A POST made with an Idempotency-Key, and the response it got, so that the same
    request sent again with the same key gets that response instead of doing it twice."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("api_key_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the method, path, query and body
    status: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(index=True)


class User(Base):
    """A person who signs in to the web UI: a change manager (`kind` staff, with a role)
    or a customer's staff (`kind` customer, seeing what its access grants allow).
    `password_hash` is Argon2id (None until the invitation is taken up); `session_epoch`
    is written into every session cookie and invitation, so bumping it (a new password,
    disabling) makes the earlier ones worthless."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(12))  # a users.accounts.UserKind
    role: Mapped[str | None] = mapped_column(String(20))  # staff only: a domain.roles.Role
    time_zone: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    default_enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    disabled_at: Mapped[datetime | None]


class AccessGrant(Base):
    """A customer user's access to an enterprise ID (the parent account and every account
    under it: `scope` enterprise) or to one account (`scope` account), with what it may
    do there (`permissions`, domain.access.Permission values)."""

    __tablename__ = "access_grants"
    __table_args__ = (UniqueConstraint("user_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    scope: Mapped[str] = mapped_column(String(12))
    permissions: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class SignInAttempt(Base):
    """A sign-in attempt, kept for throttling (domain.throttle) across web processes."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        Index("ix_sign_in_attempts_email", "email", "at"),
        Index("ix_sign_in_attempts_address", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    succeeded: Mapped[bool] = mapped_column(Boolean)
