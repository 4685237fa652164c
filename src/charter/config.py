"""Settings, read from the environment by a factory (nothing happens at import).

=========================== ==================================================
variable                    meaning (default)
=========================== ==================================================
``CHARTER_HOME``            the home folder (``./.charter``)
``CHARTER_DATABASE_URL``    control-plane database (SQLite file ``charter.db``
                            in the home); ``postgresql://`` URLs use psycopg 3
``CHARTER_SIGNING_KEY``     Ed25519 private key, PEM text, for checkpoints
``CHARTER_SIGNING_KEY_FILE`` path of that key (``<home>/keys/ledger-ed25519.pem``)
``CHARTER_ACTOR``           who the CLI acts as on the ledger (``local:<user>``)
``CHARTER_LAKE_URI``        where the decision lake lives (``<home>/lake``): a
                            folder or an object-store URI (``s3://bucket/lake``;
                            credentials from the usual environment variables)
=========================== ==================================================
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from charter.errors import ConfigError

DEFAULT_HOME = ".charter"
DATABASE_FILE = "charter.db"
KEY_DIR = "keys"
PRIVATE_KEY_FILE = "ledger-ed25519.pem"
PUBLIC_KEY_FILE = "ledger-ed25519.pub.pem"
LAKE_DIR = "lake"


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    signing_key_file: Path
    signing_key_pem: str | None
    actor: str
    lake_uri: str | None = None  # None: <home>/lake

    @property
    def lake(self) -> str:
        """The decision lake's root: ``CHARTER_LAKE_URI``, or the home's ``lake`` folder."""
        return self.lake_uri or str(self.home / LAKE_DIR)

    @property
    def database_in_home(self) -> bool:
        """True when the database is the default SQLite file inside the home."""
        return self.database_url == sqlite_url(self.home / DATABASE_FILE)

    @property
    def public_key_file(self) -> Path:
        return self.home / KEY_DIR / PUBLIC_KEY_FILE


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste (``postgres://``, ``postgresql://``) and pick the driver."""
    url = url.strip()
    if not url:
        raise ConfigError("the database URL is empty; leave it unset for the default SQLite store")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    scheme = url.split("://", 1)[0] if "://" in url else url
    raise ConfigError(
        f"the database URL (--database-url or CHARTER_DATABASE_URL) names an unsupported database "
        f"'{scheme}'; use sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
    )


def load_settings(
    env: Mapping[str, str] | None = None,
    *,
    home: str | Path | None = None,
    database_url: str | None = None,
    actor: str | None = None,
) -> Settings:
    """Build settings from ``env`` (default: the process environment) and overrides."""
    environ = os.environ if env is None else env
    home_path = Path(home or environ.get("CHARTER_HOME") or DEFAULT_HOME).expanduser().absolute()
    url = (database_url or environ.get("CHARTER_DATABASE_URL") or "").strip()
    resolved_url = normalise_database_url(url) if url else sqlite_url(home_path / DATABASE_FILE)
    key_file = environ.get("CHARTER_SIGNING_KEY_FILE")
    return Settings(
        home=home_path,
        database_url=resolved_url,
        signing_key_file=(
            Path(key_file).expanduser().absolute() if key_file else home_path / KEY_DIR / PRIVATE_KEY_FILE
        ),
        signing_key_pem=environ.get("CHARTER_SIGNING_KEY") or None,
        actor=actor or environ.get("CHARTER_ACTOR") or f"local:{_user()}",
        lake_uri=(environ.get("CHARTER_LAKE_URI") or "").strip() or None,
    )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
