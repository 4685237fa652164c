"""Signed checkpoints: an Ed25519 signature over (seq, head hash, time, key id).

A checkpoint is stored in ``ledger_checkpoints`` and also recorded on the chain
itself (action ``audit.checkpoint``), so removing a checkpoint row is detected
too. Exported checkpoints are JSON documents that anyone holding the public key
can check, without access to Charter's database.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Engine

from charter.clock import Clock, format_timestamp
from charter.errors import InvalidInput
from charter.ledger.chain import Checkpoint
from charter.ledger.encoding import CHECKPOINT_VERSION, checkpoint_message
from charter.ledger.keys import key_id, sign, signature_valid
from charter.ledger.uow import unit_of_work
from charter.store.schema import ledger_checkpoints

CHECKPOINT_ACTION = "audit.checkpoint"


def create_checkpoint(engine: Engine, key: Ed25519PrivateKey, *, actor: str, clock: Clock) -> Checkpoint:
    """Sign the current head and record the checkpoint, in one transaction."""
    with unit_of_work(engine, actor=actor, clock=clock) as uow:
        seq, head_hash = uow.head
        ts = format_timestamp(clock.now())
        kid = key_id(key.public_key())
        signature = sign(key, checkpoint_message(seq, head_hash, ts, kid))
        checkpoint = Checkpoint(seq=seq, head_hash=head_hash, ts=ts, key_id=kid, signature=signature)
        uow.execute(ledger_checkpoints.insert().values(checkpoint.to_dict()))
        uow.record(CHECKPOINT_ACTION, f"ledger:{seq}", checkpoint.to_dict())
    return checkpoint


def checkpoint_signature_valid(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> bool:
    message = checkpoint_message(checkpoint.seq, checkpoint.head_hash, checkpoint.ts, checkpoint.key_id)
    return checkpoint.key_id == key_id(public_key) and signature_valid(public_key, message, checkpoint.signature)


def export_document(checkpoint: Checkpoint) -> dict[str, Any]:
    return {"format": CHECKPOINT_VERSION, **checkpoint.to_dict()}


def parse_document(data: Mapping[str, Any], where: str) -> Checkpoint:
    """A checkpoint from an exported document, with a located error for anything malformed."""
    if data.get("format") != CHECKPOINT_VERSION:
        raise InvalidInput(f"{where}: not a Charter checkpoint (format must be {CHECKPOINT_VERSION!r})")
    fields: dict[str, Any] = {}
    expected: tuple[tuple[str, type], ...] = (
        ("seq", int),
        ("head_hash", str),
        ("ts", str),
        ("key_id", str),
        ("signature", str),
    )
    for name, kind in expected:
        value = data.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InvalidInput(f"{where}: field {name!r} must be {kind.__name__}, got {value!r}")
        fields[name] = value
    return Checkpoint(**fields)


def read_documents(text: str, where: str) -> list[Checkpoint]:
    """Checkpoints from a file holding one JSON document, a JSON list, or JSON lines."""
    stripped = text.strip()
    if not stripped:
        raise InvalidInput(f"{where}: the file is empty")
    try:
        loaded = json.loads(stripped)
        documents = loaded if isinstance(loaded, list) else [loaded]
        lines = [1] * len(documents)
    except json.JSONDecodeError:
        documents, lines = [], []
        for number, line in enumerate(stripped.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                documents.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{where} line {number}: not JSON ({exc.msg})") from None
            lines.append(number)
    checkpoints = []
    for document, number in zip(documents, lines, strict=True):
        if not isinstance(document, dict):
            raise InvalidInput(f"{where} line {number}: expected a JSON object")
        checkpoints.append(parse_document(document, f"{where} line {number}"))
    return checkpoints
