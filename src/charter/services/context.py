"""What every service needs: settings, the store's engine, a clock and who is acting."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from charter.clock import Clock, SystemClock
from charter.config import Settings
from charter.errors import HomeCorrupt, HomeMissing
from charter.store.engine import make_engine
from charter.store.migrate import check_schema


@dataclass
class Context:
    settings: Settings
    engine: Engine
    clock: Clock = field(default_factory=SystemClock)

    @property
    def actor(self) -> str:
        return self.settings.actor

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def require_home(settings: Settings) -> None:
    """Refuse a missing or broken home before anything could create files in it."""
    home = settings.home
    if home.exists() and not home.is_dir():
        raise HomeCorrupt(f"CHARTER_HOME {home} is a file, not a folder; point CHARTER_HOME at a folder")
    if not settings.database_in_home:
        return
    if not home.exists():
        raise HomeMissing(f"no Charter home at {home}; run `charter init` (or point --home or CHARTER_HOME at one)")
    database = settings.home / "charter.db"
    if not database.exists():
        raise HomeCorrupt(
            f"the Charter home {home} has no database (charter.db); run `charter init` to create one, "
            "or restore it from a backup"
        )
    if database.is_dir():
        raise HomeCorrupt(f"{database} is a folder, not a database file; move it away and run `charter init`")


def open_context(settings: Settings, *, clock: Clock | None = None, check: bool = True) -> Context:
    """Open the store for use; with ``check``, refuse a database of another schema revision."""
    require_home(settings)
    engine = make_engine(settings.database_url)
    try:
        if check:
            check_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return Context(settings=settings, engine=engine, clock=clock or SystemClock())
