"""Schema migrations with Alembic, run from code (`changemgmt db upgrade`)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, text

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Creates the schema in an empty database, or migrates it to `revision`."""
    command.upgrade(alembic_config(engine), revision)


def recreate(engine: Engine) -> None:
    """Drops every table in the database, ours or not, and migrates from empty.
    For tests and benchmarks on a database given to them; never on a live one."""
    existing = MetaData()
    existing.reflect(engine)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            for table in existing.tables:
                connection.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
        else:
            existing.drop_all(connection)
    upgrade(engine)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
