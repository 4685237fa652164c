"""Setting up a Charter home: folder, signing key, database schema, first ledger entry.

``init_home`` either completes or leaves nothing behind that it created.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine

from charter.clock import Clock, SystemClock, format_timestamp
from charter.config import DATABASE_FILE, Settings
from charter.errors import ConfigError, HomeCorrupt, SigningKeyMissing, StoreNotInitialised
from charter.ledger import append, unit_of_work
from charter.ledger.chain import read_head
from charter.ledger.keys import create_key_files, key_id, public_pem
from charter.services.access import grant_initial_admin
from charter.services.audit import signing_key
from charter.services.context import open_context, require_home
from charter.store.engine import make_engine, redacted, translate_errors
from charter.store.migrate import UpgradeResult, current_revision, upgrade
from charter.version import version


@dataclass(frozen=True)
class InitResult:
    home: Path
    database: str
    revision_before: str | None
    revision: str
    key_id: str
    created_home: bool
    created_key: bool
    first_time: bool
    admin: str | None = None  # the principal made admin by this run (a home without one gets its first)

    def to_dict(self) -> dict[str, object]:
        return {
            "home": str(self.home),
            "database": self.database,
            "revision_before": self.revision_before,
            "revision": self.revision,
            "key_id": self.key_id,
            "created_home": self.created_home,
            "created_key": self.created_key,
            "first_time": self.first_time,
            "admin": self.admin,
        }


class _Undo:
    """Paths created so far, removed again (newest first) if setup fails."""

    def __init__(self) -> None:
        self.paths: list[Path] = []

    def created(self, path: Path) -> None:
        self.paths.append(path)

    def run(self) -> None:
        for path in reversed(self.paths):
            with contextlib.suppress(OSError):
                if path.is_dir():
                    path.rmdir()
                else:
                    path.unlink(missing_ok=True)


def _make_home(home: Path, undo: _Undo) -> bool:
    if home.exists():
        if not home.is_dir():
            raise HomeCorrupt(f"CHARTER_HOME {home} is a file, not a folder; point CHARTER_HOME at a folder")
        return False
    missing = [home, *(p for p in home.parents if not p.exists())]
    try:
        home.mkdir(parents=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the Charter home {home}: {exc.strerror}; choose a writable CHARTER_HOME"
        ) from None
    for path in reversed(missing):
        undo.created(path)
    return True


def init_home(settings: Settings, *, clock: Clock | None = None) -> InitResult:
    """Create or bring up to date the home, key and database. Safe to run again."""
    clock = clock or SystemClock()
    undo = _Undo()
    try:
        created_home = _make_home(settings.home, undo)
        created_key = False
        if settings.signing_key_pem is not None or settings.signing_key_file.exists():
            key = signing_key(settings)
            if not settings.public_key_file.exists():
                _write_public_key(settings, key.public_key(), undo)
        elif settings.public_key_file.exists():
            raise SigningKeyMissing(
                f"this home's checkpoints are signed with the key in {settings.public_key_file}, but its "
                f"private key is not at {settings.signing_key_file}; restore it or set "
                "CHARTER_SIGNING_KEY_FILE (init will not replace a home's key)"
            )
        else:
            key, created = create_key_files(settings.signing_key_file, settings.public_key_file)
            for path in created:
                undo.created(path)
            created_key = True
        if settings.database_in_home:
            database = settings.home / DATABASE_FILE
            if not database.exists():
                for suffix in ("", "-wal", "-shm"):
                    undo.created(database.with_name(database.name + suffix))
        engine = make_engine(settings.database_url)
        try:
            result = upgrade(engine)
            first_time = read_head(engine)[0] == 0
            kid = key_id(key.public_key())
            if first_time:
                append(
                    engine,
                    actor=settings.actor,
                    clock=clock,
                    action="charter.initialised",
                    subject="charter",
                    payload={"schema": result.after, "key_id": kid, "version": version()},
                )
            elif result.changed:
                _record_migration(engine, settings, clock, result)
            with unit_of_work(engine, actor=settings.actor, clock=clock) as uow:
                admin = grant_initial_admin(uow, settings.actor, format_timestamp(clock.now()))
        finally:
            engine.dispose()
    except BaseException:
        undo.run()
        raise
    return InitResult(
        home=settings.home,
        database=redacted(settings.database_url),
        revision_before=result.before,
        revision=result.after,
        key_id=kid,
        created_home=created_home,
        created_key=created_key,
        first_time=first_time,
        admin=None if admin is None else admin.principal,
    )


def _write_public_key(settings: Settings, public_key: Ed25519PublicKey, undo: _Undo) -> None:
    path = settings.public_key_file
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(public_pem(public_key))
    except OSError as exc:
        raise ConfigError(f"cannot write the public key to {path}: {exc.strerror}") from None
    undo.created(path)


def _record_migration(engine: Engine, settings: Settings, clock: Clock, result: UpgradeResult) -> None:
    append(
        engine,
        actor=settings.actor,
        clock=clock,
        action="store.migrated",
        subject="charter",
        payload={"from": result.before, "to": result.after, "version": version()},
    )


def upgrade_database(settings: Settings, *, clock: Clock | None = None) -> UpgradeResult:
    """``charter db upgrade``: migrate an existing database to this Charter's schema."""
    require_home(settings)
    context = open_context(settings, clock=clock, check=False)
    with context:
        with translate_errors(context.engine.url), context.engine.connect() as connection:
            if current_revision(connection) is None:
                raise StoreNotInitialised(
                    f"the database {redacted(settings.database_url)} has no Charter schema yet; "
                    "run `charter init` to set it up"
                )
        result = upgrade(context.engine)
        if result.changed and result.before is not None:
            _record_migration(context.engine, settings, context.clock, result)
    return result


@dataclass(frozen=True)
class DatabaseStatus:
    database: str
    revision: str | None
    required: str
    state: str

    @property
    def up_to_date(self) -> bool:
        return self.revision == self.required

    def to_dict(self) -> dict[str, object]:
        return {
            "database": self.database,
            "revision": self.revision,
            "required": self.required,
            "state": self.state,
        }


def database_status(settings: Settings) -> DatabaseStatus:
    """``charter db status``: which schema revision the database has, and what to do about it."""
    from charter.store.revisions import HEAD, REVISIONS

    require_home(settings)
    context = open_context(settings, check=False)
    with context, translate_errors(context.engine.url), context.engine.connect() as connection:
        revision = current_revision(connection)
    if revision is None:
        state = "not initialised: run `charter init`"
    elif revision not in REVISIONS:
        state = "newer than this Charter: upgrade Charter"
    elif revision != HEAD:
        state = "outdated: run `charter db upgrade`"
    else:
        state = "up to date"
    return DatabaseStatus(redacted(settings.database_url), revision, HEAD, state)
