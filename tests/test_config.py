from __future__ import annotations

from pathlib import Path

import pytest

from charter.config import load_settings, normalise_database_url
from charter.errors import ConfigError


def test_defaults_put_everything_in_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={"USER": "alice"})
    assert settings.home == tmp_path / ".charter"
    assert settings.database_url == f"sqlite:///{tmp_path}/.charter/charter.db"
    assert settings.database_in_home
    assert settings.signing_key_file == tmp_path / ".charter" / "keys" / "ledger-ed25519.pem"
    assert settings.actor.startswith("local:")
    assert settings.lake == str(tmp_path / ".charter" / "lake")


def test_environment_overrides(tmp_path: Path) -> None:
    settings = load_settings(
        env={
            "CHARTER_HOME": str(tmp_path / "h"),
            "CHARTER_DATABASE_URL": "postgresql://u@db:5432/charter",
            "CHARTER_SIGNING_KEY_FILE": str(tmp_path / "k.pem"),
            "CHARTER_ACTOR": "ci:pipeline",
            "CHARTER_LAKE_URI": "s3://decisions/lake",
        }
    )
    assert settings.home == tmp_path / "h"
    assert settings.database_url == "postgresql+psycopg://u@db:5432/charter"
    assert not settings.database_in_home
    assert settings.signing_key_file == tmp_path / "k.pem"
    assert settings.actor == "ci:pipeline"
    assert settings.lake == "s3://decisions/lake"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_database_urls_are_normalised(url: str, expected: str) -> None:
    assert normalise_database_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@h/x", r"names an unsupported database 'mysql'"),
        ("  ", "the database URL is empty"),
    ],
)
def test_bad_database_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        normalise_database_url(url)


def test_importing_and_loading_settings_create_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    import charter.config

    monkeypatch.chdir(tmp_path)
    importlib.reload(charter.config)
    charter.config.load_settings(env={})
    assert list(tmp_path.iterdir()) == []  # no home, no database: only `charter init` makes them
