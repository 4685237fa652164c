"""Pseudonym keys in the home, on SQLite and PostgreSQL: created on first use, rotated, audited."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import os
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pytest

from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import ConfigError, LedgerEntryInvalid, NotFound
from charter.lake.privacy import MaskingPolicy, apply_policy
from charter.ledger.chain import EntryFilter, list_entries
from charter.services.context import Context, open_context
from charter.services.home import init_home
from charter.services.pseudonym_keys import (
    ensure_keys,
    key_dir,
    load_keys,
    pseudonymise_value,
    rotate_key,
    tokens_for,
)


@pytest.fixture
def context(settings: Settings, clock: FixedClock) -> Iterator[Context]:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as opened:
        yield opened


def key_entries(context: Context) -> list[dict[str, object]]:
    """The pseudonym key entries on the ledger, oldest first."""
    entries = list_entries(context.engine, EntryFilter(), limit=None, newest_first=False)
    return [e.to_dict() for e in entries if e.action.startswith("pseudonym_key.")]


def files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())} if directory.exists() else {}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def oracle(key: bytes, value: bytes) -> str:
    return f"p1:{hashlib.sha256(key).hexdigest()[:12]}:{hmac.new(key, value, hashlib.sha256).hexdigest()}"


def test_the_first_key_is_created_on_first_use_and_recorded(context: Context) -> None:
    directory = key_dir(context.settings)
    assert directory == context.settings.home / "keys" / "pseudonym"
    assert not directory.exists()
    keys = ensure_keys(context)
    (key_file,) = directory.glob("*.key")
    key = key_file.read_bytes()
    assert len(key) == 32
    assert key_file.name == hashlib.sha256(key).hexdigest()[:12] + ".key"
    assert keys.current == key_file.stem == (directory / "current").read_text().strip()
    assert keys.keys == {keys.current: key}
    assert mode(key_file) == 0o600
    assert mode(directory) == 0o700
    (entry,) = key_entries(context)
    assert (entry["action"], entry["subject"], entry["actor"]) == (
        "pseudonym_key.created",
        f"pseudonym_key:{keys.current}",
        "user:tester",
    )
    assert entry["payload"] == {"key_id": keys.current, "previous_key_id": None, "key_ids": [keys.current]}


def test_first_use_again_reuses_the_key_and_records_nothing(context: Context) -> None:
    first = ensure_keys(context)
    assert ensure_keys(context) == first
    assert load_keys(context.settings) == first
    assert len(key_entries(context)) == 1


def test_rotation_makes_a_new_key_current_keeps_the_old_and_writes_one_entry(context: Context) -> None:
    old = ensure_keys(context)
    old_file = key_dir(context.settings) / f"{old.current}.key"
    old_bytes = old_file.read_bytes()
    before = len(list_entries(context.engine, limit=None))

    new_id = rotate_key(context)

    keys = load_keys(context.settings)
    assert new_id != old.current
    assert keys.current == new_id
    assert set(keys.ids) == {old.current, new_id}
    assert old_file.read_bytes() == old_bytes
    assert mode(key_dir(context.settings) / f"{new_id}.key") == 0o600
    assert len(list_entries(context.engine, limit=None)) == before + 1
    entry = key_entries(context)[-1]
    assert (entry["action"], entry["subject"]) == ("pseudonym_key.rotated", f"pseudonym_key:{new_id}")
    assert entry["payload"] == {
        "key_id": new_id,
        "previous_key_id": old.current,
        "key_ids": sorted([old.current, new_id]),
    }


def test_the_ledger_holds_key_ids_never_keys(context: Context) -> None:
    rotate_key(context)
    rotate_key(context)
    keys = load_keys(context.settings)
    recorded = repr([e.to_dict() for e in list_entries(context.engine, limit=None)])
    for key in keys.keys.values():
        assert key.hex() not in recorded
        assert repr(key)[2:-1] not in recorded
    assert len(key_entries(context)) == 2
    assert [e["action"] for e in key_entries(context)] == ["pseudonym_key.created", "pseudonym_key.rotated"]


def test_tokens_follow_the_current_key_and_old_ones_stay_computable(context: Context) -> None:
    first = ensure_keys(context)
    email = "ada@example.org"
    old_token = pseudonymise_value(first, email)
    assert old_token == oracle(first.keys[first.current], email.encode())
    logged = apply_policy(
        pa.record_batch({"email": [email]}), MaskingPolicy.from_mapping({"email": "pseudonymise"}), first
    )
    assert logged.column("email")[0].as_py() == old_token

    rotate_key(context)
    keys = load_keys(context.settings)
    new_token = pseudonymise_value(keys, email)
    assert new_token == oracle(keys.keys[keys.current], email.encode())
    assert new_token != old_token
    assert pseudonymise_value(keys, email, key_id=first.current) == old_token
    assert set(tokens_for(keys, email).values()) == {old_token, new_token}
    with pytest.raises(NotFound, match=r"no pseudonym key 'ffffffffffff'"):
        pseudonymise_value(keys, email, key_id="ffffffffffff")


def test_rotating_a_home_without_keys_creates_the_first(context: Context) -> None:
    kid = rotate_key(context)
    assert load_keys(context.settings).ids == (kid,)
    assert [e["action"] for e in key_entries(context)] == ["pseudonym_key.created"]


def test_a_failed_ledger_entry_leaves_the_key_files_as_they_were(context: Context) -> None:
    broken = Context(
        settings=dataclasses.replace(context.settings, actor="user:\x00bad"), engine=context.engine, clock=context.clock
    )
    with pytest.raises(LedgerEntryInvalid):
        ensure_keys(broken)
    assert not key_dir(context.settings).exists()
    ensure_keys(context)
    before = files(key_dir(context.settings))
    with pytest.raises(LedgerEntryInvalid):
        rotate_key(broken)
    assert files(key_dir(context.settings)) == before
    assert len(key_entries(context)) == 1


def test_concurrent_first_uses_make_one_key(context: Context) -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: ensure_keys(context), range(4)))
    assert len({r.current for r in results}) == 1
    assert len(list(key_dir(context.settings).glob("*.key"))) == 1
    assert len(key_entries(context)) == 1


def test_readers_never_see_a_half_made_key_while_keys_are_created_and_rotated(context: Context) -> None:
    done = threading.Event()

    def read() -> set[str]:
        seen: set[str] = set()  # per reader: another reader may see the first key before this one does
        while not done.is_set():
            with contextlib.suppress(ConfigError):  # before the first key exists, and only then
                seen.add(load_keys(context.settings).current)
                continue
            assert not seen, "a reader saw no keys after it had seen the first key"
        return seen

    with ThreadPoolExecutor(2) as pool:
        readers = [pool.submit(read) for _ in range(2)]
        ensure_keys(context)
        rotated = [rotate_key(context) for _ in range(5)]
        done.set()
        seen = set().union(*(reader.result() for reader in readers))
    assert seen <= {*load_keys(context.settings).ids}
    assert load_keys(context.settings).current == rotated[-1]


def test_loading_keys_of_a_home_without_any_is_a_config_error(context: Context) -> None:
    with pytest.raises(ConfigError) as caught:
        load_keys(context.settings)
    assert caught.value.message == (
        f"no pseudonym keys in {key_dir(context.settings)}; the first is created on first use "
        "(ensure_keys) or by a rotation"
    )


def test_a_key_of_the_wrong_length_is_refused_naming_the_file(context: Context) -> None:
    keys = ensure_keys(context)
    path = key_dir(context.settings) / f"{keys.current}.key"
    path.write_bytes(path.read_bytes()[:31])
    with pytest.raises(ConfigError) as caught:
        load_keys(context.settings)
    assert caught.value.message == (
        f"pseudonym key {path} holds 31 bytes; a key is 32 random bytes (restore the file from a backup)"
    )
    with pytest.raises(ConfigError):
        ensure_keys(context)  # a broken home is not silently given a new key
    assert len(key_entries(context)) == 1


def test_a_key_readable_by_others_is_refused(context: Context) -> None:
    keys = ensure_keys(context)
    path = key_dir(context.settings) / f"{keys.current}.key"
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError) as caught:
        load_keys(context.settings)
    assert caught.value.message == (
        f"pseudonym key {path} can be read by other users (mode 0644); run `chmod 600 {path}`"
    )


def test_an_unreadable_key_is_refused_naming_the_file(context: Context) -> None:
    keys = ensure_keys(context)
    path = key_dir(context.settings) / f"{keys.current}.key"
    path.unlink()
    path.mkdir(mode=0o700)  # unreadable as a file, even for root
    with pytest.raises(ConfigError) as caught:
        load_keys(context.settings)
    assert caught.value.message == f"cannot read pseudonym key {path}: Is a directory"


def test_a_renamed_key_is_refused(context: Context) -> None:
    keys = ensure_keys(context)
    directory = key_dir(context.settings)
    renamed = directory / "000000000000.key"
    (directory / f"{keys.current}.key").rename(renamed)
    with pytest.raises(ConfigError) as caught:
        load_keys(context.settings)
    assert caught.value.message == (
        f"pseudonym key {renamed} does not match its name: its content has the id {keys.current} "
        "(was the file renamed or edited? restore it from a backup)"
    )


@pytest.mark.parametrize(
    ("current", "message"),
    [
        (
            None,
            "{path} is missing, so no pseudonym key is current (keys: {kid}); write the id of the key to use into it",
        ),
        ("not a key\n", "{path} holds 'not a key', not a key id (12 hex digits)"),
        ("abcdefabcdef\n", "{path} names the key abcdefabcdef, but there is no abcdefabcdef.key beside it"),
    ],
)
def test_a_bad_current_file_is_refused(context: Context, current: str | None, message: str) -> None:
    keys = ensure_keys(context)
    path = key_dir(context.settings) / "current"
    if current is None:
        path.unlink()
    else:
        path.write_text(current)
    with pytest.raises(ConfigError) as caught:
        load_keys(context.settings)
    assert caught.value.message == message.format(path=path, kid=keys.current)
    assert caught.value.code == "config.invalid"
