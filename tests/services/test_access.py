"""Roles on SQLite and PostgreSQL: the first admin, grants, revocations and the checks that use them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import Conflict, Forbidden, InvalidInput, NotFound
from charter.ledger.chain import EntryFilter, list_entries
from charter.services import access, audit
from charter.services.context import Context, open_context
from charter.services.home import init_home
from charter.store.engine import MIGRATION_OPTION, WRITE_OPTION, make_engine
from charter.store.revisions import REVISIONS


@pytest.fixture
def context(settings: Settings, clock: FixedClock) -> Iterator[Context]:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as opened:
        yield opened


def as_actor(context: Context, actor: str) -> Context:
    return dataclasses.replace(context, settings=dataclasses.replace(context.settings, actor=actor))


def test_the_first_init_makes_its_actor_admin_and_only_once(settings: Settings, clock: FixedClock) -> None:
    assert init_home(settings, clock=clock).admin == "user:tester"
    assert init_home(settings, clock=clock).admin is None
    with open_context(settings, clock=clock) as context:
        assert [(g.principal, g.role) for g in access.list_grants(context)] == [("user:tester", "admin")]
        [entry] = list_entries(context.engine, EntryFilter(action="role.granted"))
        assert entry.subject == "principal:user:tester" and entry.data["role"] == "admin"
        assert audit.verify_ledger(context).ok


def test_a_home_from_before_roles_gets_its_admin_when_upgraded(settings: Settings, clock: FixedClock) -> None:
    from alembic import command
    from alembic.config import Config

    settings.home.mkdir(parents=True)
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(**{MIGRATION_OPTION: True, WRITE_OPTION: True})
            config = Config()
            config.set_main_option("script_location", "charter.store:migrations")
            config.attributes["connection"] = connection
            command.upgrade(config, "0005_training_run")
            connection.commit()
    finally:
        engine.dispose()
    old = dataclasses.replace(settings, actor="local:owner")
    result = init_home(old, clock=clock)
    assert (result.revision_before, result.revision, result.admin) == (
        "0005_training_run",
        REVISIONS[-1],
        "local:owner",
    )
    with open_context(settings, clock=clock) as context:
        assert access.whoami(as_actor(context, "local:owner"))["roles"] == ["admin"]
        with context.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM dataset_versions")).scalar_one() == 0


def test_grants_and_revocations_are_checked_and_audited(context: Context) -> None:
    grant = access.grant(context, "local:bob", "approver", reason="on call approver")
    assert (grant.principal, grant.role, grant.granted_by, grant.reason) == (
        "local:bob",
        "approver",
        "user:tester",
        "on call approver",
    )
    bob = as_actor(context, "local:bob")
    assert access.whoami(bob) == {"principal": "local:bob", "roles": ["approver"], "permissions": ["model.promote"]}
    head = audit.ledger_size(context)
    cases: list[tuple[object, type[Exception], str]] = [
        (lambda: access.grant(bob, "local:bob", "admin"), Forbidden, "granting or revoking roles needs the role admin"),
        (lambda: access.grant(context, "local:bob", "approver"), Conflict, "local:bob already has the role approver"),
        (
            lambda: access.grant(context, "local bob", "viewer"),
            InvalidInput,
            "principal 'local bob' is not a valid name",
        ),
        (lambda: access.grant(context, "", "viewer"), InvalidInput, "principal '' is not a valid name"),
        (lambda: access.grant(context, "local:bob", "root"), InvalidInput, "role 'root' is not one of viewer,"),
        (lambda: access.revoke(context, "local:bob", "viewer"), NotFound, "local:bob does not have the role viewer"),
        (lambda: access.revoke(context, "user:tester", "admin"), Conflict, "user:tester is the last admin"),
    ]
    for call, error, message in cases:
        with pytest.raises(error) as caught:
            call()  # type: ignore[operator]
        assert str(caught.value).startswith(message), caught.value
    assert audit.ledger_size(context) == head
    access.grant(context, "local:carol", "admin")
    revoked = access.revoke(as_actor(context, "local:carol"), "user:tester", "admin", reason="left the team")
    assert (revoked.revoked_by, revoked.revoked_at) == ("local:carol", revoked.revoked_at)
    assert access.whoami(context)["roles"] == []
    assert [g.role for g in access.list_grants(context, principal="user:tester", include_revoked=True)] == ["admin"]
    assert access.list_grants(context, principal="user:tester") == []
    actions = [e.action for e in list_entries(context.engine, EntryFilter(subject="principal:user:tester"))]
    assert sorted(actions) == ["role.granted", "role.revoked"]
    assert audit.verify_ledger(context).ok


def test_require_names_the_roles_held(context: Context) -> None:
    access.grant(context, "local:dora", "viewer")
    access.grant(context, "local:dora", "developer")
    with context.engine.connect() as connection:
        with pytest.raises(Forbidden) as caught:
            access.require(connection, "local:dora", "dataset.certify")
        assert access.require(connection, "user:tester", "role.manage") == "admin"
    assert str(caught.value) == (
        "certifying a dataset version needs the role risk-officer; local:dora has viewer, developer "
        "(an admin grants it with `charter role grant local:dora risk-officer`)"
    )


def test_every_permission_names_known_roles() -> None:
    for roles, action in access.PERMISSIONS.values():
        assert roles and set(roles) <= set(access.ROLES) and action
