"""Migrations and the schema-revision check, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from charter.errors import SchemaOutdated, SchemaTooNew, StoreNotInitialised
from charter.store.engine import make_engine
from charter.store.migrate import check_schema, upgrade
from charter.store.revisions import HEAD, REVISIONS
from charter.store.schema import metadata


def test_the_revision_list_matches_the_migration_scripts() -> None:
    config = Config()
    config.set_main_option("script_location", "charter.store:migrations")
    scripts = ScriptDirectory.from_config(config)
    history = [script.revision for script in reversed(list(scripts.walk_revisions()))]
    assert tuple(history) == REVISIONS
    assert scripts.get_current_head() == HEAD


def test_the_migrated_database_matches_the_metadata(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_upgrade_is_idempotent(engine: Engine) -> None:
    again = upgrade(engine)
    assert (again.before, again.after, again.changed) == (HEAD, HEAD, False)
    assert check_schema(engine) == HEAD


def test_a_fresh_database_is_not_initialised(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with pytest.raises(StoreNotInitialised, match=r"has no Charter schema; run `charter init`"):
            check_schema(engine)
    finally:
        engine.dispose()


def test_a_newer_schema_is_refused_and_left_alone(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    with pytest.raises(SchemaTooNew) as caught:
        check_schema(engine)
    assert "has schema revision '0099_future', which this Charter does not know" in str(caught.value)
    assert "written by a newer Charter (upgrade Charter to use it)" in str(caught.value)
    with pytest.raises(SchemaTooNew):
        upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0099_future"


def test_an_outdated_schema_asks_for_an_upgrade(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import charter.store.migrate as migrate

    monkeypatch.setattr(migrate, "REVISIONS", (*REVISIONS, "0002_next"))
    monkeypatch.setattr(migrate, "HEAD", "0002_next")
    with pytest.raises(SchemaOutdated, match=r"this Charter needs '0002_next'; run `charter db upgrade`"):
        check_schema(engine)


def test_an_older_database_with_entries_upgrades_in_place(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from charter.clock import FixedClock
    from charter.ledger import append_many
    from charter.ledger.chain import chain_snapshot
    from charter.ledger.verify import verify
    from charter.store.engine import MIGRATION_OPTION, WRITE_OPTION

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(**{MIGRATION_OPTION: True, WRITE_OPTION: True})
            config = Config()
            config.set_main_option("script_location", "charter.store:migrations")
            config.attributes["connection"] = connection
            command.upgrade(config, REVISIONS[0])
            connection.commit()
        append_many(engine, [("test.appended", f"x:{i}", {"i": i}) for i in range(5)], actor="u:a", clock=FixedClock())
        with pytest.raises(SchemaOutdated):
            check_schema(engine)
        result = upgrade(engine)
        assert (result.before, result.after) == (REVISIONS[0], HEAD)
        assert check_schema(engine) == HEAD
        with chain_snapshot(engine) as snapshot:
            report = verify(snapshot, public_key=None)
        assert report.ok
        assert report.entries == 5
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM models")).scalar_one() == 0
    finally:
        engine.dispose()
