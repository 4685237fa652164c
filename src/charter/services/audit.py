"""Audit use cases: verify the ledger, sign and export checkpoints, read and export entries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from charter.clock import format_timestamp
from charter.config import Settings
from charter.errors import InvalidInput
from charter.ledger.chain import (
    Checkpoint,
    EntryFilter,
    chain_snapshot,
    list_checkpoints,
    list_entries,
    read_head,
)
from charter.ledger.checkpoints import create_checkpoint, read_documents
from charter.ledger.export import ExportFile, write_export
from charter.ledger.keys import load_private_key, load_public_key, require_home_key
from charter.ledger.uow import Entry
from charter.ledger.verify import VerifyReport, verify
from charter.services.context import Context
from charter.store.engine import make_durable

Progress = Callable[[int], None]


def trusted_public_key(settings: Settings, explicit: Path | None = None) -> Ed25519PublicKey | None:
    """The key checkpoints must be signed with: given on the command line, else the signing key's.

    Without a signing key (a read-only copy of a home, say) the home's public key file serves.
    """
    if explicit is not None:
        return load_public_key(explicit)
    if settings.signing_key_pem is not None or settings.signing_key_file.exists():
        return signing_key(settings).public_key()
    if settings.public_key_file.exists():
        return load_public_key(settings.public_key_file)
    return None


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The configured signing key, checked against the key this home's checkpoints use."""
    key = load_private_key(settings.signing_key_file, pem=settings.signing_key_pem)
    source = "CHARTER_SIGNING_KEY" if settings.signing_key_pem is not None else str(settings.signing_key_file)
    require_home_key(key, settings.public_key_file, source=source)
    return key


def ledger_size(context: Context) -> int:
    return read_head(context.engine)[0]


def held_checkpoints(path: Path | None) -> list[Checkpoint]:
    """Checkpoints a witness kept (``charter audit checkpoints --export``), to check against the chain."""
    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    return read_documents(text, str(path))


def verify_ledger(
    context: Context,
    *,
    public_key: Path | None = None,
    progress: Progress | None = None,
    held: Path | None = None,
) -> VerifyReport:
    key = trusted_public_key(context.settings, public_key)
    extra = held_checkpoints(held)
    with chain_snapshot(context.engine) as snapshot:
        return verify(snapshot, public_key=key, progress=progress, held=extra)


def verify_export(
    path: Path,
    *,
    public_key: Path | None,
    settings: Settings | None = None,
    progress: Progress | None = None,
    held: Path | None = None,
) -> VerifyReport:
    """Verify an exported ledger file with only a public key (no database needed)."""
    key = load_public_key(public_key) if public_key else (trusted_public_key(settings) if settings else None)
    return verify(ExportFile(path), public_key=key, progress=progress, held=held_checkpoints(held))


def sign_checkpoint(context: Context) -> Checkpoint:
    """Sign the head; on SQLite, make everything it covers durable before anyone sees the signature."""
    checkpoint = create_checkpoint(
        context.engine, signing_key(context.settings), actor=context.actor, clock=context.clock
    )
    make_durable(context.engine)
    return checkpoint


def checkpoints(context: Context) -> list[Checkpoint]:
    return list_checkpoints(context.engine)


@dataclass(frozen=True)
class CheckpointCheck:
    checkpoint: Checkpoint
    valid: bool
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {**self.checkpoint.to_dict(), "valid": self.valid, "reason": self.reason}


def check_checkpoint_file(path: Path, *, public_key: Path) -> list[CheckpointCheck]:
    """Check exported checkpoint documents against a public key alone."""
    from charter.ledger.checkpoints import checkpoint_signature_valid
    from charter.ledger.keys import key_id

    key = load_public_key(public_key)
    trusted = key_id(key)
    results = []
    for cp in held_checkpoints(path):
        if cp.key_id != trusted:
            results.append(CheckpointCheck(cp, False, f"signed by {cp.key_id}, not by {trusted}"))
        elif checkpoint_signature_valid(cp, key):
            results.append(CheckpointCheck(cp, True, "signature valid"))
        else:
            results.append(CheckpointCheck(cp, False, "signature invalid: altered or forged"))
    return results


def log(context: Context, where: EntryFilter, *, limit: int | None, oldest_first: bool = False) -> list[Entry]:
    if limit is not None and limit < 1:
        raise InvalidInput(f"--limit must be at least 1, got {limit}")
    if where.since and where.until and where.since >= where.until:
        raise InvalidInput("--since must be earlier than --until")
    return list_entries(context.engine, where, limit=limit, newest_first=not oldest_first)


def export(context: Context, out: IO[str], *, progress: Progress | None = None) -> int:
    with chain_snapshot(context.engine) as snapshot:
        return write_export(snapshot, out, exported_at=format_timestamp(context.clock.now()), progress=progress)
