"""revision impacts: each revision's impacts as rows valid over a range of revisions,
no longer inside the revision's JSON

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:23:23.286787
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# The tables as this migration knows them (not the models, which move on).
revisions = sa.table("revisions", sa.column("id", sa.Integer), sa.column("gcr_id", sa.Integer),
                     sa.column("number", sa.Integer), sa.column("state", sa.JSON))
services = sa.table("services", sa.column("id", sa.Integer), sa.column("service_id", sa.String))
revision_impacts = sa.table(
    "revision_impacts", sa.column("gcr_id", sa.Integer), sa.column("service_pk", sa.Integer),
    sa.column("level", sa.String), sa.column("max_outage_minutes", sa.Integer),
    sa.column("from_revision", sa.Integer), sa.column("until_revision", sa.Integer))


def upgrade() -> None:
    op.create_table('revision_impacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gcr_id', sa.Integer(), nullable=False),
    sa.Column('service_pk', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=32), nullable=False),
    sa.Column('max_outage_minutes', sa.Integer(), nullable=True),
    sa.Column('from_revision', sa.Integer(), nullable=False),
    sa.Column('until_revision', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['gcr_id'], ['gcrs.id'], name=op.f('fk_revision_impacts_gcr_id_gcrs')),
    sa.ForeignKeyConstraint(['service_pk'], ['services.id'], name=op.f('fk_revision_impacts_service_pk_services')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revision_impacts')),
    sa.UniqueConstraint('gcr_id', 'service_pk', 'from_revision', name=op.f('uq_revision_impacts_gcr_id_service_pk_from_revision'))
    )
    _move_impacts_to_rows(op.get_bind())


def downgrade() -> None:
    _move_impacts_to_json(op.get_bind())
    op.drop_table('revision_impacts')


def _move_impacts_to_rows(connection) -> None:
    """Each GCR's revisions in order: an impact that differs from the open span of its
    service closes that span and opens one."""
    service_pks = dict(connection.execute(sa.select(services.c.service_id, services.c.id)).all())
    spans: list[dict] = []
    open_spans: dict[str, dict] = {}
    current_gcr = None
    for revision_id, gcr_id, number, state in _revisions(connection):
        if gcr_id != current_gcr:
            spans += open_spans.values()
            open_spans, current_gcr = {}, gcr_id
        impacts = {i["service_id"]: (i["impact"], i.get("max_outage_minutes")) for i in state.pop("impacts", [])}
        for service_id, span in list(open_spans.items()):
            if impacts.get(service_id) != (span["level"], span["max_outage_minutes"]):
                span["until_revision"] = number
                spans.append(open_spans.pop(service_id))
        for service_id, (level, minutes) in impacts.items():
            if service_id not in open_spans:
                open_spans[service_id] = {"gcr_id": gcr_id, "service_pk": service_pks[service_id], "level": level,
                                          "max_outage_minutes": minutes, "from_revision": number,
                                          "until_revision": None}
        connection.execute(revisions.update().where(revisions.c.id == revision_id).values(state=state))
    spans += open_spans.values()
    for start in range(0, len(spans), 5000):
        connection.execute(revision_impacts.insert(), spans[start:start + 5000])


def _move_impacts_to_json(connection) -> None:
    for revision_id, gcr_id, number, state in _revisions(connection):
        held = sa.and_(revision_impacts.c.gcr_id == gcr_id, revision_impacts.c.from_revision <= number,
                       sa.or_(revision_impacts.c.until_revision.is_(None), revision_impacts.c.until_revision > number))
        rows = connection.execute(
            sa.select(services.c.service_id, revision_impacts.c.level, revision_impacts.c.max_outage_minutes)
            .join(services, services.c.id == revision_impacts.c.service_pk).where(held)
            .order_by(services.c.service_id))
        state["impacts"] = [{"service_id": s, "impact": level, "max_outage_minutes": m} for s, level, m in rows]
        connection.execute(revisions.update().where(revisions.c.id == revision_id).values(state=state))


def _revisions(connection) -> list:
    return connection.execute(sa.select(revisions.c.id, revisions.c.gcr_id, revisions.c.number, revisions.c.state)
                              .order_by(revisions.c.gcr_id, revisions.c.number)).all()
