"""The keys that pseudonymise personal data in the decision lake: kept in the home, rotated, audited.

Layout, inside the home::

    keys/pseudonym/            mode 0700
      <key id>.key             32 random bytes, mode 0600; key id = first 12 hex digits of their SHA-256
      current                  the id of the key new tokens are made with

Rotation adds a key and makes it current; old keys stay, so tokens made with them can still be
recomputed (to find or erase a subject's rows, or to check a token). The first key is created on
first use (:func:`ensure_keys`). Creating and rotating are recorded on the ledger
(``pseudonym_key.created``, ``pseudonym_key.rotated``) with the key id, never the key. Both run
under the ledger lock, so two processes on one database never create two first keys, and a failed
entry puts the key files back as they were (a reader that loaded the new key in that moment may
have used it; only a database failure at commit can cause that). Readers take no lock.

Several machines on one PostgreSQL must share this folder (or a copy of it, rotated in one place):
each home's keys make its own tokens.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import uuid
from collections.abc import Callable
from pathlib import Path

from charter.config import KEY_DIR, Settings
from charter.errors import ConfigError
from charter.lake.privacy import (
    KEY_BYTES,
    PseudonymKeys,
    pseudonym_key_id,
    pseudonymise_value,
    tokens_for,
)
from charter.ledger import unit_of_work
from charter.services.context import Context

__all__ = [
    "PseudonymKeys",
    "ensure_keys",
    "key_dir",
    "load_keys",
    "pseudonymise_value",
    "rotate_key",
    "tokens_for",
]

PSEUDONYM_DIR = "pseudonym"
CURRENT_FILE = "current"
KEY_SUFFIX = ".key"
_KEY_ID = re.compile(r"[0-9a-f]{12}")


def key_dir(settings: Settings) -> Path:
    """``<home>/keys/pseudonym``."""
    return settings.home / KEY_DIR / PSEUDONYM_DIR


def load_keys(settings: Settings) -> PseudonymKeys:
    """Every pseudonym key of the home and the current one; ConfigError names a missing or broken file."""
    keys = _read(settings)
    if keys is None:
        raise ConfigError(
            f"no pseudonym keys in {key_dir(settings)}; the first is created on first use "
            "(ensure_keys) or by a rotation"
        )
    return keys


def ensure_keys(context: Context) -> PseudonymKeys:
    """The home's keys, creating (and recording) the first one if there is none yet."""
    keys = _read(context.settings)
    if keys is not None:
        return keys
    _install_key(context, only_if_missing=True)
    return load_keys(context.settings)


def rotate_key(context: Context) -> str:
    """Create a new key and make it current; returns its id. Old keys are kept."""
    kid = _install_key(context, only_if_missing=False)
    assert kid is not None
    return kid


def _install_key(context: Context, *, only_if_missing: bool) -> str | None:
    """Write a new current key and its ledger entry in one unit of work; undo the files on failure.

    Readers take no lock, so every state they can see is whole: a key file appears by a rename
    once written, ``current`` is replaced by a rename, and the first key arrives with its
    ``current`` file in a folder renamed into place.
    """
    directory = key_dir(context.settings)
    undo: list[Callable[[], object]] = []
    try:
        with unit_of_work(context.engine, actor=context.actor, clock=context.clock) as uow:
            existing = _read(context.settings)  # again, now that the ledger lock serialises writers
            if existing is not None and only_if_missing:
                return None
            key = os.urandom(KEY_BYTES)
            kid = pseudonym_key_id(key)
            if existing is None:
                _publish_first(directory, kid, key, undo)
            else:
                _publish_next(directory, kid, key, undo)
            previous = None if existing is None else existing.current
            kept = () if existing is None else existing.ids
            uow.record(
                "pseudonym_key.created" if existing is None else "pseudonym_key.rotated",
                f"pseudonym_key:{kid}",
                {"key_id": kid, "previous_key_id": previous, "key_ids": sorted({kid, *kept})},
            )
    except OSError as exc:
        _run(undo)
        raise ConfigError(
            f"cannot write the pseudonym key to {exc.filename or directory}: {exc.strerror}; "
            "make the home's keys folder writable"
        ) from None
    except BaseException:
        _run(undo)
        raise
    return kid


