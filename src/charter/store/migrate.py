"""Schema revisions: check a database against this Charter, and upgrade it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import URL, Connection

from charter.errors import SchemaOutdated, SchemaTooNew, StoreNotInitialised
from charter.store.engine import MIGRATION_OPTION, WRITE_OPTION, redacted, translate_errors
from charter.store.revisions import HEAD, REVISIONS

VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class UpgradeResult:
    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def current_revision(connection: Connection) -> str | None:
    """The database's schema revision, or None for a database Charter never set up."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(rows) != 1:
        return None if not rows else ",".join(sorted(rows))
    return str(rows[0])


def check_schema(engine: Engine) -> str:
    """Return the revision if this Charter can use the database as it is; raise otherwise."""
    url = engine.url
    with translate_errors(url), engine.connect() as connection:
        revision = current_revision(connection)
    return _require_usable(url, revision)


def _require_usable(url: URL, revision: str | None) -> str:
    where = redacted(url)
    if revision is None:
        raise StoreNotInitialised(f"the database {where} has no Charter schema; run `charter init`")
    if revision not in REVISIONS:
        raise SchemaTooNew(
            f"the database {where} has schema revision {revision!r}, which this Charter does not know "
            f"(its latest is {HEAD!r}): it was written by a newer Charter (upgrade Charter to use it) "
            "or is not a Charter database"
        )
    if revision != HEAD:
        raise SchemaOutdated(
            f"the database {where} has schema revision {revision!r}; this Charter needs {HEAD!r}; "
            "run `charter db upgrade`"
        )
    return revision


def upgrade(engine: Engine) -> UpgradeResult:
    """Bring the database to this Charter's latest revision, in one transaction."""
    from alembic import command
    from alembic.config import Config

    url = engine.url
    with translate_errors(url), engine.connect() as connection:
        connection = connection.execution_options(**{MIGRATION_OPTION: True, WRITE_OPTION: True})
        connection.begin()
        if connection.dialect.name == "postgresql":
            # Two `charter db upgrade` at once: the second waits, then finds nothing to do.
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('charter.migrate'))"))
        before = current_revision(connection)
        if before is not None and before not in REVISIONS:
            _require_usable(url, before)
        if before != HEAD:
            config = Config()
            config.set_main_option("script_location", "charter.store:migrations")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        connection.commit()
    return UpgradeResult(before=before, after=HEAD)
