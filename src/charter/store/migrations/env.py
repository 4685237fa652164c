"""Alembic environment for Charter: always run on a connection given by charter.store.migrate."""

from __future__ import annotations

from alembic import context

from charter.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
