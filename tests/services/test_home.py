"""Setting up a home, and every way it can go wrong without leaving anything behind."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from charter.clock import FixedClock
from charter.config import Settings, load_settings
from charter.errors import (
    HomeCorrupt,
    HomeMissing,
    SchemaTooNew,
    SigningKeyError,
    SigningKeyMissing,
    SigningKeyUnwritable,
    StoreNotInitialised,
    StoreUnreachable,
)
from charter.ledger.chain import list_entries
from charter.services import audit
from charter.services.context import open_context
from charter.services.home import database_status, init_home, upgrade_database
from charter.store.engine import make_engine


def new_key() -> tuple[Ed25519PrivateKey, str]:
    """A fresh Ed25519 key and its PEM text, as CHARTER_SIGNING_KEY takes it."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return key, pem.decode()


def tree(path: Path) -> dict[str, bytes | None]:
    """Every file and folder below ``path`` with file contents, to prove nothing changed."""
    if not path.exists():
        return {}
    return {str(p.relative_to(path)): (p.read_bytes() if p.is_file() else None) for p in sorted(path.rglob("*"))}


def test_init_creates_home_key_and_database(settings: Settings, clock: FixedClock) -> None:
    result = init_home(settings, clock=clock)
    assert result.first_time and result.created_key
    assert settings.home.is_dir()
    assert stat.S_IMODE(settings.signing_key_file.stat().st_mode) == 0o600
    assert settings.public_key_file.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    with open_context(settings, clock=clock) as context:
        entries = list_entries(context.engine, limit=None)
        assert [e.action for e in entries] == ["role.granted", "charter.initialised"]  # newest first
        assert entries[1].data["key_id"] == result.key_id
        assert entries[0].actor == "user:tester"
        assert audit.verify_ledger(context).ok


def test_init_again_changes_nothing(settings: Settings, clock: FixedClock) -> None:
    init_home(settings, clock=clock)
    before = tree(settings.home) if settings.database_in_home is False else None
    again = init_home(settings, clock=clock)
    assert not again.first_time and not again.created_key
    with open_context(settings) as context:
        assert len(list_entries(context.engine, limit=None)) == 2
    if before is not None:
        assert tree(settings.home) == before


def test_a_home_that_is_a_file_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    settings = load_settings(env={}, home=home)
    for action in (lambda: init_home(settings), lambda: open_context(settings)):
        with pytest.raises(HomeCorrupt, match=f"CHARTER_HOME {home} is a file, not a folder"):
            action()
    assert home.read_text() == "not a folder"


def test_a_missing_home_says_to_run_init_and_creates_nothing(tmp_path: Path) -> None:
    settings = load_settings(env={}, home=tmp_path / "nowhere")
    with pytest.raises(HomeMissing) as caught:
        open_context(settings)
    assert (
        str(caught.value)
        == f"no Charter home at {tmp_path / 'nowhere'}; run `charter init` (or point --home or CHARTER_HOME at one)"
    )
    assert not (tmp_path / "nowhere").exists()


def test_a_home_without_its_database_is_named(tmp_path: Path) -> None:
    settings = load_settings(env={}, home=tmp_path / "home")
    init_home(settings)
    (settings.home / "charter.db").unlink()
    with pytest.raises(HomeCorrupt, match=r"has no database \(charter.db\); run `charter init`"):
        open_context(settings)


def test_a_corrupt_database_is_named_and_init_leaves_no_trace(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "charter.db").write_bytes(b"garbage" * 1000)
    before = tree(home)
    settings = load_settings(env={}, home=home)
    with pytest.raises(HomeCorrupt, match=r"charter.db is not a usable SQLite database \(file is not a database\)"):
        init_home(settings)
    assert tree(home) == before  # no key was left behind either
    with pytest.raises(HomeCorrupt):
        open_context(settings)


def test_an_unreachable_database_leaves_no_home_behind(tmp_path: Path) -> None:
    settings = load_settings(env={}, home=tmp_path / "a" / "home", database_url="postgresql://u:pw@127.0.0.1:1/db")
    with pytest.raises(StoreUnreachable, match=r"^cannot connect to postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/db"):
        init_home(settings)
    assert not (tmp_path / "a").exists()