def _publish_first(directory: Path, kid: str, key: bytes, undo: list[Callable[[], object]]) -> None:
    """Write the first key and ``current`` in a folder of their own, then rename it into place."""
    missing = [d for d in directory.parents if not d.exists()]
    if missing:
        directory.parent.mkdir(parents=True, mode=0o700)
        for path in reversed(missing):
            undo.append(path.rmdir)
            os.chmod(path, 0o700)
    staging = directory.with_name(f".{directory.name}.{uuid.uuid4().hex}.tmp")
    staging.mkdir(mode=0o700)
    os.chmod(staging, 0o700)
    undo.append(lambda: shutil.rmtree(staging, ignore_errors=True))
    _write_new(staging / f"{kid}{KEY_SUFFIX}", key)
    _write_new(staging / CURRENT_FILE, f"{kid}\n".encode())
    os.rename(staging, directory)  # also replaces an empty folder left from before
    undo.append(lambda: shutil.rmtree(directory, ignore_errors=True))
    _sync_folder(directory.parent)


def _publish_next(directory: Path, kid: str, key: bytes, undo: list[Callable[[], object]]) -> None:
    """Add a key beside the others, then make it current."""
    current = directory / CURRENT_FILE
    previous = current.read_bytes()
    key_path = directory / f"{kid}{KEY_SUFFIX}"
    _replace(key_path, key)
    undo.append(key_path.unlink)
    _replace(current, f"{kid}\n".encode())
    undo.append(lambda: _replace(current, previous))


def _run(undo: list[Callable[[], object]]) -> None:
    """Undo the steps taken so far, newest first, as far as the file system lets us."""
    for step in reversed(undo):
        with contextlib.suppress(OSError):
            step()


def _read(settings: Settings) -> PseudonymKeys | None:
    """The keys, or None when the home has none at all (no current file and no key files).

    ``current`` is read before the key files are listed: a rotation adds its key before naming it
    current and keys are never removed, so the key ``current`` names is always among those listed.
    """
    directory = key_dir(settings)
    if not _key_files(directory) and not (directory / CURRENT_FILE).exists():
        return None
    current = _read_current(directory / CURRENT_FILE)
    keys = dict(_read_key(path) for path in _key_files(directory))
    if current not in keys:
        raise ConfigError(
            f"{directory / CURRENT_FILE} names the key {current}, but there is no {current}{KEY_SUFFIX} beside it"
        )
    return PseudonymKeys(current, keys)


def _key_files(directory: Path) -> list[Path]:
    try:
        return sorted(p for p in directory.iterdir() if p.name.endswith(KEY_SUFFIX))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigError(f"cannot list the pseudonym keys in {directory}: {exc.strerror}") from None


def _read_key(path: Path) -> tuple[str, bytes]:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(
                f"pseudonym key {path} can be read by other users (mode {mode:04o}); run `chmod 600 {path}`"
            )
        key = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read pseudonym key {path}: {exc.strerror}") from None
    if len(key) != KEY_BYTES:
        raise ConfigError(
            f"pseudonym key {path} holds {len(key)} bytes; a key is {KEY_BYTES} random bytes "
            "(restore the file from a backup)"
        )
    kid = pseudonym_key_id(key)
    if path.name != f"{kid}{KEY_SUFFIX}":
        raise ConfigError(
            f"pseudonym key {path} does not match its name: its content has the id {kid} "
            "(was the file renamed or edited? restore it from a backup)"
        )
    return kid, key


def _read_current(path: Path) -> str:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        keys = ", ".join(p.name.removesuffix(KEY_SUFFIX) for p in _key_files(path.parent))
        raise ConfigError(
            f"{path} is missing, so no pseudonym key is current (keys: {keys}); write the id of the key to use into it"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not a key id"
        raise ConfigError(f"cannot read {path}: {reason}") from None
    if not _KEY_ID.fullmatch(text):
        raise ConfigError(f"{path} holds {text[:40]!r}, not a key id (12 hex digits)")
    return text


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def _replace(path: Path, data: bytes) -> None:
    """Write ``path`` (mode 0600) atomically: a temporary file beside it, then a rename."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        _write_new(temporary, data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make renames in ``folder`` durable, where the platform allows."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
