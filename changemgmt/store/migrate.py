"""Schema migrations with Alembic, run from code (`changemgmt db upgrade`), and the check
that a database's schema is the one this code expects before anything else touches it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, MetaData, text

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaNotCurrent(Exception):
    """The database's schema revision is not the one this code expects: none yet, an
    older one (`db upgrade` fixes both), or one this code does not know (a newer
    changemgmt migrated it)."""

    def __init__(self, current: str | None, expected: str, known: bool) -> None:
        self.current, self.expected, self.known = current, expected, known
        if current is None:
            text_ = f"the database has no schema yet (revision none, expected {expected})"
        elif known:
            text_ = f"the database schema is at revision {current}, behind the expected {expected}"
        else:
            text_ = (
                f"the database schema is at revision {current}, which this changemgmt does not know "
                f"(it expects {expected}): a newer changemgmt migrated it"
            )
        super().__init__(text_)

    @property
    def upgrade_fixes_it(self) -> bool:
        return self.known


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Creates the schema in an empty database, or migrates it to `revision`. A database
    that a newer changemgmt migrated is SchemaNotCurrent: this code cannot move it."""
    current = current_revision(engine)
    if current is not None and not _is_known(current):
        raise SchemaNotCurrent(current, head_revision(), known=False)
    command.upgrade(alembic_config(engine), revision)


def recreate(engine: Engine, revision: str = "head") -> None:
    """Drops every table in the database, ours or not, and migrates from empty to
    `revision`. For tests and benchmarks on a database given to them; never on a live one."""
    existing = MetaData()
    existing.reflect(engine)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            for table in existing.tables:
                connection.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
        else:
            existing.drop_all(connection)
    upgrade(engine, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS))


def head_revision() -> str:
    """The revision this code's models match."""
    head = _scripts().get_current_head()
    if head is None:
        raise RuntimeError(f"no migration in {MIGRATIONS}")
    return head


def check_schema(engine: Engine) -> None:
    """Raises SchemaNotCurrent unless the database is at the head revision."""
    current, expected = current_revision(engine), head_revision()
    if current == expected:
        return
    raise SchemaNotCurrent(current, expected, known=current is None or _is_known(current))


def _is_known(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False