def test_an_unwritable_key_file_is_named_and_nothing_is_created(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    env = {"CHARTER_SIGNING_KEY_FILE": str(blocker / "key.pem")}
    settings = load_settings(env=env, home=tmp_path / "home")
    with pytest.raises(SigningKeyUnwritable) as caught:
        init_home(settings)
    assert str(caught.value).startswith(f"cannot write the signing key to {blocker}")
    assert "Not a directory" in str(caught.value)
    assert "set CHARTER_SIGNING_KEY_FILE to a writable path" in str(caught.value)
    assert not (tmp_path / "home").exists()


def test_a_newer_schema_is_refused_by_init_and_left_alone(settings: Settings) -> None:
    init_home(settings)
    engine = make_engine(settings.database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    try:
        with pytest.raises(SchemaTooNew):
            init_home(settings)
        with pytest.raises(SchemaTooNew):
            open_context(settings)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM ledger_entries")).scalar_one() == 2
    finally:
        engine.dispose()


def test_db_upgrade_needs_an_initialised_database(settings: Settings) -> None:
    if settings.database_in_home:
        settings.home.mkdir()
        (settings.home / "charter.db").touch()
    with pytest.raises(StoreNotInitialised, match=r"has no Charter schema yet; run `charter init`"):
        upgrade_database(settings)


def test_db_upgrade_and_status_on_a_current_database(settings: Settings) -> None:
    init_home(settings)
    result = upgrade_database(settings)
    assert not result.changed
    status = database_status(settings)
    assert status.state == "up to date"
    assert status.revision == status.required


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    settings = load_settings(env={}, home=tmp_path / "home")
    init_home(settings)
    os.chmod(settings.signing_key_file, 0o644)
    with open_context(settings) as context, pytest.raises(SigningKeyError) as caught:
        audit.sign_checkpoint(context)
    assert str(caught.value) == (
        f"signing key {settings.signing_key_file} can be read by other users (mode 0644); "
        f"run `chmod 600 {settings.signing_key_file}`"
    )


def test_a_key_given_in_the_environment_is_used(tmp_path: Path) -> None:
    from charter.ledger.keys import key_id

    key, pem = new_key()
    settings = load_settings(env={"CHARTER_SIGNING_KEY": pem}, home=tmp_path / "home")
    result = init_home(settings)
    assert result.key_id == key_id(key.public_key())
    assert not settings.signing_key_file.exists()
    with open_context(settings) as context:
        checkpoint = audit.sign_checkpoint(context)
        assert checkpoint.key_id == result.key_id
        assert audit.verify_ledger(context).ok


def test_a_malformed_key_in_the_environment_is_refused(tmp_path: Path) -> None:
    settings = load_settings(env={"CHARTER_SIGNING_KEY": "not a key"}, home=tmp_path / "home")
    with pytest.raises(SigningKeyError, match=r"^CHARTER_SIGNING_KEY is not an unencrypted Ed25519 private key"):
        init_home(settings)
    assert not settings.home.exists()


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(env={}, home=tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.actor = "x"  # type: ignore[misc]


def test_init_with_an_environment_key_writes_its_public_half(tmp_path: Path) -> None:
    from charter.ledger.keys import key_id, load_public_key

    key, pem = new_key()
    settings = load_settings(env={"CHARTER_SIGNING_KEY": pem}, home=tmp_path / "home")
    init_home(settings)
    assert key_id(load_public_key(settings.public_key_file)) == key_id(key.public_key())
    # Without the variable, init refuses to mint a new key for this home.
    plain = load_settings(env={}, home=tmp_path / "home")
    with pytest.raises(SigningKeyMissing, match=r"init will not replace a home's key"):
        init_home(plain)
    assert not plain.signing_key_file.exists()


def test_signing_with_a_key_that_is_not_the_homes_is_refused(tmp_path: Path) -> None:
    from charter.ledger.keys import create_key_files

    settings = load_settings(env={}, home=tmp_path / "home")
    init_home(settings)
    other_key = tmp_path / "other" / "key.pem"
    create_key_files(other_key, tmp_path / "other" / "key.pub.pem")
    other = load_settings(env={"CHARTER_SIGNING_KEY_FILE": str(other_key)}, home=tmp_path / "home")
    with open_context(other) as context, pytest.raises(SigningKeyError) as caught:
        audit.sign_checkpoint(context)
    assert f"the signing key from {other_key} is ed25519:" in str(caught.value)
    assert "but this home's checkpoints are signed with ed25519:" in str(caught.value)


def test_a_checkpoint_leaves_nothing_only_in_the_sqlite_wal(tmp_path: Path) -> None:
    settings = load_settings(env={}, home=tmp_path / "home")
    init_home(settings)
    with open_context(settings) as context:
        audit.sign_checkpoint(context)
        with context.engine.connect() as connection:
            busy, wal_frames, checkpointed = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
    assert busy == 0
    assert wal_frames == checkpointed


def test_a_blank_database_url_means_the_default() -> None:
    settings = load_settings(env={"CHARTER_DATABASE_URL": "   "}, home="/tmp/x")
    assert settings.database_in_home


def test_a_lost_private_key_says_to_restore_it_not_to_init(tmp_path: Path) -> None:
    settings = load_settings(env={}, home=tmp_path / "home")
    init_home(settings)
    settings.signing_key_file.unlink()
    with open_context(settings) as context, pytest.raises(SigningKeyMissing) as caught:
        audit.sign_checkpoint(context)
    assert str(caught.value) == (
        f"no signing key at {settings.signing_key_file}; restore it from a backup, "
        "or set CHARTER_SIGNING_KEY_FILE or CHARTER_SIGNING_KEY to it"
    )
